//! Pods: defaults as the API server applies them, the initial Pending status, validation of
//! the essentials, graceful deletion, the selectable fields and kubectl's columns.

use serde_json::{json, Value};

use crate::field::{FieldError, FieldPath};
use crate::registry::{PrinterColumn, Strategy};
use crate::table::{AGE, NAME};
use crate::validation;

pub struct PodStrategy;

pub fn columns() -> Vec<PrinterColumn> {
    vec![
        NAME,
        PrinterColumn::new("Ready", "string", 0).described("", "The aggregate readiness state of this pod for accepting traffic."),
        PrinterColumn::new("Status", "string", 0).described("", "The aggregate status of the containers in this pod."),
        PrinterColumn::new("Restarts", "string", 0).described("", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        AGE,
        PrinterColumn::new("IP", "string", 1).described("", "IP address allocated to the pod."),
        PrinterColumn::new("Node", "string", 1).described("", "Name of the node where the pod is scheduled."),
        PrinterColumn::new("Nominated Node", "string", 1).described("", "Name of the node where the pod was nominated."),
        PrinterColumn::new("Readiness Gates", "string", 1).described("", "Readiness gates of the pod."),
    ]
}

const RESTART_POLICIES: &[&str] = &["Always", "Never", "OnFailure"];

impl Strategy for PodStrategy {
    fn has_status_subresource(&self) -> bool {
        true
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }

    /// The request's period, else `spec.terminationGracePeriodSeconds`, else 30 s; a pod
    /// that never ran (no node) goes at once.
    fn deletion_grace_period(&self, pod: &Value, requested: Option<i64>) -> Option<i64> {
        if pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Some(0);
        }
        let default = pod
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        Some(requested.unwrap_or(default).max(0))
    }

    fn default(&self, pod: &mut Value) {
        let spec = match pod.get_mut("spec").and_then(Value::as_object_mut) {
            Some(spec) => spec,
            None => return,
        };
        for (field, value) in [
            ("restartPolicy", json!("Always")),
            ("dnsPolicy", json!("ClusterFirst")),
            ("schedulerName", json!("default-scheduler")),
            ("terminationGracePeriodSeconds", json!(30)),
            ("securityContext", json!({})),
            ("enableServiceLinks", json!(true)),
            ("serviceAccountName", json!("default")),
            ("priority", json!(0)),
            ("preemptionPolicy", json!("PreemptLowerPriority")),
        ] {
            spec.entry(field).or_insert(value);
        }
        if let Some(sa) = spec.get("serviceAccountName").cloned() {
            spec.entry("serviceAccount").or_insert(sa);
        }
        for list in ["initContainers", "containers"] {
            if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
                for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
                    let pull = if image_tag_is_latest(image) {
                        "Always"
                    } else {
                        "IfNotPresent"
                    };
                    c.entry("imagePullPolicy").or_insert(json!(pull));
                    c.entry("terminationMessagePath")
                        .or_insert(json!("/dev/termination-log"));
                    c.entry("terminationMessagePolicy").or_insert(json!("File"));
                    c.entry("resources").or_insert(json!({}));
                    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                            p.entry("protocol").or_insert(json!("TCP"));
                        }
                    }
                }
            }
        }
        // DefaultTolerationSeconds: tolerate a not-ready or unreachable node for five minutes.
        let tolerations = spec.entry("tolerations").or_insert(json!([]));
        if let Some(list) = tolerations.as_array_mut() {
            for key in [
                "node.kubernetes.io/not-ready",
                "node.kubernetes.io/unreachable",
            ] {
                if !list
                    .iter()
                    .any(|t| t.get("key").and_then(Value::as_str) == Some(key))
                {
                    list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
                }
            }
        }
    }

    fn prepare_for_create(&self, pod: &mut Value) {
        default_toleration_seconds(pod);
        pod["status"] = json!({"phase": "Pending", "qosClass": qos_class(pod)});
    }

    fn validate(&self, pod: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec_path = FieldPath::root("spec");
        let Some(spec) = pod.get("spec").filter(|s| s.is_object()) else {
            errs.push(FieldError::required(spec_path.child("containers"), ""));
            return errs;
        };
        match spec.get("containers").and_then(Value::as_array) {
            Some(containers) if !containers.is_empty() => {
                let mut names = Vec::new();
                for (i, c) in containers.iter().enumerate() {
                    validate_container(
                        c,
                        &spec_path.child("containers").index(i),
                        &mut names,
                        &mut errs,
                    );
                }
                if let Some(init) = spec.get("initContainers").and_then(Value::as_array) {
                    for (i, c) in init.iter().enumerate() {
                        validate_container(
                            c,
                            &spec_path.child("initContainers").index(i),
                            &mut names,
                            &mut errs,
                        );
                    }
                }
            }
            _ => errs.push(FieldError::required(spec_path.child("containers"), "")),
        }
        if let Some(policy) = spec.get("restartPolicy").and_then(Value::as_str) {
            if !RESTART_POLICIES.contains(&policy) {
                errs.push(FieldError::not_supported(
                    spec_path.child("restartPolicy"),
                    json!(policy),
                    RESTART_POLICIES,
                ));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate(new);
        // Only images, activeDeadlineSeconds, tolerations (additions) and a few more may
        // change; the rest of a running pod's spec is fixed.
        let mut new_spec = new.get("spec").cloned().unwrap_or(Value::Null);
        let mut old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
        for spec in [&mut new_spec, &mut old_spec] {
            for list in ["containers", "initContainers"] {
                if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                    for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                        c.remove("image");
                    }
                }
            }
            if let Some(s) = spec.as_object_mut() {
                for f in [
                    "activeDeadlineSeconds",
                    "tolerations",
                    "terminationGracePeriodSeconds",
                    "schedulingGates",
                ] {
                    s.remove(f);
                }
            }
        }
        if new_spec != old_spec {
            errs.push(FieldError::forbidden(
                FieldPath::root("spec"),
                "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
            ));
        }
        errs
    }

    fn table_cells(&self, pod: &Value, _now: std::time::SystemTime) -> Vec<Value> {
        let statuses: Vec<&Value> = pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let total = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let ready = statuses
            .iter()
            .filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true))
            .count();
        let restarts: i64 = statuses
            .iter()
            .filter_map(|s| s.get("restartCount").and_then(Value::as_i64))
            .sum();
        let text = |p: &str| {
            pod.pointer(p)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("<none>")
                .to_string()
        };
        let gates = pod
            .pointer("/spec/readinessGates")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        vec![
            json!(format!("{ready}/{total}")),
            json!(pod_status_reason(pod)),
            json!(restarts.to_string()),
            json!(text("/status/podIP")),
            json!(text("/spec/nodeName")),
            json!(text("/status/nominatedNodeName")),
            json!(if gates == 0 {
                "<none>".to_string()
            } else {
                format!("0/{gates}")
            }),
        ]
    }

    fn selectable_field(&self, pod: &Value, field: &str) -> Option<String> {
        let text = |p: &str| {
            pod.pointer(p).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        match field {
            "spec.nodeName" => Some(text("/spec/nodeName").unwrap_or_default()),
            "spec.restartPolicy" => text("/spec/restartPolicy"),
            "spec.schedulerName" => text("/spec/schedulerName"),
            "spec.serviceAccountName" => text("/spec/serviceAccountName"),
            "spec.hostNetwork" => Some(text("/spec/hostNetwork").unwrap_or_else(|| "false".into())),
            "status.phase" => text("/status/phase"),
            "status.podIP" => Some(text("/status/podIP").unwrap_or_default()),
            "status.nominatedNodeName" => {
                Some(text("/status/nominatedNodeName").unwrap_or_default())
            }
            _ => None,
        }
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]
    }
}

