//! EC2 Auto Scaling's default termination policy, which picks the instances a scale-in
//! removes. As the Auto Scaling user guide ("Configure termination policies", "How the
//! default termination policy works") describes it, for each instance to remove:
//!
//! 1. keep the zones balanced: only the availability zones with the most instances that
//!    still have at least one instance not protected from scale-in are considered;
//! 2. among their unprotected instances, those with outdated configuration go first: an
//!    instance launched from another launch template than the group's current one (or none),
//!    then those of the oldest version of the current template;
//! 3. then the instance closest to its next billing hour;
//! 4. then one at random.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;

use crate::instances::{Instance, LaunchTemplateRef};

/// Chooses `count` instances of `members` (the group's live instances) to terminate; fewer
/// if fewer are unprotected. `now` is wall time, Unix seconds.
pub fn choose_victims(
    members: &[Instance],
    count: usize,
    current: Option<&LaunchTemplateRef>,
    now: f64,
) -> Vec<String> {
    let mut chosen: BTreeSet<&str> = BTreeSet::new();
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for i in members {
        *per_zone.entry(i.availability_zone.as_str()).or_default() += 1;
    }
    let mut victims = Vec::with_capacity(count);
    let mut rng = rand::thread_rng();
    while victims.len() < count {
        let open = |i: &&Instance| !i.protected_from_scale_in && !chosen.contains(i.id.as_str());
        // 1. the fullest zones that still have something to take
        let Some(most) = members
            .iter()
            .filter(open)
            .map(|i| per_zone[i.availability_zone.as_str()])
            .max()
        else {
            break;
        };
        let mut pool: Vec<&Instance> = members
            .iter()
            .filter(open)
            .filter(|i| per_zone[i.availability_zone.as_str()] == most)
            .collect();
        // 2. outdated configuration: another template first, then the oldest version
        if let Some(current) = current {
            let other: Vec<&Instance> = pool
                .iter()
                .copied()
                .filter(|i| {
                    i.launch_template
                        .as_ref()
                        .is_none_or(|t| t.id != current.id)
                })
                .collect();
            if !other.is_empty() {
                pool = other;
            } else if let Some(oldest) = pool
                .iter()
                .filter_map(|i| version_number(i.launch_template.as_ref()?))
                .min()
            {
                pool.retain(|i| {
                    i.launch_template
                        .as_ref()
                        .and_then(version_number)
                        .is_none_or(|v| v == oldest)
                });
            }
        }
        // 3. closest to the next billing hour: the most seconds into its current hour
        let into_hour = |i: &Instance| {
            let since = i.running_since.unwrap_or(i.launch_time);
            ((now - since).max(0.0) as u64) % 3600
        };
        if let Some(closest) = pool.iter().map(|i| into_hour(i)).max() {
            pool.retain(|i| into_hour(i) == closest);
        }
        // 4. random
        let Some(victim) = pool.choose(&mut rng) else {
            break;
        };
        chosen.insert(victim.id.as_str());
        if let Some(n) = per_zone.get_mut(victim.availability_zone.as_str()) {
            *n -= 1;
        }
        victims.push(victim.id.clone());
    }
    victims
}

fn version_number(t: &LaunchTemplateRef) -> Option<u64> {
    t.version.parse().ok()
}
