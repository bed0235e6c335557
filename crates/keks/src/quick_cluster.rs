//! `keks create cluster NAME [--fargate]`: an EKS cluster in one step, as `eksctl create
//! cluster` makes one — the IAM roles it needs, the default VPC's private subnets, the
//! cluster (access entries and aws-auth both on), waiting until it is ACTIVE, and with
//! `--fargate` a profile `fp-default` for the `default` and `kube-system` namespaces with
//! CoreDNS moved onto it (its `eks.amazonaws.com/compute-type: ec2` annotation removed, as
//! eksctl does). The kubeconfig gets an admin bearer token for the cluster, so it works
//! without the `aws` CLI; `aws eks update-kubeconfig` works as for any cluster.
//!
//! The server side is an admin endpoint (`POST /_keks/eks/clusters`) on the AWS-side
//! listener; the CLI side reuses `keks dev cluster`'s kubeconfig writing.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use keks_apiserver::rest::UpdateOptions;
use keks_apiserver::Clusters;
use keks_aws::iam::NewRole;
use keks_aws::Iam;
use keks_core::{ClockExt, SharedClock};
use keks_eks::{Caller, ControlPlane};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::DevCluster;
use crate::cli::CreateClusterArgs;
use crate::datadir::DataDir;
use crate::{dev, env_file};

pub const CLUSTER_ROLE: &str = "keks-eks-cluster-role";
pub const POD_EXECUTION_ROLE: &str = "keks-eks-fargate-pod-execution-role";
pub const NODE_ROLE: &str = "keks-eks-node-role";
const NODEGROUP: &str = "ng-default";
const FARGATE_PROFILE: &str = "fp-default";

/// What the endpoint needs.
#[derive(Clone)]
pub struct QuickClusters {
    pub control: Arc<ControlPlane>,
    pub clusters: Arc<Clusters>,
    pub iam: Iam,
    pub network: keks_cloud::Network,
    pub clock: SharedClock,
    pub kube_url: String,
    pub ca_pem: String,
}

#[derive(Deserialize)]
pub struct Request {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub fargate: bool,
    /// Nodes of a managed node group `ng-default`.
    #[serde(default)]
    pub nodes: Option<u32>,
    #[serde(default, rename = "nodeType")]
    pub node_type: Option<String>,
}

/// Why a quick cluster could not be made; the message is what the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum QuickError {
    #[error("{0}")]
    Eks(#[from] keks_eks::EksError),
    #[error("{0}")]
    Other(String),
}

