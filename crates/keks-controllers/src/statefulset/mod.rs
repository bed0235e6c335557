//! The StatefulSet controller (apps/v1), as kube-controller-manager's: pods `<set>-<n>` for
//! ordinals `[start, start + replicas)` with their claims from `volumeClaimTemplates`
//! (`identity.rs`); OrderedReady creates one pod at a time, each once the ones below are
//! Running, Ready and available, and removes pods beyond the replicas from the highest
//! ordinal down, one at a time; Parallel does both at once. Failed or finished pods are
//! deleted and recreated with the same name. RollingUpdate replaces pods of an older
//! revision from the highest ordinal down to `partition`, one at a time and only while the
//! others are healthy; OnDelete leaves that to the user. Templates are recorded as
//! ControllerRevisions (`revision.rs`); the status (replicas, ready, available, current and
//! updated counts, currentRevision/updateRevision) is what `kubectl rollout status` reads.

pub mod identity;
pub mod revision;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::rest::{DeleteOptions, Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::events::Recorder;
use crate::informer::{key_of, split_key, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::{Config, ControllerError, Informers};

use identity::{ordinal_of, REVISION_LABEL};

const KIND: &str = "StatefulSet";
const API_VERSION: &str = "apps/v1";

pub struct StatefulSetController {
    api: Arc<ClusterApi>,
    sets: Arc<Informer>,
    pods: Arc<Informer>,
    revisions: Arc<Informer>,
    queue: Arc<WorkQueue>,
    recorder: Arc<Recorder>,
}

/// The two revisions a sync works with.
struct Revisions {
    current: Arc<Value>,
    update: Arc<Value>,
    collision_count: i64,
}

/// Whether the sync may go on after a step (OrderedReady waits).
enum Step {
    Continue,
    Wait,
}

impl StatefulSetController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers, config: &Config) {
        let me = Arc::new(Self {
            api: api.clone(),
            sets: informers.statefulsets.clone(),
            pods: informers.pods.clone(),
            revisions: informers.controllerrevisions.clone(),
            queue: WorkQueue::new("statefulset", api.clock.clone(), cluster_spawner(api)),
            recorder: Recorder::new(api.clone(), "statefulset-controller"),
        });
        let c = me.clone();
        informers
            .statefulsets
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers.pods.on_change(move |change: &Change| {
            let pod = change.object();
            if let Some(r) = podutil::controller_ref(pod).filter(|r| r["kind"] == KIND) {
                c.queue.add(format!(
                    "{}/{}",
                    podutil::namespace(pod),
                    r["name"].as_str().unwrap_or_default()
                ));
            }
        });
        let workers = config.workers;
        api.spawn(async move {
            me.sets.wait_synced().await;
            me.pods.wait_synced().await;
            me.revisions.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), workers, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(set) = self.sets.get(key) else {
            return Ok(None);
        };
        if podutil::is_deleting(&set) {
            return Ok(None); // the garbage collector takes the pods
        }
        let name = podutil::name(&set).to_string();
        let pods: Vec<Arc<Value>> = self
            .pods
            .by_index("owner", podutil::uid(&set))
            .into_iter()
            .filter(|p| ordinal_of(&name, p).is_some())
            .collect();
        let revs = self.revisions(&set).await?;
        let step = self.manage(&set, &pods, &revs).await;
        // The status is written whatever the step did; its error comes after.
        let requeue = self.update_status(&set, &pods, &revs).await?;
        step?;
        self.prune_revisions(&set, &pods, &revs).await?;
        Ok(requeue)
    }

