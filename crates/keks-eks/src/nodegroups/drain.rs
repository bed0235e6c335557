//! Cordoning and draining a group's node through its cluster's Kubernetes API, as EKS's node
//! group machinery does: cordon = `spec.unschedulable` plus the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint (and, before a termination, the
//! `node.kubernetes.io/exclude-from-external-load-balancers` label); drain = the Eviction
//! API for every pod but DaemonSet pods, mirror pods and finished pods, so that
//! PodDisruptionBudgets are honoured — or, when forced, deleting the pods a budget protects.

use keks_apiserver::rest::{DeleteOptions, ListOptions, UpdateOptions};
use keks_apiserver::selector::FieldSelector;
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
pub const EXCLUDE_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// Whether a drain honours PodDisruptionBudgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Evict; a pod its budget protects stays (the eviction answers 429).
    Honour,
    /// Evict, and delete the pods whose eviction a budget refuses.
    Force,
}

/// What one drain pass left on the node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Pods still on the node that a drain waits for (being deleted, or refused).
    pub remaining: usize,
    /// `namespace/name` of the pods whose eviction a budget refused.
    pub blocked: Vec<String>,
}

fn not_found_is_fine(r: Result<Value, ApiError>) -> Result<(), ApiError> {
    match r {
        Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Marks a node unschedulable (with the taint kube's node controller would add), and with
/// `exclude_lb` the label that takes it out of load balancers. Idempotent; a node that is
/// gone is fine.
pub async fn cordon(api: &ClusterApi, node: &str, exclude_lb: bool) -> Result<(), ApiError> {
    let nodes = api.registry.get("", "v1", "nodes").expect("built in");
    let now = keks_apiserver::rest::meta::timestamp(api.clock.wall());
    let r = api
        .guaranteed_update(&nodes, "", node, &UpdateOptions::default(), 0, |cur| {
            let mut next = cur.clone();
            next["spec"]["unschedulable"] = json!(true);
            let mut taints: Vec<Value> = cur["spec"]["taints"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !taints.iter().any(|t| t["key"] == UNSCHEDULABLE_TAINT) {
                taints.push(
                    json!({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": now}),
                );
            }
            next["spec"]["taints"] = Value::Array(taints);
            if exclude_lb {
                if !next["metadata"]["labels"].is_object() {
                    next["metadata"]["labels"] = json!({});
                }
                next["metadata"]["labels"][EXCLUDE_LB_LABEL] = json!("true");
            }
            Ok(next)
        })
        .await;
    not_found_is_fine(r)
}

/// Makes a cordoned node schedulable again (after a failed update).
pub async fn uncordon(api: &ClusterApi, node: &str) -> Result<(), ApiError> {
    let nodes = api.registry.get("", "v1", "nodes").expect("built in");
    let r = api
        .guaranteed_update(&nodes, "", node, &UpdateOptions::default(), 0, |cur| {
            let mut next = cur.clone();
            if let Some(spec) = next["spec"].as_object_mut() {
                spec.remove("unschedulable");
            }
            if let Some(taints) = next["spec"]["taints"].as_array_mut() {
                taints.retain(|t| t["key"] != UNSCHEDULABLE_TAINT);
            }
            if let Some(labels) = next["metadata"]["labels"].as_object_mut() {
                labels.remove(EXCLUDE_LB_LABEL);
            }
            Ok(next)
        })
        .await;
    not_found_is_fine(r)
}

/// Whether a drain leaves the pod alone: DaemonSet pods (their controller tolerates the
/// cordon and they die with the node), mirror pods, pods that have finished.
fn ignored(pod: &Value) -> bool {
    let daemon = pod["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|o| o["kind"] == "DaemonSet" && o["controller"] == true);
    let mirror = pod["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string();
    let finished = matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    daemon || mirror || finished
}

/// The pods bound to `node`.
pub async fn pods_on(api: &ClusterApi, node: &str) -> Result<Vec<Value>, ApiError> {
    let pods = api.registry.get("", "v1", "pods").expect("built in");
    let opts = ListOptions {
        field_selector: FieldSelector::parse(&format!("spec.nodeName={node}"))
            .map_err(ApiError::BadRequest)?,
        ..Default::default()
    };
    let list = api.list(&pods, None, &opts).await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// How many pods on `node` a drain still has to move.
pub async fn movable_pods(api: &ClusterApi, node: &str) -> Result<usize, ApiError> {
    Ok(pods_on(api, node)
        .await?
        .iter()
        .filter(|p| !ignored(p))
        .count())
}

/// One pass of a drain: every pod that should leave and is not already leaving is evicted
/// (in `Force` mode deleted when its budget refuses). Callers repeat passes until nothing
/// remains or their timeout.
pub async fn drain_pass(api: &ClusterApi, node: &str, mode: Mode) -> Result<Drained, ApiError> {
    let pods = api.registry.get("", "v1", "pods").expect("built in");
    let mut out = Drained::default();
    for pod in pods_on(api, node).await? {
        if ignored(&pod) {
            continue;
        }
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        if pod["metadata"]["deletionTimestamp"].is_string() {
            out.remaining += 1;
            continue;
        }
        let eviction = json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns},
        });
        match api.evict_pod(ns, name, &eviction, false).await {
            Ok(()) | Err(ApiError::NotFound { .. }) => {}
            Err(ApiError::TooManyRequests { .. }) if mode == Mode::Force => {
                not_found_is_fine(
                    api.delete(&pods, ns, name, &DeleteOptions::default())
                        .await
                        .map(|_| Value::Null),
                )?;
            }
            Err(ApiError::TooManyRequests { .. }) => {
                out.remaining += 1;
                out.blocked.push(format!("{ns}/{name}"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Deletes every pod still bound to `node` (its instance is gone: what the pod garbage
/// collector would do, without its quarantine, so controllers replace them at once).
pub async fn delete_pods_on(api: &ClusterApi, node: &str) -> Result<(), ApiError> {
    let pods = api.registry.get("", "v1", "pods").expect("built in");
    let opts = DeleteOptions {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    for pod in pods_on(api, node).await? {
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        not_found_is_fine(
            api.delete(&pods, ns, name, &opts)
                .await
                .map(|_| Value::Null),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_mirror_and_finished_pods_stay() {
        let daemon =
            json!({"metadata": {"ownerReferences": [{"kind": "DaemonSet", "controller": true}]}});
        let mirror = json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}}});
        let done = json!({"metadata": {}, "status": {"phase": "Succeeded"}});
        let app = json!({"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "controller": true}]},
                         "status": {"phase": "Running"}});
        assert!(ignored(&daemon) && ignored(&mirror) && ignored(&done));
        assert!(!ignored(&app));
    }
}
