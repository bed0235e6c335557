//! The scheduler (`default-scheduler`), as kube-scheduler schedules one pod at a time: take a
//! pending pod, filter the nodes, score the feasible ones, assume the pod on the best node in
//! the cache and bind it through the `binding` subresource in the background. A pod that fits
//! nowhere gets `PodScheduled=False` (reason `Unschedulable`) and a `FailedScheduling` event,
//! and waits until a node or pod changes (or five minutes pass) to be tried again. Pods of
//! another `schedulerName` are left alone.

pub mod cache;
pub mod filters;
pub mod score;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::rest::meta::timestamp;
use keks_apiserver::rest::{Subresource, UpdateOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use keks_core::ClockExt;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::events::Recorder;
use crate::informer::{key_of, split_key, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use cache::{Cache, PodInfo};

pub const SCHEDULER_NAME: &str = "default-scheduler";

/// kube-scheduler's pod backoff: 1 s doubling to 10 s.
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried at least this often, as `podMaxInUnschedulablePodsDuration`.
const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(5 * 60);

pub struct Scheduler {
    api: Arc<ClusterApi>,
    pods: Arc<Informer>,
    cache: Mutex<Cache>,
    queue: Arc<WorkQueue>,
    /// Pods that fit nowhere, with their number of failed attempts.
    unschedulable: Mutex<HashMap<String, u32>>,
    recorder: Arc<Recorder>,
    /// Where the next decision starts looking at nodes.
    next_start: AtomicUsize,
}

/// Whether the default scheduler should place this pod.
pub fn needs_scheduling(pod: &Value) -> bool {
    let spec = &pod["spec"];
    spec["nodeName"].as_str().is_none_or(str::is_empty)
        && spec["schedulerName"]
            .as_str()
            .is_none_or(|s| s.is_empty() || s == SCHEDULER_NAME)
        && podutil::is_active(pod)
        && spec["schedulingGates"]
            .as_array()
            .is_none_or(|g| g.is_empty())
}

/// How many feasible nodes to find before scoring, as kube-scheduler's adaptive
/// `percentageOfNodesToScore`: all of them below 100 nodes, else 50 % minus 1 % per 125
/// nodes (at least 5 %), and never fewer than 100.
pub fn feasible_nodes_to_find(nodes: usize) -> usize {
    if nodes < 100 {
        return nodes;
    }
    let percentage = 50usize.saturating_sub(nodes / 125).max(5);
    (nodes * percentage / 100).max(100)
}

/// One scheduling decision, looking at nodes from index `start` on (kube-scheduler rotates
/// the start so every node gets its turn): the best feasible node, or the FailedScheduling
/// message; and how many nodes were looked at.
pub fn decide(cache: &Cache, pod: &PodInfo, start: usize) -> (Result<String, String>, usize) {
    let total = cache.nodes.len();
    let start = if total == 0 { 0 } else { start % total };
    let wanted = feasible_nodes_to_find(cache.node_count());
    let mut feasible = Vec::with_capacity(wanted.min(total));
    let mut failures = Vec::new();
    let mut looked = 0;
    let rotated = cache
        .nodes
        .values()
        .skip(start)
        .chain(cache.nodes.values().take(start));
    for node in rotated {
        looked += 1;
        if !node.exists {
            continue;
        }
        match filters::check(node, pod) {
            Ok(()) => {
                feasible.push(node);
                if feasible.len() >= wanted {
                    break;
                }
            }
            Err(f) => failures.push(f),
        }
    }
    let decision = match score::select(&feasible, pod) {
        Some(node) => Ok(node.name.clone()),
        None => Err(filters::fit_error_message(
            cache.node_count(),
            &failures,
            pod,
        )),
    };
    (decision, looked)
}

impl Scheduler {
    pub fn start(api: &Arc<ClusterApi>, pods: &Arc<Informer>, nodes: &Arc<Informer>) {
        let me = Arc::new(Self {
            api: api.clone(),
            pods: pods.clone(),
            cache: Mutex::default(),
            queue: WorkQueue::new("scheduler", api.clock.clone(), cluster_spawner(api)),
            unschedulable: Mutex::default(),
            recorder: Recorder::new(api.clone(), SCHEDULER_NAME),
            next_start: AtomicUsize::new(0),
        });
        let s = me.clone();
        pods.on_change(move |c| s.on_pod(c));
        let s = me.clone();
        nodes.on_change(move |c| s.on_node(c));
        let (pods, nodes) = (pods.clone(), nodes.clone());
        api.spawn(async move {
            pods.wait_synced().await;
            nodes.wait_synced().await;
            let s = me.clone();
            // One worker: each decision sees the placements of the ones before it.
            run_workers(&me.api, me.queue.clone(), 1, move |key| {
                let s = s.clone();
                async move { s.schedule_one(&key).await }
            });
            let mut flush = me.api.clock.interval(UNSCHEDULABLE_FLUSH);
            flush.tick().await;
            loop {
                flush.tick().await;
                me.retry_unschedulable();
            }
        });
    }

    fn on_pod(&self, change: &Change) {
        let pod = change.object();
        let key = key_of(pod);
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        match change {
            Change::Deleted(_) => {
                self.unschedulable.lock().remove(&key);
                if self.cache.lock().remove_pod(&key) {
                    self.retry_unschedulable();
                }
            }
            _ if !node.is_empty() => {
                if matches!(podutil::phase(pod), "Succeeded" | "Failed") {
                    if self.cache.lock().remove_pod(&key) {
                        self.retry_unschedulable();
                    }
                } else {
                    let mut cache = self.cache.lock();
                    if !cache.is_placed_on(&key, node) {
                        cache.place(&key, node, PodInfo::parse(pod), false);
                    } else {
                        cache.confirm(&key);
                    }
                }
            }
            Change::Added(_) => {
                if needs_scheduling(pod) {
                    self.queue.add(key);
                }
            }
            Change::Updated { old, new } => {
                // Our own status writes (PodScheduled=False) must not cause a retry; a
                // change to what the pod asks for does.
                let changed = old["spec"] != new["spec"]
                    || old["metadata"]["labels"] != new["metadata"]["labels"];
                if changed && needs_scheduling(new) {
                    self.unschedulable.lock().remove(&key);
                    self.queue.add(key);
                }
            }
        }
    }

    fn on_node(&self, change: &Change) {
        let node = change.object();
        let changed = match change {
            Change::Deleted(n) => {
                self.cache
                    .lock()
                    .remove_node(n["metadata"]["name"].as_str().unwrap_or_default());
                false
            }
            _ => self.cache.lock().set_node(node),
        };
        if changed {
            self.retry_unschedulable();
        }
    }

    /// Moves every unschedulable pod back to the queue, after its backoff.
    fn retry_unschedulable(&self) {
        let pods: Vec<(String, u32)> = self.unschedulable.lock().drain().collect();
        for (key, attempts) in pods {
            let backoff = INITIAL_BACKOFF
                .saturating_mul(1 << attempts.saturating_sub(1).min(8))
                .min(MAX_BACKOFF);
            self.queue.add_after(key, backoff);
        }
    }

    async fn schedule_one(self: &Arc<Self>, key: &str) -> ReconcileResult {
        let Some(pod) = self.pods.get(key) else {
            self.unschedulable.lock().remove(key);
            return Ok(None);
        };
        if !needs_scheduling(&pod) || self.cache.lock().is_placed(key) {
            return Ok(None);
        }
        let info = PodInfo::parse(&pod);
        let start = self.next_start.load(Ordering::Relaxed);
        let (decision, looked) = decide(&self.cache.lock(), &info, start);
        self.next_start
            .store(start.wrapping_add(looked), Ordering::Relaxed);
        match decision {
            Ok(node) => {
                self.cache.lock().place(key, &node, info, true);
                self.unschedulable.lock().remove(key);
                let me = self.clone();
                let key = key.to_string();
                self.api.spawn(async move { me.bind(key, pod, node).await });
                Ok(None)
            }
            Err(message) => {
                *self
                    .unschedulable
                    .lock()
                    .entry(key.to_string())
                    .or_default() += 1;
                tracing::debug!(pod = %key, %message, "unschedulable");
                self.recorder.event(
                    &pod,
                    "v1",
                    "Pod",
                    "Warning",
                    "FailedScheduling",
                    message.clone(),
                );
                self.mark_unschedulable(key, message).await?;
                Ok(None)
            }
        }
    }

    async fn bind(self: Arc<Self>, key: String, pod: Arc<Value>, node: String) {
        let (ns, name) = split_key(&key);
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": pod["metadata"]["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        match self.api.bind_pod(ns, name, &binding, false).await {
            Ok(_) => self.recorder.event(
                &pod,
                "v1",
                "Pod",
                "Normal",
                "Scheduled",
                format!("Successfully assigned {ns}/{name} to {node}"),
            ),
            // Bound elsewhere, deleted or replaced: the informer tells the truth.
            Err(ApiError::Conflict { .. }) => {
                self.cache.lock().forget_assumed(&key);
            }
            Err(e) => {
                tracing::debug!(pod = %key, %node, error = %e, "binding failed; retrying");
                self.cache.lock().forget_assumed(&key);
                self.queue.add_rate_limited(key);
            }
        }
    }

    async fn mark_unschedulable(&self, key: &str, message: String) -> ReconcileResult {
        let (ns, name) = split_key(key);
        let d = self.pods.descriptor().clone();
        let now = timestamp(self.api.clock.wall());
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let result = self
            .api
            .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                let mut pod = current.clone();
                if needs_scheduling(current) {
                    podutil::set_condition(
                        &mut pod,
                        json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message, "lastProbeTime": null}),
                        &now,
                    );
                }
                Ok(pod)
            })
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
