//! The DaemonSet controller, as kube-controller-manager's: one pod per node that should run
//! it (the template's node selector and required affinity match, its taints are tolerated
//! with the tolerations every daemon pod gets), placed through the default scheduler with a
//! node affinity on the node's name; extra pods and pods on nodes that should not run it are
//! deleted; a RollingUpdate replaces pods of an older template (label
//! `controller-revision-hash`) within maxUnavailable; status as `kubectl rollout status`
//! reads it. ControllerRevisions (`rollout history`/`undo`) and OnDelete are not done yet.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use keks_apiserver::rest::{DeleteOptions, Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::deployment::util::template_hash;
use crate::expectations::Expectations;
use crate::informer::{key_of, split_key, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::scheduler::cache::{NodeInfo, PodInfo};
use crate::scheduler::filters;
use crate::{Config, ControllerError, Informers};

const KIND: &str = "DaemonSet";
const API_VERSION: &str = "apps/v1";
const HASH_LABEL: &str = "controller-revision-hash";

pub struct DaemonSetController {
    api: Arc<ClusterApi>,
    sets: Arc<Informer>,
    pods: Arc<Informer>,
    nodes: Arc<Informer>,
    queue: Arc<WorkQueue>,
    expectations: Expectations,
    /// Each node's scheduling summary, rebuilt when the node changes rather than at every
    /// sync of every DaemonSet (a sync looks at every node).
    node_infos: parking_lot::Mutex<HashMap<String, Arc<NodeInfo>>>,
}

impl DaemonSetController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers, config: &Config) {
        let me = Arc::new(Self {
            api: api.clone(),
            sets: informers.daemonsets.clone(),
            pods: informers.pods.clone(),
            nodes: informers.nodes.clone(),
            queue: WorkQueue::new("daemonset", api.clock.clone(), cluster_spawner(api)),
            expectations: Expectations::new(api.clock.clone()),
            node_infos: Default::default(),
        });
        let c = me.clone();
        informers
            .daemonsets
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers.nodes.on_change(move |change| c.on_node(change));
        let c = me.clone();
        informers.pods.on_change(move |change| c.on_pod(change));
        let workers = config.workers;
        api.spawn(async move {
            me.sets.wait_synced().await;
            me.pods.wait_synced().await;
            me.nodes.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), workers, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    fn owner_key(pod: &Value) -> Option<String> {
        let r = podutil::controller_ref(pod)?;
        (r["kind"] == KIND).then(|| {
            format!(
                "{}/{}",
                podutil::namespace(pod),
                r["name"].as_str().unwrap_or_default()
            )
        })
    }

    fn on_pod(&self, change: &Change) {
        let pod = change.object();
        let Some(owner) = Self::owner_key(pod) else {
            return;
        };
        match change {
            Change::Added(p) if !podutil::is_deleting(p) => {
                self.expectations.creation_observed(&owner)
            }
            Change::Added(p) | Change::Deleted(p) => {
                self.expectations.deletion_observed(&owner, &key_of(p))
            }
            Change::Updated { old, new } => {
                if podutil::is_deleting(new) && !podutil::is_deleting(old) {
                    self.expectations.deletion_observed(&owner, &key_of(new));
                }
            }
        }
        self.queue.add(owner);
    }

    /// Keeps the node's summary and wakes the DaemonSets the change concerns: as kube's
    /// `addNode`/`updateNode`, only those that should run on the new node, or whose answer
    /// changed — a Fargate node, which no DaemonSet may use, wakes none.
    fn on_node(&self, change: &Change) {
        let node = change.object();
        let name = podutil::name(node).to_string();
        let (before, after) = match change {
            Change::Deleted(_) => {
                self.node_infos.lock().remove(&name);
                for key in self.sets.keys() {
                    self.queue.add(key);
                }
                return;
            }
            Change::Added(_) => (None, Arc::new(NodeInfo::from_node(node))),
            Change::Updated { old, new } => {
                let unchanged = old["metadata"]["labels"] == new["metadata"]["labels"]
                    && old["spec"]["taints"] == new["spec"]["taints"];
                let previous = self.node_infos.lock().get(&name).cloned();
                if unchanged && previous.is_some() {
                    return;
                }
                (previous, Arc::new(NodeInfo::from_node(node)))
            }
        };
        self.node_infos.lock().insert(name, after.clone());
        for ds in self.sets.list() {
            let probe = PodInfo::parse(&daemon_pod_template(&ds));
            let now = should_run_on(&after, &probe);
            let was = before.as_ref().is_some_and(|b| should_run_on(b, &probe));
            if now || was {
                self.queue.add(key_of(&ds));
            }
        }
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(ds) = self.sets.get(key) else {
            self.expectations.forget(key);
            return Ok(None);
        };
        let hash = template_hash(
            &ds["spec"]["template"],
            ds["status"]["collisionCount"].as_i64(),
        );
        let template = daemon_pod_template(&ds);
        let probe = PodInfo::parse(&template);
        // Active pods by the node they are for (bound, or aimed at by their affinity).
        let mut by_node: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
        for pod in self.pods.by_index("owner", podutil::uid(&ds)) {
            if !podutil::is_active(&pod) {
                continue;
            }
            if let Some(node) = target_node(&pod) {
                by_node.entry(node).or_default().push(pod);
            }
        }
        let nodes = self.nodes.list();
        let mut create_on = Vec::new();
        let mut delete = Vec::new();
        let mut desired = 0;
        let mut status = Counts::default();
        let min_ready = ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let now = self.api.clock.wall();
        let mut old_pods = Vec::new();
        for node in &nodes {
            let name = podutil::name(node).to_string();
            let info = self.node_infos.lock().get(&name).cloned();
            let info = info.unwrap_or_else(|| Arc::new(NodeInfo::from_node(node)));
            let should_run = should_run_on(&info, &probe);
            let mut pods = by_node.remove(&name).unwrap_or_default();
            if should_run {
                desired += 1;
                if pods.is_empty() {
                    create_on.push(name);
                    continue;
                }
                pods.sort_by_key(|p| {
                    p["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap_or("")
                        .to_string()
                });
                delete.extend(pods.drain(1..));
                let pod = &pods[0];
                status.scheduled += 1;
                let available = podutil::is_available(pod, min_ready, now);
                status.ready += podutil::is_ready(pod) as i64;
                status.available += available as i64;
                if pod["metadata"]["labels"][HASH_LABEL] == hash.as_str() {
                    status.updated += 1;
                } else {
                    old_pods.push((pod.clone(), available));
                }
            } else if !pods.is_empty() {
                status.misscheduled += 1;
                delete.extend(pods);
            }
        }
        // Pods for nodes that no longer exist.
        delete.extend(by_node.into_values().flatten());
        if self.expectations.satisfied(key) && !podutil::is_deleting(&ds) {
            if create_on.is_empty() && delete.is_empty() && is_rolling(&ds) {
                // Replace old pods: unavailable ones at once, then within maxUnavailable.
                let max_unavailable = max_unavailable(&ds, desired);
                let mut unavailable = desired - status.available;
                for (pod, available) in old_pods {
                    if !available {
                        delete.push(pod);
                    } else if unavailable < max_unavailable {
                        unavailable += 1;
                        delete.push(pod);
                    }
                }
            }
            self.manage(key, &ds, &template, &hash, create_on, delete)
                .await?;
        }
        self.update_status(&ds, desired, &status).await?;
        if min_ready > 0 && status.ready != status.available {
            return Ok(Some(std::time::Duration::from_secs(min_ready as u64)));
        }
        Ok(None)
    }

    async fn manage(
        &self,
        key: &str,
        ds: &Value,
        template: &Value,
        hash: &str,
        create_on: Vec<String>,
        delete: Vec<Arc<Value>>,
    ) -> Result<(), ControllerError> {
        let d = self.pods.descriptor().clone();
        let ns = podutil::namespace(ds);
        if !create_on.is_empty() {
            self.expectations
                .expect_creations(key, create_on.len() as i64);
            let owner = podutil::owner_ref(ds, API_VERSION, KIND);
            let mut failure = None;
            for node in &create_on {
                let mut pod = podutil::pod_from_template(template, ds, owner.clone());
                pod["metadata"]["labels"][HASH_LABEL] = json!(hash);
                pin_to_node(&mut pod, node);
                if let Err(e) = self.api.create(&d, ns, pod, &WriteOptions::default()).await {
                    self.expectations.creation_observed(key);
                    failure = Some(e);
                }
            }
            if let Some(e) = failure {
                return Err(e.into());
            }
        }
        if !delete.is_empty() {
            self.expectations
                .expect_deletions(key, delete.iter().map(|p| key_of(p)));
            for pod in &delete {
                let opts = DeleteOptions {
                    precondition_uid: Some(podutil::uid(pod).to_string()),
                    ..Default::default()
                };
                match self
                    .api
                    .delete(&d, podutil::namespace(pod), podutil::name(pod), &opts)
                    .await
                {
                    Ok(_) => {}
                    Err(ApiError::NotFound { .. } | ApiError::Conflict { .. }) => {
                        self.expectations.deletion_observed(key, &key_of(pod))
                    }
                    Err(e) => {
                        self.expectations.deletion_observed(key, &key_of(pod));
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(())
    }

    async fn update_status(
        &self,
        ds: &Value,
        desired: i64,
        c: &Counts,
    ) -> Result<(), ControllerError> {
        let status = json!({
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": c.scheduled,
            "numberMisscheduled": c.misscheduled,
            "numberReady": c.ready,
            "updatedNumberScheduled": c.updated,
            "numberAvailable": c.available,
            "numberUnavailable": (desired - c.available).max(0),
            "observedGeneration": ds["metadata"]["generation"].as_i64().unwrap_or(1),
        });
        let same = status
            .as_object()
            .expect("object")
            .iter()
            .all(|(k, v)| ds["status"][k].as_i64().unwrap_or(0) == v.as_i64().unwrap_or(0));
        if same {
            return Ok(());
        }
        let key = key_of(ds);
        let (ns, name) = split_key(&key);
        let d = self.sets.descriptor().clone();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let uid = podutil::uid(ds).to_string();
        match self
            .api
            .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                let mut next = current.clone();
                if podutil::uid(current) == uid {
                    if !next["status"].is_object() {
                        next["status"] = json!({});
                    }
                    for (k, v) in status.as_object().expect("object") {
                        next["status"][k] = v.clone();
                    }
                }
                Ok(next)
            })
            .await
        {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Default)]
struct Counts {
    scheduled: i64,
    misscheduled: i64,
    ready: i64,
    updated: i64,
    available: i64,
}

fn is_rolling(ds: &Value) -> bool {
    ds["spec"]["updateStrategy"]["type"]
        .as_str()
        .unwrap_or("RollingUpdate")
        == "RollingUpdate"
}

/// maxUnavailable (default 1) against the desired count, percentages rounded up, at least 1.
fn max_unavailable(ds: &Value, desired: i64) -> i64 {
    let v = &ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"];
    let n = match v {
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) => (p * desired + 99) / 100,
            None => s.parse().unwrap_or(1),
        },
        Value::Number(n) => n.as_i64().unwrap_or(1),
        _ => 1,
    };
    n.max(1)
}

/// The template with the tolerations every daemon pod gets (`AddOrUpdateDaemonPodTolerations`).
fn daemon_pod_template(ds: &Value) -> Value {
    let mut t = ds["spec"]["template"].clone();
    if !t["spec"].is_object() {
        t["spec"] = json!({});
    }
    let mut tolerations = t["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if t["spec"]["hostNetwork"] == true {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    for (key, effect) in wanted {
        let present = tolerations
            .iter()
            .any(|t| t["key"] == key && t["effect"] == effect);
        if !present {
            tolerations.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
    t["spec"]["tolerations"] = json!(tolerations);
    t
}

/// Whether a daemon pod belongs on `node`: its selector and required affinity match and
/// every NoSchedule/NoExecute taint is tolerated (resources are the scheduler's business).
#[cfg(test)]
fn should_run(node: &Value, pod: &PodInfo) -> bool {
    should_run_on(&NodeInfo::from_node(node), pod)
}

fn should_run_on(info: &NodeInfo, pod: &PodInfo) -> bool {
    filters::taint_toleration(info, pod).is_ok() && filters::node_affinity(info, pod).is_ok()
}

/// Replaces the pod's required node affinity with its node's name, as the DaemonSet
/// controller does so the default scheduler places it there.
fn pin_to_node(pod: &mut Value, node: &str) {
    let term =
        json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]});
    if !pod["spec"]["affinity"].is_object() {
        pod["spec"]["affinity"] = json!({});
    }
    if !pod["spec"]["affinity"]["nodeAffinity"].is_object() {
        pod["spec"]["affinity"]["nodeAffinity"] = json!({});
    }
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
        json!({"nodeSelectorTerms": [term]});
}

/// The node a daemon pod is for: where it is bound, else the node its affinity names.
fn target_node(pod: &Value) -> Option<String> {
    if let Some(n) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"]
        .as_array()?
        .iter()
        .flat_map(|t| t["matchFields"].as_array().into_iter().flatten())
        .find(|f| f["key"] == "metadata.name")
        .and_then(|f| f["values"][0].as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_pods_tolerate_cordons_but_not_other_taints() {
        let ds = json!({"spec": {"template": {"spec": {"containers": [{"name": "c"}], "nodeSelector": {"os": "linux"}}}}});
        let probe = PodInfo::parse(&daemon_pod_template(&ds));
        let node = |extra: Value| {
            let mut n = json!({"metadata": {"name": "n", "labels": {"os": "linux"}}, "spec": {}, "status": {}});
            n["spec"] = extra;
            n
        };
        assert!(should_run(
            &node(
                json!({"unschedulable": true, "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]})
            ),
            &probe
        ));
        assert!(!should_run(
            &node(
                json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]})
            ),
            &probe
        ));
        let mut windows = node(json!({}));
        windows["metadata"]["labels"]["os"] = json!("windows");
        assert!(!should_run(&windows, &probe));
        let mut pod = json!({"spec": {}});
        pin_to_node(&mut pod, "n1");
        assert_eq!(target_node(&pod).as_deref(), Some("n1"));
        assert_eq!(max_unavailable(&json!({}), 10), 1);
        assert_eq!(
            max_unavailable(
                &json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "25%"}}}}),
                10
            ),
            3
        );
    }
}
