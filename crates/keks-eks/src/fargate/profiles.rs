//! CreateFargateProfile, DescribeFargateProfile, ListFargateProfiles and
//! DeleteFargateProfile, with EKS's rules: 1 to 5 selectors, each with a namespace and at
//! most 5 labels; a pod execution role that exists and has no path; private subnets of the
//! cluster's VPC (the cluster's private subnets when none are given); names unique per
//! cluster; at most 10 profiles; profiles immutable; one profile CREATING or DELETING at a
//! time per cluster. CREATING → ACTIVE and DELETING → gone happen on the clock. Creating a
//! profile lets its pod execution role's nodes join: an access entry of type FARGATE_LINUX
//! (API modes) or a `aws-auth` mapping (CONFIG_MAP), as EKS adds them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::selector::Selector;
use crate::clusters::{check_tags, parse, valid_cluster_name, valid_role_arn};
use crate::control_plane::ControlPlane;
use crate::doc::ClusterDoc;
use crate::error::EksError;
use crate::{access, ids, pagination};

/// Profiles per cluster, EKS's default quota.
pub const MAX_PROFILES: usize = 10;
pub const MAX_SELECTORS: usize = 5;
pub const MAX_LABELS: usize = 5;

/// A profile as DescribeFargateProfile returns it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FargateProfile {
    pub fargate_profile_name: String,
    pub fargate_profile_arn: String,
    pub cluster_name: String,
    pub created_at: f64,
    pub pod_execution_role_arn: String,
    pub subnets: Vec<String>,
    pub selectors: Vec<Selector>,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub health: Value,
}

