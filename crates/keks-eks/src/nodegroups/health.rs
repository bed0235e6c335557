//! A node group's health, as EKS reports it: when its Auto Scaling group is short of its
//! desired capacity and its latest launch failed (an injected fault: no capacity, a full
//! subnet), `health.issues` names the failure (`AsgInstanceLaunchFailures`, or
//! `InsufficientFreeAddresses` for a full subnet) with the Auto Scaling group as the
//! resource, and an ACTIVE group turns DEGRADED; once the group is whole again the issues
//! clear and it returns to ACTIVE.

use keks_cloud::{ActivityStatus, AutoScaling};
use serde_json::{json, Value};

use crate::control_plane::ControlPlane;
use crate::error::EksError;

/// The health issues of the group behind `asg`.
pub fn issues(autoscaling: &AutoScaling, asg: &str) -> Vec<Value> {
    let Some(group) = autoscaling.group(asg) else {
        return Vec::new();
    };
    if group.deleting {
        return Vec::new();
    }
    let live = autoscaling
        .instances(asg)
        .iter()
        .filter(|i| i.state.is_live())
        .count();
    if live >= group.desired_capacity as usize {
        return Vec::new();
    }
    // Activities come newest first.
    let Some(failed) = autoscaling
        .activities(asg)
        .into_iter()
        .find(|a| a.status != ActivityStatus::InProgress)
        .filter(|a| a.status == ActivityStatus::Failed)
    else {
        return Vec::new();
    };
    let message = failed
        .status_message
        .unwrap_or_else(|| "Instances failed to launch.".into());
    let code = if message.contains("InsufficientFreeAddresses") {
        "InsufficientFreeAddresses"
    } else {
        "AsgInstanceLaunchFailures"
    };
    vec![json!({ "code": code, "message": message, "resourceIds": [asg] })]
}

impl ControlPlane {
    /// Brings the health (and ACTIVE ⇄ DEGRADED) of a cluster's node groups up to date.
    pub(crate) async fn refresh_nodegroup_health(&self, cluster: &str) -> Result<(), EksError> {
        let Some(autoscaling) = self.autoscaling() else {
            return Ok(());
        };
        let changes: Vec<(String, Vec<Value>)> = self
            .with(cluster, |d| {
                d.nodegroups
                    .iter()
                    // A failed creation keeps the issues it failed with.
                    .filter(|(_, n)| {
                        !matches!(n.nodegroup.status.as_str(), "DELETING" | "CREATE_FAILED")
                    })
                    .filter_map(|(name, n)| {
                        let now = issues(&autoscaling, &n.asg_name);
                        let status_off = match n.nodegroup.status.as_str() {
                            "ACTIVE" => !now.is_empty(),
                            "DEGRADED" => now.is_empty(),
                            _ => false,
                        };
                        (n.nodegroup.health["issues"] != json!(now) || status_off)
                            .then(|| (name.clone(), now))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if changes.is_empty() {
            return Ok(());
        }
        self.modify(cluster, |d| {
            for (name, now) in changes {
                let Some(n) = d.nodegroups.get_mut(&name) else {
                    continue;
                };
                let g = &mut n.nodegroup;
                match g.status.as_str() {
                    "ACTIVE" if !now.is_empty() => g.status = "DEGRADED".into(),
                    "DEGRADED" if now.is_empty() => g.status = "ACTIVE".into(),
                    _ => {}
                }
                g.health = json!({ "issues": now });
            }
            Ok(())
        })
        .await
    }
}
