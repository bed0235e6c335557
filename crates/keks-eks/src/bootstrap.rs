//! What EKS puts into a new cluster besides Kubernetes' own defaults: the CoreDNS
//! Deployment (2 replicas) and its `kube-dns` Service, the kube-proxy and aws-node (VPC
//! CNI) DaemonSets with their service accounts, and the `aws-auth` ConfigMap when the
//! authentication mode reads it. Images and labels are EKS's; their tags follow the
//! cluster's version.

use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::doc::ClusterDoc;

/// EKS's image registry account for us-east-1 and most Regions.
const ECR_ACCOUNT: &str = "602401143452";

/// Creates the objects; existing ones are left as they are.
pub async fn install(api: &ClusterApi, doc: &ClusterDoc, region: &str) -> Result<(), ApiError> {
    let registry = format!("{ECR_ACCOUNT}.dkr.ecr.{region}.amazonaws.com");
    let version = &doc.cluster.version;
    let service_cidr = doc.cluster.kubernetes_network_config["serviceIpv4Cidr"]
        .as_str()
        .unwrap_or("10.100.0.0/16");
    let dns_ip = tenth_address(service_cidr);
    let mut objects: Vec<(&str, &str, &str, Value)> = vec![
        ("", "v1", "serviceaccounts", service_account("coredns")),
        ("", "v1", "serviceaccounts", service_account("kube-proxy")),
        ("", "v1", "serviceaccounts", service_account("aws-node")),
        ("apps", "v1", "deployments", coredns(&registry)),
        ("", "v1", "services", kube_dns(&dns_ip)),
        ("apps", "v1", "daemonsets", kube_proxy(&registry, version)),
        ("apps", "v1", "daemonsets", aws_node(&registry)),
        ("storage.k8s.io", "v1", "storageclasses", gp2()),
    ];
    if doc.cluster.access_config.uses_config_map() {
        objects.push(("", "v1", "configmaps", aws_auth()));
    }
    // Concurrently: the store's group commit then writes them with a few syncs, not one each.
    let creates = objects
        .into_iter()
        .filter_map(|(group, version, plural, obj)| {
            let d = api.registry.get(group, version, plural)?;
            Some(async move { api.create_if_absent(&d, obj).await })
        });
    futures::future::try_join_all(creates).await?;
    Ok(())
}

/// The tenth address of the service network, where EKS puts the cluster DNS.
fn tenth_address(cidr: &str) -> String {
    let base = cidr.split('/').next().unwrap_or("10.100.0.0");
    let mut octets: Vec<u8> = base.split('.').filter_map(|o| o.parse().ok()).collect();
    if octets.len() != 4 {
        return "10.100.0.10".into();
    }
    octets[3] = 10;
    octets
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The `gp2` class EKS creates in every cluster: in-tree EBS, which EKS migrates to the EBS
/// CSI driver (an add-on a new cluster does not have, so its claims wait). From Kubernetes
/// 1.30 it is no longer marked default.
fn gp2() -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
           "metadata": {"name": "gp2"},
           "provisioner": "kubernetes.io/aws-ebs",
           "parameters": {"fsType": "ext4", "type": "gp2"},
           "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"})
}

fn service_account(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount",
           "metadata": {"name": name, "namespace": "kube-system",
                        "labels": {"eks.amazonaws.com/component": name}}})
}

fn aws_auth() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "aws-auth", "namespace": "kube-system"},
           "data": {"mapRoles": "[]\n", "mapUsers": "[]\n"}})
}

/// Nodes the EKS node agents may run on: Linux, not Fargate, not Auto Mode or hybrid.
fn node_agent_affinity() -> Value {
    json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
    "matchExpressions": [
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
        {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate", "auto", "hybrid"]}
    ]}]}}})
}

fn coredns(registry: &str) -> Value {
    let labels = json!({"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"});
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": labels,
                             // Keeps CoreDNS off Fargate until a user removes it, as on EKS.
                             "annotations": {"eks.amazonaws.com/compute-type": "ec2"}},
                "spec": {
                    "serviceAccountName": "coredns",
                    "priorityClassName": "system-cluster-critical",
                    "dnsPolicy": "Default",
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
                    ],
                    "affinity": {
                        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
                            "matchExpressions": [
                                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}
                            ]}]}},
                        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                            "weight": 100,
                            "podAffinityTerm": {
                                "labelSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]},
                                "topologyKey": "kubernetes.io/hostname"}}]}
                    },
                    "containers": [{
                        "name": "coredns",
                        "image": format!("{registry}/eks/coredns:v1.11.4-eksbuild.2"),
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "ports": [
                            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}
                        ],
                        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
                        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                                          "initialDelaySeconds": 60, "timeoutSeconds": 5, "failureThreshold": 5}
                    }]
                }
            }
        }
    })
}

fn kube_dns(ip: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS", "eks.amazonaws.com/component": "kube-dns"},
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
        "spec": {
            "selector": {"k8s-app": "kube-dns"},
            "clusterIP": ip,
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}
            ]
        }
    })
}

fn node_agent(name: &str, labels: Value, container: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "hostNetwork": true,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "affinity": node_agent_affinity(),
                    "containers": [container]
                }
            }
        }
    })
}

fn kube_proxy(registry: &str, version: &str) -> Value {
    let labels = json!({"k8s-app": "kube-proxy", "eks.amazonaws.com/component": "kube-proxy"});
    node_agent(
        "kube-proxy",
        labels,
        json!({
            "name": "kube-proxy",
            "image": format!("{registry}/eks/kube-proxy:v{version}.0-minimal-eksbuild.2"),
            "command": ["kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config", "--hostname-override=$(NODE_NAME)"],
            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "resources": {"requests": {"cpu": "100m"}},
            "securityContext": {"privileged": true}
        }),
    )
}

fn aws_node(registry: &str) -> Value {
    let labels = json!({"k8s-app": "aws-node", "app.kubernetes.io/name": "aws-node"});
    node_agent(
        "aws-node",
        labels,
        json!({
            "name": "aws-node",
            "image": format!("{registry}/amazon-k8s-cni:v1.19.2-eksbuild.1"),
            "ports": [{"containerPort": 61678, "name": "metrics"}],
            "env": [
                {"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"},
                {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
            ],
            "resources": {"requests": {"cpu": "25m"}},
            "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_is_the_tenth_service_address() {
        assert_eq!(tenth_address("10.100.0.0/16"), "10.100.0.10");
        assert_eq!(tenth_address("172.20.0.0/16"), "172.20.0.10");
    }
}
