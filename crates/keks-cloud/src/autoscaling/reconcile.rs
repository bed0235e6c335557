//! The reconcile loop: one task that, on every tick of the clock, every change to a group
//! and every instance of a group shutting down, brings each group to its desired capacity
//! — launching across zones (the least-populated zone first; in each zone the instance
//! types in order, then the next zone), or terminating by the default termination policy.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use keks_core::ClockExt;
use tokio::sync::broadcast::error::RecvError;

use super::termination::choose_victims;
use super::{details, rfc3339, unexpected_cause, uuid_v4, Activity, ActivityStatus};
use super::{AutoScaling, AutoScalingConfig, Group};
use crate::instances::{Instance, InstanceError, InstanceEventKind, LaunchRequest};
use crate::Subnet;

pub(super) fn spawn(asg: &AutoScaling, config: AutoScalingConfig) {
    let weak = Arc::downgrade(&asg.inner);
    let wake = asg.inner.wake.clone();
    let clock = asg.inner.clock.clone();
    let mut events = asg.inner.fleet.subscribe();
    tokio::spawn(async move {
        let mut tick = clock.interval(config.reconcile_interval);
        loop {
            let mut departed = Vec::new();
            tokio::select! {
                _ = tick.tick() => {}
                _ = wake.notified() => {}
                event = events.recv() => match event {
                    Ok(e) if e.group.is_some() && e.kind == InstanceEventKind::ShuttingDown => {
                        departed.push(e.instance_id);
                    }
                    // The last instance of a group being deleted is gone: finish the delete.
                    Ok(e) if e.group.is_some() && e.kind == InstanceEventKind::Terminated => {}
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
            // Take every event already queued, so a thousand instances going at once cost
            // one reconcile, not a thousand.
            loop {
                match events.try_recv() {
                    Ok(e) if e.group.is_some() && e.kind == InstanceEventKind::ShuttingDown => {
                        departed.push(e.instance_id);
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
            let Some(inner) = weak.upgrade() else { return };
            let asg = AutoScaling { inner };
            asg.note_departures(&departed);
            asg.reconcile_all().await;
        }
    });
}

impl AutoScaling {
    /// Records a termination activity for instances that left their group without the
    /// group asking (EC2 TerminateInstances, a spot interruption).
    fn note_departures(&self, ids: &[String]) {
        for id in ids {
            if self.inner.own_terminations.lock().remove(id) {
                continue;
            }
            if let Some(instance) = self.inner.fleet.instance(id) {
                let cause = unexpected_cause(instance.state_reason.as_ref(), &self.timestamp(), id);
                self.record_termination(&instance, cause);
            }
        }
    }

    /// Brings every group to its desired capacity once.
    pub async fn reconcile_all(&self) {
        let names: Vec<String> = self.inner.groups.read().keys().cloned().collect();
        for name in names {
            if let Err(e) = self.reconcile_group(&name).await {
                tracing::warn!(group = %name, error = %e, "reconciling the Auto Scaling group failed");
            }
        }
    }

    async fn reconcile_group(&self, name: &str) -> Result<(), super::AsgError> {
        let _writing = self.inner.writes.lock().await;
        let Some(group) = self.group(name) else {
            return Ok(());
        };
        let members = self.inner.fleet.group_instances(name);
        let live: Vec<Instance> = members
            .iter()
            .filter(|i| i.state.is_live())
            .cloned()
            .collect();
        if group.deleting {
            if !live.is_empty() {
                let ids: Vec<String> = live.iter().map(|i| i.id.clone()).collect();
                self.inner
                    .own_terminations
                    .lock()
                    .extend(ids.iter().cloned());
                self.inner.fleet.terminate_instances(&ids).await?;
            } else if members
                .iter()
                .all(|i| i.state == crate::InstanceState::Terminated)
            {
                self.forget(name).await?;
            }
            return Ok(());
        }
        let desired = group.desired_capacity as usize;
        if live.len() < desired {
            self.scale_out(&group, &live, desired - live.len()).await;
        } else if live.len() > desired {
            let now = self.inner.clock.wall_unix_seconds_f64();
            let victims = choose_victims(
                &live,
                live.len() - desired,
                group.launch_template.as_ref(),
                now,
            );
            if victims.is_empty() {
                return Ok(());
            }
            self.inner
                .own_terminations
                .lock()
                .extend(victims.iter().cloned());
            self.inner.fleet.terminate_instances(&victims).await?;
            let cause = format!(
                "At {} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from {} to {}.",
                self.timestamp(),
                live.len(),
                desired
            );
            for id in &victims {
                if let Some(i) = live.iter().find(|i| &i.id == id) {
                    self.record_termination(i, cause.clone());
                }
            }
        }
        Ok(())
    }

    /// Launches `need` instances, balanced over the group's zones.
    async fn scale_out(&self, group: &Group, live: &[Instance], need: usize) {
        // The group's zones in the order of its subnets, each with its subnets.
        let mut zones: Vec<(String, Vec<Subnet>)> = Vec::new();
        for id in &group.subnet_ids {
            let Some(subnet) = self.inner.fleet.network().subnet(id) else {
                continue;
            };
            match zones
                .iter_mut()
                .find(|(z, _)| *z == subnet.availability_zone)
            {
                Some((_, list)) => list.push(subnet),
                None => zones.push((subnet.availability_zone.clone(), vec![subnet])),
            }
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for i in live {
            *counts.entry(i.availability_zone.clone()).or_default() += 1;
        }
        let cause = format!(
            "At {} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from {} to {}.",
            self.timestamp(),
            live.len(),
            group.desired_capacity
        );
        let mut failed: HashSet<String> = HashSet::new();
        let mut remaining = need;
        while remaining > 0 {
            let viable: Vec<&(String, Vec<Subnet>)> =
                zones.iter().filter(|(z, _)| !failed.contains(z)).collect();
            if viable.is_empty() {
                break;
            }
            // Each new instance goes to the zone with the fewest (earlier zone on a tie).
            let mut planned: Vec<usize> = viable
                .iter()
                .map(|(z, _)| counts.get(z).copied().unwrap_or(0))
                .collect();
            let mut plan = vec![0usize; viable.len()];
            for _ in 0..remaining {
                let (at, _) = planned
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, n)| (**n, *i))
                    .expect("viable is not empty");
                planned[at] += 1;
                plan[at] += 1;
            }
            for ((zone, subnets), n) in viable.into_iter().zip(plan) {
                if n == 0 {
                    continue;
                }
                match self.launch_in_zone(group, subnets, n, &cause).await {
                    Some(count) => {
                        *counts.entry(zone.clone()).or_default() += count;
                        remaining -= count;
                    }
                    None => {
                        failed.insert(zone.clone());
                    }
                }
            }
        }
    }

    /// Launches `n` instances in one zone: each instance type in order, each subnet of the
    /// zone (the emptiest first). Every failed attempt is a failed scaling activity.
    async fn launch_in_zone(
        &self,
        group: &Group,
        subnets: &[Subnet],
        n: usize,
        cause: &str,
    ) -> Option<usize> {
        let mut subnets: Vec<&Subnet> = subnets.iter().collect();
        subnets.sort_by_key(|s| std::cmp::Reverse(s.available_ip_address_count));
        for instance_type in &group.instance_types {
            for subnet in &subnets {
                let request = LaunchRequest {
                    instance_type: instance_type.clone(),
                    subnet_id: subnet.id.clone(),
                    count: n,
                    capacity_type: group.capacity_type,
                    tags: group.tags.clone(),
                    group: Some(group.name.clone()),
                    launch_template: group.launch_template.clone(),
                    protected_from_scale_in: group.new_instances_protected_from_scale_in,
                };
                match self.inner.fleet.run_instances(request).await {
                    Ok(launched) => {
                        for i in &launched {
                            self.record_launch(i, cause);
                        }
                        return Some(launched.len());
                    }
                    Err(e) => {
                        self.record_failure(group, subnet, &e, cause);
                        match e {
                            // No capacity of this type in this zone: the next type.
                            InstanceError::InsufficientCapacity { .. } => break,
                            // This subnet is full: the zone's next subnet.
                            InstanceError::InsufficientAddresses(_) => continue,
                            _ => return None,
                        }
                    }
                }
            }
        }
        None
    }

    fn record_launch(&self, instance: &Instance, cause: &str) {
        self.record(Activity {
            id: uuid_v4(),
            group: instance.group.clone().unwrap_or_default(),
            description: format!("Launching a new EC2 instance: {}", instance.id),
            cause: cause.to_string(),
            start_time: instance.launch_time,
            end_time: Some(instance.launch_time),
            status: ActivityStatus::Successful,
            status_message: None,
            progress: 100,
            instance_id: Some(instance.id.clone()),
            details: details(&instance.subnet_id, &instance.availability_zone),
        });
    }

    fn record_failure(&self, group: &Group, subnet: &Subnet, error: &InstanceError, cause: &str) {
        let now = self.inner.clock.wall_unix_seconds_f64();
        let reason = error.to_string();
        self.record(Activity {
            id: uuid_v4(),
            group: group.name.clone(),
            description: format!(
                "Launching a new EC2 instance.  Status Reason: {reason} Launching EC2 instance failed."
            ),
            cause: cause.to_string(),
            start_time: now,
            end_time: Some(now),
            status: ActivityStatus::Failed,
            status_message: Some(reason),
            progress: 100,
            instance_id: None,
            details: details(&subnet.id, &subnet.availability_zone),
        });
    }

    pub(super) fn timestamp(&self) -> String {
        rfc3339(self.inner.clock.wall_unix_seconds())
    }
}
