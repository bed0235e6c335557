//! The ReplicaSet controller, as kube-controller-manager's: claims the pods its selector
//! matches (adopting orphans, releasing pods that no longer match), creates or deletes pods
//! toward `spec.replicas` in slow-start batches behind expectations (so a slow watch or a
//! restart never double-creates), deletes the lowest-ranked pods first, and reports
//! replicas, fullyLabeledReplicas, readyReplicas, availableReplicas and observedGeneration.

pub mod rank;

use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::rest::{DeleteOptions, Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::selector::LabelSelector;
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::{key_of, split_key, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::{Config, ControllerError, Informers};

/// At most this many pods are created or deleted in one sync (`burstReplicas`).
const BURST_REPLICAS: usize = 500;
const KIND: &str = "ReplicaSet";
const API_VERSION: &str = "apps/v1";

/// How long pod progress waits to be counted in its ReplicaSet's status, so that a large
/// ReplicaSet is synced a few times a second rather than once per pod change.
const STATUS_COALESCE: Duration = Duration::from_millis(100);

pub struct ReplicaSetController {
    api: Arc<ClusterApi>,
    pods: Arc<Informer>,
    sets: Arc<Informer>,
    queue: Arc<WorkQueue>,
    expectations: Expectations,
    recorder: Arc<Recorder>,
}

impl ReplicaSetController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers, config: &Config) {
        let me = Arc::new(Self {
            api: api.clone(),
            pods: informers.pods.clone(),
            sets: informers.replicasets.clone(),
            queue: WorkQueue::new("replicaset", api.clock.clone(), cluster_spawner(api)),
            expectations: Expectations::new(api.clock.clone()),
            recorder: Recorder::new(api.clone(), "replicaset-controller"),
        });
        let c = me.clone();
        informers.replicasets.on_change(move |change| {
            // Its own status writes need no new sync: pod changes bring those.
            if let Change::Updated { old, new } = change {
                if old["spec"] == new["spec"] && same_metadata(old, new) {
                    return;
                }
            }
            c.queue.add(key_of(change.object()))
        });
        let c = me.clone();
        informers.pods.on_change(move |change| c.on_pod(change));
        let workers = config.workers;
        api.spawn(async move {
            me.pods.wait_synced().await;
            me.sets.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), workers, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    /// The ReplicaSet controlling `pod`, by its controller reference.
    fn owner_key(&self, pod: &Value) -> Option<String> {
        let r = podutil::controller_ref(pod)?;
        if r["kind"] != KIND {
            return None;
        }
        Some(format!(
            "{}/{}",
            podutil::namespace(pod),
            r["name"].as_str().unwrap_or_default()
        ))
    }

    fn on_pod(&self, change: &Change) {
        let pod = change.object();
        let pod_key = key_of(pod);
        match change {
            Change::Added(p) => match self.owner_key(p) {
                Some(owner) => {
                    if podutil::is_deleting(p) {
                        self.expectations.deletion_observed(&owner, &pod_key);
                    } else {
                        self.expectations.creation_observed(&owner);
                    }
                    self.queue.add(owner);
                }
                None => self.enqueue_matching(p),
            },
            Change::Updated { old, new } => {
                let (old_owner, new_owner) = (self.owner_key(old), self.owner_key(new));
                if let Some(owner) = &new_owner {
                    let deleting = podutil::is_deleting(new) && !podutil::is_deleting(old);
                    if deleting {
                        self.expectations.deletion_observed(owner, &pod_key);
                    }
                    if deleting || old_owner != new_owner {
                        self.queue.add(owner.clone());
                    } else {
                        // A pod's own progress (bound, running, ready): one sync for the
                        // changes of a short window, not one per pod — a sync counts every
                        // pod of the ReplicaSet.
                        self.queue.add_after(owner.clone(), STATUS_COALESCE);
                    }
                }
                if old_owner != new_owner {
                    if let Some(o) = old_owner {
                        self.queue.add(o);
                    }
                }
                if new_owner.is_none() {
                    self.enqueue_matching(new);
                }
            }
            Change::Deleted(p) => {
                if let Some(owner) = self.owner_key(p) {
                    self.expectations.deletion_observed(&owner, &pod_key);
                    self.queue.add(owner);
                }
            }
        }
    }

    /// An orphan pod: every ReplicaSet of its namespace that selects it may adopt it.
    fn enqueue_matching(&self, pod: &Value) {
        if !podutil::is_active(pod) {
            return;
        }
        for rs in self.sets.by_index("namespace", podutil::namespace(pod)) {
            if selector_of(&rs).is_some_and(|s| s.matches(pod["metadata"].get("labels"))) {
                self.queue.add(key_of(&rs));
            }
        }
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(rs) = self.sets.get(key) else {
            self.expectations.forget(key);
            return Ok(None);
        };
        let Some(selector) = selector_of(&rs) else {
            return Err(ControllerError::Invalid(format!(
                "replicaset {key} has an invalid selector"
            )));
        };
        let pods = self.claim_pods(&rs, &selector).await?;
        let active: Vec<Arc<Value>> = pods.into_iter().filter(|p| podutil::is_active(p)).collect();
        let mut manage_error = None;
        if self.expectations.satisfied(key) && !podutil::is_deleting(&rs) {
            if let Err(e) = self.manage_replicas(key, &rs, &active).await {
                manage_error = Some(e);
            }
        }
        let requeue = self.update_status(&rs, &active).await?;
        match manage_error {
            Some(e) => Err(e),
            None => Ok(requeue),
        }
    }

    /// The pods this ReplicaSet owns after adopting and releasing, as `ClaimPods` does.
    /// Looks only at the pods it controls and the namespace's orphans (by index), not at
    /// every pod of the namespace: a sync costs what the ReplicaSet has.
    async fn claim_pods(
        &self,
        rs: &Value,
        selector: &LabelSelector,
    ) -> Result<Vec<Arc<Value>>, ControllerError> {
        let uid = podutil::uid(rs);
        let mut owned = Vec::new();
        let candidates = self
            .pods
            .by_index("owner", uid)
            .into_iter()
            .chain(self.pods.by_index("orphans", podutil::namespace(rs)));
        for pod in candidates {
            let matches = selector.matches(pod["metadata"].get("labels"));
            match podutil::controller_ref(&pod) {
                Some(r) if r["uid"] == uid => {
                    if matches || podutil::is_deleting(&pod) {
                        owned.push(pod);
                    } else {
                        self.set_pod_owner(&pod, rs, false).await?;
                    }
                }
                Some(_) => {}
                None => {
                    if matches && podutil::is_active(&pod) && !podutil::is_deleting(rs) {
                        if let Some(adopted) = self.set_pod_owner(&pod, rs, true).await? {
                            owned.push(Arc::new(adopted));
                        }
                    }
                }
            }
        }
        Ok(owned)
    }

    /// Adopts (`adopt`) or releases a pod by editing its owner references.
    async fn set_pod_owner(
        &self,
        pod: &Value,
        rs: &Value,
        adopt: bool,
    ) -> Result<Option<Value>, ControllerError> {
        let (ns, name) = (podutil::namespace(pod), podutil::name(pod));
        let d = self.pods.descriptor().clone();
        let uid = podutil::uid(rs).to_string();
        let owner = podutil::owner_ref(rs, API_VERSION, KIND);
        let result = self
            .api
            .guaranteed_update(&d, ns, name, &UpdateOptions::default(), 0, |current| {
                let mut p = current.clone();
                let mut refs: Vec<Value> = current["metadata"]["ownerReferences"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if adopt {
                    if podutil::controller_ref(current).is_some() {
                        return Ok(p); // someone else adopted it first
                    }
                    refs.push(owner.clone());
                } else {
                    refs.retain(|r| r["uid"] != uid.as_str());
                }
                p["metadata"]["ownerReferences"] = json!(refs);
                Ok(p)
            })
            .await;
        match result {
            Ok(p)
                if !adopt
                    || podutil::controller_ref(&p).is_some_and(|r| r["uid"] == uid.as_str()) =>
            {
                Ok(Some(p))
            }
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn manage_replicas(
        &self,
        key: &str,
        rs: &Value,
        active: &[Arc<Value>],
    ) -> Result<(), ControllerError> {
        let want = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        let have = active.len();
        if have < want {
            let n = (want - have).min(BURST_REPLICAS);
            let template = &rs["spec"]["template"];
            let owner = podutil::owner_ref(rs, API_VERSION, KIND);
            let d = self.pods.descriptor().clone();
            let ns = podutil::namespace(rs);
            let write = WriteOptions::default();
            crate::slow_start::create_pods(
                &self.expectations,
                key,
                n,
                |_| {
                    let pod = podutil::pod_from_template(template, rs, owner.clone());
                    self.api.create(&d, ns, pod, &write)
                },
                |type_, reason, message| {
                    self.recorder
                        .event(rs, API_VERSION, KIND, type_, reason, message)
                },
            )
            .await?;
        } else if have > want {
            let n = (have - want).min(BURST_REPLICAS);
            let victims = rank::pods_to_delete(active.to_vec(), n);
            self.expectations
                .expect_deletions(key, victims.iter().map(|p| key_of(p)));
            let d = self.pods.descriptor().clone();
            let mut failure = None;
            for pod in &victims {
                let opts = DeleteOptions {
                    precondition_uid: Some(podutil::uid(pod).to_string()),
                    ..Default::default()
                };
                match self
                    .api
                    .delete(&d, podutil::namespace(pod), podutil::name(pod), &opts)
                    .await
                {
                    Ok(_) => self.recorder.event(
                        rs,
                        API_VERSION,
                        KIND,
                        "Normal",
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", podutil::name(pod)),
                    ),
                    Err(e) => {
                        self.expectations.deletion_observed(key, &key_of(pod));
                        if !matches!(e, ApiError::NotFound { .. } | ApiError::Conflict { .. }) {
                            failure = Some(e);
                        }
                    }
                }
            }
            if let Some(e) = failure {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Writes the status; asks to come back when a ready pod becomes available.
    async fn update_status(
        &self,
        rs: &Value,
        active: &[Arc<Value>],
    ) -> Result<Option<Duration>, ControllerError> {
        let now = self.api.clock.wall();
        let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let template_labels = &rs["spec"]["template"]["metadata"]["labels"];
        let ready = active.iter().filter(|p| podutil::is_ready(p)).count();
        let available = active
            .iter()
            .filter(|p| podutil::is_available(p, min_ready, now))
            .count();
        let labeled = active
            .iter()
            .filter(|p| podutil::has_labels(p, template_labels))
            .count();
        let status = json!({
            "replicas": active.len(),
            "fullyLabeledReplicas": labeled,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"]["generation"].as_i64().unwrap_or(1),
        });
        let changed = [
            "replicas",
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
            "observedGeneration",
        ]
        .iter()
        .any(|f| rs["status"][*f].as_i64().unwrap_or(0) != status[*f].as_i64().unwrap_or(0));
        if changed {
            let key = key_of(rs);
            let (ns, name) = split_key(&key);
            let d = self.sets.descriptor().clone();
            let opts = UpdateOptions {
                subresource: Subresource::Status,
                ..Default::default()
            };
            let uid = podutil::uid(rs).to_string();
            let result = self
                .api
                .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                    let mut next = current.clone();
                    if podutil::uid(current) != uid {
                        return Ok(next);
                    }
                    if !next["status"].is_object() {
                        next["status"] = json!({});
                    }
                    for (k, v) in status.as_object().expect("status is an object") {
                        next["status"][k] = v.clone();
                    }
                    Ok(next)
                })
                .await;
            match result {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if min_ready > 0 && ready != available {
            return Ok(Some(Duration::from_secs(min_ready as u64)));
        }
        Ok(None)
    }
}

/// Whether two versions of an object agree on what a controller acts on: labels,
/// annotations, owners, finalizers and deletion (not resourceVersion or managedFields).
fn same_metadata(old: &Value, new: &Value) -> bool {
    [
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "deletionTimestamp",
    ]
    .iter()
    .all(|k| old["metadata"].get(*k) == new["metadata"].get(*k))
}

/// The ReplicaSet's (or Deployment's) label selector; `None` if it does not parse.
pub fn selector_of(obj: &Value) -> Option<LabelSelector> {
    LabelSelector::from_object(&obj["spec"]["selector"]).ok()
}
