//! UpdateClusterVersion, UpdateClusterConfig, DescribeUpdate and ListUpdates. An update is
//! recorded InProgress with the cluster UPDATING; the clock completes it (the change takes
//! effect, the update turns Successful, the cluster ACTIVE again). One update at a time.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::clusters::{parse, LoggingInput, VpcConfigInput};
use crate::control_plane::ControlPlane;
use crate::doc::{ClusterDoc, Logging, Pending, Update, UpdateParam};
use crate::error::EksError;
use crate::{access, ids, pagination, versions};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateVersionInput {
    name: String,
    version: String,
    client_request_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateConfigInput {
    name: String,
    resources_vpc_config: Option<VpcConfigInput>,
    logging: Option<LoggingInput>,
    client_request_token: Option<String>,
    access_config: Option<AccessModeInput>,
    upgrade_policy: Option<Value>,
    zonal_shift_config: Option<Value>,
    compute_config: Option<Value>,
    kubernetes_network_config: Option<Value>,
    storage_config: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessModeInput {
    authentication_mode: Option<String>,
}

fn param(kind: &str, value: impl Into<String>) -> UpdateParam {
    UpdateParam {
        kind: kind.into(),
        value: value.into(),
    }
}

/// The update a request with this token already started, for idempotent retries.
fn retried(doc: &ClusterDoc, token: &Option<String>) -> Option<Update> {
    let token = token.as_ref()?;
    let id = doc.update_tokens.get(token)?;
    doc.updates.iter().find(|u| &u.id == id).cloned()
}

/// Starts `update` on `doc` (which must be ACTIVE with no update in progress).
fn start(
    doc: &mut ClusterDoc,
    update: Update,
    token: Option<String>,
    due: f64,
) -> Result<Value, EksError> {
    let name = doc.cluster.name.clone();
    if doc.cluster.status != "ACTIVE" || doc.pending.is_some() {
        return Err(EksError::ResourceInUse {
            message: format!(
                "Cluster {name} is in {} state and cannot be updated until it is ACTIVE.",
                doc.cluster.status
            ),
            cluster: Some(name),
        });
    }
    if let Some(token) = token {
        doc.update_tokens.insert(token, update.id.clone());
    }
    doc.pending = Some(Pending::FinishUpdate {
        due,
        update_id: update.id.clone(),
    });
    doc.cluster.status = "UPDATING".into();
    let out = json!({ "update": update });
    doc.updates.push(update);
    Ok(out)
}

impl ControlPlane {
    fn new_update(&self, kind: &str, params: Vec<UpdateParam>) -> Update {
        Update {
            id: ids::uuid(),
            status: "InProgress".into(),
            kind: kind.into(),
            params,
            created_at: self.now(),
            errors: Vec::new(),
        }
    }

    pub async fn update_cluster_version(&self, input: Value) -> Result<Value, EksError> {
        let input: UpdateVersionInput = parse(input)?;
        let name = input.name.clone();
        let due = self.due_in(self.config.timing.version_update());
        let target = versions::find(&input.version);
        let update = self.new_update("VersionUpdate", Vec::new());
        self.modify(&name, |doc| {
            if let Some(u) = retried(doc, &input.client_request_token) {
                return Ok(json!({ "update": u }));
            }
            let current = doc.cluster.version.clone();
            let one_minor_up =
                versions::minor(&current).map(|m| m + 1) == versions::minor(&input.version);
            let Some(target) = target.filter(|_| one_minor_up) else {
                return Err(EksError::invalid_parameter(format!(
                    "Unsupported Kubernetes minor version update from {current} to {}",
                    input.version
                ))
                .for_cluster(&name));
            };
            let mut update = update;
            update.params = vec![
                param("Version", target.version),
                param("PlatformVersion", target.platform_version),
            ];
            start(doc, update, input.client_request_token.clone(), due)
        })
        .await
    }

    pub async fn update_cluster_config(&self, input: Value) -> Result<Value, EksError> {
        let input: UpdateConfigInput = parse(input)?;
        let name = input.name.clone();
        let due = self.due_in(self.config.timing.config_update());
        let kinds = [
            input.resources_vpc_config.is_some(),
            input.logging.is_some(),
            input.access_config.is_some(),
            input.upgrade_policy.is_some(),
            input.zonal_shift_config.is_some(),
            input.compute_config.is_some() || input.storage_config.is_some(),
            input.kubernetes_network_config.is_some(),
        ]
        .into_iter()
        .filter(|k| *k)
        .count();
        if kinds == 0 {
            return Err(
                EksError::invalid_parameter("No changes were specified in the request.")
                    .for_cluster(&name),
            );
        }
        if kinds > 1 {
            return Err(
                EksError::invalid_parameter("Only one type of update can be allowed.")
                    .for_cluster(&name),
            );
        }
        if input.compute_config.is_some()
            || input.storage_config.is_some()
            || input.kubernetes_network_config.is_some()
        {
            return Err(EksError::invalid_parameter(
                "computeConfig, storageConfig and kubernetesNetworkConfig updates (EKS Auto Mode) are not supported by keks",
            )
            .for_cluster(&name));
        }
        let blank = self.new_update("ConfigUpdate", Vec::new());
        self.modify(&name, |doc| {
            if let Some(u) = retried(doc, &input.client_request_token) {
                return Ok(json!({ "update": u }));
            }
            let mut update = blank;
            if let Some(logging) = &input.logging {
                let next = doc.cluster.logging.apply(&logging.cluster_logging);
                if next == doc.cluster.logging {
                    return Err(EksError::invalid_parameter("No changes needed for the logging config provided").for_cluster(&name));
                }
                update.kind = "LoggingUpdate".into();
                update.params = vec![param("ClusterLogging", serde_json::to_string(&next).unwrap_or_default())];
            } else if let Some(vpc) = &input.resources_vpc_config {
                if vpc.subnet_ids.is_some() || vpc.security_group_ids.is_some() {
                    return Err(EksError::invalid_parameter(
                        "Changing a cluster's subnets or security groups is not supported by keks",
                    )
                    .for_cluster(&name));
                }
                let current = &doc.cluster.resources_vpc_config;
                let public = vpc.endpoint_public_access.unwrap_or(current.endpoint_public_access);
                let private = vpc.endpoint_private_access.unwrap_or(current.endpoint_private_access);
                if !public && !private {
                    return Err(EksError::invalid_parameter(
                        "The cluster endpoint must have public access, private access or both enabled",
                    )
                    .for_cluster(&name));
                }
                update.kind = "EndpointAccessUpdate".into();
                update.params = vec![
                    param("EndpointPublicAccess", public.to_string()),
                    param("EndpointPrivateAccess", private.to_string()),
                ];
                if let Some(cidrs) = &vpc.public_access_cidrs {
                    update.params.push(param("PublicAccessCidrs", serde_json::to_string(cidrs).unwrap_or_default()));
                }
            } else if let Some(access) = &input.access_config {
                let Some(mode) = access.authentication_mode.clone() else {
                    return Err(EksError::invalid_parameter("accessConfig.authenticationMode is required").for_cluster(&name));
                };
                let from = doc.cluster.access_config.authentication_mode.clone();
                let allowed = matches!(
                    (from.as_str(), mode.as_str()),
                    ("CONFIG_MAP", "API_AND_CONFIG_MAP") | ("CONFIG_MAP", "API") | ("API_AND_CONFIG_MAP", "API")
                );
                if !allowed {
                    return Err(EksError::invalid_parameter(format!(
                        "Unsupported authentication mode update from {from} to {mode}"
                    ))
                    .for_cluster(&name));
                }
                update.kind = "AccessConfigUpdate".into();
                update.params = vec![param("AuthenticationMode", mode)];
            } else if let Some(policy) = &input.upgrade_policy {
                update.kind = "UpgradePolicyUpdate".into();
                let support = policy.get("supportType").and_then(Value::as_str).unwrap_or("EXTENDED");
                update.params = vec![param("UpgradePolicy", support)];
            } else if let Some(shift) = &input.zonal_shift_config {
                update.kind = "ZonalShiftConfigUpdate".into();
                let enabled = shift.get("enabled").and_then(Value::as_bool).unwrap_or(false);
                update.params = vec![param("ZonalShiftConfig", enabled.to_string())];
            }
            start(doc, update, input.client_request_token.clone(), due)
        })
        .await
    }

    pub fn describe_update(&self, input: &Value) -> Result<Value, EksError> {
        let name = input["name"].as_str().unwrap_or_default();
        let id = input["updateId"].as_str().unwrap_or_default();
        if let Some(ng) = input.get("nodegroupName").and_then(Value::as_str) {
            return self.describe_nodegroup_update(name, ng, id);
        }
        if input.get("addonName").is_some() {
            // Add-on updates arrive with add-ons.
            return Err(EksError::ResourceNotFound {
                message: format!("No update found for ID: {id}."),
                cluster: Some(name.to_string()),
            });
        }
        let found = self
            .with(name, |d| d.updates.iter().find(|u| u.id == id).cloned())
            .ok_or_else(|| EksError::no_cluster(name))?;
        found
            .map(|u| json!({ "update": u }))
            .ok_or_else(|| EksError::ResourceNotFound {
                message: format!("No update found for ID: {id}."),
                cluster: Some(name.to_string()),
            })
    }

    pub fn list_updates(&self, input: &Value) -> Result<Value, EksError> {
        let name = input["name"].as_str().unwrap_or_default();
        let mut ids: Vec<(f64, String)> = match input.get("nodegroupName").and_then(Value::as_str) {
            Some(ng) => self.nodegroup_update_ids(name, ng)?,
            None => self
                .with(name, |d| {
                    if input.get("addonName").is_some() {
                        return Vec::new();
                    }
                    d.updates
                        .iter()
                        .map(|u| (u.created_at, u.id.clone()))
                        .collect()
                })
                .ok_or_else(|| EksError::no_cluster(name))?,
        };
        ids.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        // Paged in creation order: the page key is the position, the answer the id.
        let keyed: Vec<(String, String)> = ids
            .into_iter()
            .enumerate()
            .map(|(i, (_, id))| (format!("{i:010}"), id))
            .collect();
        let mut out = pagination::answer("updateIds", &keyed, |(k, _)| k.clone(), input)?;
        out["updateIds"] = out["updateIds"]
            .as_array()
            .map(|page| page.iter().map(|pair| pair[1].clone()).collect())
            .unwrap_or_default();
        Ok(out)
    }
}

/// Completes an update: its change takes effect. Returns the new Kubernetes version when
/// the update changed it.
pub(crate) fn finish(doc: &mut ClusterDoc, update_id: &str) -> Result<Option<String>, EksError> {
    doc.pending = None;
    doc.cluster.status = "ACTIVE".into();
    let Some(update) = doc.updates.iter_mut().find(|u| u.id == update_id) else {
        return Ok(None);
    };
    update.status = "Successful".into();
    let update = update.clone();
    let value = |kind: &str| {
        update
            .params
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.value.clone())
    };
    let mut new_version = None;
    match update.kind.as_str() {
        "VersionUpdate" => {
            if let (Some(v), Some(p)) = (value("Version"), value("PlatformVersion")) {
                doc.cluster.version = v.clone();
                doc.cluster.platform_version = p;
                new_version = Some(v);
            }
        }
        "LoggingUpdate" => {
            if let Some(l) =
                value("ClusterLogging").and_then(|j| serde_json::from_str::<Logging>(&j).ok())
            {
                doc.cluster.logging = l;
            }
        }
        "EndpointAccessUpdate" => {
            let vpc = &mut doc.cluster.resources_vpc_config;
            if let Some(v) = value("EndpointPublicAccess") {
                vpc.endpoint_public_access = v == "true";
            }
            if let Some(v) = value("EndpointPrivateAccess") {
                vpc.endpoint_private_access = v == "true";
            }
            if let Some(c) = value("PublicAccessCidrs").and_then(|j| serde_json::from_str(&j).ok())
            {
                vpc.public_access_cidrs = c;
            }
        }
        "AccessConfigUpdate" => {
            if let Some(mode) = value("AuthenticationMode") {
                let was_config_map_only = !doc.cluster.access_config.uses_access_entries();
                doc.cluster.access_config.authentication_mode = mode;
                // Moving to access entries gives the creator the entry EKS would have made.
                if was_config_map_only
                    && doc
                        .cluster
                        .access_config
                        .bootstrap_cluster_creator_admin_permissions
                {
                    let now = update.created_at;
                    access::add_creator_entry_if_missing(doc, now);
                }
            }
        }
        "UpgradePolicyUpdate" => {
            if let Some(s) = value("UpgradePolicy") {
                doc.cluster.upgrade_policy = json!({ "supportType": s });
            }
        }
        "ZonalShiftConfigUpdate" => {
            if let Some(e) = value("ZonalShiftConfig") {
                doc.cluster.zonal_shift_config = Some(json!({ "enabled": e == "true" }));
            }
        }
        _ => {}
    }
    Ok(new_version)
}
