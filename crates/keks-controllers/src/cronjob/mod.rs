//! The CronJob controller (batch/v1), as kube-controller-manager's CronJobControllerV2: each
//! CronJob is synced when it or one of its Jobs changes and again at its next scheduled time
//! (a delayed add on the keks clock, so a virtual clock runs a day of schedules at once).
//! A sync keeps `status.active` to the Jobs still running (finished ones are dropped with
//! `SawCompletedJob`, `lastSuccessfulTime` follows the newest completion), starts the most
//! recent missed schedule — unless suspended, past `startingDeadlineSeconds`, or held back by
//! `concurrencyPolicy: Forbid`; `Replace` deletes the running Jobs first — as a Job named
//! `<cronjob>-<scheduled minutes since the epoch>` from `jobTemplate`, and deletes finished
//! Jobs beyond `successfulJobsHistoryLimit`/`failedJobsHistoryLimit`, oldest first.

pub mod schedule;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keks_apiserver::rest::meta::{parse, timestamp};
use keks_apiserver::rest::{DeleteOptions, Propagation, Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::events::Recorder;
use crate::informer::{key_of, split_key, Informer};
use crate::job::status::is_finished;
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::{ControllerError, Informers};

const KIND: &str = "CronJob";
const API_VERSION: &str = "batch/v1";
const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// kube's `nextScheduleDelta`: look a little after the scheduled time.
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

pub struct CronJobController {
    api: Arc<ClusterApi>,
    cronjobs: Arc<Informer>,
    jobs: Arc<Informer>,
    queue: Arc<WorkQueue>,
    recorder: Arc<Recorder>,
}

impl CronJobController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers) {
        let me = Arc::new(Self {
            api: api.clone(),
            cronjobs: informers.cronjobs.clone(),
            jobs: informers.jobs.clone(),
            queue: WorkQueue::new("cronjob", api.clock.clone(), cluster_spawner(api)),
            recorder: Recorder::new(api.clone(), "cronjob-controller"),
        });
        let c = me.clone();
        informers
            .cronjobs
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers.jobs.on_change(move |change| {
            let job = change.object();
            if let Some(r) = podutil::controller_ref(job).filter(|r| r["kind"] == KIND) {
                c.queue.add(format!(
                    "{}/{}",
                    podutil::namespace(job),
                    r["name"].as_str().unwrap_or_default()
                ));
            }
        });
        api.spawn(async move {
            me.cronjobs.wait_synced().await;
            me.jobs.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), 2, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(cj) = self.cronjobs.get(key) else {
            return Ok(None);
        };
        if podutil::is_deleting(&cj) {
            return Ok(None);
        }
        let jobs = self.jobs.by_index("owner", podutil::uid(&cj));
        let now = self.api.clock.wall();
        let mut st = Status::of(&cj);

        // 1. The active list: drop finished and vanished Jobs.
        let mut active = Vec::new();
        for r in st.active.drain(..) {
            let uid = r["uid"].as_str().unwrap_or_default();
            match jobs.iter().find(|j| podutil::uid(j) == uid) {
                Some(j) if is_finished(j) => {
                    let condition = if crate::job::status::has_condition(j, "Complete") {
                        "Complete"
                    } else {
                        "Failed"
                    };
                    self.event(
                        &cj,
                        "Normal",
                        "SawCompletedJob",
                        format!(
                            "Saw completed job: {}, condition: {condition}",
                            podutil::name(j)
                        ),
                    );
                }
                Some(_) => active.push(r),
                None => {
                    // Not in the cache: maybe just created; ask the API before dropping it.
                    let name = r["name"].as_str().unwrap_or_default();
                    match self
                        .api
                        .get(self.jobs.descriptor(), podutil::namespace(&cj), name)
                        .await
                    {
                        Ok(j) if podutil::uid(&j) == uid && !is_finished(&j) => active.push(r),
                        Ok(_) | Err(ApiError::NotFound { .. }) => self.event(
                            &cj,
                            "Normal",
                            "MissingJob",
                            format!("Active job went missing: {name}"),
                        ),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        st.active = active;
        for j in &jobs {
            let listed = st.active.iter().any(|r| r["uid"] == podutil::uid(j));
            if !listed && !is_finished(j) && !podutil::is_deleting(j) {
                // Made by someone else (`kubectl create job --from=cronjob/x`) or lost.
                self.event(
                    &cj,
                    "Warning",
                    "UnexpectedJob",
                    format!(
                        "Saw a job that the controller did not create or forgot: {}",
                        podutil::name(j)
                    ),
                );
            }
            if crate::job::status::has_condition(j, "Complete") {
                if let Some(done) = j["status"]["completionTime"].as_str().and_then(parse) {
                    if st.last_successful.is_none_or(|t| done > t) {
                        st.last_successful = Some(done);
                    }
                }
            }
        }

        // 2. History limits.
        self.clean_history(&cj, &jobs).await?;

        // 3. The schedule.
        let requeue = self.schedule(&cj, &mut st, now).await?;
        self.write_status(&cj, &st).await?;
        Ok(requeue)
    }

    /// Starts the most recent missed run if it may; returns when to come back.
    async fn schedule(
        &self,
        cj: &Value,
        st: &mut Status,
        now: SystemTime,
    ) -> Result<Option<Duration>, ControllerError> {
        let tz = match schedule::time_zone(cj["spec"]["timeZone"].as_str()) {
            Ok(tz) => tz,
            Err(e) => {
                self.event(cj, "Warning", "UnknownTimeZone", e);
                return Ok(None);
            }
        };
        let sched = match schedule::parse(cj["spec"]["schedule"].as_str().unwrap_or("")) {
            Ok(s) => s,
            Err(e) => {
                self.event(
                    cj,
                    "Warning",
                    "UnparseableSchedule",
                    format!("unparseable schedule: {:?} : {e}", cj["spec"]["schedule"]),
                );
                return Ok(None);
            }
        };
        if cj["spec"]["suspend"] == true {
            return Ok(None);
        }
        let requeue = sched
            .next_after(now, &tz)
            .map(|next| next.duration_since(now).unwrap_or_default() + NEXT_SCHEDULE_DELTA);
        let created = cj["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(parse)
            .unwrap_or(now);
        let mut earliest = st.last_schedule.unwrap_or(created);
        let deadline = cj["spec"]["startingDeadlineSeconds"].as_i64();
        if let Some(d) = deadline {
            let cutoff = now - Duration::from_secs(d.max(0) as u64);
            earliest = earliest.max(cutoff);
        }
        let (most_recent, missed) = sched.most_recent(earliest, now, &tz);
        let Some(scheduled) = most_recent else {
            return Ok(requeue);
        };
        if missed > 100 {
            self.event(
                cj,
                "Warning",
                "TooManyMissedTimes",
                format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
            );
        }
        if let Some(d) = deadline {
            if scheduled + Duration::from_secs(d.max(0) as u64) < now {
                self.event(
                    cj,
                    "Warning",
                    "MissSchedule",
                    format!(
                        "Missed scheduled time to start a job: {}",
                        timestamp(scheduled)
                    ),
                );
                return Ok(requeue);
            }
        }
        let policy = cj["spec"]["concurrencyPolicy"].as_str().unwrap_or("Allow");
        if policy == "Forbid" && !st.active.is_empty() {
            // The run waits (and starts late, within any deadline) until the others end.
            self.event(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            );
            return Ok(requeue);
        }
        if policy == "Replace" {
            for r in std::mem::take(&mut st.active) {
                let name = r["name"].as_str().unwrap_or_default().to_string();
                self.delete_job(cj, &name, r["uid"].as_str()).await?;
            }
        }
        let job = job_from_template(cj, scheduled, &tz);
        let name = job["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ns = podutil::namespace(cj);
        let created = match self
            .api
            .create(self.jobs.descriptor(), ns, job, &WriteOptions::default())
            .await
        {
            Ok(j) => {
                self.event(
                    cj,
                    "Normal",
                    "SuccessfulCreate",
                    format!("Created job {name}"),
                );
                Some(j)
            }
            // Made by an earlier sync whose status write was lost: it is this run.
            Err(ApiError::AlreadyExists { .. }) => {
                let existing = self.api.get(self.jobs.descriptor(), ns, &name).await?;
                let ours = podutil::controller_ref(&existing)
                    .is_some_and(|r| r["uid"] == podutil::uid(cj));
                (ours && !is_finished(&existing)).then_some(existing)
            }
            Err(e) => {
                self.event(
                    cj,
                    "Warning",
                    "FailedCreate",
                    format!("Error creating job: {e}"),
                );
                return Err(e.into());
            }
        };
        if let Some(j) = created {
            if !st.active.iter().any(|r| r["uid"] == podutil::uid(&j)) {
                st.active.push(object_ref(&j));
            }
        }
        st.last_schedule = Some(scheduled);
        Ok(requeue)
    }

    /// Deletes finished Jobs beyond the history limits, oldest first.
    async fn clean_history(&self, cj: &Value, jobs: &[Arc<Value>]) -> Result<(), ControllerError> {
        for (condition, field, default) in [
            ("Complete", "successfulJobsHistoryLimit", 3),
            ("Failed", "failedJobsHistoryLimit", 1),
        ] {
            let limit = cj["spec"][field].as_i64().unwrap_or(default).max(0) as usize;
            let mut done: Vec<&Arc<Value>> = jobs
                .iter()
                .filter(|j| crate::job::status::has_condition(j, condition))
                .filter(|j| !podutil::is_deleting(j))
                .collect();
            if done.len() <= limit {
                continue;
            }
            done.sort_by_key(|j| start_time(j));
            let excess = done.len() - limit;
            for j in &done[..excess] {
                self.delete_job(cj, podutil::name(j), Some(podutil::uid(j)))
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete_job(
        &self,
        cj: &Value,
        name: &str,
        uid: Option<&str>,
    ) -> Result<(), ControllerError> {
        let opts = DeleteOptions {
            propagation: Some(Propagation::Background),
            precondition_uid: uid.map(str::to_string),
            ..Default::default()
        };
        match self
            .api
            .delete(self.jobs.descriptor(), podutil::namespace(cj), name, &opts)
            .await
        {
            Ok(_) => {
                self.event(
                    cj,
                    "Normal",
                    "SuccessfulDelete",
                    format!("Deleted job {name}"),
                );
                Ok(())
            }
            Err(ApiError::NotFound { .. } | ApiError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn write_status(&self, cj: &Value, st: &Status) -> Result<(), ControllerError> {
        let mut wanted = json!({});
        if !st.active.is_empty() {
            wanted["active"] = json!(st.active);
        }
        if let Some(t) = st.last_schedule {
            wanted["lastScheduleTime"] = json!(timestamp(t));
        }
        if let Some(t) = st.last_successful {
            wanted["lastSuccessfulTime"] = json!(timestamp(t));
        }
        let fields = ["active", "lastScheduleTime", "lastSuccessfulTime"];
        let same = |status: &Value| fields.iter().all(|f| status.get(*f) == wanted.get(*f));
        if same(&cj["status"]) {
            return Ok(());
        }
        let key = key_of(cj);
        let (ns, name) = split_key(&key);
        let uid = podutil::uid(cj).to_string();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let result = self
            .api
            .guaranteed_update(self.cronjobs.descriptor(), ns, name, &opts, 0, |current| {
                let mut next = current.clone();
                if podutil::uid(current) != uid {
                    return Ok(next);
                }
                if !next["status"].is_object() {
                    next["status"] = json!({});
                }
                let status = next["status"].as_object_mut().expect("object");
                for f in fields {
                    match wanted.get(f) {
                        Some(v) => {
                            status.insert(f.to_string(), v.clone());
                        }
                        None => {
                            status.remove(f);
                        }
                    }
                }
                Ok(next)
            })
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn event(&self, cj: &Value, type_: &str, reason: &str, message: String) {
        self.recorder
            .event(cj, API_VERSION, KIND, type_, reason, message);
    }
}

/// The parts of a CronJob's status the controller owns.
struct Status {
    active: Vec<Value>,
    last_schedule: Option<SystemTime>,
    last_successful: Option<SystemTime>,
}

impl Status {
    fn of(cj: &Value) -> Self {
        let time = |f: &str| cj["status"][f].as_str().and_then(parse);
        Self {
            active: cj["status"]["active"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            last_schedule: time("lastScheduleTime"),
            last_successful: time("lastSuccessfulTime"),
        }
    }
}

/// The Job of one scheduled run: `<cronjob>-<minutes since the epoch>`, the template's
/// labels and annotations plus the scheduled time, owned by the CronJob.
pub fn job_from_template(cj: &Value, scheduled: SystemTime, tz: &jiff::tz::TimeZone) -> Value {
    let template = &cj["spec"]["jobTemplate"];
    let minutes = scheduled
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 60;
    let name = format!("{}-{minutes}", podutil::name(cj));
    let mut meta = json!({
        "name": name,
        "namespace": podutil::namespace(cj),
        "ownerReferences": [podutil::owner_ref(cj, API_VERSION, KIND)],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template["metadata"].get(field).filter(|v| v.is_object()) {
            meta[field] = v.clone();
        }
    }
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    let secs = scheduled
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let local = jiff::Timestamp::from_second(secs)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default();
    let local = local.replace("+00:00", "Z");
    meta["annotations"][SCHEDULED_TIMESTAMP] = json!(local);
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

fn object_ref(job: &Value) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job["metadata"]["name"],
        "namespace": job["metadata"]["namespace"],
        "uid": job["metadata"]["uid"],
        "resourceVersion": job["metadata"]["resourceVersion"],
    })
}

fn start_time(job: &Value) -> String {
    job["status"]["startTime"]
        .as_str()
        .or_else(|| job["metadata"]["creationTimestamp"].as_str())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_named_by_their_scheduled_minute() {
        let cj = json!({
            "metadata": {"name": "backup", "namespace": "ops", "uid": "c1"},
            "spec": {"jobTemplate": {"metadata": {"labels": {"team": "a"}}, "spec": {"template": {"spec": {"restartPolicy": "Never"}}}}},
        });
        let t = parse("2024-01-01T01:00:00Z").unwrap();
        let j = job_from_template(&cj, t, &jiff::tz::TimeZone::UTC);
        assert_eq!(j["metadata"]["name"], "backup-28401180");
        assert_eq!(j["metadata"]["labels"]["team"], "a");
        assert_eq!(j["metadata"]["ownerReferences"][0]["kind"], "CronJob");
        assert_eq!(
            j["metadata"]["annotations"][SCHEDULED_TIMESTAMP],
            "2024-01-01T01:00:00Z"
        );
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let j = job_from_template(&cj, t, &ny);
        assert_eq!(
            j["metadata"]["annotations"][SCHEDULED_TIMESTAMP],
            "2023-12-31T20:00:00-05:00"
        );
    }
}
