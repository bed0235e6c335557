//! The strategy of `CustomResourceDefinition` objects: apiextensions' essential validation
//! (names, group, scope, versions, structural schemas), the status split and generation,
//! and the `customresourcecleanup` finalizer every CRD gets.

use serde_json::{json, Value};

use crate::field::{FieldError, FieldPath};
use crate::registry::Strategy;

/// Held on every CRD until its custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub struct CrdStrategy;

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl Strategy for CrdStrategy {
    fn has_status_subresource(&self) -> bool {
        true
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let meta = &mut obj["metadata"];
        if !meta["finalizers"].is_array() {
            meta["finalizers"] = json!([]);
        }
        if let Some(list) = meta["finalizers"].as_array_mut() {
            if !list.iter().any(|f| f == CLEANUP_FINALIZER) {
                list.push(json!(CLEANUP_FINALIZER));
            }
        }
        if obj.pointer("/spec/conversion").is_none() {
            obj["spec"]["conversion"] = json!({"strategy": "None"});
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate(obj)
    }
}

fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = FieldPath::root("spec");
    let names = spec.child("names");
    let group = text(obj, "/spec/group");
    let plural = text(obj, "/spec/names/plural");
    let name = text(obj, "/metadata/name");
    if name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid(
            FieldPath::root("metadata").child("name"),
            json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errors.push(FieldError::required(spec.child("group"), ""));
    } else if !group.contains('.') {
        errors.push(FieldError::invalid(
            spec.child("group"),
            json!(group),
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        errors.push(FieldError::required(names.child("plural"), ""));
    }
    if text(obj, "/spec/names/kind").is_empty() {
        errors.push(FieldError::required(names.child("kind"), ""));
    }
    let scope = text(obj, "/spec/scope");
    if scope.is_empty() {
        errors.push(FieldError::required(spec.child("scope"), ""));
    } else if !matches!(scope, "Namespaced" | "Cluster") {
        errors.push(FieldError::not_supported(
            spec.child("scope"),
            json!(scope),
            &["Cluster", "Namespaced"],
        ));
    }
    let versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errors.push(FieldError::invalid(
            spec.child("versions"),
            Value::Null,
            "must have exactly one version marked as storage version",
        ));
        return errors;
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        errors.push(FieldError::invalid(
            spec.child("versions"),
            Value::Array(versions.clone()),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let path = spec.child("versions").index(i);
        if text(v, "/name").is_empty() {
            errors.push(FieldError::required(path.child("name"), ""));
        }
        let schema_path = path.child("schema").child("openAPIV3Schema");
        match v.pointer("/schema/openAPIV3Schema") {
            None => errors.push(FieldError::required(schema_path, "schemas are required")),
            Some(s) => match s.get("type").and_then(Value::as_str) {
                None => errors.push(FieldError::required(
                    schema_path.child("type"),
                    "must not be empty at the root",
                )),
                Some("object") => {}
                Some(t) => errors.push(FieldError::invalid(
                    schema_path.child("type"),
                    json!(t),
                    "must be object at the root",
                )),
            },
        }
    }
    errors
}

/// The status a CRD has once its names are accepted and its resource is served.
pub fn established_status(crd: &Value, now: &str) -> Value {
    let condition = |type_: &str, reason: &str, message: &str| {
        let previous = crd
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["type"] == type_ && c["status"] == "True")
            })
            .and_then(|c| c.get("lastTransitionTime").cloned());
        json!({"type": type_, "status": "True", "lastTransitionTime": previous.unwrap_or(json!(now)),
               "reason": reason, "message": message})
    };
    let mut stored: Vec<Value> = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
    {
        if !stored.contains(&v["name"]) {
            stored.push(v["name"].clone());
        }
    }
    let mut accepted = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    if accepted.get("singular").is_none() {
        accepted["singular"] = json!(text(crd, "/spec/names/kind").to_ascii_lowercase());
    }
    if accepted.get("listKind").is_none() {
        accepted["listKind"] = json!(format!("{}List", text(crd, "/spec/names/kind")));
    }
    json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    })
}
