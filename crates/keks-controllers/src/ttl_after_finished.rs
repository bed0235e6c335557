//! The TTL-after-finished controller, as kube-controller-manager's: a Job with
//! `ttlSecondsAfterFinished` is deleted (propagation Foreground, uid precondition, so its
//! pods go first) that many seconds after it finished — after `completionTime`, or the
//! Failed condition's transition for failed Jobs. Time is the keks clock's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keks_apiserver::rest::meta::parse;
use keks_apiserver::rest::{DeleteOptions, Propagation};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::Value;

use crate::informer::{key_of, split_key, Informer};
use crate::job::status;
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::Informers;

pub struct TtlAfterFinishedController {
    api: Arc<ClusterApi>,
    jobs: Arc<Informer>,
    queue: Arc<WorkQueue>,
}

impl TtlAfterFinishedController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers) {
        let me = Arc::new(Self {
            api: api.clone(),
            jobs: informers.jobs.clone(),
            queue: WorkQueue::new(
                "ttl-after-finished",
                api.clock.clone(),
                cluster_spawner(api),
            ),
        });
        let c = me.clone();
        informers.jobs.on_change(move |change| {
            let job = change.object();
            if job["spec"]["ttlSecondsAfterFinished"].is_i64() && status::is_finished(job) {
                c.queue.add(key_of(job));
            }
        });
        api.spawn(async move {
            me.jobs.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), 1, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(job) = self.jobs.get(key) else {
            return Ok(None);
        };
        if podutil::is_deleting(&job) {
            return Ok(None);
        }
        let Some(expires) = expires_at(&job) else {
            return Ok(None);
        };
        let now = self.api.clock.wall();
        if now < expires {
            return Ok(Some(
                expires
                    .duration_since(now)
                    .unwrap_or(Duration::from_millis(1)),
            ));
        }
        let (ns, name) = split_key(key);
        let opts = DeleteOptions {
            propagation: Some(Propagation::Foreground),
            precondition_uid: Some(podutil::uid(&job).to_string()),
            ..Default::default()
        };
        match self
            .api
            .delete(self.jobs.descriptor(), ns, name, &opts)
            .await
        {
            Ok(_) | Err(ApiError::NotFound { .. }) | Err(ApiError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// When a finished Job with a TTL is due for deletion.
pub fn expires_at(job: &Value) -> Option<SystemTime> {
    let ttl = job["spec"]["ttlSecondsAfterFinished"].as_i64()?;
    if !status::is_finished(job) {
        return None;
    }
    let finished = job["status"]["completionTime"]
        .as_str()
        .or_else(|| {
            ["Complete", "Failed"]
                .iter()
                .filter_map(|t| podutil::condition(job, t))
                .find(|c| c["status"] == "True")
                .and_then(|c| c["lastTransitionTime"].as_str())
        })
        .and_then(parse)?;
    Some(finished + Duration::from_secs(ttl.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_finished_job_expires_its_ttl_after_finishing() {
        let mut job = json!({"spec": {"ttlSecondsAfterFinished": 100}, "status": {"conditions": [
            {"type": "Failed", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}
        ]}});
        let t0 = parse("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(expires_at(&job), Some(t0 + Duration::from_secs(100)));
        job["status"]["conditions"][0]["status"] = json!("False");
        assert_eq!(expires_at(&job), None, "not finished");
    }
}
