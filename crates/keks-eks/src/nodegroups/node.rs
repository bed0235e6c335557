//! The Node object of a managed node group's instance, as the EKS AMI's kubelet registers
//! it: named by the instance's private DNS name, with the EKS labels (node group, image,
//! capacity type), the well-known instance-type, topology, arch, os and hostname labels,
//! the group's own labels and taints, the instance's provider id, and a status sized from
//! the instance type (see `allocatable`).

use std::collections::BTreeMap;

use keks_cloud::Instance;
use serde_json::{json, Value};

use super::allocatable;
use super::model::Taint;

pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
pub const IMAGE_LABEL: &str = "eks.amazonaws.com/nodegroup-image";
pub const CAPACITY_TYPE_LABEL: &str = "eks.amazonaws.com/capacityType";
/// The group's own label keys last put on the node (so that removed ones can be taken off).
pub const GROUP_LABELS_ANNOTATION: &str = "keks.dev/nodegroup-labels";

/// Everything that describes one node of a group.
pub struct GroupNode<'a> {
    pub instance: &'a Instance,
    pub zone_id: &'a str,
    pub nodegroup: &'a str,
    pub image_id: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub taints: &'a [Taint],
    pub disk_gib: u32,
    /// `1.31.13`: the group's Kubernetes patch version.
    pub kubernetes_version: &'a str,
    pub al2023: bool,
}

/// Labels the group itself decides (EKS's and the well-known ones), before its own.
pub fn system_labels(n: &GroupNode<'_>) -> BTreeMap<String, String> {
    let i = n.instance;
    let name = i.private_dns_name();
    let region = i.region();
    let arch = i.instance_type.arch.kubernetes();
    let mut l = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        l.insert(k.to_string(), v.to_string());
    };
    put(NODEGROUP_LABEL, n.nodegroup);
    put(IMAGE_LABEL, n.image_id);
    put(CAPACITY_TYPE_LABEL, i.capacity_type.eks_name());
    put("node.kubernetes.io/instance-type", i.instance_type.name);
    put("beta.kubernetes.io/instance-type", i.instance_type.name);
    put("topology.kubernetes.io/region", &region);
    put("topology.kubernetes.io/zone", &i.availability_zone);
    put("failure-domain.beta.kubernetes.io/region", &region);
    put(
        "failure-domain.beta.kubernetes.io/zone",
        &i.availability_zone,
    );
    put("topology.k8s.aws/zone-id", n.zone_id);
    if let Some(t) = &i.launch_template {
        put("eks.amazonaws.com/sourceLaunchTemplateId", &t.id);
        put("eks.amazonaws.com/sourceLaunchTemplateVersion", &t.version);
    }
    put("kubernetes.io/arch", arch);
    put("beta.kubernetes.io/arch", arch);
    put("kubernetes.io/os", "linux");
    put("beta.kubernetes.io/os", "linux");
    put("kubernetes.io/hostname", &name);
    l
}

/// The taints a node of the group carries.
pub fn taints(taints: &[Taint]) -> Vec<Value> {
    taints.iter().map(Taint::kubernetes).collect()
}

impl GroupNode<'_> {
    pub fn name(&self) -> String {
        self.instance.private_dns_name()
    }

    /// The Node object to create (its status is written afterwards, as a kubelet would).
    pub fn object(&self) -> Value {
        let mut labels = system_labels(self);
        labels.extend(self.labels.clone());
        let own: Vec<&String> = self.labels.keys().collect();
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name(),
                "labels": labels,
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    "alpha.kubernetes.io/provided-node-ip": self.instance.private_ip.to_string(),
                    GROUP_LABELS_ANNOTATION: serde_json::to_string(&own).unwrap_or_default(),
                },
            },
            "spec": {
                "providerID": self.instance.provider_id(),
                "taints": taints(self.taints),
            },
        })
    }

    /// The status the node's kubelet reports.
    pub fn status(&self) -> Value {
        let t = self.instance.instance_type;
        let (capacity, allocatable) =
            allocatable::resources(t.vcpus, t.memory_mib, t.max_pods(), self.disk_gib);
        let name = self.name();
        let arm = t.arch == keks_cloud::Arch::Arm64;
        let (os_image, kernel) = if self.al2023 {
            (
                "Amazon Linux 2023.9.20251110",
                if arm {
                    "6.1.156-177.286.amzn2023.aarch64"
                } else {
                    "6.1.156-177.286.amzn2023.x86_64"
                },
            )
        } else if arm {
            ("Amazon Linux 2", "5.10.245-243.979.amzn2.aarch64")
        } else {
            ("Amazon Linux 2", "5.10.245-243.979.amzn2.x86_64")
        };
        json!({
            "capacity": capacity,
            "allocatable": allocatable,
            "addresses": [
                {"type": "InternalIP", "address": self.instance.private_ip.to_string()},
                {"type": "InternalDNS", "address": name},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "architecture": t.arch.kubernetes(),
                "operatingSystem": "linux",
                "osImage": os_image,
                "kernelVersion": kernel,
                "containerRuntimeVersion": "containerd://1.7.27",
                "kubeletVersion": format!("v{}-eks-113cf36", self.kubernetes_version),
                "kubeProxyVersion": format!("v{}-eks-113cf36", self.kubernetes_version),
                "machineID": self.instance.id.replace("i-", "ec2"),
                "systemUUID": self.instance.id.replace("i-", "ec2"),
                "bootID": self.instance.id,
            },
        })
    }
}
