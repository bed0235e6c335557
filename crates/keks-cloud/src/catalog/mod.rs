//! The EC2 instance-type catalog: per type its vCPUs, memory, architecture, network
//! interfaces (and so the EKS max pods), GPUs and us-east-1 prices. The table itself is
//! `data.rs`, generated from the sources named there.

mod data;

use serde::{Deserialize, Deserializer, Serializer};

/// A CPU architecture, as EC2 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// EC2's name: `x86_64`, `arm64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// Kubernetes' name (`kubernetes.io/arch`): `amd64`, `arm64`.
    pub fn kubernetes(self) -> &'static str {
        match self {
            Self::X86_64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "x86_64" | "amd64" => Some(Self::X86_64),
            "arm64" => Some(Self::Arm64),
            _ => None,
        }
    }
}

/// The accelerators of a GPU instance type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gpu {
    pub count: u32,
    /// `T4`, `A10G`.
    pub name: &'static str,
    pub manufacturer: &'static str,
    /// Memory per GPU.
    pub memory_mib: u64,
}

/// One instance type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InstanceType {
    /// `m5.large`.
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub arch: Arch,
    /// Network interfaces on the default network card.
    pub enis: u32,
    /// IPv4 addresses per network interface.
    pub ipv4_per_eni: u32,
    /// The max-pods value of the EKS AMI's `eni-max-pods.txt`, kept to check the formula.
    pub source_max_pods: u32,
    pub gpu: Option<Gpu>,
    /// On-demand Linux price per hour in us-east-1, USD.
    pub on_demand_usd_per_hour: f64,
    /// keks' spot price per hour (a fixed fraction of on-demand; see `data.rs`).
    pub spot_usd_per_hour: f64,
}

impl InstanceType {
    /// The family: `m5` of `m5.large`.
    pub fn family(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(f, _)| f)
    }

    /// The size: `large` of `m5.large`.
    pub fn size(&self) -> &'static str {
        self.name.split_once('.').map_or("", |(_, s)| s)
    }

    /// EKS's max pods with the VPC CNI: ENIs × (IPv4 per ENI − 1) + 2 (the first address of
    /// each interface is the interface's own; +2 for the host-network pods aws-node and
    /// kube-proxy).
    pub fn max_pods(&self) -> u32 {
        self.enis * (self.ipv4_per_eni - 1) + 2
    }

    /// Burstable (`t*`) types earn CPU credits rather than owning whole cores.
    pub fn burstable(&self) -> bool {
        self.family().starts_with('t')
    }

    /// The hourly price for a capacity type.
    pub fn usd_per_hour(&self, capacity: crate::CapacityType) -> f64 {
        match capacity {
            crate::CapacityType::OnDemand => self.on_demand_usd_per_hour,
            crate::CapacityType::Spot => self.spot_usd_per_hour,
        }
    }
}

/// Every instance type keks knows, by family then size.
pub fn all() -> &'static [InstanceType] {
    data::TYPES
}

/// The instance type of that name.
pub fn lookup(name: &str) -> Option<&'static InstanceType> {
    data::TYPES.iter().find(|t| t.name == name)
}

/// The instance types of one architecture.
pub fn by_arch(arch: Arch) -> impl Iterator<Item = &'static InstanceType> {
    data::TYPES.iter().filter(move |t| t.arch == arch)
}

/// Serializes an instance type by name (records keep the name, not the specification).
pub(crate) mod by_name {
    use super::*;

    pub fn serialize<S: Serializer>(t: &&'static InstanceType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.name)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static InstanceType, D::Error> {
        let name = String::deserialize(d)?;
        lookup(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown instance type {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pods_follow_the_eni_formula_and_the_eks_ami() {
        for (name, pods) in [
            ("t3.medium", 17),
            ("m5.large", 29),
            ("m5.xlarge", 58),
            ("m5.4xlarge", 234),
            ("t3.micro", 4),
            ("t3.small", 11),
            ("m6g.medium", 8),
            ("m5.24xlarge", 737),
            ("g4dn.xlarge", 29),
        ] {
            assert_eq!(lookup(name).unwrap().max_pods(), pods, "{name}");
        }
        for t in all() {
            assert_eq!(t.max_pods(), t.source_max_pods, "{}", t.name);
        }
        let m5 = lookup("m5.large").unwrap();
        assert_eq!((m5.enis, m5.ipv4_per_eni), (3, 10));
        let m5x4 = lookup("m5.4xlarge").unwrap();
        assert_eq!((m5x4.enis, m5x4.ipv4_per_eni), (8, 30));
    }

    #[test]
    fn sizes_prices_and_architectures() {
        let t3 = lookup("t3.medium").unwrap();
        assert_eq!((t3.vcpus, t3.memory_mib, t3.arch), (2, 4096, Arch::X86_64));
        assert_eq!(t3.on_demand_usd_per_hour, 0.0416);
        assert!(t3.burstable());
        for (name, price) in [
            ("m5.large", 0.096),
            ("m5.xlarge", 0.192),
            ("c5.large", 0.085),
            ("r5.large", 0.126),
            ("m6g.large", 0.077),
            ("g4dn.xlarge", 0.526),
        ] {
            assert_eq!(
                lookup(name).unwrap().on_demand_usd_per_hour,
                price,
                "{name}"
            );
        }
        let c5 = lookup("c5.9xlarge").unwrap();
        assert_eq!((c5.vcpus, c5.memory_mib), (36, 72 * 1024));
        let r6g = lookup("r6g.medium").unwrap();
        assert_eq!(
            (r6g.vcpus, r6g.memory_mib, r6g.arch),
            (1, 8192, Arch::Arm64)
        );
        assert_eq!(lookup("m7g.xlarge").unwrap().memory_mib, 16 * 1024);
        let g5 = lookup("g5.12xlarge").unwrap();
        assert_eq!(g5.gpu.unwrap().count, 4);
        assert_eq!(g5.gpu.unwrap().manufacturer, "NVIDIA");
        assert!(lookup("m5.large").unwrap().gpu.is_none());
        for t in all() {
            assert!(t.spot_usd_per_hour < t.on_demand_usd_per_hour, "{}", t.name);
            assert!(t.spot_usd_per_hour > 0.0);
        }
        assert!(lookup("m5.nano").is_none());
    }

    #[test]
    fn families_and_arch_filter() {
        let families: std::collections::BTreeSet<_> = all().iter().map(|t| t.family()).collect();
        for f in [
            "t3", "t3a", "m5", "m6i", "m6g", "m7i", "m7g", "c5", "c6i", "c6g", "c7g", "r5", "r6i",
            "r6g", "g4dn", "g5",
        ] {
            assert!(families.contains(f), "{f}");
        }
        assert!(by_arch(Arch::Arm64).all(|t| t.name.contains('g') && t.arch == Arch::Arm64));
        assert!(by_arch(Arch::Arm64).any(|t| t.name == "c7g.large"));
        assert!(by_arch(Arch::X86_64).all(|t| t.arch == Arch::X86_64));
        assert_eq!(lookup("m5.large").unwrap().size(), "large");
    }
}
