//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) for every built-in type, to and
//! from the JSON objects keks handles: what kubectl's typed commands, client-go and
//! controller-runtime send and accept for built-in kinds.
//!
//! A body is the magic `k8s\0`, then a `runtime.Unknown` envelope {typeMeta {apiVersion, kind},
//! raw, contentEncoding, contentType} whose `raw` is the object's message (`envelope`). The
//! message for (apiVersion, kind) and its fields come from a table generated from k8s-pb,
//! k8s-openapi and Kubernetes' Go types by `scripts/gen-k8s-protobuf-schema.py` (`schema`,
//! `schema_table`); one generic walk maps the wire format (`wire`) to JSON (`decode`) and back
//! (`encode`), with the well-known messages in `special`. See docs/protobuf.md.

mod decode;
mod duration;
mod encode;
mod envelope;
mod error;
mod schema;
#[rustfmt::skip]
mod schema_table;
mod special;
mod timestamp;
mod wire;

#[cfg(test)]
mod go_fixtures;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use envelope::MAGIC;
pub use error::ProtobufError;

/// The media type of Kubernetes protobuf.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Whether a `Content-Type` (or one `Accept` media range) is Kubernetes protobuf. The
/// streaming variant (`;stream=watch`) counts too.
pub fn is_protobuf(media_type: &str) -> bool {
    media_type
        .trim_start()
        .get(..MEDIA_TYPE.len())
        .is_some_and(|t| t.eq_ignore_ascii_case(MEDIA_TYPE))
}

/// Whether objects of this apiVersion and kind have a protobuf form (built-in kinds do;
/// custom resources do not, and kube-apiserver serves them only as JSON or YAML).
pub fn knows_kind(api_version: &str, kind: &str) -> bool {
    schema::message_for_kind(api_version, kind).is_some()
}

/// Decodes a protobuf request body into the JSON object Kubernetes would produce for it,
/// `apiVersion` and `kind` included.
pub fn decode_object(body: &[u8]) -> Result<Value, ProtobufError> {
    let unknown = envelope::open(body)?;
    let msg = schema::message_for_kind(&unknown.api_version, &unknown.kind).ok_or_else(|| {
        ProtobufError::UnknownKind {
            api_version: unknown.api_version.clone(),
            kind: unknown.kind.clone(),
        }
    })?;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(unknown.api_version));
    obj.insert("kind".into(), Value::String(unknown.kind));
    obj.extend(decode::object(msg, unknown.raw)?);
    Ok(Value::Object(obj))
}

/// Encodes a JSON object (its `apiVersion` and `kind` pick the message) as a protobuf body:
/// the magic, the envelope and the object's message. Lists are objects too (`PodList`, ...).
pub fn encode_object(value: &Value) -> Result<Vec<u8>, ProtobufError> {
    let Value::Object(obj) = value else {
        return Err(ProtobufError::invalid("only an object can be encoded"));
    };
    let text = |name: &str| obj.get(name).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let msg =
        schema::message_for_kind(api_version, kind).ok_or_else(|| ProtobufError::UnknownKind {
            api_version: api_version.into(),
            kind: kind.into(),
        })?;
    let mut w = wire::Writer::default();
    encode::object(msg, obj, &mut w)?;
    Ok(envelope::seal(api_version, kind, &w.buf))
}

/// One frame of a protobuf watch stream (`application/vnd.kubernetes.protobuf;stream=watch`):
/// a 4-byte big-endian length, then a `metav1.WatchEvent` message (no magic, no envelope)
/// whose `object.raw` is the object's full protobuf body (`encode_object`).
pub fn encode_watch_event(event_type: &str, object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let raw = encode_object(object)?;
    let mut extension = wire::Writer::default();
    extension.bytes_field(1, &raw);
    let mut event = wire::Writer::default();
    event.bytes_field(1, event_type.as_bytes());
    event.bytes_field(2, &extension.buf);
    let len = u32::try_from(event.buf.len())
        .map_err(|_| ProtobufError::invalid("watch event over 4 GiB"))?;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend_from_slice(&event.buf);
    Ok(frame)
}
