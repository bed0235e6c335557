//! The envelope of a Kubernetes protobuf body: the magic `k8s\0`, then a `runtime.Unknown`
//! {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType} whose `raw`
//! holds the object's message.

use super::error::ProtobufError;
use super::wire::{Reader, WireValue, Writer};

/// The 4 bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// A decoded `runtime.Unknown`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unknown<'a> {
    pub api_version: String,
    pub kind: String,
    pub raw: &'a [u8],
    pub content_encoding: String,
    pub content_type: String,
}

fn string(value: WireValue<'_>, name: &str) -> Result<String, ProtobufError> {
    match value {
        WireValue::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        other => Err(ProtobufError::malformed(format!(
            "expected a string, found a {}",
            other.type_name()
        ))
        .within(name)),
    }
}

impl<'a> Unknown<'a> {
    /// Reads a `runtime.Unknown` message (without the magic).
    pub fn read(bytes: &'a [u8]) -> Result<Self, ProtobufError> {
        let mut unknown = Unknown::default();
        let mut reader = Reader::new(bytes);
        while let Some((tag, value)) = reader.next_field()? {
            match (tag, value) {
                (1, WireValue::Bytes(type_meta)) => {
                    let mut tm = Reader::new(type_meta);
                    while let Some((tag, value)) =
                        tm.next_field().map_err(|e| e.within("typeMeta"))?
                    {
                        match tag {
                            1 => unknown.api_version = string(value, "typeMeta.apiVersion")?,
                            2 => unknown.kind = string(value, "typeMeta.kind")?,
                            _ => {}
                        }
                    }
                }
                (2, WireValue::Bytes(raw)) => unknown.raw = raw,
                (3, value) => unknown.content_encoding = string(value, "contentEncoding")?,
                (4, value) => unknown.content_type = string(value, "contentType")?,
                (1 | 2, other) => {
                    return Err(ProtobufError::malformed(format!(
                        "runtime.Unknown field {tag} is a {}",
                        other.type_name()
                    )));
                }
                _ => {}
            }
        }
        Ok(unknown)
    }

    /// Writes the message as Go does: every field, empty strings included.
    pub fn write(&self) -> Vec<u8> {
        let mut type_meta = Writer::default();
        type_meta.bytes_field(1, self.api_version.as_bytes());
        type_meta.bytes_field(2, self.kind.as_bytes());
        let mut w = Writer::default();
        w.bytes_field(1, &type_meta.buf);
        w.bytes_field(2, self.raw);
        w.bytes_field(3, self.content_encoding.as_bytes());
        w.bytes_field(4, self.content_type.as_bytes());
        w.buf
    }
}

/// Strips the magic and reads the envelope of a protobuf body.
pub fn open(body: &[u8]) -> Result<Unknown<'_>, ProtobufError> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    let unknown = Unknown::read(rest).map_err(|e| e.within("runtime.Unknown"))?;
    if unknown.api_version.is_empty() && unknown.kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    if !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(unknown.content_encoding));
    }
    Ok(unknown)
}

/// A protobuf body: the magic and the envelope around an object's message.
pub fn seal(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let unknown = Unknown {
        api_version: api_version.into(),
        kind: kind.into(),
        raw,
        ..Unknown::default()
    };
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&unknown.write());
    body
}