impl QuickClusters {
    async fn role(&self, name: &str, service: &str) -> Result<String, QuickError> {
        if let Some(r) = self.iam.role(name) {
            return Ok(r.arn);
        }
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]});
        let role = self
            .iam
            .create_role(
                NewRole {
                    name: name.to_string(),
                    path: "/".into(),
                    assume_role_policy_document: trust.to_string(),
                    description: Some("created by keks create cluster".into()),
                    max_session_duration: 3600,
                    tags: Vec::new(),
                },
                self.clock.wall(),
            )
            .await
            .map_err(|e| QuickError::Other(e.to_string()))?;
        Ok(role.arn)
    }

    /// Polls until `done` says the resource reached its state (the clock drives the wait, so
    /// the realistic profile takes its minutes).
    async fn wait(&self, what: &str, mut done: impl FnMut() -> bool) -> Result<(), QuickError> {
        for _ in 0..20_000 {
            if done() {
                return Ok(());
            }
            self.clock.sleep(Duration::from_millis(100)).await;
        }
        Err(QuickError::Other(format!("{what} did not become ACTIVE")))
    }

    pub async fn create(&self, req: Request) -> Result<DevCluster, QuickError> {
        let account = self.iam.account().clone();
        let caller = Caller {
            account: account.id.clone(),
            arn: account.root.arn.clone(),
            user_id: account.root.user_id.clone(),
            access_key_id: account.root.access_key_id.clone(),
        };
        let role = self.role(CLUSTER_ROLE, "eks.amazonaws.com").await?;
        let vpc = self.network.default_vpc();
        let subnets: Vec<String> = self
            .network
            .subnets()
            .into_iter()
            .filter(|s| s.vpc_id == vpc.id && s.is_private())
            .map(|s| s.id)
            .collect();
        let mut input = json!({"name": req.name, "roleArn": role,
            "resourcesVpcConfig": {"subnetIds": subnets},
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
            "tags": {"created-by": "keks create cluster"}});
        if let Some(v) = &req.version {
            input["version"] = json!(v);
        }
        self.control.create_cluster(&caller, input).await?;
        let control = self.control.clone();
        let name = req.name.clone();
        self.wait("the cluster", || {
            control
                .with(&name, |d| d.cluster.status == "ACTIVE")
                .unwrap_or(false)
        })
        .await?;
        if req.fargate {
            let pod_role = self
                .role(POD_EXECUTION_ROLE, "eks-fargate-pods.amazonaws.com")
                .await?;
            self.control
                .create_fargate_profile(
                    json!({"clusterName": name, "fargateProfileName": FARGATE_PROFILE,
                    "podExecutionRoleArn": pod_role,
                    "selectors": [{"namespace": "default"}, {"namespace": "kube-system"}]}),
                )
                .await?;
            self.wait("the Fargate profile", || {
                control
                    .with(&name, |d| {
                        d.fargate_profiles
                            .get(FARGATE_PROFILE)
                            .is_some_and(|p| p.profile.status == "ACTIVE")
                    })
                    .unwrap_or(false)
            })
            .await?;
            self.move_coredns_to_fargate(&name).await?;
        }
        if let Some(nodes) = req.nodes {
            let node_role = self.role(NODE_ROLE, "ec2.amazonaws.com").await?;
            let instance_type = req.node_type.clone().unwrap_or_else(|| "t3.medium".into());
            self.control
                .create_nodegroup(json!({"clusterName": name, "nodegroupName": NODEGROUP,
                    "nodeRole": node_role, "instanceTypes": [instance_type],
                    "scalingConfig": {"minSize": nodes.min(1), "maxSize": nodes.max(1), "desiredSize": nodes}}))
                .await?;
            self.wait("the node group", || {
                control
                    .with(&name, |d| {
                        d.nodegroups
                            .get(NODEGROUP)
                            .is_some_and(|g| g.nodegroup.status == "ACTIVE")
                    })
                    .unwrap_or(false)
            })
            .await?;
        }
        let (_, token) = self
            .clusters
            .issue_admin_token(&name)
            .await
            .map_err(|e| QuickError::Other(e.to_string()))?;
        Ok(DevCluster {
            server: format!("{}{}", self.kube_url, keks_apiserver::cluster_path(&name)),
            name,
            certificate_authority_pem: self.ca_pem.clone(),
            token,
        })
    }

    /// Removes CoreDNS's `eks.amazonaws.com/compute-type: ec2` annotation so its pods go to
    /// Fargate, as eksctl does for Fargate-only clusters.
    async fn move_coredns_to_fargate(&self, cluster: &str) -> Result<(), QuickError> {
        let api = self
            .clusters
            .running(cluster)
            .await
            .map_err(|e| QuickError::Other(e.to_string()))?
            .ok_or_else(|| QuickError::Other(format!("cluster {cluster} has no Kubernetes API")))?;
        let Some(d) = api.registry.get("apps", "v1", "deployments") else {
            return Ok(());
        };
        let pods = api.registry.get("", "v1", "pods");
        api.guaranteed_update(
            &d,
            "kube-system",
            "coredns",
            &UpdateOptions::default(),
            0,
            |current| {
                let mut next = current.clone();
                if let Some(a) = next
                    .pointer_mut("/spec/template/metadata/annotations")
                    .and_then(Value::as_object_mut)
                {
                    a.remove("eks.amazonaws.com/compute-type");
                }
                Ok(next)
            },
        )
        .await
        .map_err(|e| QuickError::Other(format!("updating CoreDNS: {e}")))?;
        // Pods created before the change keep their scheduler; replace them, as `kubectl
        // rollout restart` would.
        if let Some(pods) = pods {
            let selector = keks_apiserver::selector::LabelSelector::parse("k8s-app=kube-dns")
                .map_err(QuickError::Other)?;
            let opts = keks_apiserver::rest::ListOptions {
                label_selector: selector,
                ..Default::default()
            };
            if let Ok(list) = api.list(&pods, Some("kube-system"), &opts).await {
                for pod in list["items"].as_array().into_iter().flatten() {
                    if let Some(name) = pod["metadata"]["name"].as_str() {
                        let _ = api
                            .delete(
                                &pods,
                                "kube-system",
                                name,
                                &keks_apiserver::rest::DeleteOptions::default(),
                            )
                            .await;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The CLI side.
pub fn run(args: CreateClusterArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(args.data_dir.resolve()?);
    let env = env_file::read(&dir)?;
    let endpoint = env
        .get("KEKS_ENDPOINT_URL")
        .context("env.sh has no KEKS_ENDPOINT_URL")?;
    let token = env
        .get("KEKS_ADMIN_TOKEN")
        .context("env.sh has no KEKS_ADMIN_TOKEN")?;
    let body = json!({"name": args.name, "version": args.kubernetes_version, "fargate": args.fargate,
        "nodes": args.nodes, "nodeType": args.node_type});
    let response = dev::http_post_json(endpoint, "/_keks/eks/clusters", token, &body)?;
    let cluster: DevCluster = serde_json::from_str(&response).context("reading keks' answer")?;
    dev::write_kubeconfig(&args.kubeconfig, &cluster)?;
    println!(
        "EKS cluster {} is ACTIVE{}; kubeconfig {} (context {})",
        cluster.name,
        match (args.fargate, args.nodes) {
            (true, _) => " with Fargate profile fp-default (default, kube-system)".to_string(),
            (false, Some(n)) => format!(
                " with managed node group ng-default ({n} x {})",
                args.node_type
            ),
            _ => String::new(),
        },
        args.kubeconfig.display(),
        cluster.name
    );
    Ok(())
}
