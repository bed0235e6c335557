//! Metering: what the fleet's instances cost so far, computed on the clock from each
//! instance's running interval (per-second billing with EC2's one-minute minimum), per
//! instance, per Auto Scaling group, per tag and in total.

use keks_core::ClockExt;

use super::Fleet;

impl Fleet {
    fn wall_now(&self) -> f64 {
        self.inner.clock.wall_unix_seconds_f64()
    }

    /// Cost so far of one instance, USD (`None` if unknown or already forgotten).
    pub fn cost_of(&self, id: &str) -> Option<f64> {
        let now = self.wall_now();
        self.inner
            .state
            .read()
            .instances
            .get(id)
            .map(|i| i.cost_usd(now))
    }

    /// Cost so far of every instance the group ever had, USD (forgotten terminated
    /// instances included).
    pub fn cost_of_group(&self, group: &str) -> f64 {
        let now = self.wall_now();
        let state = self.inner.state.read();
        let live: f64 = state
            .by_group
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|id| state.instances.get(id))
            .map(|i| i.cost_usd(now))
            .sum();
        live + state.retired_cost.get(group).copied().unwrap_or(0.0)
    }

    /// Cost so far of the known instances (running, or terminated within the retention)
    /// carrying the tag `key=value`, USD.
    pub fn cost_by_tag(&self, key: &str, value: &str) -> f64 {
        let now = self.wall_now();
        self.inner
            .state
            .read()
            .instances
            .values()
            .filter(|i| i.tag(key) == Some(value))
            .map(|i| i.cost_usd(now))
            .sum()
    }

    /// Cost so far of the whole fleet, USD (forgotten instances of groups included).
    pub fn total_cost(&self) -> f64 {
        let now = self.wall_now();
        let state = self.inner.state.read();
        state
            .instances
            .values()
            .map(|i| i.cost_usd(now))
            .sum::<f64>()
            + state.retired_cost.values().sum::<f64>()
    }

    /// What the group's running instances cost per hour now, USD.
    pub fn hourly_rate_of_group(&self, group: &str) -> f64 {
        let state = self.inner.state.read();
        state
            .by_group
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|id| state.instances.get(id))
            .filter(|i| i.state == super::InstanceState::Running)
            .map(|i| i.usd_per_hour())
            .sum()
    }
}
