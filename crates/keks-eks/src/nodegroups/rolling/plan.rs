//! The arithmetic of a version update, apart from its effects so it can be tested alone:
//! how far the Auto Scaling group is raised, how many old nodes drain at once, which old
//! nodes go next, and which instances a scale-down removes. Sources: the EKS user guide,
//! "Understand each phase of node updates".

use std::collections::BTreeSet;

use rand::seq::SliceRandom;

use crate::nodegroups::model::UpdateConfig;

/// The quota on `maxUnavailable` (EKS: 100 nodes).
pub const MAX_UNAVAILABLE_QUOTA: u32 = 100;

/// How many instances the scale-up phase adds to the group's maximum and desired size: the
/// larger of twice the number of Availability Zones the Auto Scaling group spans and the
/// update's maximum unavailable (five zones and `maxUnavailable` 1 → 10; `maxUnavailable`
/// 20 → 20).
pub fn surge(zones: usize, max_unavailable: u32) -> u32 {
    (2 * zones as u32).max(max_unavailable)
}

/// How many old nodes are drained in parallel: `maxUnavailable`, or `maxUnavailablePercentage`
/// of the group's nodes rounded up; at least one, at most the quota of 100.
pub fn parallelism(config: &UpdateConfig, nodes: u32) -> u32 {
    let n = match (config.max_unavailable, config.max_unavailable_percentage) {
        (Some(n), _) => n,
        (None, Some(p)) => (u64::from(nodes) * u64::from(p)).div_ceil(100) as u32,
        (None, None) => 1,
    };
    n.clamp(1, MAX_UNAVAILABLE_QUOTA)
}

/// The maximum unavailable as a number of nodes, for the surge.
pub fn max_unavailable(config: &UpdateConfig, nodes: u32) -> u32 {
    parallelism(config, nodes)
}

/// The old instances to start draining now: as many as the parallelism leaves room for,
/// picked at random among those not yet draining (EKS "randomly selects a node that needs
/// to be upgraded, up to the maximum unavailable").
pub fn next_to_drain(
    old: &BTreeSet<String>,
    draining: &BTreeSet<String>,
    parallel: u32,
) -> Vec<String> {
    let room = (parallel as usize).saturating_sub(draining.len());
    let mut waiting: Vec<&String> = old.iter().filter(|i| !draining.contains(*i)).collect();
    waiting.shuffle(&mut rand::thread_rng());
    waiting.into_iter().take(room).cloned().collect()
}

/// The instances a scale-down removes: `count` of `candidates` (instance id, pods on its
/// node), those running the fewest pods first so that as few pods as possible move again;
/// ties by id, for a stable choice.
pub fn scale_down_victims(candidates: &[(String, usize)], count: usize) -> Vec<String> {
    let mut sorted: Vec<&(String, usize)> = candidates.iter().collect();
    sorted.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    sorted
        .into_iter()
        .take(count)
        .map(|c| c.0.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(n: Option<u32>, p: Option<u32>) -> UpdateConfig {
        UpdateConfig {
            max_unavailable: n,
            max_unavailable_percentage: p,
        }
    }

    #[test]
    fn surge_is_twice_the_zones_or_max_unavailable() {
        // The user guide's examples.
        assert_eq!(surge(5, 1), 10);
        assert_eq!(surge(5, 20), 20);
        assert_eq!(surge(3, 1), 6);
        assert_eq!(surge(1, 1), 2);
    }

    #[test]
    fn parallelism_follows_update_config() {
        assert_eq!(parallelism(&config(Some(1), None), 10), 1);
        assert_eq!(parallelism(&config(Some(4), None), 2), 4);
        assert_eq!(parallelism(&config(None, Some(33)), 10), 4);
        assert_eq!(parallelism(&config(None, Some(1)), 3), 1);
        assert_eq!(parallelism(&config(None, Some(100)), 450), 100);
        assert_eq!(parallelism(&config(None, None), 10), 1);
        assert_eq!(parallelism(&config(Some(0), None), 10), 1);
    }

    #[test]
    fn next_to_drain_fills_the_room_left() {
        let old: BTreeSet<String> = ["a", "b", "c", "d"].map(String::from).into();
        let draining: BTreeSet<String> = ["b".to_string()].into();
        let next = next_to_drain(&old, &draining, 2);
        assert_eq!(next.len(), 1);
        assert_ne!(next[0], "b");
        assert!(next_to_drain(&old, &draining, 1).is_empty());
        let all = next_to_drain(&old, &BTreeSet::new(), 10);
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn scale_down_takes_the_emptiest_nodes() {
        let c = vec![
            ("i-3".to_string(), 5),
            ("i-1".to_string(), 0),
            ("i-2".to_string(), 0),
            ("i-4".to_string(), 1),
        ];
        assert_eq!(scale_down_victims(&c, 3), vec!["i-1", "i-2", "i-4"]);
        assert_eq!(scale_down_victims(&c, 9).len(), 4);
    }
}