    /// Finds (or records) the revision of the current template and the set's current one.
    async fn revisions(&self, set: &Value) -> Result<Revisions, ControllerError> {
        let all = self.revisions.by_index("owner", podutil::uid(set));
        let max = all.iter().map(|r| revision::number(r)).max().unwrap_or(0);
        let mut collision_count = set["status"]["collisionCount"].as_i64().unwrap_or(0);
        let d = self.revisions.descriptor().clone();
        let ns = podutil::namespace(set);
        let update = match revision::find_equal(&all, &set["spec"]["template"]) {
            Some(r) if revision::number(r) == max => r.clone(),
            Some(r) => {
                // Back to an earlier template (`rollout undo`): it becomes the newest.
                let name = podutil::name(r).to_string();
                let updated = self
                    .api
                    .guaranteed_update(&d, ns, &name, &UpdateOptions::default(), 0, |cur| {
                        let mut next = cur.clone();
                        next["revision"] = json!(max + 1);
                        Ok(next)
                    })
                    .await?;
                Arc::new(updated)
            }
            None => {
                let mut attempt = 0;
                loop {
                    let rev = revision::new_revision(set, max + 1, collision_count);
                    let rev_name = rev["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    match self.api.create(&d, ns, rev, &WriteOptions::default()).await {
                        Ok(r) => break Arc::new(r),
                        Err(ApiError::AlreadyExists { .. }) => {
                            let existing = self.api.get(&d, ns, &rev_name).await?;
                            let ours = podutil::controller_ref(&existing)
                                .is_some_and(|r| r["uid"] == podutil::uid(set));
                            if ours
                                && crate::deployment::util::equal_ignore_hash(
                                    &revision::template_of(&existing),
                                    &set["spec"]["template"],
                                )
                            {
                                break Arc::new(existing); // our cache was behind
                            }
                            // A hash collision: the status records it, the name changes.
                            collision_count += 1;
                            attempt += 1;
                            if attempt > 5 {
                                return Err(ControllerError::Invalid(format!(
                                    "cannot record a revision for {}",
                                    key_of(set)
                                )));
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        };
        let current = set["status"]["currentRevision"]
            .as_str()
            .and_then(|n| all.iter().find(|r| podutil::name(r) == n))
            .cloned()
            .unwrap_or_else(|| update.clone());
        Ok(Revisions {
            current,
            update,
            collision_count,
        })
    }

    /// One pass of `updateStatefulSet`: create, replace, scale down, roll.
    async fn manage(
        &self,
        set: &Value,
        pods: &[Arc<Value>],
        revs: &Revisions,
    ) -> Result<(), ControllerError> {
        let name = podutil::name(set);
        let start = identity::start_ordinal(set);
        let replicas = identity::replicas(set);
        let end = start + replicas;
        let monotonic = set["spec"]["podManagementPolicy"] != "Parallel";
        let min_ready = set["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let now = self.api.clock.wall();
        let healthy = |p: &Value| {
            podutil::phase(p) == "Running"
                && !podutil::is_deleting(p)
                && podutil::is_available(p, min_ready, now)
        };
        let mut slots: BTreeMap<i64, &Arc<Value>> = BTreeMap::new();
        let mut condemned: Vec<(i64, &Arc<Value>)> = Vec::new();
        for p in pods {
            let ord = ordinal_of(name, p).expect("filtered");
            if (start..end).contains(&ord) {
                slots.insert(ord, p);
            } else {
                condemned.push((ord, p));
            }
        }
        // Scale up and repair, lowest ordinal first.
        for ord in start..end {
            let step = match slots.get(&ord) {
                None => {
                    self.create_pod(set, revs, ord).await?;
                    Step::Wait
                }
                Some(p) if matches!(podutil::phase(p), "Failed" | "Succeeded") => {
                    // Recreated under the same name by a later sync.
                    self.delete_pod(set, p).await?;
                    Step::Wait
                }
                Some(p) if !healthy(p) => Step::Wait,
                Some(_) => Step::Continue,
            };
            if matches!(step, Step::Wait) && monotonic {
                return Ok(());
            }
        }
        // Scale down, highest ordinal first.
        condemned.sort_by_key(|(ord, _)| -ord);
        for (_, p) in condemned {
            if podutil::is_deleting(p) {
                if monotonic {
                    return Ok(());
                }
                continue;
            }
            self.delete_pod(set, p).await?;
            if monotonic {
                return Ok(());
            }
        }
        // Roll pods of older revisions, highest ordinal first, down to the partition.
        let strategy = &set["spec"]["updateStrategy"];
        if strategy["type"] == "OnDelete" {
            return Ok(());
        }
        let partition = strategy["rollingUpdate"]["partition"].as_i64().unwrap_or(0);
        let update_name = podutil::name(&revs.update);
        for ord in (start + partition.max(0)..end).rev() {
            let Some(p) = slots.get(&ord) else {
                continue;
            };
            let revision = p["metadata"]["labels"][REVISION_LABEL]
                .as_str()
                .unwrap_or("");
            if revision != update_name && !podutil::is_deleting(p) {
                self.delete_pod(set, p).await?;
                return Ok(());
            }
            if !healthy(p) {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn create_pod(
        &self,
        set: &Value,
        revs: &Revisions,
        ordinal: i64,
    ) -> Result<(), ControllerError> {
        let start = identity::start_ordinal(set);
        let strategy = &set["spec"]["updateStrategy"];
        let partition = strategy["rollingUpdate"]["partition"].as_i64().unwrap_or(0);
        // Below the partition pods stay at the current revision (newVersionedStatefulSetPod).
        let rev = if strategy["type"] != "OnDelete" && ordinal < start + partition {
            &revs.current
        } else {
            &revs.update
        };
        let template = revision::template_of(rev);
        let ns = podutil::namespace(set);
        let pod_name = identity::pod_name(set, ordinal);
        let pvc_d = self
            .api
            .registry
            .get("", "v1", "persistentvolumeclaims")
            .expect("built in");
        for claim in identity::claims(set, ordinal) {
            let claim_name = claim["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match self
                .api
                .create(&pvc_d, ns, claim, &WriteOptions::default())
                .await
            {
                Ok(_) => self.event(
                    set,
                    "Normal",
                    "SuccessfulCreate",
                    format!(
                        "create Claim {claim_name} Pod {pod_name} in StatefulSet {} success",
                        podutil::name(set)
                    ),
                ),
                Err(ApiError::AlreadyExists { .. }) => {}
                Err(e) => {
                    self.event(
                        set,
                        "Warning",
                        "FailedCreate",
                        format!("create Claim {claim_name} for Pod {pod_name} in StatefulSet {} failed error: {e}", podutil::name(set)),
                    );
                    return Err(e.into());
                }
            }
        }
        let owner = podutil::owner_ref(set, API_VERSION, KIND);
        let pod = identity::new_pod(set, &template, podutil::name(rev), ordinal, owner);
        match self
            .api
            .create(self.pods.descriptor(), ns, pod, &WriteOptions::default())
            .await
        {
            Ok(_) => {
                self.event(
                    set,
                    "Normal",
                    "SuccessfulCreate",
                    format!(
                        "create Pod {pod_name} in StatefulSet {} successful",
                        podutil::name(set)
                    ),
                );
                Ok(())
            }
            // Our cache is behind: the pod is there.
            Err(ApiError::AlreadyExists { .. }) => Ok(()),
            Err(e) => {
                self.event(
                    set,
                    "Warning",
                    "FailedCreate",
                    format!(
                        "create Pod {pod_name} in StatefulSet {} failed error: {e}",
                        podutil::name(set)
                    ),
                );
                Err(e.into())
            }
        }
    }

    async fn delete_pod(&self, set: &Value, pod: &Value) -> Result<(), ControllerError> {
        let opts = DeleteOptions {
            precondition_uid: Some(podutil::uid(pod).to_string()),
            ..Default::default()
        };
        match self
            .api
            .delete(
                self.pods.descriptor(),
                podutil::namespace(pod),
                podutil::name(pod),
                &opts,
            )
            .await
        {
            Ok(_) => {
                self.event(
                    set,
                    "Normal",
                    "SuccessfulDelete",
                    format!(
                        "delete Pod {} in StatefulSet {} successful",
                        podutil::name(pod),
                        podutil::name(set)
                    ),
                );
                Ok(())
            }
            Err(ApiError::NotFound { .. } | ApiError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the status; asks to come back when a ready pod becomes available.
    async fn update_status(
        &self,
        set: &Value,
        pods: &[Arc<Value>],
        revs: &Revisions,
    ) -> Result<Option<Duration>, ControllerError> {
        let min_ready = set["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let now = self.api.clock.wall();
        let current_name = podutil::name(&revs.current).to_string();
        let update_name = podutil::name(&revs.update).to_string();
        let counts = Counts::of(pods, &current_name, &update_name, min_ready, now);
        let mut current_revision = current_name.clone();
        let mut current_replicas = counts.current;
        let rolling = set["spec"]["updateStrategy"]["type"] != "OnDelete";
        // completeRollingUpdate: every pod updated and ready makes the update current.
        if rolling && counts.updated == counts.replicas && counts.ready == counts.replicas {
            current_revision = update_name.clone();
            current_replicas = counts.updated;
        }
        let status = json!({
            "observedGeneration": set["metadata"]["generation"].as_i64().unwrap_or(1),
            "replicas": counts.replicas,
            "readyReplicas": counts.ready,
            "availableReplicas": counts.available,
            "currentReplicas": current_replicas,
            "updatedReplicas": counts.updated,
            "currentRevision": current_revision,
            "updateRevision": update_name,
            "collisionCount": revs.collision_count,
        });
        let same = status
            .as_object()
            .expect("object")
            .iter()
            .all(|(k, v)| set["status"].get(k).unwrap_or(&json!(0)) == v);
        if !same {
            let key = key_of(set);
            let (ns, name) = split_key(&key);
            let uid = podutil::uid(set).to_string();
            let opts = UpdateOptions {
                subresource: Subresource::Status,
                ..Default::default()
            };
            let result = self
                .api
                .guaranteed_update(self.sets.descriptor(), ns, name, &opts, 0, |cur| {
                    let mut next = cur.clone();
                    if podutil::uid(cur) != uid {
                        return Ok(next);
                    }
                    if !next["status"].is_object() {
                        next["status"] = json!({});
                    }
                    for (k, v) in status.as_object().expect("object") {
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
        if min_ready > 0 && counts.ready != counts.available {
            return Ok(Some(Duration::from_secs(min_ready as u64)));
        }
        Ok(None)
    }

    /// Deletes revisions beyond `revisionHistoryLimit` that nothing uses.
    async fn prune_revisions(
        &self,
        set: &Value,
        pods: &[Arc<Value>],
        revs: &Revisions,
    ) -> Result<(), ControllerError> {
        let all = self.revisions.by_index("owner", podutil::uid(set));
        let mut live: Vec<&str> = vec![podutil::name(&revs.current), podutil::name(&revs.update)];
        live.extend(
            pods.iter()
                .filter_map(|p| p["metadata"]["labels"][REVISION_LABEL].as_str()),
        );
        let limit = set["spec"]["revisionHistoryLimit"]
            .as_i64()
            .unwrap_or(10)
            .max(0) as usize;
        let d = self.revisions.descriptor().clone();
        for r in revision::to_prune(&all, &live, limit) {
            let opts = DeleteOptions {
                precondition_uid: Some(podutil::uid(r).to_string()),
                ..Default::default()
            };
            match self
                .api
                .delete(&d, podutil::namespace(r), podutil::name(r), &opts)
                .await
            {
                Ok(_) | Err(ApiError::NotFound { .. } | ApiError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn event(&self, set: &Value, type_: &str, reason: &str, message: String) {
        self.recorder
            .event(set, API_VERSION, KIND, type_, reason, message);
    }
}

/// The pod counts of a StatefulSet's status (`computeReplicaStatus`).
#[derive(Debug, Default, PartialEq)]
struct Counts {
    replicas: i64,
    ready: i64,
    available: i64,
    current: i64,
    updated: i64,
}

impl Counts {
    fn of(
        pods: &[Arc<Value>],
        current: &str,
        update: &str,
        min_ready: i64,
        now: std::time::SystemTime,
    ) -> Self {
        let mut c = Counts::default();
        for p in pods {
            c.replicas += 1;
            let running = podutil::phase(p) == "Running" && !podutil::is_deleting(p);
            if running && podutil::is_ready(p) {
                c.ready += 1;
                if podutil::is_available(p, min_ready, now) {
                    c.available += 1;
                }
            }
            if !podutil::is_deleting(p) {
                let rev = p["metadata"]["labels"][REVISION_LABEL]
                    .as_str()
                    .unwrap_or("");
                c.current += (rev == current) as i64;
                c.updated += (rev == update) as i64;
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_revisions_and_readiness() {
        let pod = |name: &str, rev: &str, ready: bool, deleting: bool| {
            let mut p = json!({"metadata": {"name": name, "labels": {REVISION_LABEL: rev}},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}});
            if deleting {
                p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
            }
            Arc::new(p)
        };
        let pods = vec![
            pod("web-0", "web-a", true, false),
            pod("web-1", "web-b", true, false),
            pod("web-2", "web-a", false, true),
        ];
        let c = Counts::of(
            &pods,
            "web-a",
            "web-b",
            0,
            std::time::SystemTime::UNIX_EPOCH,
        );
        assert_eq!(
            c,
            Counts {
                replicas: 3,
                ready: 2,
                available: 2,
                current: 1,
                updated: 1
            }
        );
    }
}
