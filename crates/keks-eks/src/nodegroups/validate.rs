//! EKS's rules for node group input: scaling sizes (with EKS's messages) and the quotas,
//! AMI types and the instance types' architecture, Kubernetes label syntax, taints (at most
//! 50, EKS's effects) and `updateConfig` (one of `maxUnavailable` and
//! `maxUnavailablePercentage`).

use std::collections::BTreeMap;

use keks_cloud::{catalog, Arch};

use super::model::{ScalingConfig, Taint, UpdateConfig};
use crate::error::EksError;

/// Nodes per managed node group, EKS's default quota.
pub const MAX_NODES: u32 = 450;
/// Managed node groups per cluster, EKS's default quota.
pub const MAX_NODEGROUPS: usize = 30;
pub const MAX_TAINTS: usize = 50;
pub const MAX_UNAVAILABLE: u32 = 100;
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.medium";
pub const DEFAULT_DISK_GIB: u32 = 20;

fn invalid(message: impl Into<String>) -> EksError {
    EksError::invalid_parameter(message)
}

/// Checks min ≤ desired ≤ max and the bounds, as EKS words its refusals.
pub fn check_scaling(s: &ScalingConfig) -> Result<(), EksError> {
    if s.max_size < 1 {
        return Err(invalid("maxSize must be greater than or equal to 1"));
    }
    if s.max_size > MAX_NODES {
        return Err(EksError::ResourceLimitExceeded {
            message: format!(
                "Maximum capacity {} can't be greater than the limit of {MAX_NODES} nodes per managed node group",
                s.max_size
            ),
            cluster: None,
        });
    }
    if s.min_size > s.desired_size {
        return Err(invalid(format!(
            "Minimum capacity {} can't be greater than desired size {}",
            s.min_size, s.desired_size
        )));
    }
    if s.desired_size > s.max_size {
        return Err(invalid("desiredSize can't be greater than maxSize"));
    }
    Ok(())
}

/// The architecture of an AMI type; Windows and custom AMIs are refused.
pub fn ami_arch(ami_type: &str) -> Result<Arch, EksError> {
    if ami_type.starts_with("WINDOWS_") {
        return Err(invalid(format!(
            "AMI type {ami_type} (Windows nodes) is not supported by keks yet"
        )));
    }
    if ami_type == "CUSTOM" {
        return Err(invalid(
            "AMI type CUSTOM needs a launch template, which keks does not support yet",
        ));
    }
    const KNOWN: [&str; 12] = [
        "AL2_x86_64",
        "AL2_x86_64_GPU",
        "AL2_ARM_64",
        "BOTTLEROCKET_ARM_64",
        "BOTTLEROCKET_x86_64",
        "BOTTLEROCKET_ARM_64_NVIDIA",
        "BOTTLEROCKET_x86_64_NVIDIA",
        "AL2023_x86_64_STANDARD",
        "AL2023_ARM_64_STANDARD",
        "AL2023_x86_64_NEURON",
        "AL2023_x86_64_NVIDIA",
        "AL2023_ARM_64_NVIDIA",
    ];
    if !KNOWN.contains(&ami_type) {
        return Err(invalid(format!("Unsupported AMI type: {ami_type}")));
    }
    Ok(if ami_type.contains("ARM_64") {
        Arch::Arm64
    } else {
        Arch::X86_64
    })
}

/// The default AMI type for a Kubernetes version: AL2 below 1.30, AL2023 from 1.30.
pub fn default_ami_type(version: &str) -> &'static str {
    let minor = crate::versions::minor(version).unwrap_or(30);
    if minor < 30 {
        "AL2_x86_64"
    } else {
        "AL2023_x86_64_STANDARD"
    }
}

/// Every instance type exists and matches the AMI type's architecture.
pub fn check_instance_types(types: &[String], ami_type: &str) -> Result<(), EksError> {
    let arch = ami_arch(ami_type)?;
    if types.is_empty() {
        return Err(invalid("instanceTypes must not be empty"));
    }
    for t in types {
        let Some(it) = catalog::lookup(t) else {
            return Err(invalid(format!("Instance type {t} is not supported")));
        };
        if it.arch != arch {
            return Err(invalid(format!(
                "[{t}] is not a valid instance type for requested amiType {ami_type}"
            )));
        }
    }
    Ok(())
}

fn valid_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn valid_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 253
        && p.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// A Kubernetes label key or taint key: `[prefix/]name`.
pub fn valid_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => valid_prefix(prefix) && valid_name_part(name),
        None => valid_name_part(key),
    }
}

/// A label or taint value: empty or a name part.
pub fn valid_value(value: &str) -> bool {
    value.is_empty() || valid_name_part(value)
}

/// Label prefixes EKS keeps for itself and Kubernetes (`Label cannot contain reserved
/// prefixes [kubernetes.io/, k8s.io/, eks.amazonaws.com/]`, eksctl-io/eksctl#4007).
pub const RESERVED_LABEL_PREFIXES: [&str; 3] = ["kubernetes.io", "k8s.io", "eks.amazonaws.com"];

pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), EksError> {
    for (k, v) in labels {
        if k.split_once('/')
            .is_some_and(|(prefix, _)| RESERVED_LABEL_PREFIXES.contains(&prefix))
        {
            return Err(invalid(
                "Label cannot contain reserved prefixes [kubernetes.io/, k8s.io/, eks.amazonaws.com/]",
            ));
        }
        if !valid_key(k) || !valid_value(v) {
            return Err(invalid(format!(
                "Label {k}={v} is not a valid Kubernetes label"
            )));
        }
    }
    Ok(())
}

