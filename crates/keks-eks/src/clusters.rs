//! CreateCluster, DescribeCluster, ListClusters, DeleteCluster and DescribeClusterVersions,
//! validated as EKS validates them. A created cluster gets its Kubernetes API at once (so
//! the first request after ACTIVE never waits) but shows its endpoint only once ACTIVE.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::caller::Caller;
use crate::control_plane::ControlPlane;
use crate::doc::{AccessConfig, Cluster, ClusterDoc, LogSetup, Logging, Pending, VpcConfig};
use crate::error::EksError;
use crate::{access, ids, pagination, versions};

/// Clusters per Region and account, EKS's default quota.
pub const DEFAULT_CLUSTER_QUOTA: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateClusterInput {
    name: String,
    version: Option<String>,
    role_arn: String,
    resources_vpc_config: VpcConfigInput,
    kubernetes_network_config: Option<NetworkConfigInput>,
    logging: Option<LoggingInput>,
    client_request_token: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    encryption_config: Option<Value>,
    access_config: Option<AccessConfigInput>,
    upgrade_policy: Option<Value>,
    zonal_shift_config: Option<Value>,
    outpost_config: Option<Value>,
    compute_config: Option<Value>,
    remote_network_config: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VpcConfigInput {
    pub subnet_ids: Option<Vec<String>>,
    pub security_group_ids: Option<Vec<String>>,
    pub endpoint_public_access: Option<bool>,
    pub endpoint_private_access: Option<bool>,
    pub public_access_cidrs: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NetworkConfigInput {
    service_ipv4_cidr: Option<String>,
    ip_family: Option<String>,
    elastic_load_balancing: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoggingInput {
    #[serde(default)]
    pub cluster_logging: Vec<LogSetup>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AccessConfigInput {
    bootstrap_cluster_creator_admin_permissions: Option<bool>,
    authentication_mode: Option<String>,
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(input: Value) -> Result<T, EksError> {
    serde_json::from_value(input).map_err(|e| EksError::invalid_parameter(e.to_string()))
}

/// EKS's cluster name rule: `^[0-9A-Za-z][A-Za-z0-9\-_]*`, 1 to 100 characters.
pub fn valid_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `arn:<partition>:iam::<12 digits>:role/<name>`.
pub fn valid_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty()))
}

pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), EksError> {
    if let Some(k) = tags
        .keys()
        .find(|k| k.to_ascii_lowercase().starts_with("aws:"))
    {
        return Err(EksError::invalid_parameter(format!(
            "Tag key {k} is not allowed: tag keys starting with 'aws:' are reserved for AWS use."
        )));
    }
    Ok(())
}

/// A private IPv4 CIDR of /12 to /24, for the service network.
fn valid_service_cidr(cidr: &str) -> bool {
    let Some((addr, len)) = cidr.split_once('/') else {
        return false;
    };
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    let Ok(ip) = addr.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let o = ip.octets();
    let private =
        o[0] == 10 || (o[0] == 172 && (16..32).contains(&o[1])) || (o[0] == 192 && o[1] == 168);
    (12..=24).contains(&len) && private
}

impl ControlPlane {
    pub async fn create_cluster(&self, caller: &Caller, input: Value) -> Result<Value, EksError> {
        let input: CreateClusterInput = parse(input)?;
        let name = input.name.clone();
        if !valid_cluster_name(&name) {
            return Err(EksError::invalid_parameter(format!(
                "The cluster name {name:?} is not valid: it can contain only alphanumeric characters (case-sensitive), hyphens and underscores, must start with an alphanumeric character and can't be longer than 100 characters."
            )));
        }
        if let Some(existing) = self.get(&name) {
            if input.client_request_token.is_some()
                && existing.cluster.client_request_token == input.client_request_token
            {
                return Ok(json!({ "cluster": existing.cluster }));
            }
            return Err(EksError::ResourceInUse {
                message: format!("Cluster already exists with name: {name}"),
                cluster: Some(name),
            });
        }
        let quota = self.config.cluster_quota;
        if self.len() >= quota {
            return Err(EksError::ResourceLimitExceeded {
                message: format!(
                    "Cluster limit exceeded for account: at most {quota} clusters per Region."
                ),
                cluster: Some(name),
            });
        }
        for (member, value) in [
            ("outpostConfig", &input.outpost_config),
            ("computeConfig", &input.compute_config),
            ("remoteNetworkConfig", &input.remote_network_config),
        ] {
            let enabled = match value {
                Some(Value::Object(o)) if member == "computeConfig" => {
                    o.get("enabled") == Some(&Value::Bool(true))
                }
                Some(Value::Object(o)) => !o.is_empty(),
                _ => false,
            };
            if enabled {
                return Err(EksError::invalid_parameter(format!(
                    "{member} is not supported by keks (EKS on Outposts, EKS Auto Mode and hybrid nodes are not simulated)."
                )));
            }
        }
        let version = input
            .version
            .clone()
            .unwrap_or_else(|| versions::DEFAULT_VERSION.to_string());
        let Some(offered) = versions::find(&version) else {
            return Err(EksError::invalid_parameter(format!(
                "unsupported Kubernetes version {version}"
            ))
            .for_cluster(&name));
        };
        if !valid_role_arn(&input.role_arn) {
            return Err(EksError::invalid_parameter(format!(
                "The role ARN {} is not valid: it must be an IAM role ARN (arn:aws:iam::<account id>:role/<name>).",
                input.role_arn
            )).for_cluster(&name));
        }
        if !self.role_exists(&input.role_arn) {
            return Err(EksError::invalid_parameter(format!(
                "Role with arn: {}, could not be assumed because it does not exist or the trusted entity is not correct",
                input.role_arn
            ))
            .for_cluster(&name));
        }
        check_tags(&input.tags)?;
        let vpc = self
            .resolve_vpc(&name, &input.resources_vpc_config)
            .await
            .map_err(|e| e.for_cluster(&name))?;
        let network = self.network_config(
            input.kubernetes_network_config.unwrap_or_default(),
            &vpc.vpc_id,
        )?;
        let access_config = resolve_access_config(input.access_config.unwrap_or_default())?;
        let logging = Logging::disabled()
            .apply(&input.logging.map(|l| l.cluster_logging).unwrap_or_default());
        let id = ids::cluster_id();
        let region = &self.config.region;
        let now = self.now();
        let cluster = Cluster {
            arn: format!(
                "arn:aws:eks:{region}:{}:cluster/{name}",
                self.config.account_id
            ),
            name: name.clone(),
            created_at: now,
            version: version.clone(),
            endpoint: None,
            role_arn: input.role_arn,
            resources_vpc_config: vpc,
            kubernetes_network_config: network,
            logging,
            identity: json!({"oidc": {"issuer": format!("https://oidc.eks.{region}.amazonaws.com/id/{id}")}}),
            status: "CREATING".into(),
            certificate_authority: json!({}),
            client_request_token: input.client_request_token,
            platform_version: offered.platform_version.to_string(),
            tags: input.tags,
            encryption_config: input
                .encryption_config
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty())),
            health: json!({"issues": []}),
            access_config,
            upgrade_policy: input
                .upgrade_policy
                .unwrap_or_else(|| json!({"supportType": "EXTENDED"})),
            zonal_shift_config: input.zonal_shift_config,
        };
        let mut doc = ClusterDoc {
            creator_arn: caller.canonical_arn(),
            updates: Vec::new(),
            update_tokens: BTreeMap::new(),
            fargate_profiles: BTreeMap::new(),
            nodegroups: BTreeMap::new(),
            access_entries: BTreeMap::new(),
            pending: Some(Pending::Activate {
                due: self.due_in(self.config.timing.cluster_create()),
            }),
            kube_endpoint: format!("{}/clusters/{name}", self.config.kube_url),
            kube_ca_data: base64::engine::general_purpose::STANDARD
                .encode(self.config.ca_pem.as_bytes()),
            cluster,
        };
        if doc.cluster.access_config.uses_access_entries()
            && doc
                .cluster
                .access_config
                .bootstrap_cluster_creator_admin_permissions
        {
            access::add_creator_entry_if_missing(&mut doc, now);
        }
        let service_cidr = doc.cluster.kubernetes_network_config["serviceIpv4Cidr"]
            .as_str()
            .map(str::to_string);
        match self
            .kube
            .create_with(
                &name,
                &version,
                &keks_apiserver::ClusterOptions {
                    service_cidr,
                    service_account_issuer: doc.cluster.identity["oidc"]["issuer"]
                        .as_str()
                        .map(str::to_string),
                },
            )
            .await
        {
            Ok(_) => {}
            Err(keks_apiserver::ClusterError::AlreadyExists(_)) => {
                return Err(EksError::ResourceInUse {
                    message: format!("Cluster already exists with name: {name}"),
                    cluster: Some(name),
                })
            }
            Err(e) => return Err(EksError::Server(e.to_string())),
        }
        let doc = match self.insert(doc).await {
            Ok(doc) => doc,
            Err(e) => {
                let _ = self.kube.delete(&name).await;
                return Err(e);
            }
        };
        Ok(json!({ "cluster": doc.cluster }))
    }

    /// The subnets' VPC, checked as EKS checks it.
    pub(crate) async fn resolve_vpc(
        &self,
        cluster: &str,
        input: &VpcConfigInput,
    ) -> Result<VpcConfig, EksError> {
        let subnet_ids = input.subnet_ids.clone().unwrap_or_default();
        if subnet_ids.is_empty() {
            return Err(EksError::invalid_parameter(
                "resourcesVpcConfig.subnetIds: Subnets specified must be in at least two different AZs",
            ));
        }
        let mut subnets = Vec::new();
        for id in &subnet_ids {
            match self.network.subnet(id) {
                Some(s) => subnets.push(s),
                None => {
                    return Err(EksError::invalid_parameter(format!(
                        "The subnet ID '{id}' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID.NotFound)"
                    )))
                }
            }
        }
        let vpc_id = subnets[0].vpc_id.clone();
        if subnets.iter().any(|s| s.vpc_id != vpc_id) {
            return Err(EksError::invalid_parameter(
                "resourcesVpcConfig.subnetIds: Subnets specified must belong to the same VPC",
            ));
        }
        let mut zones: Vec<&str> = subnets
            .iter()
            .map(|s| s.availability_zone.as_str())
            .collect();
        zones.sort_unstable();
        zones.dedup();
        if zones.len() < 2 {
            return Err(EksError::invalid_parameter(
                "resourcesVpcConfig.subnetIds: Subnets specified must be in at least two different AZs",
            ));
        }
        let security_group_ids = input.security_group_ids.clone().unwrap_or_default();
        if security_group_ids.len() > 5 {
            return Err(EksError::invalid_parameter(
                "resourcesVpcConfig.securityGroupIds: at most 5 security groups can be specified",
            ));
        }
        if let Some(sg) = security_group_ids.iter().find(|sg| {
            self.network
                .security_group(sg)
                .is_none_or(|g| g.vpc_id != vpc_id)
        }) {
            return Err(EksError::invalid_parameter(format!(
                "The security group '{sg}' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidGroup.NotFound)"
            )));
        }
        let public = input.endpoint_public_access.unwrap_or(true);
        let private = input.endpoint_private_access.unwrap_or(false);
        if !public && !private {
            return Err(EksError::invalid_parameter(
                "resourcesVpcConfig: the cluster endpoint must have public access, private access or both enabled",
            ));
        }
        let cidrs = input
            .public_access_cidrs
            .clone()
            .unwrap_or_else(|| vec!["0.0.0.0/0".into()]);
        let group = self
            .network
            .create_security_group(
                &vpc_id,
                &format!("eks-cluster-sg-{cluster}-{}", &ids::cluster_id()[..8].to_ascii_lowercase()),
                "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.",
                vec![
                    keks_cloud::network::Tag::new(format!("kubernetes.io/cluster/{cluster}"), "owned"),
                    keks_cloud::network::Tag::new("aws:eks:cluster-name", cluster),
                ],
            )
            .await
            .map_err(|e| EksError::Server(format!("creating the cluster security group: {e}")))?;
        Ok(VpcConfig {
            subnet_ids,
            security_group_ids,
            cluster_security_group_id: group.id,
            vpc_id,
            endpoint_public_access: public,
            endpoint_private_access: private,
            public_access_cidrs: cidrs,
        })
    }

    fn network_config(&self, input: NetworkConfigInput, vpc_id: &str) -> Result<Value, EksError> {
        let family = input.ip_family.unwrap_or_else(|| "ipv4".into());
        if family == "ipv6" {
            return Err(EksError::invalid_parameter(
                "kubernetesNetworkConfig.ipFamily: ipv6 clusters are not supported by keks",
            ));
        }
        let cidr = match input.service_ipv4_cidr {
            Some(c) if !valid_service_cidr(&c) => {
                return Err(EksError::invalid_parameter(format!(
                    "kubernetesNetworkConfig.serviceIpv4Cidr {c} is not valid: it must be a private IPv4 block (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) with a prefix between /12 and /24"
                )))
            }
            Some(c) => c,
            // EKS picks the block that cannot overlap the VPC.
            None => match self.network.vpc(vpc_id).map(|v| v.cidr_block) {
                Some(v) if v.starts_with("10.") => "172.20.0.0/16".into(),
                _ => "10.100.0.0/16".into(),
            },
        };
        Ok(json!({
            "serviceIpv4Cidr": cidr,
            "ipFamily": family,
            "elasticLoadBalancing": input.elastic_load_balancing.unwrap_or_else(|| json!({"enabled": false})),
        }))
    }

    pub fn describe_cluster(&self, name: &str) -> Result<Value, EksError> {
        self.with(name, |d| json!({ "cluster": d.cluster }))
            .ok_or_else(|| EksError::no_cluster(name))
    }

    pub fn list_clusters(&self, input: &Value) -> Result<Value, EksError> {
        let max = input
            .get("maxResults")
            .and_then(Value::as_i64)
            .unwrap_or(100)
            .clamp(1, 100) as usize;
        let after = pagination::after(input.get("nextToken").and_then(Value::as_str))?;
        let (page, more) = self.page_names(after.as_deref(), max);
        let mut out = json!({ "clusters": page });
        if more {
            if let Some(last) = page.last() {
                out["nextToken"] = json!(pagination::token(last));
            }
        }
        Ok(out)
    }

    pub async fn delete_cluster(&self, name: &str) -> Result<Value, EksError> {
        let due = self.due_in(self.config.timing.cluster_delete());
        self.modify(name, |doc| {
            if let Some(Pending::FinishUpdate { update_id, .. }) = &doc.pending {
                return Err(EksError::ResourceInUse {
                    message: format!("Cannot delete because cluster {name} currently has update {update_id} in progress"),
                    cluster: Some(name.to_string()),
                });
            }
            if !doc.nodegroups.is_empty() {
                return Err(EksError::ResourceInUse {
                    message: "Cluster has nodegroups attached".into(),
                    cluster: Some(name.to_string()),
                });
            }
            if let Some(p) = doc.fargate_profiles.values().next() {
                return Err(EksError::ResourceInUse {
                    message: format!(
                        "Cluster has Fargate profiles attached: delete Fargate profile {} (and any others) first",
                        p.profile.fargate_profile_name
                    ),
                    cluster: Some(name.to_string()),
                });
            }
            if doc.cluster.status != "DELETING" {
                doc.cluster.status = "DELETING".into();
                doc.pending = Some(Pending::Remove { due });
            }
            Ok(json!({ "cluster": doc.cluster }))
        })
        .await
    }

    pub fn describe_cluster_versions(&self, input: &Value) -> Result<Value, EksError> {
        let wanted: Option<Vec<&str>> = input
            .get("clusterVersions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        let default_only = input
            .get("defaultOnly")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let status = input.get("status").and_then(Value::as_str);
        let all: Vec<Value> = versions::VERSIONS
            .iter()
            .rev()
            .filter(|v| wanted.as_ref().is_none_or(|w| w.contains(&v.version)))
            .filter(|v| !default_only || v.version == versions::DEFAULT_VERSION)
            .filter(|v| status.is_none_or(|s| s == v.status.wire()))
            .map(|v| {
                json!({
                    "clusterVersion": v.version,
                    "clusterType": "eks",
                    "defaultPlatformVersion": v.platform_version,
                    "defaultVersion": v.version == versions::DEFAULT_VERSION,
                    "releaseDate": versions::date_seconds(v.release_date),
                    "endOfStandardSupportDate": versions::date_seconds(v.end_of_standard_support),
                    "endOfExtendedSupportDate": versions::date_seconds(v.end_of_extended_support),
                    "status": v.status.wire(),
                    "versionStatus": v.status.version_status(),
                    "kubernetesPatchVersion": v.patch_version,
                })
            })
            .collect();
        pagination::answer(
            "clusterVersions",
            &all,
            |v| v["clusterVersion"].as_str().unwrap_or_default().to_string(),
            input,
        )
    }
}

