//! Node group transitions, checked on the clock: CREATING → ACTIVE once the group's nodes
//! are Ready; UPDATING → ACTIVE (the update Successful) once its Ready nodes match the
//! desired size; DELETING → gone once its Auto Scaling group and nodes are gone. A
//! transition not yet complete is looked at again shortly. A new group without its Ready
//! nodes 15 minutes after creation fails: CREATE_FAILED, with its launch failures as health
//! issues or else `NodeCreationFailure` naming the instances that did not join.

use std::time::Duration;

use serde_json::Value;

use super::model::NodegroupPending;
use super::node::NODEGROUP_LABEL;
use crate::control_plane::ControlPlane;
use crate::doc::ClusterDoc;
use crate::error::EksError;

/// How soon an incomplete transition is looked at again.
const RECHECK: Duration = Duration::from_millis(300);
/// How long a new group's nodes have to join before the group fails (EKS: 15 minutes,
/// then `NodeCreationFailure` and CREATE_FAILED).
pub const JOIN_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// The earliest node group transition of a cluster.
pub(crate) fn next_due(doc: &ClusterDoc) -> Option<f64> {
    doc.nodegroups
        .values()
        .filter_map(|n| n.due)
        .min_by(|a, b| a.total_cmp(b))
}

/// (Ready nodes, all nodes) of a group.
pub(crate) fn count_nodes(nodes: &[Value], nodegroup: &str) -> (u32, u32) {
    let mine = nodes
        .iter()
        .filter(|n| n["metadata"]["labels"][NODEGROUP_LABEL] == nodegroup);
    let mut ready = 0;
    let mut all = 0;
    for n in mine {
        all += 1;
        let is_ready = n["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        if is_ready {
            ready += 1;
        }
    }
    (ready, all)
}