/// A stored profile: the profile and when its transition (if any) completes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDoc {
    pub profile: FargateProfile,
    #[serde(default)]
    pub due: Option<f64>,
    #[serde(default)]
    pub client_request_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    cluster_name: String,
    fargate_profile_name: String,
    pod_execution_role_arn: String,
    subnets: Option<Vec<String>>,
    selectors: Option<Vec<SelectorInput>>,
    client_request_token: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SelectorInput {
    namespace: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fn no_profile(cluster: &str, name: &str) -> EksError {
    EksError::ResourceNotFound {
        message: format!("No Fargate Profile found with name: {name}."),
        cluster: Some(cluster.to_string()),
    }
}

fn check_selectors(input: Option<Vec<SelectorInput>>) -> Result<Vec<Selector>, EksError> {
    let selectors = input.unwrap_or_default();
    if selectors.is_empty() {
        return Err(EksError::invalid_parameter(
            "Fargate Profile requires at least one selector.",
        ));
    }
    if selectors.len() > MAX_SELECTORS {
        return Err(EksError::invalid_parameter(format!(
            "Fargate Profile can have at most {MAX_SELECTORS} selectors; the request has {}.",
            selectors.len()
        )));
    }
    selectors
        .into_iter()
        .map(|s| {
            let namespace = s.namespace.filter(|n| !n.is_empty()).ok_or_else(|| {
                EksError::invalid_parameter(
                    "Fargate Profile must have at least one selector with at least one namespace value.",
                )
            })?;
            if s.labels.len() > MAX_LABELS {
                return Err(EksError::invalid_parameter(format!(
                    "Request contains Selector with more than {MAX_LABELS} Label pairs"
                )));
            }
            Ok(Selector {
                namespace,
                labels: s.labels,
            })
        })
        .collect()
}

impl ControlPlane {
    pub async fn create_fargate_profile(&self, input: Value) -> Result<Value, EksError> {
        let input: CreateInput = parse(input)?;
        let cluster = input.cluster_name.clone();
        let name = input.fargate_profile_name.clone();
        if !valid_cluster_name(&name) {
            return Err(EksError::invalid_parameter(format!(
                "The Fargate Profile name {name:?} is not valid: it can contain only alphanumeric characters, hyphens and underscores, must start with an alphanumeric character and can't be longer than 100 characters."
            ))
            .for_cluster(&cluster));
        }
        let role = input.pod_execution_role_arn.clone();
        if !valid_role_arn(&role) {
            return Err(EksError::invalid_parameter(format!(
                "The pod execution role ARN {role} is not valid: it must be an IAM role ARN."
            )));
        }
        if role
            .split_once(":role/")
            .is_some_and(|(_, rest)| rest.contains('/'))
        {
            return Err(EksError::invalid_parameter(format!(
                "The pod execution role ARN {role} has a path; pod execution roles can't have a path."
            )));
        }
        if !self.role_exists(&role) {
            return Err(EksError::invalid_parameter(format!(
                "Role with arn: {role}, could not be assumed because it does not exist or the trusted entity is not correct"
            )));
        }
        let selectors = check_selectors(input.selectors)?;
        check_tags(&input.tags)?;
        let (cluster_vpc, cluster_subnets) = self
            .with(&cluster, |d| {
                (
                    d.cluster.resources_vpc_config.vpc_id.clone(),
                    d.cluster.resources_vpc_config.subnet_ids.clone(),
                )
            })
            .ok_or_else(|| EksError::no_cluster(&cluster))?;
        let subnets = match input.subnets.filter(|s| !s.is_empty()) {
            Some(given) => {
                for id in &given {
                    let subnet = self.network.subnet(id).ok_or_else(|| {
                        EksError::invalid_parameter(format!(
                            "Subnet {id} provided in Fargate Profile does not exist"
                        ))
                    })?;
                    if subnet.vpc_id != cluster_vpc {
                        return Err(EksError::invalid_parameter(format!(
                            "Subnet {id} provided in Fargate Profile is not in the cluster's VPC {cluster_vpc}"
                        )));
                    }
                    if !subnet.is_private() {
                        return Err(EksError::invalid_parameter(format!(
                            "Subnet {id} provided in Fargate Profile is not a private subnet"
                        )));
                    }
                }
                given
            }
            None => {
                let private: Vec<String> = cluster_subnets
                    .into_iter()
                    .filter(|id| self.network.subnet(id).is_some_and(|s| s.is_private()))
                    .collect();
                if private.is_empty() {
                    return Err(EksError::invalid_parameter(
                        "The cluster has no private subnets; a Fargate Profile needs private subnets (give subnets explicitly).",
                    ));
                }
                private
            }
        };
        let now = self.now();
        let due = self.due_in(self.config.timing.fargate_profile_create());
        let arn_prefix = format!(
            "arn:aws:eks:{}:{}",
            self.config.region, self.config.account_id
        );
        let (result, uses_config_map) = self
            .modify(&cluster, |doc| {
                if let Some(existing) = doc.fargate_profiles.get(&name) {
                    if input.client_request_token.is_some()
                        && existing.client_request_token == input.client_request_token
                    {
                        return Ok((json!({ "fargateProfile": existing.profile }), false));
                    }
                    return Err(EksError::ResourceInUse {
                        message: "A Fargate Profile already exists with this name in this cluster.".into(),
                        cluster: Some(cluster.clone()),
                    });
                }
                if doc.cluster.status != "ACTIVE" && doc.cluster.status != "UPDATING" {
                    return Err(EksError::InvalidRequest {
                        message: format!("Cluster '{cluster}' is not in ACTIVE status"),
                        cluster: Some(cluster.clone()),
                    });
                }
                if let Some(busy) = doc
                    .fargate_profiles
                    .values()
                    .find(|p| p.profile.status == "CREATING" || p.profile.status == "DELETING")
                {
                    return Err(EksError::ResourceInUse {
                        message: format!(
                            "Cannot create Fargate Profile {name} because cluster {cluster} currently has Fargate profile {} in status {}",
                            busy.profile.fargate_profile_name, busy.profile.status
                        ),
                        cluster: Some(cluster.clone()),
                    });
                }
                if doc.fargate_profiles.len() >= MAX_PROFILES {
                    return Err(EksError::ResourceLimitExceeded {
                        message: format!(
                            "Fargate Profile limit exceeded for cluster {cluster}: at most {MAX_PROFILES} profiles."
                        ),
                        cluster: Some(cluster.clone()),
                    });
                }
                let profile = FargateProfile {
                    fargate_profile_name: name.clone(),
                    fargate_profile_arn: format!("{arn_prefix}:fargateprofile/{cluster}/{name}/{}", ids::uuid()),
                    cluster_name: cluster.clone(),
                    created_at: now,
                    pod_execution_role_arn: role.clone(),
                    subnets: subnets.clone(),
                    selectors: selectors.clone(),
                    status: "CREATING".into(),
                    tags: input.tags.clone(),
                    health: json!({"issues": []}),
                };
                doc.fargate_profiles.insert(
                    name.clone(),
                    ProfileDoc {
                        profile: profile.clone(),
                        due: Some(due),
                        client_request_token: input.client_request_token.clone(),
                    },
                );
                if doc.cluster.access_config.uses_access_entries() {
                    access::add_node_role_entry(doc, &role, "FARGATE_LINUX", now);
                }
                // API modes get an access entry; CONFIG_MAP clusters an aws-auth mapping.
                let config_map_only = !doc.cluster.access_config.uses_access_entries();
                Ok((json!({ "fargateProfile": profile }), config_map_only))
            })
            .await?;
        if uses_config_map {
            self.map_fargate_role(&cluster, &role).await;
        }
        Ok(result)
    }

    /// Maps a pod execution role in `aws-auth`, as EKS does for CONFIG_MAP clusters.
    async fn map_fargate_role(&self, cluster: &str, role: &str) {
        let Ok(Some(api)) = self.running_api(cluster).await else {
            return;
        };
        let groups = [
            "system:bootstrappers",
            "system:nodes",
            "system:node-proxier",
        ];
        if let Err(e) =
            crate::aws_auth::add_role_mapping(&api, role, "system:node:{{SessionName}}", &groups)
                .await
        {
            tracing::warn!(cluster, role, error = %e, "mapping the pod execution role in aws-auth");
        }
    }

    /// Deletes the pods a deleted profile placed, as EKS does; their controllers recreate
    /// them, and admission gives the new pods another matching profile or none.
    pub(crate) async fn delete_profile_pods(&self, cluster: &str, profile: &str) {
        let Some(api) = self.kube.get(cluster) else {
            return;
        };
        let Some(pods) = api.registry.get("", "v1", "pods") else {
            return;
        };
        let selector = format!("{}={profile}", super::admission::PROFILE_LABEL);
        let Ok(label_selector) = keks_apiserver::selector::LabelSelector::parse(&selector) else {
            return;
        };
        let opts = keks_apiserver::rest::ListOptions {
            label_selector,
            ..Default::default()
        };
        let Ok(list) = api.list(&pods, None, &opts).await else {
            return;
        };
        for pod in list["items"].as_array().into_iter().flatten() {
            let meta = &pod["metadata"];
            let (Some(ns), Some(name)) = (meta["namespace"].as_str(), meta["name"].as_str()) else {
                continue;
            };
            let deleted = api
                .delete(
                    &pods,
                    ns,
                    name,
                    &keks_apiserver::rest::DeleteOptions::default(),
                )
                .await;
            if let Err(e) = deleted {
                tracing::debug!(cluster, pod = %name, error = %e, "deleting a pod of a deleted Fargate profile");
            }
        }
    }

    pub fn describe_fargate_profile(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = input["clusterName"].as_str().unwrap_or_default();
        let name = input["fargateProfileName"].as_str().unwrap_or_default();
        self.with(cluster, |d| {
            d.fargate_profiles.get(name).map(|p| p.profile.clone())
        })
        .ok_or_else(|| EksError::no_cluster(cluster))?
        .map(|p| json!({ "fargateProfile": p }))
        .ok_or_else(|| no_profile(cluster, name))
    }

    pub fn list_fargate_profiles(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = input["clusterName"].as_str().unwrap_or_default();
        let names: Vec<String> = self
            .with(cluster, |d| d.fargate_profiles.keys().cloned().collect())
            .ok_or_else(|| EksError::no_cluster(cluster))?;
        pagination::answer("fargateProfileNames", &names, String::clone, input)
    }

    pub async fn delete_fargate_profile(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = input["clusterName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = input["fargateProfileName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let due = self.due_in(self.config.timing.fargate_profile_delete());
        self.modify(&cluster, |doc| {
            if !doc.fargate_profiles.contains_key(&name) {
                return Err(no_profile(&cluster, &name));
            }
            if let Some(busy) = doc
                .fargate_profiles
                .values()
                .find(|p| p.profile.status == "DELETING" && p.profile.fargate_profile_name != name)
            {
                return Err(EksError::ResourceInUse {
                    message: format!(
                        "Cannot Delete Fargate Profile {name} because cluster {cluster} currently has Fargate profile {} in status DELETING",
                        busy.profile.fargate_profile_name
                    ),
                    cluster: Some(cluster.clone()),
                });
            }
            let p = doc.fargate_profiles.get_mut(&name).expect("checked");
            if p.profile.status != "DELETING" {
                p.profile.status = "DELETING".into();
                p.due = Some(due);
            }
            Ok(json!({ "fargateProfile": p.profile }))
        })
        .await
    }
}

/// The earliest profile transition of a cluster.
pub(crate) fn next_due(doc: &ClusterDoc) -> Option<f64> {
    doc.fargate_profiles
        .values()
        .filter_map(|p| p.due)
        .min_by(|a, b| a.total_cmp(b))
}

/// Completes the profile transitions due by `now`: CREATING → ACTIVE, DELETING → gone.
/// Returns the profiles that went away.
pub(crate) fn complete_due(doc: &mut ClusterDoc, now: f64) -> Vec<FargateProfile> {
    let mut removed = Vec::new();
    let names: Vec<String> = doc
        .fargate_profiles
        .iter()
        .filter(|(_, p)| p.due.is_some_and(|d| d <= now))
        .map(|(n, _)| n.clone())
        .collect();
    for name in names {
        let deleting = doc.fargate_profiles[&name].profile.status == "DELETING";
        if deleting {
            if let Some(p) = doc.fargate_profiles.remove(&name) {
                removed.push(p.profile);
            }
        } else if let Some(p) = doc.fargate_profiles.get_mut(&name) {
            p.profile.status = "ACTIVE".into();
            p.due = None;
        }
    }
    removed
}