fn resolve_access_config(input: AccessConfigInput) -> Result<AccessConfig, EksError> {
    Ok(AccessConfig {
        bootstrap_cluster_creator_admin_permissions: input
            .bootstrap_cluster_creator_admin_permissions
            .unwrap_or(true),
        // The default for clusters created through the API (the console picks another).
        authentication_mode: input
            .authentication_mode
            .unwrap_or_else(|| "CONFIG_MAP".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_role_arns_follow_eks_rules() {
        assert!(valid_cluster_name("prod_1-a"));
        assert!(!valid_cluster_name("-prod"));
        assert!(!valid_cluster_name("prod.1"));
        assert!(!valid_cluster_name(&"a".repeat(101)));
        assert!(valid_role_arn("arn:aws:iam::123456789012:role/eks"));
        assert!(valid_role_arn("arn:aws:iam::123456789012:role/path/eks"));
        assert!(!valid_role_arn("arn:aws:iam::123456789012:user/eks"));
        assert!(!valid_role_arn("arn:aws:iam::1234:role/eks"));
        assert!(!valid_role_arn("eks-role"));
    }

    #[test]
    fn service_cidrs_must_be_private_and_sized() {
        assert!(valid_service_cidr("10.100.0.0/16"));
        assert!(valid_service_cidr("172.20.0.0/16"));
        assert!(!valid_service_cidr("8.8.0.0/16"));
        assert!(!valid_service_cidr("10.0.0.0/8"));
        assert!(!valid_service_cidr("10.0.0.0/28"));
    }
}
