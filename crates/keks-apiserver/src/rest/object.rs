//! Reading and writing the generic parts of an object held as JSON: metadata fields and the
//! resourceVersion, which is not stored but taken from the store's `mod_revision` on read.

use bytes::Bytes;
use serde::ser::{Serialize, SerializeMap, Serializer};
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

/// Encodes an object for the store, without its resourceVersion. Serializes straight from
/// the object, skipping that one field: no copy of the object on every write.
pub fn encode(obj: &Value) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&WithoutResourceVersion(obj)).expect("JSON values always serialize"),
    )
}

/// An object as it is stored: `metadata.resourceVersion` left out.
struct WithoutResourceVersion<'a>(&'a Value);

/// `metadata` without its `resourceVersion`.
struct MetadataWithoutResourceVersion<'a>(&'a Map<String, Value>);

impl Serialize for WithoutResourceVersion<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(fields) = self.0 else {
            return self.0.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("metadata", Value::Object(meta)) => {
                    map.serialize_entry(key, &MetadataWithoutResourceVersion(meta))?
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

impl Serialize for MetadataWithoutResourceVersion<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kept = self
            .0
            .iter()
            .filter(|(k, _)| k.as_str() != "resourceVersion");
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in kept {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The object's labels, if any.
pub fn labels(obj: &Value) -> Option<&Value> {
    obj.get("metadata")?.get("labels")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_leaves_out_only_the_resource_version() {
        let obj = serde_json::json!({"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "7", "labels": {"a": "b"}}, "spec": {"x": 1}});
        let stored: Value = serde_json::from_slice(&encode(&obj)).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"x": 1}})
        );
        assert_eq!(decode(&encode(&obj), 7).unwrap(), obj);
    }
}
