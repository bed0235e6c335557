//! The arithmetic of a Job's status, apart from any I/O so it can be tested: completion
//! index sets and their `completedIndexes` text, how many pods should be active, whether the
//! Job has met its success criteria or a failure target, and the pod failure backoff.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

pub const INDEX_KEY: &str = "batch.kubernetes.io/job-completion-index";

/// kube's `DefaultJobPodFailureBackOff` and `MaxJobPodFailureBackOff`.
const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);

pub fn is_indexed(job: &Value) -> bool {
    job["spec"]["completionMode"] == "Indexed"
}

pub fn completions(job: &Value) -> Option<i64> {
    job["spec"]["completions"].as_i64()
}

pub fn parallelism(job: &Value) -> i64 {
    job["spec"]["parallelism"].as_i64().unwrap_or(1).max(0)
}

pub fn backoff_limit(job: &Value) -> i64 {
    job["spec"]["backoffLimit"].as_i64().unwrap_or(6)
}

pub fn is_suspended(job: &Value) -> bool {
    job["spec"]["suspend"] == true
}

/// A condition of the Job with status True.
pub fn has_condition(job: &Value, type_: &str) -> bool {
    crate::podutil::condition(job, type_).is_some_and(|c| c["status"] == "True")
}

/// Finished: Complete or Failed.
pub fn is_finished(job: &Value) -> bool {
    has_condition(job, "Complete") || has_condition(job, "Failed")
}

/// The completion index of a pod (annotation, else label), if it parses.
pub fn pod_index(pod: &Value) -> Option<i64> {
    let meta = &pod["metadata"];
    meta["annotations"][INDEX_KEY]
        .as_str()
        .or_else(|| meta["labels"][INDEX_KEY].as_str())
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|i| *i >= 0)
}

/// Parses `completedIndexes` ("1,3-5,7"); indexes at or beyond `completions` are dropped.
pub fn parse_indexes(text: &str, completions: i64) -> BTreeSet<i64> {
    let mut set = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i64>(), b.parse::<i64>()),
            None => (part.parse::<i64>(), part.parse::<i64>()),
        };
        if let (Ok(lo), Ok(hi)) = (lo, hi) {
            for i in lo.max(0)..=hi.min(completions - 1) {
                set.insert(i);
            }
        }
    }
    set
}