pub fn check_taints(taints: &[Taint]) -> Result<(), EksError> {
    if taints.len() > MAX_TAINTS {
        return Err(invalid(format!(
            "A node group can have at most {MAX_TAINTS} taints; the request has {}",
            taints.len()
        )));
    }
    for t in taints {
        if !valid_key(&t.key) {
            return Err(invalid(format!("Taint key {} is not valid", t.key)));
        }
        if !t.value.as_deref().is_none_or(valid_value) {
            return Err(invalid(format!(
                "Taint value {} is not valid",
                t.value.as_deref().unwrap_or_default()
            )));
        }
        if !matches!(
            t.effect.as_str(),
            "NO_SCHEDULE" | "NO_EXECUTE" | "PREFER_NO_SCHEDULE"
        ) {
            return Err(invalid(format!(
                "Taint effect {} is not valid: it must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE",
                t.effect
            )));
        }
    }
    Ok(())
}

pub fn check_update_config(c: &UpdateConfig) -> Result<(), EksError> {
    match (c.max_unavailable, c.max_unavailable_percentage) {
        (Some(_), Some(_)) => Err(invalid(
            "Only one of maxUnavailable and maxUnavailablePercentage can be specified",
        )),
        (None, None) => Err(invalid(
            "One of maxUnavailable and maxUnavailablePercentage must be specified",
        )),
        (Some(n), None) if !(1..=MAX_UNAVAILABLE).contains(&n) => Err(invalid(format!(
            "maxUnavailable must be between 1 and {MAX_UNAVAILABLE}"
        ))),
        (None, Some(p)) if !(1..=100).contains(&p) => Err(invalid(
            "maxUnavailablePercentage must be between 1 and 100",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(min: u32, desired: u32, max: u32) -> ScalingConfig {
        ScalingConfig {
            min_size: min,
            max_size: max,
            desired_size: desired,
        }
    }

    #[test]
    fn scaling_refusals_use_eks_wording() {
        assert!(check_scaling(&sizes(0, 0, 1)).is_ok());
        assert_eq!(
            check_scaling(&sizes(3, 2, 5)).unwrap_err().to_string(),
            "Minimum capacity 3 can't be greater than desired size 2"
        );
        assert_eq!(
            check_scaling(&sizes(1, 4, 3)).unwrap_err().to_string(),
            "desiredSize can't be greater than maxSize"
        );
        assert!(check_scaling(&sizes(0, 0, 0)).is_err());
        assert!(matches!(
            check_scaling(&sizes(1, 1, 451)),
            Err(EksError::ResourceLimitExceeded { .. })
        ));
    }

    #[test]
    fn instance_types_must_match_the_ami_architecture() {
        let t = |s: &str| vec![s.to_string()];
        assert!(check_instance_types(&t("t3.medium"), "AL2023_x86_64_STANDARD").is_ok());
        assert!(check_instance_types(&t("m6g.large"), "AL2023_ARM_64_STANDARD").is_ok());
        assert!(check_instance_types(&t("m6g.large"), "AL2_x86_64").is_err());
        assert!(check_instance_types(&t("t3.medium"), "AL2_ARM_64").is_err());
        assert!(check_instance_types(&t("t9.nothing"), "AL2_x86_64").is_err());
        assert!(check_instance_types(&t("t3.medium"), "WINDOWS_CORE_2022_x86_64").is_err());
        assert_eq!(default_ami_type("1.29"), "AL2_x86_64");
        assert_eq!(default_ami_type("1.31"), "AL2023_x86_64_STANDARD");
    }

    #[test]
    fn taints_and_labels_follow_kubernetes_and_eks_rules() {
        let taint = |k: &str, e: &str| Taint {
            key: k.into(),
            value: Some("v".into()),
            effect: e.into(),
        };
        assert!(check_taints(&[taint("dedicated", "NO_SCHEDULE")]).is_ok());
        assert!(check_taints(&[taint("example.com/gpu", "PREFER_NO_SCHEDULE")]).is_ok());
        assert!(check_taints(&[taint("dedicated", "NoSchedule")]).is_err());
        assert!(check_taints(&[taint("-bad", "NO_EXECUTE")]).is_err());
        let many: Vec<Taint> = (0..51)
            .map(|i| taint(&format!("k{i}"), "NO_SCHEDULE"))
            .collect();
        assert!(check_taints(&many).is_err());
        let mut labels = BTreeMap::new();
        labels.insert("team".to_string(), "a".to_string());
        assert!(check_labels(&labels).is_ok());
        labels.insert("bad key".to_string(), "a".to_string());
        assert!(check_labels(&labels).is_err());
        let reserved: BTreeMap<String, String> =
            [("kubernetes.io/role".to_string(), "x".to_string())].into();
        assert!(check_labels(&reserved).is_err());
        let allowed: BTreeMap<String, String> =
            [("node.example.com/role".to_string(), "x".to_string())].into();
        assert!(check_labels(&allowed).is_ok());
    }

    #[test]
    fn update_config_takes_one_of_the_two() {
        let c = |n, p| UpdateConfig {
            max_unavailable: n,
            max_unavailable_percentage: p,
        };
        assert!(check_update_config(&c(Some(1), None)).is_ok());
        assert!(check_update_config(&c(None, Some(33))).is_ok());
        assert!(check_update_config(&c(Some(1), Some(33))).is_err());
        assert!(check_update_config(&c(None, None)).is_err());
        assert!(check_update_config(&c(Some(101), None)).is_err());
    }
}
