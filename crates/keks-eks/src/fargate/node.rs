//! The Node object of a Fargate micro-VM, as EKS registers it: named
//! `fargate-ip-a-b-c-d.ec2.internal` (`<region>.compute.internal` outside us-east-1), one pod
//! (`pods: 1`), labelled `eks.amazonaws.com/compute-type=fargate` with zone and region (and
//! a hostname without the `fargate-` prefix), tainted so that only Fargate pods land on it,
//! and with the pod's IP as its own address.

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::sizing::Size;

pub const COMPUTE_TYPE_LABEL: &str = "eks.amazonaws.com/compute-type";

/// The private DNS domain of a region's instances.
pub fn dns_domain(region: &str) -> String {
    if region == "us-east-1" {
        "ec2.internal".into()
    } else {
        format!("{region}.compute.internal")
    }
}

fn dashed(ip: Ipv4Addr) -> String {
    ip.octets().map(|o| o.to_string()).join("-")
}

/// The node's name.
pub fn node_name(ip: Ipv4Addr, region: &str) -> String {
    format!("fargate-ip-{}.{}", dashed(ip), dns_domain(region))
}

/// Everything that describes one Fargate node.
pub struct FargateNode<'a> {
    pub ip: Ipv4Addr,
    pub region: &'a str,
    pub zone: &'a str,
    pub size: Size,
    /// `1.34.1`: the cluster's Kubernetes patch version.
    pub kubernetes_version: &'a str,
    /// A stable id for the micro-VM, used in the provider id.
    pub task_id: &'a str,
    pub profile: &'a str,
}

impl FargateNode<'_> {
    /// The Node object to create (its status is written afterwards, as a kubelet would).
    pub fn object(&self) -> Value {
        let name = node_name(self.ip, self.region);
        let hostname = format!("ip-{}.{}", dashed(self.ip), dns_domain(self.region));
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    COMPUTE_TYPE_LABEL: "fargate",
                    "eks.amazonaws.com/fargate-profile": self.profile,
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "failure-domain.beta.kubernetes.io/region": self.region,
                    "failure-domain.beta.kubernetes.io/zone": self.zone,
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": hostname,
                    "kubernetes.io/os": "linux",
                    "topology.kubernetes.io/region": self.region,
                    "topology.kubernetes.io/zone": self.zone,
                },
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {
                "providerID": format!("aws:///{}/{}/{name}", self.zone, self.task_id),
                "taints": [{"key": COMPUTE_TYPE_LABEL, "value": "fargate", "effect": "NoSchedule"}],
            },
        })
    }

    /// The status a Fargate node's kubelet reports. The node is sized above the pod (EKS's
    /// nodes show no correlation with the pod size); the pod's enforced and billed size is
    /// its `CapacityProvisioned` annotation.
    pub fn status(&self) -> Value {
        let vcpu = (self.size.millicpu.div_ceil(1000)).max(2);
        let memory_ki = (self.size.memory_mib * 1024).max(15_649_708);
        let storage_ki = self.size.ephemeral_gib * 1024 * 1024;
        let hostname = format!("ip-{}.{}", dashed(self.ip), dns_domain(self.region));
        let resources = json!({
            "cpu": vcpu.to_string(),
            "memory": format!("{memory_ki}Ki"),
            "ephemeral-storage": format!("{storage_ki}Ki"),
            "pods": "1",
        });
        json!({
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": self.ip.to_string()},
                {"type": "InternalDNS", "address": hostname},
                {"type": "Hostname", "address": hostname},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2",
                "kernelVersion": "5.10.234-225.910.amzn2.x86_64",
                "containerRuntimeVersion": "containerd://1.7.25",
                "kubeletVersion": format!("v{}-eks-3025e55", self.kubernetes_version),
                "kubeProxyVersion": format!("v{}-eks-3025e55", self.kubernetes_version),
                "machineID": self.task_id,
                "systemUUID": self.task_id,
                "bootID": self.task_id,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> FargateNode<'static> {
        FargateNode {
            ip: Ipv4Addr::new(172, 31, 64, 15),
            region: "us-east-1",
            zone: "us-east-1b",
            size: Size {
                millicpu: 250,
                memory_mib: 512,
                ephemeral_gib: 20,
            },
            kubernetes_version: "1.34.1",
            task_id: "0123456789-0123456789abcdef0123456789abcdef",
            profile: "default",
        }
    }

    #[test]
    fn named_labelled_and_tainted_as_eks_registers_them() {
        let n = node().object();
        assert_eq!(
            n["metadata"]["name"],
            "fargate-ip-172-31-64-15.ec2.internal"
        );
        assert_eq!(
            n["metadata"]["labels"]["kubernetes.io/hostname"],
            "ip-172-31-64-15.ec2.internal"
        );
        assert_eq!(n["metadata"]["labels"][COMPUTE_TYPE_LABEL], "fargate");
        assert_eq!(n["spec"]["taints"][0]["effect"], "NoSchedule");
        assert_eq!(
            node_name(Ipv4Addr::new(10, 0, 1, 2), "eu-west-1"),
            "fargate-ip-10-0-1-2.eu-west-1.compute.internal"
        );
        let s = node().status();
        assert_eq!(s["capacity"]["pods"], "1");
        assert_eq!(s["addresses"][0]["address"], "172.31.64.15");
    }
}
