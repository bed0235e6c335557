//! Simulated container runs: no process runs, so how long a container "runs" and how it
//! exits is read from the pod. The rule (documented in docs/controllers.md):
//!
//! - a pod with the annotation `keks.dev/run-seconds: N` (a number, fractions allowed) and
//!   `restartPolicy` Never or OnFailure has its containers exit N virtual seconds after
//!   they started; pods owned by a Job (controller reference of kind Job) run for
//!   [`JOB_DEFAULT_RUN`] when the annotation is absent. Pods with `restartPolicy: Always`
//!   run until deleted whatever the annotation says;
//! - they exit with the code in the annotation `keks.dev/exit-code` (0 when absent or not
//!   a number): 0 makes the pod Succeeded; another code makes it Failed under `Never`, and
//!   under `OnFailure` restarts the containers at once (restartCount + 1, `lastState`
//!   terminated with the code), which then run for N seconds again.
//!
//! Annotations come from the pod template, so a Job's (or a CronJob's job template's)
//! annotations choose how its pods end.

use std::time::{Duration, SystemTime};

use keks_apiserver::rest::meta::parse;
use serde_json::{json, Value};

use crate::podutil;

pub const RUN_SECONDS_ANNOTATION: &str = "keks.dev/run-seconds";
pub const EXIT_CODE_ANNOTATION: &str = "keks.dev/exit-code";
/// How long a Job's pod runs when its template does not say.
pub const JOB_DEFAULT_RUN: Duration = Duration::from_secs(1);

/// How long the pod's containers run before they exit; `None` when they run until deleted.
pub fn run_time(pod: &Value) -> Option<Duration> {
    let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
    if policy == "Always" {
        return None;
    }
    let annotated = pod["metadata"]["annotations"][RUN_SECONDS_ANNOTATION]
        .as_str()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    annotated.or_else(|| {
        podutil::controller_ref(pod)
            .is_some_and(|r| r["kind"] == "Job")
            .then_some(JOB_DEFAULT_RUN)
    })
}

pub fn exit_code(pod: &Value) -> i64 {
    pod["metadata"]["annotations"][EXIT_CODE_ANNOTATION]
        .as_str()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

/// When the current run of the pod's containers started: the latest running container's
/// `startedAt`, else the pod's `startTime`.
pub fn run_started(pod: &Value) -> Option<SystemTime> {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["state"]["running"]["startedAt"].as_str().and_then(parse))
        .max()
        .or_else(|| pod["status"]["startTime"].as_str().and_then(parse))
}

/// The status after the containers exit with `code` at `now`: terminal (Succeeded or
/// Failed), or restarted under `OnFailure`.
pub fn exited_status(current: &Value, code: i64, now: &str) -> Value {
    let mut pod = current.clone();
    let restart = code != 0 && current["spec"]["restartPolicy"] == "OnFailure";
    let reason = if code == 0 { "Completed" } else { "Error" };
    if let Some(list) = pod["status"]["containerStatuses"].as_array_mut() {
        for c in list {
            let started = c["state"]["running"]["startedAt"].clone();
            let terminated = json!({
                "exitCode": code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": now,
                "containerID": c["containerID"],
            });
            if restart {
                c["lastState"] = json!({"terminated": terminated});
                c["state"] = json!({"running": {"startedAt": now}});
                c["restartCount"] = json!(c["restartCount"].as_i64().unwrap_or(0) + 1);
            } else {
                c["state"] = json!({"terminated": terminated});
                c["ready"] = json!(false);
                c["started"] = json!(false);
            }
        }
    }
    if restart {
        return pod;
    }
    pod["status"]["phase"] = json!(if code == 0 { "Succeeded" } else { "Failed" });
    for type_ in ["Ready", "ContainersReady"] {
        podutil::set_condition(
            &mut pod,
            json!({"type": type_, "status": "False", "reason": "PodCompleted", "lastProbeTime": null}),
            now,
        );
    }
    podutil::set_condition(
        &mut pod,
        json!({"type": "PodReadyToStartContainers", "status": "False", "lastProbeTime": null}),
        now,
    );
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(policy: &str, annotations: Value, job: bool) -> Value {
        let owners = if job {
            json!([{"kind": "Job", "name": "j", "uid": "u", "controller": true}])
        } else {
            json!([])
        };
        json!({
            "metadata": {"annotations": annotations, "ownerReferences": owners},
            "spec": {"restartPolicy": policy},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "c", "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}, "ready": true, "started": true, "restartCount": 0}
            ]},
        })
    }

    #[test]
    fn run_times_follow_the_documented_rule() {
        assert_eq!(
            run_time(&pod("Never", json!({}), true)),
            Some(JOB_DEFAULT_RUN)
        );
        assert_eq!(run_time(&pod("Never", json!({}), false)), None);
        assert_eq!(
            run_time(&pod(
                "OnFailure",
                json!({RUN_SECONDS_ANNOTATION: "2.5"}),
                false
            )),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            run_time(&pod("Always", json!({RUN_SECONDS_ANNOTATION: "5"}), true)),
            None
        );
        assert_eq!(
            exit_code(&pod("Never", json!({EXIT_CODE_ANNOTATION: "3"}), true)),
            3
        );
    }

    #[test]
    fn exits_end_the_pod_or_restart_its_containers() {
        let now = "2024-01-01T00:00:05Z";
        let done = exited_status(&pod("Never", json!({}), true), 0, now);
        assert_eq!(done["status"]["phase"], "Succeeded");
        let c = &done["status"]["containerStatuses"][0];
        assert_eq!(c["state"]["terminated"]["reason"], "Completed");
        assert_eq!(
            c["state"]["terminated"]["startedAt"],
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            podutil::condition(&done, "Ready").unwrap()["reason"],
            "PodCompleted"
        );
        let failed = exited_status(&pod("Never", json!({}), true), 2, now);
        assert_eq!(failed["status"]["phase"], "Failed");
        let restarted = exited_status(&pod("OnFailure", json!({}), true), 2, now);
        assert_eq!(restarted["status"]["phase"], "Running");
        let c = &restarted["status"]["containerStatuses"][0];
        assert_eq!(c["restartCount"], 1);
        assert_eq!(c["lastState"]["terminated"]["exitCode"], 2);
        assert_eq!(run_started(&restarted), parse(now));
    }
}
