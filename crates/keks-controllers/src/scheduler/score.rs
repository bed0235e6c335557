//! Scoring of the nodes that passed the filters, with kube-scheduler's default plugins and
//! weights: NodeResourcesFit LeastAllocated (1), NodeResourcesBalancedAllocation (1),
//! TaintToleration for PreferNoSchedule taints (3), preferred NodeAffinity (2) and the system
//! default PodTopologySpread over hostnames for pods of one controller (2). Scores are
//! 0..=100 per plugin before weighting; the best node wins, ties broken at random.

use rand::Rng;

use super::cache::{tolerated, NodeInfo, PodInfo};
use super::filters::term_matches;

const MAX_SCORE: i64 = 100;

/// Picks the best of `feasible` for `pod`.
pub fn select<'a>(feasible: &[&'a NodeInfo], pod: &PodInfo) -> Option<&'a NodeInfo> {
    if feasible.len() <= 1 {
        return feasible.first().copied();
    }
    let raw_taint: Vec<i64> = feasible
        .iter()
        .map(|n| intolerable_prefer_no_schedule(n, pod))
        .collect();
    let raw_affinity: Vec<i64> = feasible
        .iter()
        .map(|n| preferred_affinity(n, pod))
        .collect();
    let max_taint = raw_taint.iter().copied().max().unwrap_or(0);
    let max_affinity = raw_affinity.iter().copied().max().unwrap_or(0);
    let raw_spread: Vec<i64> = feasible
        .iter()
        .map(|n| {
            pod.owner
                .as_ref()
                .and_then(|o| n.owners.get(o))
                .copied()
                .unwrap_or(0)
        })
        .collect();
    let max_spread = raw_spread.iter().copied().max().unwrap_or(0);
    let min_spread = raw_spread.iter().copied().min().unwrap_or(0);
    let mut rng = rand::thread_rng();
    let mut best: Option<(&NodeInfo, i64)> = None;
    let mut ties = 0u32;
    for (i, node) in feasible.iter().enumerate() {
        let taint = if max_taint == 0 {
            MAX_SCORE
        } else {
            MAX_SCORE - raw_taint[i] * MAX_SCORE / max_taint
        };
        let affinity = if max_affinity == 0 {
            0
        } else {
            raw_affinity[i] * MAX_SCORE / max_affinity
        };
        // PodTopologySpread's normalization: fewest matching pods scores highest.
        let spread = if max_spread == 0 {
            MAX_SCORE
        } else {
            MAX_SCORE * (max_spread + min_spread - raw_spread[i]) / max_spread
        };
        let score = least_allocated(node, pod)
            + balanced_allocation(node, pod)
            + 3 * taint
            + 2 * affinity
            + 2 * spread;
        match best {
            Some((_, s)) if score < s => {}
            Some((_, s)) if score == s => {
                // Reservoir sampling over the tied nodes, as kube-scheduler's selectHost.
                ties += 1;
                if rng.gen_range(0..ties) == 0 {
                    best = Some((node, score));
                }
            }
            _ => {
                best = Some((node, score));
                ties = 1;
            }
        }
    }
    best.map(|(n, _)| n)
}

/// Free fraction of CPU and memory after placing the pod, averaged (requests with the
/// non-zero defaults, as kube-scheduler scores).
pub fn least_allocated(node: &NodeInfo, pod: &PodInfo) -> i64 {
    let score = |requested: i64, capacity: i64| {
        if capacity <= 0 || requested > capacity {
            0
        } else {
            (capacity - requested) * MAX_SCORE / capacity
        }
    };
    let cpu = score(
        node.nonzero_cpu + pod.nonzero_cpu,
        node.allocatable.milli_cpu,
    );
    let mem = score(
        node.nonzero_memory + pod.nonzero_memory,
        node.allocatable.memory,
    );
    (cpu + mem) / 2
}

/// How evenly CPU and memory would be used: 100 minus the standard deviation of the two
/// used fractions (scaled to 100).
pub fn balanced_allocation(node: &NodeInfo, pod: &PodInfo) -> i64 {
    let fraction = |requested: i64, capacity: i64| {
        if capacity <= 0 {
            1.0
        } else {
            (requested as f64 / capacity as f64).min(1.0)
        }
    };
    let cpu = fraction(
        node.requested.milli_cpu + pod.requests.milli_cpu,
        node.allocatable.milli_cpu,
    );
    let mem = fraction(
        node.requested.memory + pod.requests.memory,
        node.allocatable.memory,
    );
    let std = (cpu - mem).abs() / 2.0;
    ((1.0 - std) * MAX_SCORE as f64) as i64
}

fn intolerable_prefer_no_schedule(node: &NodeInfo, pod: &PodInfo) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(&pod.tolerations, t))
        .count() as i64
}

fn preferred_affinity(node: &NodeInfo, pod: &PodInfo) -> i64 {
    pod.preferred_terms
        .iter()
        .filter(|(_, term)| term_matches(term, node))
        .map(|(w, _)| *w)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::super::cache::Cache;
    use super::*;
    use serde_json::json;

    #[test]
    fn the_emptier_node_wins_and_preferences_count() {
        let mut c = Cache::default();
        for (name, zone) in [("a", "x"), ("b", "y")] {
            c.set_node(
                &json!({"metadata": {"name": name, "labels": {"zone": zone}}, "spec": {},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}),
            );
        }
        let pod = PodInfo::parse(&json!({"spec": {"containers": [{"name": "c"}]}}));
        c.place("ns/p", "a", pod.clone(), false);
        let feasible: Vec<&NodeInfo> = c.nodes.values().collect();
        assert_eq!(select(&feasible, &pod).unwrap().name, "b");
        let prefers_a = PodInfo::parse(
            &json!({"spec": {"containers": [{"name": "c"}], "affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]}}]}}}}),
        );
        assert_eq!(select(&feasible, &prefers_a).unwrap().name, "a");
    }

    #[test]
    fn pods_of_one_owner_spread_even_onto_a_smaller_node() {
        let mut c = Cache::default();
        for (name, cpu, mem) in [("large", "8", "32Gi"), ("small", "2", "4Gi")] {
            c.set_node(&json!({"metadata": {"name": name}, "spec": {},
                "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"}}}));
        }
        let pod = PodInfo::parse(
            &json!({"metadata": {"ownerReferences": [{"uid": "rs-1", "controller": true}]},
            "spec": {"containers": [{"name": "c"}]}}),
        );
        let mut placed = Vec::new();
        for i in 0..3 {
            let name = {
                let feasible: Vec<&NodeInfo> = c.nodes.values().collect();
                select(&feasible, &pod).unwrap().name.clone()
            };
            c.place(&format!("ns/p{i}"), &name, pod.clone(), true);
            placed.push(name);
        }
        assert_eq!(placed, ["large", "small", "large"]);
    }

    #[test]
    fn large_clusters_score_a_share_of_the_nodes() {
        use super::super::feasible_nodes_to_find;
        assert_eq!(feasible_nodes_to_find(3), 3);
        assert_eq!(feasible_nodes_to_find(100), 100);
        assert_eq!(feasible_nodes_to_find(1000), 420);
        assert_eq!(feasible_nodes_to_find(5000), 500);
        assert_eq!(feasible_nodes_to_find(50_000), 2500);
    }
}
