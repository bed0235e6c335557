//! Defaults and create-time preparation of batch/v1, as kube-apiserver's `SetDefaults_Job`,
//! `SetDefaults_CronJob` and the Job strategy's `generateSelector`: a Job without
//! `manualSelector: true` gets the selector `batch.kubernetes.io/controller-uid=<uid>` and
//! its template the `controller-uid`/`job-name` labels (new and legacy spellings), which is
//! what the Job controller and `kubectl describe job` rely on. A Job template's restartPolicy
//! must be OnFailure or Never. Everything else is the wrapped strategy's.

use serde_json::{json, Value};

use super::layered::Layer;
use crate::field::{FieldError, FieldPath};

/// Job and CronJob rules, on top of their strategy ([`super::layered`]).
pub struct Batch {
    pub plural: &'static str,
}

/// Fills in the JobSpec defaults kube-apiserver gives a Job.
pub fn default_job_spec(spec: &mut Value) {
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec.get("completions").is_none() && spec.get("parallelism").is_none() {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    if spec.get("parallelism").is_none() {
        spec["parallelism"] = json!(1);
    }
    if spec.get("backoffLimit").is_none() {
        // With a per-index limit the global one is effectively unlimited.
        spec["backoffLimit"] = if spec.get("backoffLimitPerIndex").is_some() {
            json!(i32::MAX)
        } else {
            json!(6)
        };
    }
    if spec.get("completionMode").is_none() {
        spec["completionMode"] = json!("NonIndexed");
    }
    if spec.get("suspend").is_none() {
        spec["suspend"] = json!(false);
    }
    if spec.get("podReplacementPolicy").is_none() {
        spec["podReplacementPolicy"] = if spec.get("podFailurePolicy").is_some() {
            json!("Failed")
        } else {
            json!("TerminatingOrFailed")
        };
    }
}

fn default_cronjob_spec(spec: &mut Value) {
    if !spec.is_object() {
        *spec = json!({});
    }
    for (field, value) in [
        ("concurrencyPolicy", json!("Allow")),
        ("suspend", json!(false)),
        ("successfulJobsHistoryLimit", json!(3)),
        ("failedJobsHistoryLimit", json!(1)),
    ] {
        if spec.get(field).is_none() {
            spec[field] = value;
        }
    }
}

/// The Job strategy's `generateSelector`: selector on the uid, labels on the template.
pub fn generate_selector(job: &mut Value) {
    if job["spec"]["manualSelector"] == true {
        return;
    }
    let uid = job["metadata"]["uid"].clone();
    let name = job["metadata"]["name"].clone();
    if job["spec"]["selector"].is_null() {
        job["spec"]["selector"] =
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    }
    let template = &mut job["spec"]["template"];
    if !template.is_object() {
        *template = json!({});
    }
    if !template["metadata"].is_object() {
        template["metadata"] = json!({});
    }
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    let labels = &mut template["metadata"]["labels"];
    for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
        labels[key] = uid.clone();
    }
    for key in ["batch.kubernetes.io/job-name", "job-name"] {
        labels[key] = name.clone();
    }
}

fn validate_restart_policy(template_spec: &Value, path: FieldPath) -> Vec<FieldError> {
    let policy = template_spec["restartPolicy"].as_str().unwrap_or("");
    if matches!(policy, "OnFailure" | "Never") {
        return Vec::new();
    }
    let field = path.child("restartPolicy");
    if policy.is_empty() {
        vec![FieldError::required(
            field,
            "valid values: \"OnFailure\", \"Never\"",
        )]
    } else {
        vec![FieldError::not_supported(
            field,
            json!(policy),
            &["OnFailure", "Never"],
        )]
    }
}

impl Layer for Batch {
    fn default(&self, obj: &mut Value) {
        match self.plural {
            "jobs" => default_job_spec(&mut obj["spec"]),
            "cronjobs" => default_cronjob_spec(&mut obj["spec"]),
            _ => {}
        }
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        if self.plural == "jobs" {
            generate_selector(obj);
        }
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let spec = FieldPath::root("spec");
        match self.plural {
            "jobs" => errors.extend(validate_restart_policy(
                &obj["spec"]["template"]["spec"],
                spec.child("template").child("spec"),
            )),
            "cronjobs" => errors.extend(validate_restart_policy(
                &obj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                spec.child("jobTemplate")
                    .child("spec")
                    .child("template")
                    .child("spec"),
            )),
            _ => {}
        }
        errors
    }
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.plural == "jobs" {
            // The selector and (but for a suspended Job's scheduling fields) the template
            // are immutable, as kube's ValidateJobSpecUpdate has them.
            let spec = FieldPath::root("spec");
            if new["spec"]["selector"] != old["spec"]["selector"] {
                errors.push(FieldError::invalid(
                    spec.child("selector"),
                    new["spec"]["selector"].clone(),
                    "field is immutable",
                ));
            }
            if new["spec"]["completionMode"] != old["spec"]["completionMode"] {
                errors.push(FieldError::invalid(
                    spec.child("completionMode"),
                    new["spec"]["completionMode"].clone(),
                    "field is immutable",
                ));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_get_kubes_defaults_and_a_generated_selector() {
        let mut job = json!({"metadata": {"name": "pi", "uid": "u1"}, "spec": {"template": {"spec": {"restartPolicy": "Never"}}}});
        default_job_spec(&mut job["spec"]);
        generate_selector(&mut job);
        assert_eq!(job["spec"]["completions"], 1);
        assert_eq!(job["spec"]["parallelism"], 1);
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(job["spec"]["completionMode"], "NonIndexed");
        assert_eq!(
            job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u1"
        );
        let labels = &job["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["job-name"], "pi");
        assert_eq!(labels["batch.kubernetes.io/job-name"], "pi");
        assert_eq!(labels["controller-uid"], "u1");
        // A work queue (parallelism only) keeps completions unset.
        let mut queue = json!({"parallelism": 3});
        default_job_spec(&mut queue);
        assert!(queue.get("completions").is_none());
        assert_eq!(
            validate_restart_policy(&json!({"restartPolicy": "Always"}), FieldPath::root("x"))
                .len(),
            1
        );
    }
}
