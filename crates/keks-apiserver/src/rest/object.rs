//! Reading and writing the generic parts of an object held as JSON: metadata fields and the
//! resourceVersion, which is not stored but taken from the store's `mod_revision` on read.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::status::ApiError;

/// The object's `metadata`, created if missing.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or_default()
}

pub fn namespace(obj: &Value) -> &str {
    meta_str(obj, "namespace").unwrap_or_default()
}

/// `metadata.resourceVersion` as a revision; 0 when absent.
pub fn resource_version(obj: &Value) -> Result<i64, ApiError> {
    match meta_str(obj, "resourceVersion") {
        None | Some("") => Ok(0),
        Some(rv) => rv
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}"))),
    }
}

pub fn set_resource_version(obj: &mut Value, revision: i64) {
    metadata_mut(obj).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
}

/// Decodes a stored object and stamps its resourceVersion.
pub fn decode(bytes: &[u8], revision: i64) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::Internal(format!("stored object is not valid JSON: {e}")))?;
    set_resource_version(&mut obj, revision);
    Ok(obj)
}

/// Encodes an object for the store, without its resourceVersion.
pub fn encode(obj: &Value) -> Bytes {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(&obj).expect("JSON values always serialize"))
}

/// The object's labels, if any.
pub fn labels(obj: &Value) -> Option<&Value> {
    obj.get("metadata")?.get("labels")
}
