//! UpdateNodegroupVersion: checked as EKS checks it (the target is the cluster's Kubernetes
//! version or the group's own, a release version of that Kubernetes version, no launch
//! template for a group created without one, one update at a time), recorded as a
//! `VersionUpdate` InProgress with the group UPDATING, then carried out on the clock by the
//! rolling update (`rolling`).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{image_id, no_nodegroup, param};
use super::model::{NodeImage, NodegroupPending, Rollout, RolloutPhase};
use super::rolling::plan;
use crate::clusters::parse;
use crate::control_plane::ControlPlane;
use crate::doc::Update;
use crate::error::EksError;
use crate::{ids, versions};

/// The date of the one AMI release keks knows per Kubernetes version.
const RELEASE_DATE: &str = "20251120";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionInput {
    cluster_name: String,
    nodegroup_name: String,
    version: Option<String>,
    release_version: Option<String>,
    launch_template: Option<Value>,
    #[serde(default)]
    force: bool,
    client_request_token: Option<String>,
}

/// `1.33.5`: the patch version EKS's AMIs for a Kubernetes version carry.
pub fn patch_version(version: &str) -> String {
    versions::find(version).map_or_else(|| format!("{version}.0"), |v| v.patch_version.into())
}

/// The latest AMI release of a Kubernetes version (`1.33.5-20251120`).
pub fn latest_release(version: &str) -> String {
    format!("{}-{RELEASE_DATE}", patch_version(version))
}

/// Whether `release` is a release of Kubernetes `version`: `<patch>-<yyyymmdd>`.
pub fn release_matches(release: &str, version: &str) -> bool {
    release
        .strip_prefix(&patch_version(version))
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|date| date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()))
}