impl ControlPlane {
    /// The Node objects of a cluster's managed node groups.
    pub(crate) async fn nodegroup_nodes(&self, cluster: &str) -> Result<Vec<Value>, EksError> {
        let Some(api) = self.kube.get(cluster) else {
            return Ok(Vec::new());
        };
        let nodes = api
            .registry
            .get("", "v1", "nodes")
            .ok_or_else(|| EksError::Server("nodes are not served".into()))?;
        let label_selector = keks_apiserver::selector::LabelSelector::parse(NODEGROUP_LABEL)
            .map_err(EksError::Server)?;
        let opts = keks_apiserver::rest::ListOptions {
            label_selector,
            ..Default::default()
        };
        let list = api
            .list(&nodes, None, &opts)
            .await
            .map_err(|e| EksError::Server(e.to_string()))?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// Completes (or postpones) the node group transitions of `cluster` due by `now`.
    pub(crate) async fn complete_nodegroups(
        &self,
        cluster: &str,
        now: f64,
    ) -> Result<(), EksError> {
        let due: Vec<(String, NodegroupPending, String, u32, f64)> = self
            .with(cluster, |d| {
                d.nodegroups
                    .iter()
                    .filter(|(_, n)| n.due.is_some_and(|t| t <= now))
                    .filter_map(|(name, n)| {
                        n.pending.clone().map(|p| {
                            (
                                name.clone(),
                                p,
                                n.asg_name.clone(),
                                n.nodegroup.scaling_config.desired_size,
                                n.nodegroup.created_at,
                            )
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if due.is_empty() {
            // Due without anything pending: nothing to wait for.
            return self
                .modify(cluster, |d| {
                    for n in d.nodegroups.values_mut() {
                        if n.pending.is_none() {
                            n.due = None;
                        }
                    }
                    Ok(())
                })
                .await;
        }
        let nodes = self.nodegroup_nodes(cluster).await?;
        // Each check lists the groups' nodes: with hundreds of them, checks are spaced out
        // (1 ms more per node) so that they stay a small share of the work.
        let later = self.due_in(RECHECK + Duration::from_millis(nodes.len() as u64));
        for (name, pending, asg, desired, created_at) in due {
            if matches!(pending, NodegroupPending::RollingUpdate { .. }) {
                self.step_rollout(cluster, &name, now).await;
                continue;
            }
            let (ready, all) = count_nodes(&nodes, &name);
            let failed = matches!(pending, NodegroupPending::Activate)
                && ready < desired
                && now - created_at >= JOIN_DEADLINE.as_secs_f64();
            // Only a failure names the instances that did not join (one set of Ready node
            // names, not a scan of every node per instance: groups have hundreds).
            let not_ready: Vec<String> = if failed {
                let ready_names: std::collections::BTreeSet<&str> = nodes
                    .iter()
                    .filter(|n| count_nodes(std::slice::from_ref(n), &name).0 == 1)
                    .filter_map(|n| n["metadata"]["name"].as_str())
                    .collect();
                self.autoscaling()
                    .map(|a| {
                        a.instances(&asg)
                            .into_iter()
                            .filter(|i| i.state.is_live())
                            .filter(|i| !ready_names.contains(i.private_dns_name().as_str()))
                            .map(|i| i.id)
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            let done = match &pending {
                NodegroupPending::Activate => ready >= desired,
                NodegroupPending::FinishUpdate { .. } => {
                    if let Some(a) = self.autoscaling() {
                        if a.group(&asg).is_some_and(|g| g.desired_capacity != desired) {
                            // A resize that failed when asked: asked again.
                            if let Err(e) = a.set_desired_capacity(&asg, desired).await {
                                tracing::debug!(cluster, nodegroup = %name, error = %e, "resizing a node group");
                            }
                        }
                    }
                    ready == desired && all == desired
                }
                NodegroupPending::RollingUpdate { .. } => false,
                NodegroupPending::Remove => {
                    let asg_gone = match self.autoscaling() {
                        Some(a) => match a.group(&asg) {
                            None => true,
                            Some(g) => {
                                if !g.deleting {
                                    let _ = a.delete_group(&asg, true).await;
                                }
                                false
                            }
                        },
                        None => true,
                    };
                    asg_gone && all == 0
                }
            };
            self.modify(cluster, |d| {
                let Some(n) = d.nodegroups.get_mut(&name) else {
                    return Ok(());
                };
                if n.pending.as_ref() != Some(&pending) {
                    return Ok(());
                }
                if failed {
                    let g = &mut n.nodegroup;
                    g.status = "CREATE_FAILED".into();
                    let launch_failures =
                        g.health["issues"].as_array().is_some_and(|i| !i.is_empty());
                    if !launch_failures {
                        g.health = serde_json::json!({ "issues": [{
                            "code": "NodeCreationFailure",
                            "message": "Instances failed to join the kubernetes cluster",
                            "resourceIds": not_ready,
                        }]});
                    }
                    n.pending = None;
                    n.due = None;
                    return Ok(());
                }
                if !done {
                    n.due = Some(later);
                    return Ok(());
                }
                match &pending {
                    NodegroupPending::RollingUpdate { .. } => {}
                    NodegroupPending::Remove => {
                        d.nodegroups.remove(&name);
                    }
                    NodegroupPending::Activate => {
                        n.nodegroup.status = "ACTIVE".into();
                        n.pending = None;
                        n.due = None;
                    }
                    NodegroupPending::FinishUpdate { update_id } => {
                        n.nodegroup.status = "ACTIVE".into();
                        if let Some(u) = n.updates.iter_mut().find(|u| &u.id == update_id) {
                            u.status = "Successful".into();
                        }
                        n.pending = None;
                        n.due = None;
                    }
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_ready_nodes_of_a_group() {
        let node = |ng: &str, ready: &str| {
            json!({"metadata": {"labels": {NODEGROUP_LABEL: ng}},
                   "status": {"conditions": [{"type": "Ready", "status": ready}]}})
        };
        let nodes = vec![node("a", "True"), node("a", "False"), node("b", "True")];
        assert_eq!(count_nodes(&nodes, "a"), (1, 2));
        assert_eq!(count_nodes(&nodes, "c"), (0, 0));
    }
}
