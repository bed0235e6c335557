//! What the control plane stores about a cluster: the cluster as DescribeCluster returns it
//! (field names and shapes of the EKS model, so answering is serialization), plus what only
//! keks needs — its updates, access entries and the transition the clock will complete.
//! One document per cluster, written whole, so a change to a cluster is one atomic write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    pub created_at: f64,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub role_arn: String,
    pub resources_vpc_config: VpcConfig,
    pub kubernetes_network_config: Value,
    pub logging: Logging,
    pub identity: Value,
    pub status: String,
    pub certificate_authority: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
    pub platform_version: String,
    pub tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_config: Option<Value>,
    pub health: Value,
    pub access_config: AccessConfig,
    pub upgrade_policy: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zonal_shift_config: Option<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VpcConfig {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub cluster_security_group_id: String,
    pub vpc_id: String,
    pub endpoint_public_access: bool,
    pub endpoint_private_access: bool,
    pub public_access_cidrs: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Logging {
    pub cluster_logging: Vec<LogSetup>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogSetup {
    #[serde(default)]
    pub types: Vec<String>,
    #[serde(default)]
    pub enabled: bool,
}

pub const LOG_TYPES: [&str; 5] = [
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

impl Logging {
    /// Every log type disabled, as a new cluster starts.
    pub fn disabled() -> Self {
        Self {
            cluster_logging: vec![LogSetup {
                types: LOG_TYPES.iter().map(|t| t.to_string()).collect(),
                enabled: false,
            }],
        }
    }

    /// The enabled types.
    pub fn enabled_types(&self) -> Vec<String> {
        self.cluster_logging
            .iter()
            .filter(|s| s.enabled)
            .flat_map(|s| s.types.iter().cloned())
            .collect()
    }

    /// The logging after applying `changes` (later setups win), grouped as EKS reports it:
    /// one setup of the enabled types and one of the disabled.
    pub fn apply(&self, changes: &[LogSetup]) -> Self {
        let mut enabled: BTreeMap<String, bool> =
            LOG_TYPES.iter().map(|t| (t.to_string(), false)).collect();
        for t in self.enabled_types() {
            enabled.insert(t, true);
        }
        for setup in changes {
            for t in &setup.types {
                enabled.insert(t.clone(), setup.enabled);
            }
        }
        let order = |on: bool| -> Vec<String> {
            LOG_TYPES
                .iter()
                .filter(|t| enabled.get(**t) == Some(&on))
                .map(|t| t.to_string())
                .collect()
        };
        let mut setups = Vec::new();
        for on in [true, false] {
            let types = order(on);
            if !types.is_empty() {
                setups.push(LogSetup { types, enabled: on });
            }
        }
        Self {
            cluster_logging: setups,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccessConfig {
    pub bootstrap_cluster_creator_admin_permissions: bool,
    pub authentication_mode: String,
}

impl AccessConfig {
    pub fn uses_access_entries(&self) -> bool {
        self.authentication_mode != "CONFIG_MAP"
    }

    pub fn uses_config_map(&self) -> bool {
        self.authentication_mode != "API"
    }
}

/// An update record (DescribeUpdate).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Update {
    pub id: String,
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub params: Vec<UpdateParam>,
    pub created_at: f64,
    pub errors: Vec<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UpdateParam {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// An access entry (DescribeAccessEntry) with its associated policies.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    pub cluster_name: String,
    pub principal_arn: String,
    pub kubernetes_groups: Vec<String>,
    pub access_entry_arn: String,
    pub created_at: f64,
    pub modified_at: f64,
    pub tags: BTreeMap<String, String>,
    pub username: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedPolicy {
    pub policy_arn: String,
    pub access_scope: AccessScope,
    pub associated_at: f64,
    pub modified_at: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessScope {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EntryDoc {
    pub entry: AccessEntry,
    #[serde(default)]
    pub policies: Vec<AssociatedPolicy>,
}

/// Work the clock completes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum Pending {
    /// CREATING → ACTIVE.
    Activate { due: f64 },
    /// An update finishes: the cluster returns to ACTIVE, the update to Successful.
    FinishUpdate { due: f64, update_id: String },
    /// DELETING → gone.
    Remove { due: f64 },
}

impl Pending {
    /// Wall-clock epoch seconds at which it is due.
    pub fn due(&self) -> f64 {
        match self {
            Self::Activate { due } | Self::FinishUpdate { due, .. } | Self::Remove { due } => *due,
        }
    }
}

/// Everything stored about one cluster.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDoc {
    pub cluster: Cluster,
    /// The canonical ARN of the principal that created it.
    pub creator_arn: String,
    #[serde(default)]
    pub updates: Vec<Update>,
    /// By principal ARN.
    #[serde(default)]
    pub access_entries: BTreeMap<String, EntryDoc>,
    #[serde(default)]
    pub pending: Option<Pending>,
    /// Fargate profiles by name.
    #[serde(default)]
    pub fargate_profiles: BTreeMap<String, crate::fargate::profiles::ProfileDoc>,
    /// Managed node groups by name.
    #[serde(default)]
    pub nodegroups: BTreeMap<String, crate::nodegroups::NodegroupDoc>,
    /// `clientRequestToken` → the update it started, for idempotent retries.
    #[serde(default)]
    pub update_tokens: BTreeMap<String, String>,
    /// The endpoint and CA a cluster shows once ACTIVE.
    pub kube_endpoint: String,
    pub kube_ca_data: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_changes_regroup_as_eks_reports_them() {
        let l = Logging::disabled().apply(&[LogSetup {
            types: vec!["audit".into(), "api".into()],
            enabled: true,
        }]);
        assert_eq!(l.enabled_types(), vec!["api", "audit"]);
        assert_eq!(l.cluster_logging.len(), 2);
        assert_eq!(
            l.cluster_logging[1].types,
            vec!["authenticator", "controllerManager", "scheduler"]
        );
        let all_off = l.apply(&[LogSetup {
            types: vec!["api".into(), "audit".into()],
            enabled: false,
        }]);
        assert_eq!(all_off, Logging::disabled());
    }
}
