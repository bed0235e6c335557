//! The Job controller (batch/v1), as kube-controller-manager's with finalizer tracking:
//! every pod it creates carries the `batch.kubernetes.io/job-tracking` finalizer; a pod that
//! finished (or is being deleted before it succeeded, which counts as a failure) is first
//! recorded in `status.uncountedTerminatedPods`, then its finalizer is removed, then it moves
//! into `succeeded`/`failed` — so no pod is counted twice or lost, even when pods are deleted
//! right after they end or keks restarts in between. Between those steps it keeps
//! parallelism/completions worth of pods active (NonIndexed or Indexed, with the pod failure
//! backoff of 10 s doubling), fails the Job past `backoffLimit` or `activeDeadlineSeconds`
//! and completes it, writing the interim `FailureTarget`/`SuccessCriteriaMet` conditions
//! first and `Failed`/`Complete` once no pod is left terminating (as 1.31+ do), and deletes
//! the active pods of a suspended Job. The arithmetic is in `status.rs`.

pub mod status;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::rest::meta::{parse, timestamp};
use keks_apiserver::rest::{DeleteOptions, Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use keks_core::Instant;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::{key_of, split_key, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::replicaset::rank;
use crate::{Config, ControllerError, Informers};

use status::{is_indexed, INDEX_KEY};

const KIND: &str = "Job";
const API_VERSION: &str = "batch/v1";
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// At most this many pods are created in one sync (kube's `MaxPodCreateDeletePerSync`).
const MAX_CREATE_PER_SYNC: usize = 500;

/// Failures since the last success of one Job, for the pod failure backoff.
#[derive(Clone, Copy)]
struct Backoff {
    failures: u32,
    last_failure: Instant,
}

pub struct JobController {
    api: Arc<ClusterApi>,
    jobs: Arc<Informer>,
    pods: Arc<Informer>,
    queue: Arc<WorkQueue>,
    expectations: Expectations,
    recorder: Arc<Recorder>,
    /// By Job uid; lost on restart, as kube's in-memory backoff store is.
    backoff: Mutex<HashMap<String, Backoff>>,
    /// Uids of pods whose finalizer we removed but whose update the pod cache has not shown
    /// yet (kube's `expectedRmFinalizers`): such a pod is never taken as newly finished
    /// again, which would count it twice.
    finalizer_removed: Mutex<HashSet<String>>,
}

/// The pods of one Job, sorted by what they count as.
#[derive(Default)]
struct PodSets {
    active: Vec<Arc<Value>>,
    /// Being deleted before they ended, with the tracking finalizer still on.
    terminating: Vec<Arc<Value>>,
    /// Finished or failed pods not yet in `uncountedTerminatedPods`: (pod, succeeded).
    newly_finished: Vec<(Arc<Value>, bool)>,
    /// Pods whose finalizer should go without counting them (deleted while suspended).
    release_uncounted: Vec<Arc<Value>>,
}

impl JobController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers, config: &Config) {
        let me = Arc::new(Self {
            api: api.clone(),
            jobs: informers.jobs.clone(),
            pods: informers.pods.clone(),
            queue: WorkQueue::new("job", api.clock.clone(), cluster_spawner(api)),
            expectations: Expectations::new(api.clock.clone()),
            recorder: Recorder::new(api.clone(), "job-controller"),
            backoff: Mutex::default(),
            finalizer_removed: Mutex::default(),
        });
        let c = me.clone();
        informers
            .jobs
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers.pods.on_change(move |change| c.on_pod(change));
        let workers = config.workers;
        api.spawn(async move {
            me.jobs.wait_synced().await;
            me.pods.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), workers, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    fn owner_key(pod: &Value) -> Option<String> {
        let r = podutil::controller_ref(pod)?;
        (r["kind"] == KIND && r["apiVersion"] == API_VERSION).then(|| {
            format!(
                "{}/{}",
                podutil::namespace(pod),
                r["name"].as_str().unwrap_or_default()
            )
        })
    }

    fn on_pod(&self, change: &Change) {
        let pod = change.object();
        if matches!(change, Change::Deleted(_)) || !has_finalizer(pod) {
            self.finalizer_removed.lock().remove(podutil::uid(pod));
        }
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

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(job) = self.jobs.get(key) else {
            self.expectations.forget(key);
            self.release_orphans(key).await?;
            return Ok(None);
        };
        let uid = podutil::uid(&job).to_string();
        let pods = self.pods.by_index("owner", &uid);
        if podutil::is_deleting(&job) || status::is_finished(&job) {
            // Nothing is counted any more: whatever still holds the pods lets them go.
            self.backoff.lock().remove(&uid);
            let held: Vec<_> = pods.into_iter().filter(|p| has_finalizer(p)).collect();
            self.remove_finalizers(&held).await?;
            return Ok(None);
        }
        let suspended = status::is_suspended(&job);
        let sets = {
            let removed = self.finalizer_removed.lock();
            let pods: Vec<Arc<Value>> = pods
                .iter()
                .filter(|p| !removed.contains(podutil::uid(p)))
                .cloned()
                .collect();
            classify(&job, &pods, suspended)
        };

        // 1. Record newly finished pods (and their completion indexes) before anything else.
        let mut job = job;
        if !sets.newly_finished.is_empty() {
            job = Arc::new(self.record_uncounted(&job, &sets.newly_finished).await?);
        }
        self.remove_finalizers(&sets.release_uncounted).await?;
        // 2. Let the recorded pods go; those whose finalizer is gone are counted below.
        let (recorded_ok, recorded_failed) = uncounted(&job);
        let by_uid: HashMap<&str, &Arc<Value>> =
            pods.iter().map(|p| (podutil::uid(p), p)).collect();
        let mut to_release = Vec::new();
        let mut released: HashSet<String> = HashSet::new();
        for uid in recorded_ok.iter().chain(&recorded_failed) {
            match by_uid.get(uid.as_str()) {
                Some(p) if has_finalizer(p) => to_release.push((*p).clone()),
                _ => {
                    released.insert(uid.clone());
                }
            }
        }
        for (pod, result) in self.remove_finalizers_each(&to_release).await {
            match result {
                Ok(()) => {
                    released.insert(podutil::uid(&pod).to_string());
                }
                Err(e) => {
                    tracing::debug!(pod = %key_of(&pod), error = %e, "finalizer not removed yet")
                }
            }
        }
        let moved_ok = recorded_ok.iter().filter(|u| released.contains(*u)).count() as i64;
        let moved_failed = recorded_failed
            .iter()
            .filter(|u| released.contains(*u))
            .count() as i64;
        self.note_backoff(&uid, moved_ok, moved_failed);

        // 3. Decide.
        // Every recorded pod's outcome is final, counted yet or not (kube adds the
        // uncounted ones too), so a slow finalizer removal never starts an extra pod.
        let succeeded = count(&job, "succeeded") + recorded_ok.len() as i64;
        let failed = count(&job, "failed") + recorded_failed.len() as i64;
        let completions = status::completions(&job).unwrap_or(0);
        let completed = if is_indexed(&job) {
            status::parse_indexes(
                job["status"]["completedIndexes"].as_str().unwrap_or(""),
                completions,
            )
        } else {
            BTreeSet::new()
        };
        let active_n = sets.active.len() as i64;
        let terminating = sets
            .terminating
            .iter()
            .filter(|p| !released.contains(podutil::uid(p)))
            .count() as i64;
        let restarts: i64 = sets.active.iter().map(|p| restart_count(p)).sum();
        let wall = self.api.clock.wall();
        let deadline = self.deadline(&job, suspended);
        let deadline_passed = deadline.is_some_and(|d| wall >= d);
        let failure = condition_of(&job, "FailureTarget").or_else(|| {
            status::failure(&job, failed, restarts, deadline_passed)
                .map(|(r, m)| (r.to_string(), m.to_string()))
        });
        let success = failure.is_none()
            && (status::has_condition(&job, "SuccessCriteriaMet")
                || status::success_met(&job, succeeded, completed.len(), active_n));

        let mut requeue: Option<Duration> = None;
        if failure.is_some() || success || suspended {
            // Failing, done, or suspended: no pod may go on running.
            self.delete_pods(key, &job, &sets.active).await?;
        } else if self.expectations.satisfied(key) {
            requeue = self
                .manage(key, &job, &sets, succeeded, &completed, terminating)
                .await?;
        }

        // 4. Write the status.
        let counted = Counted {
            released,
            active: active_n,
            ready: sets.active.iter().filter(|p| podutil::is_ready(p)).count() as i64,
            terminating,
            suspended,
            failure,
            success,
            stamp: timestamp(wall),
        };
        let finished = self.write_status(&job, &counted).await?;
        if finished {
            return Ok(None);
        }
        if let Some(d) = deadline.filter(|_| !suspended) {
            let left = d.duration_since(wall).unwrap_or(Duration::ZERO);
            if !left.is_zero() {
                requeue = Some(requeue.map_or(left, |r| r.min(left)));
            }
        }
        Ok(requeue)
    }

    /// When `activeDeadlineSeconds` runs out (never while suspended).
    fn deadline(&self, job: &Value, suspended: bool) -> Option<std::time::SystemTime> {
        let seconds = job["spec"]["activeDeadlineSeconds"].as_i64()?;
        if suspended {
            return None;
        }
        let start = job["status"]["startTime"].as_str().and_then(parse)?;
        Some(start + Duration::from_secs(seconds.max(0) as u64))
    }

    fn note_backoff(&self, uid: &str, succeeded: i64, failed: i64) {
        let mut map = self.backoff.lock();
        if succeeded > 0 {
            map.remove(uid);
        }
        if failed > 0 {
            let entry = map.entry(uid.to_string()).or_insert(Backoff {
                failures: 0,
                last_failure: self.api.clock.now(),
            });
            entry.failures += failed as u32;
            entry.last_failure = self.api.clock.now();
        }
    }

    /// How long new pods must still wait after the Job's recent failures.
    fn backoff_left(&self, uid: &str) -> Duration {
        let Some(b) = self.backoff.lock().get(uid).copied() else {
            return Duration::ZERO;
        };
        let until = b.last_failure + status::pod_failure_backoff(b.failures);
        until.saturating_duration_since(self.api.clock.now())
    }

    /// Creates or deletes pods toward the active count the Job wants; returns when to look
    /// again if the failure backoff holds creations back.
    async fn manage(
        &self,
        key: &str,
        job: &Value,
        sets: &PodSets,
        succeeded: i64,
        completed: &BTreeSet<i64>,
        terminating: i64,
    ) -> Result<Option<Duration>, ControllerError> {
        let active = sets.active.len() as i64;
        // With `podReplacementPolicy: Failed` a terminating pod still holds its place.
        let holding = if job["spec"]["podReplacementPolicy"] == "Failed" {
            active + terminating
        } else {
            active
        };
        let indexed = is_indexed(job);
        let want = if indexed {
            let c = status::completions(job).unwrap_or(0);
            status::parallelism(job).min((c - completed.len() as i64).max(0))
        } else {
            status::want_active(job, succeeded, active)
        };
        // Pods for indexes already done (or duplicated, or out of range) go first.
        let mut delete: Vec<Arc<Value>> = Vec::new();
        let mut keep: Vec<Arc<Value>> = Vec::new();
        if indexed {
            let c = status::completions(job).unwrap_or(0);
            let mut seen = BTreeSet::new();
            let mut ordered = sets.active.clone();
            ordered.sort_by_key(|p| !podutil::is_ready(p));
            for p in ordered {
                match status::pod_index(&p) {
                    Some(i) if i < c && !completed.contains(&i) && seen.insert(i) => keep.push(p),
                    _ => delete.push(p),
                }
            }
        } else {
            keep = sets.active.clone();
        }
        let kept = keep.len() as i64;
        if kept > want {
            delete.extend(rank::pods_to_delete(keep, (kept - want) as usize));
        }
        if !delete.is_empty() {
            self.delete_pods(key, job, &delete).await?;
            return Ok(None);
        }
        let missing = want - holding.max(kept);
        if missing <= 0 {
            return Ok(None);
        }
        let wait = self.backoff_left(podutil::uid(job));
        if !wait.is_zero() {
            return Ok(Some(wait));
        }
        let indexes: Vec<Option<i64>> = if indexed {
            let taken: BTreeSet<i64> = sets
                .active
                .iter()
                .chain(if job["spec"]["podReplacementPolicy"] == "Failed" {
                    sets.terminating.iter()
                } else {
                    sets.terminating[..0].iter()
                })
                .filter_map(|p| status::pod_index(p))
                .collect();
            let c = status::completions(job).unwrap_or(0);
            status::indexes_to_start(c, completed, &taken, missing)
                .into_iter()
                .map(Some)
                .collect()
        } else {
            vec![None; missing as usize]
        };
        self.create_pods(key, job, &indexes).await?;
        Ok(None)
    }

    async fn create_pods(
        &self,
        key: &str,
        job: &Value,
        indexes: &[Option<i64>],
    ) -> Result<(), ControllerError> {
        let indexes = &indexes[..indexes.len().min(MAX_CREATE_PER_SYNC)];
        if indexes.is_empty() {
            return Ok(());
        }
        let d = self.pods.descriptor().clone();
        let ns = podutil::namespace(job);
        let owner = podutil::owner_ref(job, API_VERSION, KIND);
        let write = WriteOptions::default();
        crate::slow_start::create_pods(
            &self.expectations,
            key,
            indexes.len(),
            |i| {
                let pod = job_pod(job, owner.clone(), indexes[i]);
                self.api.create(&d, ns, pod, &write)
            },
            |type_, reason, message| self.event(job, type_, reason, message),
        )
        .await?;
        Ok(())
    }

    async fn delete_pods(
        &self,
        key: &str,
        job: &Value,
        pods: &[Arc<Value>],
    ) -> Result<(), ControllerError> {
        if pods.is_empty() {
            return Ok(());
        }
        self.expectations
            .expect_deletions(key, pods.iter().map(|p| key_of(p)));
        let d = self.pods.descriptor().clone();
        let mut failure = None;
        for pod in pods {
            let opts = DeleteOptions {
                precondition_uid: Some(podutil::uid(pod).to_string()),
                ..Default::default()
            };
            match self
                .api
                .delete(&d, podutil::namespace(pod), podutil::name(pod), &opts)
                .await
            {
                Ok(_) => self.event(
                    job,
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
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Adds finished pods to `uncountedTerminatedPods` (and their indexes to
    /// `completedIndexes`) on the stored Job; returns the Job as written.
    async fn record_uncounted(
        &self,
        job: &Value,
        finished: &[(Arc<Value>, bool)],
    ) -> Result<Value, ControllerError> {
        let key = key_of(job);
        let (ns, name) = split_key(&key);
        let uid = podutil::uid(job).to_string();
        let d = self.jobs.descriptor().clone();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        // Only against the Job as this sync saw it: a stale cache might not show pods that
        // were already counted (kube updates with the resourceVersion too).
        let seen = keks_apiserver::rest::resource_version(job)?;
        let written = self
            .api
            .guaranteed_update(&d, ns, name, &opts, seen, |current| {
                let mut next = current.clone();
                if podutil::uid(current) != uid {
                    return Ok(next);
                }
                ensure_status(&mut next);
                let mut completed = if is_indexed(current) {
                    status::parse_indexes(
                        current["status"]["completedIndexes"].as_str().unwrap_or(""),
                        status::completions(current).unwrap_or(0),
                    )
                } else {
                    BTreeSet::new()
                };
                let (mut ok, mut failed) = uncounted(current);
                for (pod, succeeded) in finished {
                    let pod_uid = podutil::uid(pod).to_string();
                    if *succeeded {
                        if let Some(i) = status::pod_index(pod)
                            .filter(|i| *i < status::completions(current).unwrap_or(0))
                        {
                            completed.insert(i);
                        }
                        if !ok.contains(&pod_uid) {
                            ok.push(pod_uid);
                        }
                    } else if !failed.contains(&pod_uid) {
                        failed.push(pod_uid);
                    }
                }
                next["status"]["uncountedTerminatedPods"] = uncounted_value(&ok, &failed);
                if is_indexed(current) && !completed.is_empty() {
                    next["status"]["completedIndexes"] = json!(status::format_indexes(&completed));
                }
                Ok(next)
            })
            .await?;
        Ok(written)
    }

    /// Writes counters, conditions and times; returns whether the Job is now finished.
    async fn write_status(&self, job: &Value, c: &Counted) -> Result<bool, ControllerError> {
        let key = key_of(job);
        let (ns, name) = split_key(&key);
        let uid = podutil::uid(job).to_string();
        let d = self.jobs.descriptor().clone();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let before = job.clone();
        let result = self
            .api
            .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                let mut next = current.clone();
                if podutil::uid(current) != uid || status::is_finished(current) {
                    return Ok(next);
                }
                apply_status(&mut next, c);
                Ok(next)
            })
            .await;
        let after = match result {
            Ok(v) => v,
            Err(ApiError::NotFound { .. }) => return Ok(true),
            Err(e) => return Err(e.into()),
        };
        self.transition_events(&before, &after);
        Ok(status::is_finished(&after))
    }

    fn transition_events(&self, before: &Value, after: &Value) {
        let newly = |t: &str| status::has_condition(after, t) && !status::has_condition(before, t);
        if newly("Complete") {
            self.event(after, "Normal", "Completed", "Job completed".into());
        }
        if newly("FailureTarget") {
            if let Some((reason, message)) = condition_of(after, "FailureTarget") {
                self.event(after, "Warning", &reason, message);
            }
        }
        if newly("Suspended") {
            self.event(after, "Normal", "Suspended", "Job suspended".into());
        }
        let resumed = status::has_condition(before, "Suspended")
            && crate::podutil::condition(after, "Suspended")
                .is_some_and(|c| c["status"] == "False");
        if resumed {
            self.event(after, "Normal", "Resumed", "Job resumed".into());
        }
    }

    fn event(&self, job: &Value, type_: &str, reason: &str, message: String) {
        self.recorder
            .event(job, API_VERSION, KIND, type_, reason, message);
    }

    /// Pods of a Job that is gone keep no finalizer of ours (they would never go away).
    async fn release_orphans(&self, key: &str) -> Result<(), ControllerError> {
        let (ns, name) = split_key(key);
        let held: Vec<Arc<Value>> = self
            .pods
            .by_index("namespace", ns)
            .into_iter()
            .filter(|p| has_finalizer(p))
            .filter(|p| {
                podutil::controller_ref(p).is_some_and(|r| r["kind"] == KIND && r["name"] == name)
            })
            .collect();
        self.remove_finalizers(&held).await
    }

    async fn remove_finalizers(&self, pods: &[Arc<Value>]) -> Result<(), ControllerError> {
        for (_, result) in self.remove_finalizers_each(pods).await {
            result?;
        }
        Ok(())
    }

    async fn remove_finalizers_each(
        &self,
        pods: &[Arc<Value>],
    ) -> Vec<(Arc<Value>, Result<(), ControllerError>)> {
        let d = self.pods.descriptor().clone();
        let removals = pods.iter().map(|pod| {
            let d = d.clone();
            let pod = pod.clone();
            async move {
                let uid = podutil::uid(&pod).to_string();
                let result = self
                    .api
                    .guaranteed_update(
                        &d,
                        podutil::namespace(&pod),
                        podutil::name(&pod),
                        &UpdateOptions::default(),
                        0,
                        |current| {
                            let mut next = current.clone();
                            if podutil::uid(current) == uid {
                                if let Some(list) = next["metadata"]["finalizers"].as_array_mut() {
                                    list.retain(|f| f != TRACKING_FINALIZER);
                                }
                            }
                            Ok(next)
                        },
                    )
                    .await;
                let result = match result {
                    Ok(p) => {
                        if !has_finalizer(&p) {
                            self.finalizer_removed.lock().insert(uid);
                        }
                        Ok(())
                    }
                    Err(ApiError::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                };
                (pod, result)
            }
        });
        futures::future::join_all(removals).await
    }
}

/// What one sync found, for the status write.
struct Counted {
    /// Uids of recorded pods whose finalizer is gone: they move into the counters.
    released: HashSet<String>,
    active: i64,
    ready: i64,
    terminating: i64,
    suspended: bool,
    failure: Option<(String, String)>,
    success: bool,
    stamp: String,
}

/// Applies one sync's findings to the stored Job's status (`next` is a fresh read).
fn apply_status(next: &mut Value, c: &Counted) {
    ensure_status(next);
    let (ok, failed) = uncounted(next);
    let (moved_ok, left_ok): (Vec<String>, Vec<String>) =
        ok.into_iter().partition(|u| c.released.contains(u));
    let (moved_failed, left_failed): (Vec<String>, Vec<String>) =
        failed.into_iter().partition(|u| c.released.contains(u));
    let s = &mut next["status"];
    s["succeeded"] = json!(s["succeeded"].as_i64().unwrap_or(0) + moved_ok.len() as i64);
    s["failed"] = json!(s["failed"].as_i64().unwrap_or(0) + moved_failed.len() as i64);
    s["uncountedTerminatedPods"] = uncounted_value(&left_ok, &left_failed);
    s["active"] = json!(c.active);
    s["ready"] = json!(c.ready);
    s["terminating"] = json!(c.terminating);
    for field in ["succeeded", "failed", "active"] {
        // kube omits zero counters.
        if s[field] == 0 {
            s.as_object_mut().expect("status").remove(field);
        }
    }
    let suspended_before = status::has_condition(next, "Suspended");
    if c.suspended {
        podutil::set_condition(
            next,
            json!({"type": "Suspended", "status": "True", "reason": "JobSuspended", "message": "Job suspended", "lastProbeTime": c.stamp}),
            &c.stamp,
        );
    } else {
        if suspended_before {
            podutil::set_condition(
                next,
                json!({"type": "Suspended", "status": "False", "reason": "JobResumed", "message": "Job resumed", "lastProbeTime": c.stamp}),
                &c.stamp,
            );
            // A resumed Job's activeDeadlineSeconds counts from now.
            next["status"]["startTime"] = json!(c.stamp);
        }
        if next["status"]["startTime"].is_null() {
            next["status"]["startTime"] = json!(c.stamp);
        }
    }
    if let Some((reason, message)) = &c.failure {
        podutil::set_condition(
            next,
            json!({"type": "FailureTarget", "status": "True", "reason": reason, "message": message, "lastProbeTime": c.stamp}),
            &c.stamp,
        );
    } else if c.success {
        podutil::set_condition(
            next,
            json!({"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": c.stamp}),
            &c.stamp,
        );
    }
    // The terminal condition waits until every pod is counted and none is running or
    // terminating.
    let settled =
        left_ok.is_empty() && left_failed.is_empty() && c.terminating == 0 && c.active == 0;
    if settled {
        if let Some((reason, message)) = condition_of(next, "FailureTarget") {
            podutil::set_condition(
                next,
                json!({"type": "Failed", "status": "True", "reason": reason, "message": message, "lastProbeTime": c.stamp}),
                &c.stamp,
            );
        } else if let Some((reason, message)) = condition_of(next, "SuccessCriteriaMet") {
            podutil::set_condition(
                next,
                json!({"type": "Complete", "status": "True", "reason": reason, "message": message, "lastProbeTime": c.stamp}),
                &c.stamp,
            );
            next["status"]["completionTime"] = json!(c.stamp);
        }
    }
}

/// Sorts a Job's pods: active, terminating, newly finished (not yet recorded).
fn classify(job: &Value, pods: &[Arc<Value>], suspended: bool) -> PodSets {
    let (ok, failed) = uncounted(job);
    let mut sets = PodSets::default();
    for pod in pods {
        let uid = podutil::uid(pod).to_string();
        let phase = podutil::phase(pod);
        let tracked = has_finalizer(pod) && !ok.contains(&uid) && !failed.contains(&uid);
        match phase {
            "Succeeded" if tracked => sets.newly_finished.push((pod.clone(), true)),
            "Failed" if tracked => sets.newly_finished.push((pod.clone(), false)),
            "Succeeded" | "Failed" => {}
            _ if podutil::is_deleting(pod) => {
                if !tracked {
                    continue;
                }
                if suspended {
                    // Suspension deletes pods on purpose; that is not a failure.
                    sets.release_uncounted.push(pod.clone());
                } else {
                    // Deleted before it succeeded: a failure (podReplacementPolicy
                    // TerminatingOrFailed counts it at once).
                    sets.newly_finished.push((pod.clone(), false));
                    sets.terminating.push(pod.clone());
                }
            }
            _ => sets.active.push(pod.clone()),
        }
    }
    sets
}

/// The pod a Job creates: its template, owned by the Job, with the tracking finalizer and,
/// for Indexed Jobs, the completion index (annotation, label, hostname, env).
fn job_pod(job: &Value, owner: Value, index: Option<i64>) -> Value {
    let template = &job["spec"]["template"];
    let mut pod = podutil::pod_from_template(template, job, owner);
    pod["metadata"]["finalizers"] = json!([TRACKING_FINALIZER]);
    let Some(i) = index else { return pod };
    let name = podutil::name(job);
    pod["metadata"]["generateName"] = json!(format!("{name}-{i}-"));
    for field in ["annotations", "labels"] {
        if !pod["metadata"][field].is_object() {
            pod["metadata"][field] = json!({});
        }
        pod["metadata"][field][INDEX_KEY] = json!(i.to_string());
    }
    if pod["spec"]["hostname"].as_str().unwrap_or("").is_empty() {
        pod["spec"]["hostname"] = json!(format!("{name}-{i}"));
    }
    let env = json!({
        "name": "JOB_COMPLETION_INDEX",
        "valueFrom": {"fieldRef": {"fieldPath": format!("metadata.labels['{INDEX_KEY}']")}},
    });
    for list in ["initContainers", "containers"] {
        if let Some(containers) = pod["spec"][list].as_array_mut() {
            for c in containers {
                if !c["env"].is_array() {
                    c["env"] = json!([]);
                }
                let envs = c["env"].as_array_mut().expect("array");
                if !envs.iter().any(|e| e["name"] == "JOB_COMPLETION_INDEX") {
                    envs.push(env.clone());
                }
            }
        }
    }
    pod
}

fn has_finalizer(pod: &Value) -> bool {
    pod["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|l| l.iter().any(|f| f == TRACKING_FINALIZER))
}

fn ensure_status(job: &mut Value) {
    if !job["status"].is_object() {
        job["status"] = json!({});
    }
}

fn count(job: &Value, field: &str) -> i64 {
    job["status"][field].as_i64().unwrap_or(0)
}

fn uncounted(job: &Value) -> (Vec<String>, Vec<String>) {
    let list = |f: &str| -> Vec<String> {
        job["status"]["uncountedTerminatedPods"][f]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    (list("succeeded"), list("failed"))
}

fn uncounted_value(ok: &[String], failed: &[String]) -> Value {
    let mut v = json!({});
    if !ok.is_empty() {
        v["succeeded"] = json!(ok);
    }
    if !failed.is_empty() {
        v["failed"] = json!(failed);
    }
    v
}

/// (reason, message) of a True condition.
fn condition_of(job: &Value, type_: &str) -> Option<(String, String)> {
    podutil::condition(job, type_)
        .filter(|c| c["status"] == "True")
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or("").to_string(),
                c["message"].as_str().unwrap_or("").to_string(),
            )
        })
}

fn restart_count(pod: &Value) -> i64 {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|l| pod["status"][*l].as_array().into_iter().flatten())
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Value {
        json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": "j1"},
            "spec": {"completions": 2, "parallelism": 1, "backoffLimit": 1,
                     "template": {"metadata": {"labels": {"job-name": "pi"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}},
            "status": {},
        })
    }

    fn pod(uid: &str, phase: &str, tracked: bool) -> Arc<Value> {
        let finalizers = if tracked {
            json!([TRACKING_FINALIZER])
        } else {
            json!([])
        };
        Arc::new(
            json!({"metadata": {"name": uid, "uid": uid, "finalizers": finalizers}, "status": {"phase": phase}}),
        )
    }

    #[test]
    fn pods_are_counted_once_through_uncounted_terminated_pods() {
        let mut j = job();
        j["status"]["uncountedTerminatedPods"] = json!({"succeeded": ["a"]});
        let pods = vec![
            pod("a", "Succeeded", true),
            pod("b", "Succeeded", true),
            pod("c", "Failed", false),
            pod("d", "Running", true),
        ];
        let sets = classify(&j, &pods, false);
        assert_eq!(sets.newly_finished.len(), 1, "a is recorded, c was counted");
        assert_eq!(podutil::uid(&sets.newly_finished[0].0), "b");
        assert_eq!(sets.active.len(), 1);
        let c = Counted {
            released: ["a".to_string()].into_iter().collect(),
            active: 1,
            ready: 0,
            terminating: 0,
            suspended: false,
            failure: None,
            success: false,
            stamp: "2024-01-01T00:00:00Z".into(),
        };
        apply_status(&mut j, &c);
        assert_eq!(j["status"]["succeeded"], 1);
        assert_eq!(j["status"]["uncountedTerminatedPods"], json!({}));
        assert_eq!(j["status"]["startTime"], "2024-01-01T00:00:00Z");
        assert!(j["status"].get("failed").is_none());
    }

    #[test]
    fn terminal_conditions_wait_for_pods_to_settle() {
        let mut j = job();
        let mut c = Counted {
            released: HashSet::new(),
            active: 1,
            ready: 0,
            terminating: 0,
            suspended: false,
            failure: Some((
                "BackoffLimitExceeded".into(),
                "Job has reached the specified backoff limit".into(),
            )),
            success: false,
            stamp: "2024-01-01T00:00:00Z".into(),
        };
        apply_status(&mut j, &c);
        assert!(status::has_condition(&j, "FailureTarget"));
        assert!(
            !status::has_condition(&j, "Failed"),
            "a pod is still active"
        );
        c.active = 0;
        c.failure = None;
        apply_status(&mut j, &c);
        let failed = podutil::condition(&j, "Failed").unwrap();
        assert_eq!(failed["reason"], "BackoffLimitExceeded");
        let mut ok = job();
        c.success = true;
        apply_status(&mut ok, &c);
        assert!(status::has_condition(&ok, "SuccessCriteriaMet"));
        assert_eq!(
            podutil::condition(&ok, "Complete").unwrap()["reason"],
            "CompletionsReached"
        );
        assert!(ok["status"]["completionTime"].is_string());
    }

    #[test]
    fn indexed_pods_carry_their_index() {
        let mut j = job();
        j["spec"]["completionMode"] = json!("Indexed");
        let owner = podutil::owner_ref(&j, API_VERSION, KIND);
        let p = job_pod(&j, owner, Some(3));
        assert_eq!(p["metadata"]["generateName"], "pi-3-");
        assert_eq!(p["metadata"]["annotations"][INDEX_KEY], "3");
        assert_eq!(p["metadata"]["labels"][INDEX_KEY], "3");
        assert_eq!(p["metadata"]["labels"]["job-name"], "pi");
        assert_eq!(p["spec"]["hostname"], "pi-3");
        assert_eq!(
            p["spec"]["containers"][0]["env"][0]["name"],
            "JOB_COMPLETION_INDEX"
        );
        assert_eq!(p["metadata"]["finalizers"][0], TRACKING_FINALIZER);
        assert_eq!(status::pod_index(&p), Some(3));
    }
}
