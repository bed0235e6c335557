//! The simulated kubelet: one controller per cluster that serves every Node object (also
//! nodes created with kubectl). For each node it fills in the status a kubelet reports when
//! the user gave none (capacity, allocatable, conditions, nodeInfo, addresses), keeps the
//! `Ready` condition and the node's Lease in `kube-node-lease` fresh on the clock, and runs
//! the node's pods (see `pods.rs`). No container runs.

mod ipam;
mod pods;
pub mod run;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keks_apiserver::rest::meta::{parse, timestamp};
use keks_apiserver::rest::{Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use keks_core::Instant;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::informer::{key_of, Change, Informer};
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::{podutil, Config, Informers};

/// kubelet's `nodeLeaseDurationSeconds`.
const LEASE_DURATION_SECONDS: i64 = 40;
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// A node annotation giving the seconds its pods take from binding to running, instead of
/// `Config::pod_startup_delay` (keks-eks puts it on Fargate nodes: the micro-VM boots and
/// pulls the image first).
pub const STARTUP_DELAY_ANNOTATION: &str = "keks.dev/pod-startup-delay-seconds";

/// A node annotation (`"true"`) that stops its simulated kubelet: no status reports, no
/// Lease renewals — a crashed kubelet or a lost node, for the node lifecycle controller to
/// notice. Removing it starts the kubelet again.
pub const KUBELET_STOPPED_ANNOTATION: &str = "keks.dev/kubelet-stopped";

pub struct Kubelet {
    api: Arc<ClusterApi>,
    config: Config,
    pods: Arc<Informer>,
    nodes: Arc<Informer>,
    node_queue: Arc<WorkQueue>,
    pod_queue: Arc<WorkQueue>,
    ipam: Mutex<ipam::Ipam>,
    /// When each bound pod (by uid) was first seen, for the startup delay.
    first_seen: Mutex<HashMap<String, Instant>>,
    /// When each pod (by uid) was first seen bound to a node that does not exist.
    orphaned_since: Mutex<HashMap<String, Instant>>,
}

impl Kubelet {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers, config: &Config) {
        let me = Arc::new(Self {
            api: api.clone(),
            config: config.clone(),
            pods: informers.pods.clone(),
            nodes: informers.nodes.clone(),
            node_queue: WorkQueue::new("kubelet-nodes", api.clock.clone(), cluster_spawner(api)),
            pod_queue: WorkQueue::new("kubelet-pods", api.clock.clone(), cluster_spawner(api)),
            ipam: Mutex::default(),
            first_seen: Mutex::default(),
            orphaned_since: Mutex::default(),
        });
        let k = me.clone();
        informers.nodes.on_change(move |c| k.on_node(c));
        let k = me.clone();
        informers.pods.on_change(move |c| k.on_pod(c));
        api.spawn(async move {
            me.pods.wait_synced().await;
            me.nodes.wait_synced().await;
            let k = me.clone();
            run_workers(&me.api, me.node_queue.clone(), 2, move |key| {
                let k = k.clone();
                async move { k.sync_node(&key).await }
            });
            let k = me.clone();
            run_workers(&me.api, me.pod_queue.clone(), 4, move |key| {
                let k = k.clone();
                async move { k.sync_pod(&key).await }
            });
        });
    }

    fn on_node(&self, change: &Change) {
        match change {
            Change::Added(n) => {
                self.node_queue.add(key_of(n));
                // Pods bound before their node appeared can run now.
                let name = n["metadata"]["name"].as_str().unwrap_or_default();
                for pod in self.pods.by_index("node", name) {
                    self.pod_queue.add(key_of(&pod));
                }
            }
            // Our own heartbeats come back as updates; only a status someone broke (or a
            // node that lost what a kubelet reports) needs work before the next renewal.
            Change::Updated { new, .. } if status_incomplete(new) => {
                self.node_queue.add(key_of(new));
            }
            // Started or stopped by hand: act now rather than at the next renewal.
            Change::Updated { old, new }
                if old["metadata"]["annotations"][KUBELET_STOPPED_ANNOTATION]
                    != new["metadata"]["annotations"][KUBELET_STOPPED_ANNOTATION] =>
            {
                self.node_queue.add(key_of(new));
            }
            // Its pods are orphans now (see `pods.rs`).
            Change::Deleted(n) => {
                let name = n["metadata"]["name"].as_str().unwrap_or_default();
                for pod in self.pods.by_index("node", name) {
                    self.pod_queue.add(key_of(&pod));
                }
            }
            _ => {}
        }
    }

    fn on_pod(&self, change: &Change) {
        let pod = change.object();
        if let Change::Deleted(p) = change {
            self.ipam.lock().release(p);
            self.first_seen.lock().remove(podutil::uid(p));
            self.orphaned_since.lock().remove(podutil::uid(p));
            return;
        }
        let bound = pod["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let node_missing = bound
            && pod["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| self.nodes.get(n).is_none());
        // Running pods whose containers exit on their own come back when they do.
        let finishes = podutil::phase(pod) == "Running" && run::run_time(pod).is_some();
        if bound
            && (podutil::phase(pod) == "Pending"
                || podutil::is_deleting(pod)
                || node_missing
                || finishes)
        {
            self.pod_queue.add(key_of(pod));
        }
    }

    /// Reports the node's status when needed and renews its Lease; comes back at the next
    /// renewal.
    async fn sync_node(&self, name: &str) -> ReconcileResult {
        let Some(node) = self.nodes.get(name) else {
            return Ok(None);
        };
        if node["metadata"]["annotations"][KUBELET_STOPPED_ANNOTATION] == "true" {
            // A kubelet that crashed or lost its network: no status, no Lease renewal.
            return Ok(Some(self.config.lease_renew_interval));
        }
        let now = self.api.clock.wall();
        if self.status_due(&node, now) {
            let d = self.nodes.descriptor().clone();
            let opts = UpdateOptions {
                subresource: Subresource::Status,
                ..Default::default()
            };
            let stamp = timestamp(now);
            let ip = node_ip(name);
            match self
                .api
                .guaranteed_update(&d, "", name, &opts, 0, |current| {
                    Ok(report_status(current, &stamp, &ip))
                })
                .await
            {
                Ok(_) => {}
                // Deleted meanwhile, or our cache is ahead of the read: look again.
                Err(ApiError::NotFound { .. }) => return Ok(Some(Duration::from_secs(1))),
                Err(e) => return Err(e.into()),
            }
        }
        self.renew_lease(&node, now).await?;
        Ok(Some(self.config.lease_renew_interval))
    }

    fn status_due(&self, node: &Value, now: SystemTime) -> bool {
        // Also when someone else (the node lifecycle controller) says the node is not
        // Ready: the kubelet sees its own state differs and reports it at once.
        if status_incomplete(node)
            || podutil::condition(node, "Ready").is_some_and(|c| c["status"] != "True")
        {
            return true;
        }
        let heartbeat = podutil::condition(node, "Ready")
            .and_then(|c| c["lastHeartbeatTime"].as_str())
            .and_then(parse);
        heartbeat.is_none_or(|t| {
            t + self.config.node_status_report_interval <= now + Duration::from_millis(500)
        })
    }

    async fn renew_lease(&self, node: &Value, now: SystemTime) -> ReconcileResult {
        let d = self
            .api
            .registry
            .get("coordination.k8s.io", "v1", "leases")
            .expect("leases are built in");
        let name = podutil::name(node);
        let renew = micro_time(now);
        let updated = self
            .api
            .guaranteed_update(
                &d,
                LEASE_NAMESPACE,
                name,
                &UpdateOptions::default(),
                0,
                |current| {
                    let mut lease = current.clone();
                    lease["spec"]["renewTime"] = json!(renew);
                    lease["spec"]["holderIdentity"] = json!(name);
                    Ok(lease)
                },
            )
            .await;
        match updated {
            Ok(_) => Ok(None),
            Err(ApiError::NotFound { .. }) => {
                let lease = json!({
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": name,
                        "namespace": LEASE_NAMESPACE,
                        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}],
                    },
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": renew},
                });
                match self
                    .api
                    .create(&d, LEASE_NAMESPACE, lease, &WriteOptions::default())
                    .await
                {
                    Ok(_) | Err(ApiError::AlreadyExists { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether the node lacks something a kubelet always reports.
fn status_incomplete(node: &Value) -> bool {
    let status = &node["status"];
    let ready = podutil::condition(node, "Ready").is_some_and(|c| c["status"] == "True");
    !ready
        || !status["allocatable"].is_object()
        || !status["capacity"].is_object()
        || !status["nodeInfo"].is_object()
        || status["addresses"].as_array().is_none_or(Vec::is_empty)
}

/// The node's status as its kubelet reports it: what the user gave is kept, what is missing
/// is filled in, and the conditions carry a fresh heartbeat.
fn report_status(current: &Value, now: &str, ip: &str) -> Value {
    let mut node = current.clone();
    if !node["status"].is_object() {
        node["status"] = json!({});
    }
    let name = podutil::name(current).to_string();
    let status = &mut node["status"];
    let default_capacity =
        json!({"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "20Gi"});
    match (
        status["capacity"].is_object(),
        status["allocatable"].is_object(),
    ) {
        (false, false) => {
            status["capacity"] = default_capacity.clone();
            status["allocatable"] = default_capacity;
        }
        (true, false) => status["allocatable"] = status["capacity"].clone(),
        (false, true) => status["capacity"] = status["allocatable"].clone(),
        (true, true) => {}
    }
    for list in ["capacity", "allocatable"] {
        if status[list].get("pods").is_none() {
            status[list]["pods"] = json!("110");
        }
    }
    if !status["nodeInfo"].is_object() {
        let uid = current["metadata"]["uid"].as_str().unwrap_or_default();
        status["nodeInfo"] = json!({
            "machineID": hex_id(uid, 1, 32),
            "systemUUID": uid,
            "bootID": hex_id(uid, 2, 32),
            "kernelVersion": "6.1.0-keks",
            "osImage": "Amazon Linux 2023 (keks simulated)",
            "containerRuntimeVersion": "containerd://1.7.27",
            "kubeletVersion": "v1.33.0-keks",
            "kubeProxyVersion": "v1.33.0-keks",
            "operatingSystem": "linux",
            "architecture": "amd64",
        });
    }
    if status["addresses"].as_array().is_none_or(Vec::is_empty) {
        status["addresses"] = json!([
            {"type": "InternalIP", "address": ip},
            {"type": "Hostname", "address": name},
        ]);
    }
    if !status["daemonEndpoints"].is_object() {
        status["daemonEndpoints"] = json!({"kubeletEndpoint": {"Port": 10250}});
    }
    for (type_, reason, message) in [
        (
            "MemoryPressure",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        ("Ready", "KubeletReady", "kubelet is posting ready status"),
    ] {
        let healthy = if type_ == "Ready" { "True" } else { "False" };
        podutil::set_condition(
            &mut node,
            json!({"type": type_, "status": healthy, "reason": reason, "message": message}),
            now,
        );
        if let Some(c) = node["status"]["conditions"]
            .as_array_mut()
            .and_then(|l| l.iter_mut().find(|c| c["type"] == type_))
        {
            c["lastHeartbeatTime"] = json!(now);
        }
    }
    node
}

/// A stable private address for a node that has none: 192.168.x.y from its name.
fn node_ip(name: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let v = h.finish();
    format!("192.168.{}.{}", (v >> 8) % 256, 1 + v % 254)
}

/// `n` hex digits derived from `seed` (container and machine ids).
pub(crate) fn hex_id(seed: &str, salt: u64, n: usize) -> String {
    let mut out = String::with_capacity(n + 16);
    let mut round = 0u64;
    while out.len() < n {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, salt, round).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
        round += 1;
    }
    out.truncate(n);
    out
}

/// `metav1.MicroTime`: RFC 3339 with microseconds.
fn micro_time(now: SystemTime) -> String {
    let micros = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_micros();
    let seconds = timestamp(now);
    format!("{}.{micros:06}Z", seconds.trim_end_matches('Z'))
}
