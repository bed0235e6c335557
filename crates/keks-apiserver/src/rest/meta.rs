//! Generic metadata rules on create and update, as kube-apiserver's `BeforeCreate` and
//! `BeforeUpdate`: type and namespace checks, names and generateName, uid, timestamps,
//! generation, and ObjectMeta validation.

use rand::Rng;
use serde_json::{json, Value};

use super::object::{meta_str, metadata_mut};
use crate::field::{FieldError, FieldPath};
use crate::registry::{NameRule, ResourceDescriptor};
use crate::status::ApiError;
use crate::validation;

/// The characters of generated name suffixes (no vowels, no look-alikes), as apimachinery's.
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// RFC 3339 UTC timestamp with second precision, as `metav1.Time` serializes.
pub fn timestamp(wall: std::time::SystemTime) -> String {
    let ts = jiff::Timestamp::try_from(wall).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a `metav1.Time`.
pub fn parse(text: &str) -> Option<std::time::SystemTime> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(std::time::SystemTime::from)
}

/// Checks that the body's apiVersion and kind fit the resource (filling them in when
/// missing) and that its namespace fits the URL.
pub fn check_type_and_namespace(
    d: &ResourceDescriptor,
    url_namespace: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object".into(),
        ));
    }
    let expected_version = d.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => obj["apiVersion"] = json!(expected_version),
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )))
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => obj["kind"] = json!(d.kind),
        Some(k) if k == d.kind => {}
        Some(k) => {
            return Err(ApiError::BadRequest(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                d.kind
            )))
        }
    }
    if d.namespaced() {
        match meta_str(obj, "namespace") {
            None | Some("") => {
                metadata_mut(obj).insert("namespace".into(), json!(url_namespace));
            }
            Some(ns) if ns == url_namespace => {}
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                ))
            }
        }
    } else {
        metadata_mut(obj).remove("namespace");
    }
    Ok(())
}

/// Metadata a create sets: a generated name, uid, creation timestamp, generation; fields a
/// client may not set are cleared.
pub fn prepare_create(
    d: &ResourceDescriptor,
    obj: &mut Value,
    now: std::time::SystemTime,
) -> Result<(), ApiError> {
    let tracks_generation = d.strategy.tracks_generation();
    let meta = metadata_mut(obj);
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        if let Some(prefix) = meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            let mut rng = rand::thread_rng();
            let suffix: String = (0..5)
                .map(|_| SUFFIX_ALPHABET[rng.gen_range(0..SUFFIX_ALPHABET.len())] as char)
                .collect();
            meta.insert("name".into(), json!(format!("{prefix}{suffix}")));
        }
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(timestamp(now)));
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("resourceVersion");
    if tracks_generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    Ok(())
}

/// Metadata an update keeps from the stored object, and the generation bump when the
/// desired state changed.
pub fn prepare_update(d: &ResourceDescriptor, new: &mut Value, old: &Value) {
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let meta = metadata_mut(new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generateName",
    ] {
        match old_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    if d.strategy.tracks_generation() {
        let old_generation = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let changed = desired_state(new) != desired_state(old);
        let generation = if changed {
            old_generation + 1
        } else {
            old_generation
        };
        metadata_mut(new).insert("generation".into(), json!(generation));
    }
}

/// Everything but metadata and status: what a generation counts changes of.
fn desired_state(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    v
}

/// Validates ObjectMeta: name, namespace, labels, annotations, finalizers, owner references.
pub fn validate_object_meta(d: &ResourceDescriptor, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta_path = FieldPath::root("metadata");
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        errs.push(FieldError::required(
            meta_path.child("name"),
            "name or generateName is required",
        ));
    } else {
        let problems = match d.strategy.name_rule() {
            NameRule::Label => validation::dns1123_label(name),
            NameRule::Subdomain => validation::dns1123_subdomain(name),
            NameRule::PathSegment => validation::path_segment_name(name),
        };
        for p in problems {
            errs.push(FieldError::invalid(meta_path.child("name"), json!(name), p));
        }
    }
    if let Some(labels) = meta.get("labels") {
        match labels.as_object() {
            Some(labels) => {
                for (k, v) in labels {
                    let path = meta_path.child("labels");
                    if let Err(e) = validation::label_key(k) {
                        errs.push(FieldError::invalid(path.clone(), json!(k), e));
                    }
                    match v.as_str() {
                        Some(v) => {
                            if let Err(e) = validation::label_value(v) {
                                errs.push(FieldError::invalid(path, json!(v), e));
                            }
                        }
                        None => errs.push(FieldError::invalid(
                            path.key(k),
                            v.clone(),
                            "must be a string",
                        )),
                    }
                }
            }
            None if labels.is_null() => {}
            None => errs.push(FieldError::invalid(
                meta_path.child("labels"),
                labels.clone(),
                "must be an object",
            )),
        }
    }
    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        let mut total = 0;
        for (k, v) in annotations {
            if let Err(e) = validation::label_key(&k.to_ascii_lowercase()) {
                errs.push(FieldError::invalid(
                    meta_path.child("annotations"),
                    json!(k),
                    e,
                ));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > MAX_ANNOTATIONS_BYTES {
            errs.push(FieldError::new(
                crate::field::ErrorType::TooLong,
                meta_path.child("annotations"),
                Value::Null,
                format!("must have at most {MAX_ANNOTATIONS_BYTES} bytes"),
            ));
        }
    }
    if let Some(owners) = meta.get("ownerReferences").and_then(Value::as_array) {
        for (i, owner) in owners.iter().enumerate() {
            let path = meta_path.child("ownerReferences").index(i);
            for field in ["apiVersion", "kind", "name", "uid"] {
                if owner
                    .get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errs.push(FieldError::invalid(
                        path.child(field),
                        json!(""),
                        format!("{field} must not be empty"),
                    ));
                }
            }
        }
    }
    errs
}
