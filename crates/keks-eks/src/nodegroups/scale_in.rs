//! Nodes drained before their instances go, as EKS drains managed nodes "during
//! terminations": a scale-in picks its instances by the Auto Scaling group's default
//! termination policy, cordons and drains their nodes, then terminates them, shrinking the
//! group; deleting a group drains all its nodes before the Auto Scaling group goes. Scaling
//! does not honour PodDisruptionBudgets on EKS (evictions are tried, and a pod whose
//! budget refuses goes anyway), so these drains are forced.

use keks_cloud::{GroupUpdate, Instance};

use super::drain::{self, Mode};
use super::model::ScalingConfig;
use crate::control_plane::ControlPlane;
use crate::error::EksError;

impl ControlPlane {
    /// Cordons and drains the nodes of `instances` (a node that does not exist is fine).
    pub(crate) async fn drain_instances(&self, cluster: &str, instances: &[Instance]) {
        let Some(api) = self.kube.get(cluster) else {
            return;
        };
        for i in instances {
            let node = i.private_dns_name();
            let drained = async {
                drain::cordon(&api, &node, true).await?;
                drain::drain_pass(&api, &node, Mode::Force).await
            };
            if let Err(e) = drained.await {
                tracing::debug!(cluster, node, error = %e, "draining a node before its termination");
            }
        }
    }

    /// Resizes the group's Auto Scaling group to `next`; when that removes instances, the
    /// ones the termination policy picks are drained and terminated first.
    pub(crate) async fn resize_with_drain(
        &self,
        cluster: &str,
        asg: &str,
        next: &ScalingConfig,
    ) -> Result<(), EksError> {
        let Some(autoscaling) = self.autoscaling() else {
            return Ok(());
        };
        let server = |e: keks_cloud::AsgError| EksError::Server(e.to_string());
        let live: Vec<Instance> = autoscaling
            .instances(asg)
            .into_iter()
            .filter(|i| i.state.is_live())
            .collect();
        let excess = live.len().saturating_sub(next.desired_size as usize);
        if excess > 0 {
            let current = autoscaling.group(asg).and_then(|g| g.launch_template);
            let victims = keks_cloud::autoscaling::termination::choose_victims(
                &live,
                excess,
                current.as_ref(),
                self.now(),
            );
            // Room to shrink one by one without the group replacing what goes.
            let hold = GroupUpdate {
                min_size: Some(next.min_size),
                max_size: Some(next.max_size.max(live.len() as u32)),
                desired_capacity: Some(live.len() as u32),
                ..GroupUpdate::default()
            };
            autoscaling.update_group(asg, hold).await.map_err(server)?;
            let chosen: Vec<Instance> = live
                .iter()
                .filter(|i| victims.contains(&i.id))
                .cloned()
                .collect();
            self.drain_instances(cluster, &chosen).await;
            for i in &chosen {
                match autoscaling.terminate_instance(&i.id, true).await {
                    Ok(_) | Err(keks_cloud::AsgError::InstanceNotInGroup(_)) => {}
                    Err(e) => return Err(server(e)),
                }
            }
        }
        let update = GroupUpdate {
            min_size: Some(next.min_size),
            max_size: Some(next.max_size),
            desired_capacity: Some(next.desired_size),
            ..GroupUpdate::default()
        };
        autoscaling
            .update_group(asg, update)
            .await
            .map_err(server)?;
        Ok(())
    }
}
