//! Which pods a scaled-down ReplicaSet deletes first, as kube-controller-manager's
//! `ActivePodsWithRanks` orders them: unscheduled before scheduled, pending before unknown
//! before running, not ready before ready, lower `controller.kubernetes.io/pod-deletion-cost`
//! first, pods doubled up on a node first, ready for less time first, more restarts first,
//! newer first.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::podutil;

const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `n` pods to delete among `pods`.
pub fn pods_to_delete(mut pods: Vec<Arc<Value>>, n: usize) -> Vec<Arc<Value>> {
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for p in &pods {
        if let Some(node) = p["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
            *per_node.entry(node.to_string()).or_default() += 1;
        }
    }
    let rank = |p: &Value| {
        p["spec"]["nodeName"]
            .as_str()
            .and_then(|n| per_node.get(n))
            .copied()
            .unwrap_or(0)
    };
    pods.sort_by(|a, b| compare(a, b, rank(a), rank(b)));
    pods.truncate(n);
    pods
}

/// `Less` when `a` should go before `b`.
fn compare(a: &Value, b: &Value, rank_a: usize, rank_b: usize) -> Ordering {
    let assigned = |p: &Value| {
        p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    };
    let phase = |p: &Value| match podutil::phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    };
    let cost = |p: &Value| {
        p["metadata"]["annotations"][DELETION_COST]
            .as_str()
            .and_then(|c| c.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let ready_since = |p: &Value| {
        podutil::condition(p, "Ready")
            .filter(|c| c["status"] == "True")
            .and_then(|c| c["lastTransitionTime"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let restarts = |p: &Value| -> i64 {
        p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["restartCount"].as_i64())
            .sum()
    };
    let created = |p: &Value| {
        p["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assigned(a)
        .cmp(&assigned(b))
        .then(phase(a).cmp(&phase(b)))
        .then(podutil::is_ready(a).cmp(&podutil::is_ready(b)))
        .then(cost(a).cmp(&cost(b)))
        .then(rank_b.cmp(&rank_a))
        // Ready more recently (a later timestamp) goes first.
        .then(ready_since(b).cmp(&ready_since(a)))
        .then(restarts(b).cmp(&restarts(a)))
        .then(created(b).cmp(&created(a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str, phase: &str, ready: bool, created: &str) -> Arc<Value> {
        Arc::new(json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": created}]},
        }))
    }

    #[test]
    fn ranks_as_the_replicaset_controller() {
        let pods = vec![
            pod("running-old", "a", "Running", true, "2024-01-01T00:00:00Z"),
            pod("running-new", "b", "Running", true, "2024-01-02T00:00:00Z"),
            pod("unscheduled", "", "Pending", false, "2024-01-01T00:00:00Z"),
            pod("pending", "c", "Pending", false, "2024-01-01T00:00:00Z"),
            pod("not-ready", "d", "Running", false, "2024-01-01T00:00:00Z"),
        ];
        let order: Vec<String> = pods_to_delete(pods, 5)
            .iter()
            .map(|p| podutil::name(p).to_string())
            .collect();
        assert_eq!(
            order,
            [
                "unscheduled",
                "pending",
                "not-ready",
                "running-new",
                "running-old"
            ]
        );
    }

    #[test]
    fn deletion_cost_and_doubled_up_nodes() {
        let mut cheap = (*pod("cheap", "a", "Running", true, "2024-01-01T00:00:00Z")).clone();
        cheap["metadata"]["annotations"] = json!({DELETION_COST: "-10"});
        let pods = vec![
            pod("alone", "x", "Running", true, "2024-01-01T00:00:00Z"),
            pod("crowded-1", "y", "Running", true, "2024-01-01T00:00:00Z"),
            pod("crowded-2", "y", "Running", true, "2024-01-01T00:00:00Z"),
            Arc::new(cheap),
        ];
        let first: Vec<String> = pods_to_delete(pods, 2)
            .iter()
            .map(|p| podutil::name(p).to_string())
            .collect();
        assert_eq!(first[0], "cheap");
        assert!(first[1].starts_with("crowded"));
    }
}