/// Formats an index set as kube does: ascending, runs of 2+ as `a-b`.
pub fn format_indexes(set: &BTreeSet<i64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().expect("peeked");
        }
        out.push(if end == start {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

/// How many pods should be active: parallelism, limited by the completions still missing;
/// a work queue Job (no completions) starts no new pod once one succeeded.
pub fn want_active(job: &Value, succeeded: i64, active: i64) -> i64 {
    let parallelism = parallelism(job);
    match completions(job) {
        None if succeeded > 0 => active.min(parallelism),
        None => parallelism,
        Some(c) => parallelism.min((c - succeeded).max(0)),
    }
}

/// Whether the Job met its success criteria: every completion (every index for Indexed
/// Jobs) succeeded with nothing still active, or for a work queue one success and nothing
/// active.
pub fn success_met(job: &Value, succeeded: i64, completed_indexes: usize, active: i64) -> bool {
    if active > 0 {
        return false;
    }
    match completions(job) {
        None => succeeded > 0,
        Some(c) if is_indexed(job) => completed_indexes as i64 >= c,
        Some(c) => succeeded >= c,
    }
}

/// Why a Job fails now, as (reason, message); `None` while it may go on.
pub fn failure(
    job: &Value,
    failed: i64,
    restarts: i64,
    deadline_passed: bool,
) -> Option<(&'static str, &'static str)> {
    let limit = backoff_limit(job);
    let on_failure = job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure";
    // Under OnFailure the kubelet restarts failing containers; the restarts of active pods
    // count against the limit (kube's `pastBackoffLimitOnFailure`).
    let past_on_failure = on_failure
        && if limit == 0 {
            restarts > 0
        } else {
            restarts >= limit
        };
    if failed > limit || past_on_failure {
        return Some((
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ));
    }
    if deadline_passed {
        return Some((
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ));
    }
    None
}

/// The delay before a new pod after `failures` failures since the last success:
/// 10 s doubling, at most 10 minutes; zero without failures.
pub fn pod_failure_backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    POD_FAILURE_BACKOFF
        .checked_mul(1u32 << (failures - 1).min(16))
        .unwrap_or(MAX_POD_FAILURE_BACKOFF)
        .min(MAX_POD_FAILURE_BACKOFF)
}

/// The indexes to start pods for, lowest first: not completed, not taken by a pod that
/// counts as active, at most `n`.
pub fn indexes_to_start(
    completions: i64,
    completed: &BTreeSet<i64>,
    taken: &BTreeSet<i64>,
    n: i64,
) -> Vec<i64> {
    (0..completions)
        .filter(|i| !completed.contains(i) && !taken.contains(i))
        .take(n.max(0) as usize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn completed_indexes_round_trip_in_kubes_format() {
        let set = parse_indexes("0,2-4,7,9-10", 10);
        assert_eq!(
            set.iter().copied().collect::<Vec<_>>(),
            vec![0, 2, 3, 4, 7, 9]
        );
        assert_eq!(format_indexes(&set), "0,2-4,7,9");
        assert_eq!(format_indexes(&BTreeSet::new()), "");
        assert_eq!(format_indexes(&[1, 2].into_iter().collect()), "1-2");
        assert!(parse_indexes("garbage", 3).is_empty());
    }

    #[test]
    fn active_pods_follow_parallelism_and_remaining_completions() {
        let job = json!({"spec": {"completions": 5, "parallelism": 2}});
        assert_eq!(want_active(&job, 0, 0), 2);
        assert_eq!(want_active(&job, 4, 2), 1);
        assert_eq!(want_active(&job, 5, 0), 0);
        let queue = json!({"spec": {"parallelism": 3}});
        assert_eq!(want_active(&queue, 0, 0), 3);
        assert_eq!(want_active(&queue, 1, 2), 2, "no new pods after a success");
    }

    #[test]
    fn success_and_failure_are_decided_as_kube_does() {
        let job = json!({"spec": {"completions": 3, "parallelism": 1, "backoffLimit": 2}});
        assert!(!success_met(&job, 2, 0, 0));
        assert!(!success_met(&job, 3, 0, 1), "not while pods are active");
        assert!(success_met(&job, 3, 0, 0));
        let indexed = json!({"spec": {"completions": 3, "completionMode": "Indexed"}});
        assert!(!success_met(&indexed, 3, 2, 0), "duplicates do not count");
        assert!(success_met(&indexed, 3, 3, 0));
        assert_eq!(failure(&job, 2, 0, false), None);
        assert_eq!(
            failure(&job, 3, 0, false).unwrap().0,
            "BackoffLimitExceeded"
        );
        assert_eq!(failure(&job, 0, 0, true).unwrap().0, "DeadlineExceeded");
        let on_failure = json!({"spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure"}}}});
        assert_eq!(failure(&on_failure, 0, 1, false), None);
        assert!(failure(&on_failure, 0, 2, false).is_some());
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_to_ten_minutes() {
        assert_eq!(pod_failure_backoff(0), Duration::ZERO);
        assert_eq!(pod_failure_backoff(1), Duration::from_secs(10));
        assert_eq!(pod_failure_backoff(3), Duration::from_secs(40));
        assert_eq!(pod_failure_backoff(30), Duration::from_secs(600));
    }

    #[test]
    fn indexes_start_lowest_first() {
        let completed = [0, 2].into_iter().collect();
        let taken = [1].into_iter().collect();
        assert_eq!(indexes_to_start(6, &completed, &taken, 2), vec![3, 4]);
    }
}