fn validate_container(
    c: &Value,
    path: &FieldPath,
    names: &mut Vec<String>,
    errs: &mut Vec<FieldError>,
) {
    match c
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        None => errs.push(FieldError::required(path.child("name"), "")),
        Some(name) => {
            for problem in validation::dns1123_label(name) {
                errs.push(FieldError::invalid(
                    path.child("name"),
                    json!(name),
                    problem,
                ));
            }
            if names.iter().any(|n| n == name) {
                errs.push(FieldError::duplicate(path.child("name"), json!(name)));
            }
            names.push(name.to_string());
        }
    }
    if c.get("image")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        errs.push(FieldError::required(path.child("image"), ""));
    }
}

/// An image with no tag or the tag `latest` (and no digest) is pulled every time.
fn image_tag_is_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        None => true,
        Some((_, tag)) => tag == "latest",
    }
}

/// The pod's QoS class from its containers' requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|l| pod.pointer(&format!("/spec/{l}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(resource));
            let request = requests.and_then(|r| r.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The STATUS column kubectl shows: the phase, or a container's waiting/terminated reason,
/// or Terminating.
fn pod_status_reason(pod: &Value) -> String {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let mut reason = pod
        .pointer("/status/reason")
        .or_else(|| pod.pointer("/status/phase"))
        .and_then(Value::as_str)
        .unwrap_or("Pending")
        .to_string();
    if let Some(statuses) = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
    {
        for s in statuses.iter().rev() {
            if let Some(r) = s.pointer("/state/waiting/reason").and_then(Value::as_str) {
                reason = r.to_string();
            } else if let Some(r) = s
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
            {
                reason = r.to_string();
            }
        }
    }
    reason
}

/// kube-apiserver's DefaultTolerationSeconds admission: a new pod that does not already
/// tolerate `node.kubernetes.io/not-ready` or `node.kubernetes.io/unreachable` (NoExecute)
/// gets a toleration of 300 s for each, so it leaves a failed node five minutes after the
/// node lifecycle controller taints it.
fn default_toleration_seconds(pod: &mut Value) {
    const SECONDS: i64 = 300;
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let list = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = list.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = list.iter().any(|t| {
            let key_matches = match t.get("key").and_then(Value::as_str) {
                None | Some("") => t.get("operator").and_then(Value::as_str) == Some("Exists"),
                Some(k) => k == key,
            };
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            key_matches && (effect.is_empty() || effect == "NoExecute")
        });
        if !tolerated {
            list.push(
                json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": SECONDS}),
            );
        }
    }
}
