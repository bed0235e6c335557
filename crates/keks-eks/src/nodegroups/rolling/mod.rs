//! A version update carried out on the clock, in EKS's phases (the EKS user guide,
//! "Understand each phase of node updates"): **scale up** — the Auto Scaling group's maximum
//! and desired size grow by the surge (`plan::surge`) and the update waits for that many new
//! Ready nodes, which carry the new version; then every old node is cordoned and labelled
//! `node.kubernetes.io/exclude-from-external-load-balancers=true`; **upgrade** — up to the
//! update's maximum unavailable old nodes at a time are drained through the Eviction API
//! (PodDisruptionBudgets honoured; with `force`, pods a budget protects are deleted), a
//! drained node waits 60 s and its instance is terminated; pods still there after 15
//! minutes fail the update with `PodEvictionFailure`; **scale down** — the group returns to
//! its size (the emptiest new nodes go) and the update is Successful with the group's new
//! version. A failed update rolls back: the old nodes are schedulable again, the surplus new
//! ones go, the group keeps its version. Every step reads and writes the state stored with
//! the group (`Rollout`), so a restart resumes where it was.

pub mod plan;

use std::collections::BTreeSet;

use keks_apiserver::ClusterApi;
use keks_cloud::{AsgError, AutoScaling, GroupUpdate, Instance};
use serde_json::{json, Value};

use super::drain::{self, Mode};
use super::model::{Draining, Rollout, RolloutPhase, UpdateConfig};
use super::node::NODEGROUP_LABEL;
use crate::control_plane::ControlPlane;
use crate::error::EksError;

/// What a step decided.
enum Step {
    Continue,
    Succeeded,
    Failed,
}

fn server(e: impl std::fmt::Display) -> EksError {
    EksError::Server(e.to_string())
}

/// Names of the Ready nodes among `nodes`.
fn ready_nodes(nodes: &[Value]) -> BTreeSet<String> {
    nodes
        .iter()
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// Terminates an instance of the group, shrinking it by one; where the group is at its
/// minimum, without shrinking (the Auto Scaling group launches a replacement, which runs
/// the new configuration).
async fn terminate(autoscaling: &AutoScaling, id: &str) -> Result<(), EksError> {
    match autoscaling.terminate_instance(id, true).await {
        Ok(_) | Err(AsgError::InstanceNotInGroup(_)) => Ok(()),
        Err(AsgError::Validation(_)) => match autoscaling.terminate_instance(id, false).await {
            Ok(_) | Err(AsgError::InstanceNotInGroup(_)) => Ok(()),
            Err(e) => Err(server(e)),
        },
        Err(e) => Err(server(e)),
    }
}

/// Sets the Auto Scaling group's sizes, if they differ.
async fn resize(
    autoscaling: &AutoScaling,
    asg: &str,
    min: u32,
    max: u32,
    desired: u32,
) -> Result<(), EksError> {
    let Some(g) = autoscaling.group(asg) else {
        return Ok(());
    };
    if (g.min_size, g.max_size, g.desired_capacity) == (min, max, desired) {
        return Ok(());
    }
    let update = GroupUpdate {
        min_size: Some(min),
        max_size: Some(max),
        desired_capacity: Some(desired),
        ..GroupUpdate::default()
    };
    autoscaling
        .update_group(asg, update)
        .await
        .map_err(server)?;
    Ok(())
}

/// Everything a step works with.
struct Ctx<'a> {
    api: &'a ClusterApi,
    autoscaling: &'a AutoScaling,
    asg: &'a str,
    nodegroup: &'a str,
    update_config: &'a UpdateConfig,
    live: Vec<Instance>,
    nodes: Vec<Value>,
    now: f64,
}

impl ControlPlane {
    /// One step of the version update of group `name`; the next step is due soon after.
    pub(crate) async fn step_rollout(&self, cluster: &str, name: &str, now: f64) {
        if let Err(e) = self.try_step_rollout(cluster, name, now).await {
            tracing::warn!(cluster, nodegroup = name, error = %e, "a node group version update step failed; retrying");
            let later = self.due_in(self.config.timing.drain_retry());
            let _ = self
                .modify(cluster, |d| {
                    if let Some(n) = d.nodegroups.get_mut(name) {
                        n.due = Some(later);
                    }
                    Ok(())
                })
                .await;
        }
    }