impl ControlPlane {
    pub async fn update_nodegroup_version(&self, input: Value) -> Result<Value, EksError> {
        let input: VersionInput = parse(input)?;
        let cluster = input.cluster_name.clone();
        let name = input.nodegroup_name.clone();
        let bad = |e: EksError| e.for_cluster(&cluster);
        if input.launch_template.is_some() {
            let has_template = self
                .with(&cluster, |d| {
                    d.nodegroups
                        .get(&name)
                        .is_some_and(|n| n.nodegroup.launch_template.is_some())
                })
                .unwrap_or(false);
            if !has_template {
                // EKS: a group deployed without a launch template can't be moved to one.
                return Err(bad(EksError::invalid_parameter(format!(
                    "You cannot specify a launch template for node group {name} because it was not created with a launch template."
                ))));
            }
            // Rolling to another template version is not simulated yet: an honest refusal.
            return Err(bad(EksError::NotImplemented(
                "UpdateNodegroupVersion with a launchTemplate (moving to another launch template version)".into(),
            )));
        }
        let autoscaling = self.autoscaling().ok_or_else(|| {
            EksError::Server(
                "keks runs without an EC2 fleet; managed node groups are unavailable".into(),
            )
        })?;
        let now = self.now();
        let update_id = ids::uuid();
        let network = self.network.clone();
        self.modify(&cluster, |d| {
            let cluster_version = d.cluster.version.clone();
            let cluster_status = d.cluster.status.clone();
            let n = d
                .nodegroups
                .get_mut(&name)
                .ok_or_else(|| no_nodegroup(&cluster, &name))?;
            if let Some(token) = &input.client_request_token {
                if let Some(id) = n.update_tokens.get(token) {
                    if let Some(u) = n.updates.iter().find(|u| &u.id == id) {
                        return Ok(json!({ "update": u }));
                    }
                }
            }
            if n.nodegroup.status != "ACTIVE" && n.nodegroup.status != "DEGRADED" {
                return Err(EksError::ResourceInUse {
                    message: format!(
                        "Nodegroup {name} is in {} state and cannot be updated until it is ACTIVE",
                        n.nodegroup.status
                    ),
                    cluster: Some(cluster.clone()),
                });
            }
            if cluster_status != "ACTIVE" {
                return Err(EksError::ResourceInUse {
                    message: format!(
                        "Cluster {cluster} is in {cluster_status} state; node groups can be updated once it is ACTIVE"
                    ),
                    cluster: Some(cluster.clone()),
                });
            }
            let g = &n.nodegroup;
            let version = input.version.clone().unwrap_or_else(|| g.version.clone());
            if version != cluster_version && version != g.version {
                return Err(EksError::invalid_parameter(format!(
                    "Requested Nodegroup version {version} is invalid. The node group version must match the cluster version {cluster_version}"
                )));
            }
            let release = input
                .release_version
                .clone()
                .unwrap_or_else(|| latest_release(&version));
            if !release_matches(&release, &version) {
                return Err(EksError::invalid_parameter(format!(
                    "Requested release version {release} is not valid for kubernetes version {version}"
                )));
            }
            if version == g.version && release == g.release_version {
                return Err(EksError::invalid_parameter(format!(
                    "Nodegroup {name} is already at Kubernetes version {version} with release version {release}"
                )));
            }
            let zones: BTreeSet<String> = g
                .subnets
                .iter()
                .filter_map(|s| network.subnet(s).map(|s| s.availability_zone))
                .collect();
            let old: BTreeSet<String> = autoscaling
                .instances(&n.asg_name)
                .into_iter()
                .filter(|i| i.state.is_live())
                .map(|i| i.id)
                .collect();
            let desired = g.scaling_config.desired_size;
            let rollout = Rollout {
                update_id: update_id.clone(),
                force: input.force,
                phase: RolloutPhase::ScaleUp,
                phase_started: now,
                from: NodeImage {
                    version: g.version.clone(),
                    release_version: g.release_version.clone(),
                    image_id: n.image_id.clone(),
                },
                to: NodeImage {
                    image_id: image_id_for(&g.ami_type, &version, &release),
                    version: version.clone(),
                    release_version: release.clone(),
                },
                old_instances: old,
                original: g.scaling_config.clone(),
                surge: plan::surge(
                    zones.len().max(1),
                    plan::max_unavailable(&g.update_config, desired),
                ),
                raised: false,
                draining: Default::default(),
                failure: None,
            };
            let update = Update {
                id: update_id.clone(),
                status: "InProgress".into(),
                kind: "VersionUpdate".into(),
                params: vec![param("Version", version), param("ReleaseVersion", release)],
                created_at: now,
                errors: Vec::new(),
            };
            if let Some(token) = &input.client_request_token {
                n.update_tokens.insert(token.clone(), update_id.clone());
            }
            n.nodegroup.status = "UPDATING".into();
            n.nodegroup.modified_at = now;
            n.rollout = Some(rollout);
            n.pending = Some(NodegroupPending::RollingUpdate {
                update_id: update_id.clone(),
            });
            n.due = Some(now);
            let out = json!({ "update": update });
            n.updates.push(update);
            Ok(out)
        })
        .await
        .map_err(bad)
    }
}

/// The AMI id of an AMI type at a Kubernetes version and release: the release of the
/// group's creation keeps the id it had (`image_id(ami, version)`), other releases get
/// their own.
fn image_id_for(ami_type: &str, version: &str, release: &str) -> String {
    if release == latest_release(version) {
        image_id(ami_type, version)
    } else {
        image_id(ami_type, &format!("{version}/{release}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_versions_belong_to_their_kubernetes_version() {
        assert_eq!(latest_release("1.34"), "1.34.1-20251120");
        assert!(release_matches("1.34.1-20251120", "1.34"));
        assert!(release_matches("1.33.5-20260101", "1.33"));
        assert!(!release_matches("1.33.5-20251120", "1.34"));
        assert!(!release_matches("1.34.1", "1.34"));
        assert!(!release_matches("1.34.1-2025", "1.34"));
    }

    #[test]
    fn another_release_is_another_image() {
        let a = image_id_for("AL2023_x86_64_STANDARD", "1.34", "1.34.1-20251120");
        assert_eq!(a, image_id("AL2023_x86_64_STANDARD", "1.34"));
        let b = image_id_for("AL2023_x86_64_STANDARD", "1.34", "1.34.1-20260101");
        assert_ne!(a, b);
    }
}
