//! The node lifecycle controller, as kube-controller-manager's `node-lifecycle-controller`
//! with taint-based eviction:
//!
//! - every `node-monitor-period` (5 s) it looks at each node's last heartbeat — its Lease's
//!   `renewTime` or its Ready condition's `lastHeartbeatTime`, whichever is newer (a node
//!   not yet heard from counts from its creation); after `node-monitor-grace-period` (50 s,
//!   kube's default from 1.32) without one, the node's Ready, MemoryPressure, DiskPressure
//!   and PIDPressure conditions become `Unknown` with reason `NodeStatusUnknown`, "Kubelet
//!   stopped posting node status.";
//! - it keeps the node's taints in step with its Ready condition: False →
//!   `node.kubernetes.io/not-ready`, Unknown → `node.kubernetes.io/unreachable`, each as
//!   NoSchedule and NoExecute (with `timeAdded`); True → neither;
//! - pods on a node with a NoExecute taint they do not tolerate are deleted at once; pods
//!   that tolerate it for `tolerationSeconds` are deleted when that time has passed since the
//!   taint was added (pods get 300 s for these two taints unless they say otherwise:
//!   DefaultTolerationSeconds in keks-apiserver); the pod first gets the `DisruptionTarget`
//!   condition (`DeletionByTaintManager`) and an event, as kube's taint eviction controller
//!   writes them.
//!
//! A simulated kubelet never stops on its own; `keks.dev/kubelet-stopped: "true"` on a node
//! stops it (see `kubelet::KUBELET_STOPPED_ANNOTATION`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keks_apiserver::rest::meta::{parse, timestamp};
use keks_apiserver::rest::{DeleteOptions, Subresource, UpdateOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use keks_core::ClockExt;
use serde_json::{json, Value};

use crate::events::Recorder;
use crate::informer::{key_of, Informer};
use crate::{podutil, ControllerError, Informers};

/// kube-controller-manager's `--node-monitor-period`.
pub const MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// kube-controller-manager's `--node-monitor-grace-period` (50 s from Kubernetes 1.32).
pub const GRACE_PERIOD: Duration = Duration::from_secs(50);

pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

pub struct NodeLifecycleController {
    api: Arc<ClusterApi>,
    nodes: Arc<Informer>,
    pods: Arc<Informer>,
    leases: Arc<Informer>,
    events: Arc<Recorder>,
}

impl NodeLifecycleController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers) {
        let Some(leases) =
            Informer::new(api.clone(), "coordination.k8s.io", "v1", "leases", vec![])
        else {
            return;
        };
        let me = Arc::new(Self {
            api: api.clone(),
            nodes: informers.nodes.clone(),
            pods: informers.pods.clone(),
            leases,
            events: Recorder::new(api.clone(), "node-controller"),
        });
        me.leases.start();
        let c = me.clone();
        api.spawn(async move {
            c.nodes.wait_synced().await;
            c.pods.wait_synced().await;
            c.leases.wait_synced().await;
            loop {
                let next = match c.pass().await {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::debug!(cluster = %c.api.cluster, error = %e, "node lifecycle pass");
                        MONITOR_PERIOD
                    }
                };
                c.api.clock.sleep(next.min(MONITOR_PERIOD)).await;
            }
        });
    }

    /// One look at every node; returns how soon the next eviction is due.
    async fn pass(&self) -> Result<Duration, ControllerError> {
        let now = self.api.clock.wall();
        let mut next = MONITOR_PERIOD;
        for node in self.nodes.list() {
            if podutil::is_deleting(&node) {
                continue;
            }
            let mut current = (*node).clone();
            if let Some(heard) = self.last_heartbeat(&node) {
                let silent = now.duration_since(heard).unwrap_or_default();
                let ready = podutil::condition(&node, "Ready").map(|c| c["status"].clone());
                if silent > GRACE_PERIOD && ready != Some(json!("Unknown")) {
                    // Taint in the same pass, from the node as written (the cache may lag).
                    match self.mark_unknown(&node, now).await? {
                        Some(updated) => current = updated,
                        None => continue,
                    }
                }
            }
            self.sync_taints(&current, now).await?;
            if let Some(due) = self.evict(&current, now).await? {
                next = next.min(due);
            }
        }
        Ok(next)
    }

    fn last_heartbeat(&self, node: &Value) -> Option<SystemTime> {
        let name = podutil::name(node);
        let lease = self
            .leases
            .get(&format!("kube-node-lease/{name}"))
            .and_then(|l| l["spec"]["renewTime"].as_str().and_then(parse));
        let status = podutil::condition(node, "Ready")
            .and_then(|c| c["lastHeartbeatTime"].as_str())
            .and_then(parse);
        let created = node["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(parse);
        lease.max(status).or(created)
    }

    /// Ready and the pressure conditions become Unknown, keeping their last heartbeat.
    /// Returns the node as written (`None`: it is gone).
    async fn mark_unknown(
        &self,
        node: &Value,
        now: SystemTime,
    ) -> Result<Option<Value>, ControllerError> {
        let name = podutil::name(node);
        let d = self.nodes.descriptor().clone();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let stamp = timestamp(now);
        let result = self
            .api
            .guaranteed_update(&d, "", name, &opts, 0, |current| {
                let mut next = current.clone();
                for type_ in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
                    let heartbeat = podutil::condition(current, type_)
                        .map(|c| c["lastHeartbeatTime"].clone())
                        .unwrap_or(Value::Null);
                    podutil::set_condition(
                        &mut next,
                        json!({"type": type_, "status": "Unknown", "reason": "NodeStatusUnknown",
                               "message": "Kubelet stopped posting node status.",
                               "lastHeartbeatTime": heartbeat}),
                        &stamp,
                    );
                }
                Ok(next)
            })
            .await;
        match result {
            Ok(updated) => {
                self.events.event(
                    node,
                    "v1",
                    "Node",
                    "Normal",
                    "NodeNotReady",
                    format!("Node {name} status is now: NodeNotReady"),
                );
                Ok(Some(updated))
            }
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The not-ready / unreachable taints as the Ready condition says.
    async fn sync_taints(&self, node: &Value, now: SystemTime) -> Result<(), ControllerError> {
        let wanted = match podutil::condition(node, "Ready").map(|c| c["status"].clone()) {
            Some(s) if s == "False" => Some(NOT_READY_TAINT),
            Some(s) if s == "Unknown" => Some(UNREACHABLE_TAINT),
            _ => None,
        };
        let taints = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has = |key: &str, effect: &str| {
            taints
                .iter()
                .any(|t| t["key"] == key && t["effect"] == effect)
        };
        let stale = [NOT_READY_TAINT, UNREACHABLE_TAINT]
            .iter()
            .any(|k| Some(*k) != wanted && (has(k, "NoSchedule") || has(k, "NoExecute")));
        let missing = wanted.is_some_and(|k| !has(k, "NoSchedule") || !has(k, "NoExecute"));
        if !stale && !missing {
            return Ok(());
        }
        let d = self.nodes.descriptor().clone();
        let stamp = timestamp(now);
        let name = podutil::name(node).to_string();
        let result = self
            .api
            .guaranteed_update(&d, "", &name, &UpdateOptions::default(), 0, |current| {
                let mut next = current.clone();
                let mut list: Vec<Value> = current["spec"]["taints"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| {
                        let k = t["key"].as_str().unwrap_or_default();
                        !((k == NOT_READY_TAINT || k == UNREACHABLE_TAINT) && Some(k) != wanted)
                    })
                    .collect();
                if let Some(key) = wanted {
                    for effect in ["NoSchedule", "NoExecute"] {
                        if !list
                            .iter()
                            .any(|t| t["key"] == key && t["effect"] == effect)
                        {
                            let mut taint = json!({"key": key, "effect": effect});
                            if effect == "NoExecute" {
                                taint["timeAdded"] = json!(stamp);
                            }
                            list.push(taint);
                        }
                    }
                }
                if list.is_empty() {
                    if let Some(spec) = next["spec"].as_object_mut() {
                        spec.remove("taints");
                    }
                } else {
                    next["spec"]["taints"] = json!(list);
                }
                Ok(next)
            })
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the node's pods whose tolerations of its NoExecute taints ran out; returns
    /// how long until the next one does.
    async fn evict(
        &self,
        node: &Value,
        now: SystemTime,
    ) -> Result<Option<Duration>, ControllerError> {
        let taints: Vec<Value> = node["spec"]["taints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["effect"] == "NoExecute")
            .cloned()
            .collect();
        if taints.is_empty() {
            return Ok(None);
        }
        let mut next: Option<Duration> = None;
        let mut due_pods = HashMap::new();
        for pod in self.pods.by_index("node", podutil::name(node)) {
            if podutil::is_deleting(&pod) {
                continue;
            }
            match eviction_time(&pod, &taints) {
                Eviction::Never => {}
                Eviction::At(at) if at > now => {
                    let left = at.duration_since(now).unwrap_or_default();
                    next = Some(next.map_or(left, |n| n.min(left)));
                }
                Eviction::At(_) | Eviction::Now => {
                    due_pods.insert(key_of(&pod), pod);
                }
            }
        }
        for pod in due_pods.values() {
            self.delete_pod(pod, now).await?;
        }
        Ok(next)
    }

    async fn delete_pod(&self, pod: &Value, now: SystemTime) -> Result<(), ControllerError> {
        let d = self.pods.descriptor().clone();
        let (ns, name) = (
            podutil::namespace(pod).to_string(),
            podutil::name(pod).to_string(),
        );
        self.events.event(
            pod,
            "v1",
            "Pod",
            "Normal",
            "TaintManagerEviction",
            format!("Marking for deletion Pod {ns}/{name}"),
        );
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let stamp = timestamp(now);
        let _ = self
            .api
            .guaranteed_update(&d, &ns, &name, &opts, 0, |current| {
                let mut next = current.clone();
                podutil::set_condition(
                    &mut next,
                    json!({"type": "DisruptionTarget", "status": "True",
                           "reason": "DeletionByTaintManager",
                           "message": "Taint manager: deleting due to NoExecute taint"}),
                    &stamp,
                );
                Ok(next)
            })
            .await;
        match self
            .api
            .delete(&d, &ns, &name, &DeleteOptions::default())
            .await
        {
            Ok(_) | Err(ApiError::NotFound { .. }) | Err(ApiError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Eviction {
    Now,
    At(SystemTime),
    Never,
}

/// When a pod must leave a node with these NoExecute taints: at once if one is not
/// tolerated; else at the earliest `timeAdded + tolerationSeconds` of its tolerations;
/// never if every toleration is unbounded.
fn eviction_time(pod: &Value, taints: &[Value]) -> Eviction {
    let tolerations: Vec<&Value> = pod["spec"]["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let mut earliest: Option<SystemTime> = None;
    for taint in taints {
        let matching: Vec<&&Value> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Eviction::Now;
        }
        // The longest matching toleration decides (an unbounded one: never).
        if matching
            .iter()
            .any(|t| t.get("tolerationSeconds").is_none_or(Value::is_null))
        {
            continue;
        }
        let seconds = matching
            .iter()
            .filter_map(|t| t["tolerationSeconds"].as_i64())
            .max()
            .unwrap_or(0)
            .max(0) as u64;
        let added = taint["timeAdded"]
            .as_str()
            .and_then(parse)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let at = added + Duration::from_secs(seconds);
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    match earliest {
        Some(at) => Eviction::At(at),
        None => Eviction::Never,
    }
}

/// Kubernetes' toleration matching for one taint.
fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let effect = toleration["effect"].as_str().unwrap_or("");
    if !effect.is_empty() && taint["effect"].as_str() != Some(effect) {
        return false;
    }
    let key = toleration["key"].as_str().unwrap_or("");
    let operator = toleration["operator"].as_str().unwrap_or("Equal");
    if key.is_empty() {
        return operator == "Exists";
    }
    if taint["key"].as_str() != Some(key) {
        return false;
    }
    match operator {
        "Exists" => true,
        _ => toleration["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, added: &str) -> Value {
        json!({"key": key, "effect": "NoExecute", "timeAdded": added})
    }

    #[test]
    fn eviction_follows_tolerations() {
        let taints = [taint(UNREACHABLE_TAINT, "2026-01-01T00:00:00Z")];
        let none = json!({"spec": {}});
        assert_eq!(eviction_time(&none, &taints), Eviction::Now);
        let default = json!({"spec": {"tolerations": [
            {"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}});
        assert_eq!(
            eviction_time(&default, &taints),
            Eviction::At(parse("2026-01-01T00:05:00Z").unwrap())
        );
        let forever = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        assert_eq!(eviction_time(&forever, &taints), Eviction::Never);
        let other = json!({"spec": {"tolerations": [
            {"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}});
        assert_eq!(eviction_time(&other, &taints), Eviction::Now);
    }
}
