//! Reading pods and owner references as the controllers need them: phase, readiness,
//! conditions, controller references, and the pod a template stamps out.

use serde_json::{json, Value};

/// The owner reference with `controller: true`, if any.
pub fn controller_ref(obj: &Value) -> Option<&Value> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
}

/// An owner reference naming `owner` (a `kind` in `apiVersion`) as controller.
pub fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

pub fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or("Pending")
}

pub fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// Active as controllers count pods: not finished, not being deleted.
pub fn is_active(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !is_deleting(pod)
}

pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

pub fn is_ready(pod: &Value) -> bool {
    condition(pod, "Ready").is_some_and(|c| c["status"] == "True")
}

/// Ready for at least `min_ready` seconds at wall time `now`.
pub fn is_available(pod: &Value, min_ready: i64, now: std::time::SystemTime) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready <= 0 {
        return true;
    }
    let Some(since) = condition(pod, "Ready")
        .and_then(|c| c["lastTransitionTime"].as_str())
        .and_then(keks_apiserver::rest::meta::parse)
    else {
        return false;
    };
    since + std::time::Duration::from_secs(min_ready as u64) <= now
}

pub fn uid(obj: &Value) -> &str {
    obj["metadata"]["uid"].as_str().unwrap_or_default()
}

pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn namespace(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// Whether every label of `template_labels` is on `obj` with the same value.
pub fn has_labels(obj: &Value, template_labels: &Value) -> bool {
    let Some(wanted) = template_labels.as_object() else {
        return true;
    };
    let have = &obj["metadata"]["labels"];
    wanted.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// A pod from a template, owned by `owner`, as the controllers' PodControl creates them.
pub fn pod_from_template(template: &Value, owner: &Value, owner_ref: Value) -> Value {
    let name = name(owner);
    let mut meta = json!({
        "generateName": format!("{name}-"),
        "namespace": namespace(owner),
        "ownerReferences": [owner_ref],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template["metadata"].get(field).filter(|v| v.is_object()) {
            meta[field] = v.clone();
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Sets a condition in `obj.status.conditions`, keeping `lastTransitionTime` when the status
/// does not change. Returns whether anything changed.
pub fn set_condition(obj: &mut Value, mut condition: Value, now: &str) -> bool {
    if !obj["status"].is_object() {
        obj["status"] = json!({});
    }
    if !obj["status"]["conditions"].is_array() {
        obj["status"]["conditions"] = json!([]);
    }
    let list = obj["status"]["conditions"]
        .as_array_mut()
        .expect("conditions is an array");
    match list.iter_mut().find(|c| c["type"] == condition["type"]) {
        Some(existing) => {
            let same = ["status", "reason", "message"]
                .iter()
                .all(|f| existing.get(*f) == condition.get(*f));
            if same {
                return false;
            }
            condition["lastTransitionTime"] = if existing["status"] == condition["status"] {
                existing["lastTransitionTime"].clone()
            } else {
                json!(now)
            };
            *existing = condition;
        }
        None => {
            condition["lastTransitionTime"] = json!(now);
            list.push(condition);
        }
    }
    true
}