    async fn try_step_rollout(&self, cluster: &str, name: &str, now: f64) -> Result<(), EksError> {
        let Some((mut r, asg, update_config)) = self
            .with(cluster, |d| {
                d.nodegroups.get(name).and_then(|n| {
                    n.rollout
                        .clone()
                        .map(|r| (r, n.asg_name.clone(), n.nodegroup.update_config.clone()))
                })
            })
            .flatten()
        else {
            return Ok(());
        };
        let autoscaling = self
            .autoscaling()
            .ok_or_else(|| server("the EC2 fleet is not connected yet"))?;
        let api = self
            .kube
            .get(cluster)
            .ok_or_else(|| server("the cluster's Kubernetes API is not running"))?;
        let ctx = Ctx {
            api: &api,
            autoscaling: &autoscaling,
            asg: &asg,
            nodegroup: name,
            update_config: &update_config,
            live: autoscaling
                .instances(&asg)
                .into_iter()
                .filter(|i| i.state.is_live())
                .collect(),
            nodes: self
                .nodegroup_nodes(cluster)
                .await?
                .into_iter()
                .filter(|n| n["metadata"]["labels"][NODEGROUP_LABEL] == name)
                .collect(),
            now,
        };
        // Old instances that went meanwhile (a spot interruption, a user) need no upgrade.
        r.old_instances
            .retain(|id| ctx.live.iter().any(|i| &i.id == id));
        let step = match r.phase {
            RolloutPhase::ScaleUp => self.scale_up(&ctx, &mut r).await?,
            RolloutPhase::Upgrade => self.upgrade(&ctx, &mut r).await?,
            RolloutPhase::ScaleDown => scale_down(&ctx, &mut r, false).await?,
            RolloutPhase::RollBack => scale_down(&ctx, &mut r, true).await?,
        };
        let later = self.due_in(self.config.timing.drain_retry());
        self.modify(cluster, |d| {
            let Some(n) = d.nodegroups.get_mut(name) else {
                return Ok(());
            };
            // Cancelled meanwhile (the group is being deleted).
            if n.rollout.as_ref().map(|x| &x.update_id) != Some(&r.update_id) {
                return Ok(());
            }
            let finish = |n: &mut super::model::NodegroupDoc, status: &str, errors: Vec<Value>| {
                if let Some(u) = n.updates.iter_mut().find(|u| u.id == r.update_id) {
                    u.status = status.into();
                    u.errors = errors;
                }
                n.nodegroup.status = "ACTIVE".into();
                n.nodegroup.modified_at = now;
                n.rollout = None;
                n.pending = None;
                n.due = None;
            };
            match step {
                Step::Continue => {
                    n.rollout = Some(r.clone());
                    n.due = Some(later);
                }
                Step::Succeeded => {
                    n.nodegroup.version = r.to.version.clone();
                    n.nodegroup.release_version = r.to.release_version.clone();
                    n.image_id = r.to.image_id.clone();
                    finish(n, "Successful", Vec::new());
                }
                Step::Failed => {
                    let errors = r.failure.clone().into_iter().collect();
                    finish(n, "Failed", errors);
                }
            }
            Ok(())
        })
        .await
    }

    /// Scale up: raise the group by the surge once, then wait for the new nodes.
    async fn scale_up(&self, ctx: &Ctx<'_>, r: &mut Rollout) -> Result<Step, EksError> {
        if !r.raised {
            let o = &r.original;
            resize(
                ctx.autoscaling,
                ctx.asg,
                o.min_size,
                o.max_size + r.surge,
                o.desired_size + r.surge,
            )
            .await?;
            r.raised = true;
            return Ok(Step::Continue);
        }
        let ready = ready_nodes(&ctx.nodes);
        let new: Vec<&Instance> = ctx
            .live
            .iter()
            .filter(|i| !r.old_instances.contains(&i.id))
            .collect();
        let ready_new = new
            .iter()
            .filter(|i| ready.contains(&i.private_dns_name()))
            .count();
        if ready_new >= r.surge as usize {
            for i in ctx.live.iter().filter(|i| r.old_instances.contains(&i.id)) {
                drain::cordon(ctx.api, &i.private_dns_name(), true)
                    .await
                    .map_err(server)?;
            }
            r.phase = RolloutPhase::Upgrade;
            r.phase_started = ctx.now;
        } else if ctx.now - r.phase_started
            >= self.config.timing.update_join_timeout().as_secs_f64()
        {
            let missing: Vec<String> = new
                .iter()
                .filter(|i| !ready.contains(&i.private_dns_name()))
                .map(|i| i.id.clone())
                .collect();
            r.failure = Some(json!({
                "errorCode": "NodeCreationFailure",
                "errorMessage": "Instances failed to join the kubernetes cluster",
                "resourceIds": missing,
            }));
            r.phase = RolloutPhase::RollBack;
            r.phase_started = ctx.now;
        }
        Ok(Step::Continue)
    }

