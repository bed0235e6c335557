//! Deployment status, as `progress.go` and `calculateStatus`: replica counts summed over the
//! ReplicaSets, the Available condition (minimum availability), the Progressing condition
//! (NewReplicaSetAvailable / ReplicaSetUpdated / ProgressDeadlineExceeded) and a requeue when
//! the progress deadline would pass.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keks_apiserver::rest::meta::{parse, timestamp};
use keks_apiserver::rest::{Subresource, UpdateOptions};
use keks_apiserver::status::ApiError;
use serde_json::{json, Value};

use super::util::*;
use super::{DeploymentController, Sets};
use crate::podutil;
use crate::queue::ReconcileResult;

const PROGRESSING: &str = "Progressing";
const AVAILABLE: &str = "Available";
const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
const TIMED_OUT: &str = "ProgressDeadlineExceeded";

/// `calculateStatus`, conditions carried over with Available recomputed.
pub fn calculate(d: &Value, all: &Sets, new_rs: Option<&Arc<Value>>, now: SystemTime) -> Value {
    let available = status_count(all, "availableReplicas");
    let total = spec_replicas(all);
    let mut status = json!({
        "observedGeneration": d["metadata"]["generation"].as_i64().unwrap_or(1),
        "replicas": status_count(all, "replicas"),
        "updatedReplicas": new_rs.map_or(0, |rs| rs["status"]["replicas"].as_i64().unwrap_or(0)),
        "readyReplicas": status_count(all, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": (total - available).max(0),
        "conditions": d["status"]["conditions"].as_array().cloned().unwrap_or_default(),
    });
    if let Some(c) = d["status"]["collisionCount"].as_i64() {
        status["collisionCount"] = json!(c);
    }
    let stamp = timestamp(now);
    if available >= replicas(d) - max_unavailable(d) {
        set(
            &mut status,
            AVAILABLE,
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &stamp,
        );
    } else {
        set(
            &mut status,
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &stamp,
        );
    }
    status
}

/// `DeploymentComplete`.
pub fn complete(d: &Value, status: &Value) -> bool {
    let want = replicas(d);
    let n = |f: &str| status[f].as_i64().unwrap_or(0);
    n("updatedReplicas") == want
        && n("replicas") == want
        && n("availableReplicas") == want
        && n("observedGeneration") >= d["metadata"]["generation"].as_i64().unwrap_or(1)
}

/// `SetDeploymentCondition`: no change when status and reason are the same; the transition
/// time kept while the status is.
fn set(status: &mut Value, type_: &str, st: &str, reason: &str, message: &str, now: &str) {
    let list = status["conditions"]
        .as_array_mut()
        .expect("conditions is a list");
    let mut condition = json!({"type": type_, "status": st, "reason": reason, "message": message, "lastUpdateTime": now, "lastTransitionTime": now});
    if let Some(i) = list.iter().position(|c| c["type"] == type_) {
        if list[i]["status"] == st && list[i]["reason"] == reason {
            return;
        }
        if list[i]["status"] == st {
            condition["lastTransitionTime"] = list[i]["lastTransitionTime"].clone();
        }
        list.remove(i);
    }
    list.push(condition);
}

fn condition<'a>(status: &'a Value, type_: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

impl DeploymentController {
    /// `syncRolloutStatus`: status plus the Progressing condition.
    pub(super) async fn sync_rollout_status(
        &self,
        d: &Value,
        all: &Sets,
        new_rs: Option<&Arc<Value>>,
    ) -> ReconcileResult {
        self.write_status(d, all, new_rs, true).await
    }

    pub(super) async fn write_status(
        &self,
        d: &Value,
        all: &Sets,
        new_rs: Option<&Arc<Value>>,
        progress: bool,
    ) -> ReconcileResult {
        let now = self.api.clock.wall();
        let stamp = timestamp(now);
        let mut status = calculate(d, all, new_rs, now);
        let deadline = d["spec"]["progressDeadlineSeconds"].as_i64().unwrap_or(600);
        let mut requeue = None;
        if progress {
            let current = condition(&d["status"], PROGRESSING).cloned();
            let is_complete = status["replicas"] == status["updatedReplicas"]
                && current
                    .as_ref()
                    .is_some_and(|c| c["reason"] == NEW_RS_AVAILABLE);
            let rs_name = new_rs
                .map(|rs| podutil::name(rs).to_string())
                .unwrap_or_default();
            if !is_complete {
                let old = &d["status"];
                let n = |v: &Value, f: &str| v[f].as_i64().unwrap_or(0);
                let progressing = n(&status, "updatedReplicas") > n(old, "updatedReplicas")
                    || n(&status, "readyReplicas") > n(old, "readyReplicas")
                    || n(old, "replicas") - n(old, "updatedReplicas")
                        > n(&status, "replicas") - n(&status, "updatedReplicas")
                    || n(&status, "availableReplicas") > n(old, "availableReplicas");
                if complete(d, &status) {
                    set(
                        &mut status,
                        PROGRESSING,
                        "True",
                        NEW_RS_AVAILABLE,
                        &format!("ReplicaSet {rs_name:?} has successfully progressed."),
                        &stamp,
                    );
                } else if progressing || current.is_none() {
                    // A fresh ReplicaSetUpdated condition restarts the deadline.
                    let list = status["conditions"].as_array_mut().expect("list");
                    let mut cond = json!({"type": PROGRESSING, "status": "True", "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet {rs_name:?} is progressing."), "lastUpdateTime": stamp, "lastTransitionTime": stamp});
                    if let Some(i) = list.iter().position(|c| c["type"] == PROGRESSING) {
                        if list[i]["status"] == "True" {
                            cond["lastTransitionTime"] = list[i]["lastTransitionTime"].clone();
                        }
                        list.remove(i);
                    }
                    list.push(cond);
                } else if let Some(c) = &current {
                    let since = c["lastUpdateTime"].as_str().and_then(parse);
                    let timed_out = c["reason"] == TIMED_OUT
                        || since
                            .is_some_and(|t| t + Duration::from_secs(deadline.max(0) as u64) < now);
                    if timed_out {
                        set(
                            &mut status,
                            PROGRESSING,
                            "False",
                            TIMED_OUT,
                            &format!("ReplicaSet {rs_name:?} has timed out progressing."),
                            &stamp,
                        );
                    } else if let Some(t) = since {
                        let due = t + Duration::from_secs(deadline.max(0) as u64);
                        requeue = Some(
                            due.duration_since(now).unwrap_or_default() + Duration::from_secs(1),
                        );
                    }
                }
            }
        }
        if status_equal(&d["status"], &status) {
            return Ok(requeue);
        }
        let desc = self.deployments.descriptor().clone();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let uid = podutil::uid(d).to_string();
        let result = self
            .api
            .guaranteed_update(
                &desc,
                podutil::namespace(d),
                podutil::name(d),
                &opts,
                0,
                |current| {
                    let mut next = current.clone();
                    if podutil::uid(current) == uid {
                        next["status"] = status.clone();
                    }
                    Ok(next)
                },
            )
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(requeue),
            Err(e) => Err(e.into()),
        }
    }
}

fn status_equal(old: &Value, new: &Value) -> bool {
    let fields = [
        "observedGeneration",
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
        "collisionCount",
    ];
    fields
        .iter()
        .all(|f| old[*f].as_i64().unwrap_or(0) == new[*f].as_i64().unwrap_or(0))
        && old["conditions"].as_array().cloned().unwrap_or_default()
            == new["conditions"].as_array().cloned().unwrap_or_default()
}