    /// Upgrade: drain old nodes a few at a time; terminate the drained ones.
    async fn upgrade(&self, ctx: &Ctx<'_>, r: &mut Rollout) -> Result<Step, EksError> {
        let timing = self.config.timing;
        let old = r.old_instances.clone();
        r.draining.retain(|id, _| old.contains(id));
        if r.old_instances.is_empty() {
            r.phase = RolloutPhase::ScaleDown;
            r.phase_started = ctx.now;
            return Ok(Step::Continue);
        }
        let parallel = plan::parallelism(
            ctx.update_config,
            r.original.desired_size.max(old.len() as u32),
        );
        let draining: BTreeSet<String> = r.draining.keys().cloned().collect();
        for id in plan::next_to_drain(&r.old_instances, &draining, parallel) {
            let Some(i) = ctx.live.iter().find(|i| i.id == id) else {
                continue;
            };
            let node = i.private_dns_name();
            drain::cordon(ctx.api, &node, true).await.map_err(server)?;
            r.draining.insert(
                id,
                Draining {
                    node,
                    started: ctx.now,
                    emptied: None,
                },
            );
        }
        let mode = if r.force { Mode::Force } else { Mode::Honour };
        let mut stuck = Vec::new();
        let ids: Vec<String> = r.draining.keys().cloned().collect();
        for id in ids {
            let d = r.draining.get(&id).cloned().expect("listed");
            let left = drain::drain_pass(ctx.api, &d.node, mode)
                .await
                .map_err(server)?;
            if left.remaining == 0 {
                let emptied = d.emptied.unwrap_or(ctx.now);
                if ctx.now - emptied >= timing.drained_wait().as_secs_f64() {
                    terminate(ctx.autoscaling, &id).await?;
                    r.draining.remove(&id);
                    r.old_instances.remove(&id);
                } else if let Some(e) = r.draining.get_mut(&id) {
                    e.emptied = Some(emptied);
                }
            } else {
                if let Some(e) = r.draining.get_mut(&id) {
                    e.emptied = None;
                }
                if ctx.now - d.started >= timing.drain_timeout().as_secs_f64() {
                    stuck.push(d.node.clone());
                }
            }
        }
        if !stuck.is_empty() {
            r.failure = Some(json!({
                "errorCode": "PodEvictionFailure",
                "errorMessage": format!(
                    "Reached max retries while trying to evict pods from nodes in node group {}",
                    ctx.nodegroup
                ),
                "resourceIds": stuck,
            }));
            r.phase = RolloutPhase::RollBack;
            r.phase_started = ctx.now;
        }
        Ok(Step::Continue)
    }
}

/// Scale down (or, rolling back, undo the scale-up): the old nodes left are schedulable
/// again when rolling back; surplus instances go — never old ones while rolling back, the
/// emptiest first — each drained (scaling does not honour PodDisruptionBudgets, as on EKS)
/// and terminated; the group gets its sizes back; done once it has exactly its nodes.
async fn scale_down(ctx: &Ctx<'_>, r: &mut Rollout, rolling_back: bool) -> Result<Step, EksError> {
    if rolling_back {
        for i in ctx.live.iter().filter(|i| r.old_instances.contains(&i.id)) {
            drain::uncordon(ctx.api, &i.private_dns_name())
                .await
                .map_err(server)?;
        }
    }
    let o = r.original.clone();
    let excess = ctx.live.len().saturating_sub(o.desired_size as usize);
    if excess > 0 {
        let mut candidates = Vec::new();
        for i in ctx
            .live
            .iter()
            .filter(|i| !rolling_back || !r.old_instances.contains(&i.id))
        {
            let pods = drain::movable_pods(ctx.api, &i.private_dns_name())
                .await
                .map_err(server)?;
            candidates.push((i.id.clone(), pods));
        }
        for id in plan::scale_down_victims(&candidates, excess) {
            let node = ctx
                .live
                .iter()
                .find(|i| i.id == id)
                .map(Instance::private_dns_name)
                .unwrap_or_default();
            drain::cordon(ctx.api, &node, true).await.map_err(server)?;
            drain::drain_pass(ctx.api, &node, Mode::Force)
                .await
                .map_err(server)?;
            terminate(ctx.autoscaling, &id).await?;
        }
        return Ok(Step::Continue);
    }
    resize(
        ctx.autoscaling,
        ctx.asg,
        o.min_size,
        o.max_size,
        o.desired_size,
    )
    .await?;
    let ready = ready_nodes(&ctx.nodes);
    let whole = ctx.live.len() == o.desired_size as usize
        && ctx
            .live
            .iter()
            .all(|i| ready.contains(&i.private_dns_name()))
        && ctx.nodes.len() == o.desired_size as usize;
    if !whole {
        return Ok(Step::Continue);
    }
    Ok(if rolling_back {
        Step::Failed
    } else {
        Step::Succeeded
    })
}
