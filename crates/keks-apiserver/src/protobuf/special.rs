//! Well-known messages whose JSON is not an object of their fields (`IntOrString`, `Quantity`,
//! `Time`, `MicroTime`, `Duration`, `RawExtension`, `FieldsV1`, `runtime.Unknown`, Go named
//! slices, and apiextensions' `JSON` and `JSONSchemaPropsOr*`), both ways.

use serde_json::{Map, Value};

use super::decode;
use super::encode::{self, type_name};
use super::envelope::{Unknown, MAGIC};
use super::error::ProtobufError;
use super::schema::{message_for_kind, Kind, Message, Special};
use super::wire::{Reader, WireValue, Writer};
use super::{duration, timestamp};

/// The wire values of a message by tag, the last one of each tag (repeated ones in `all`).
struct Fields<'a> {
    last: Vec<(u32, WireValue<'a>)>,
    all: Vec<(u32, WireValue<'a>)>,
}

impl<'a> Fields<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, ProtobufError> {
        let mut all = Vec::new();
        let mut reader = Reader::new(bytes);
        while let Some(field) = reader.next_field()? {
            all.push(field);
        }
        let mut last: Vec<(u32, WireValue<'a>)> = Vec::new();
        for &(tag, v) in all.iter().rev() {
            if !last.iter().any(|(t, _)| *t == tag) {
                last.push((tag, v));
            }
        }
        Ok(Fields { last, all })
    }

    fn get(&self, tag: u32) -> Option<WireValue<'a>> {
        self.last.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }

    fn varint(&self, tag: u32) -> u64 {
        match self.get(tag) {
            Some(WireValue::Varint(v)) => v,
            _ => 0,
        }
    }

    fn bytes(&self, tag: u32) -> &'a [u8] {
        match self.get(tag) {
            Some(WireValue::Bytes(b)) => b,
            _ => &[],
        }
    }

    fn string(&self, tag: u32) -> String {
        String::from_utf8_lossy(self.bytes(tag)).into_owned()
    }

    fn repeated(&self, tag: u32) -> impl Iterator<Item = WireValue<'a>> + '_ {
        self.all
            .iter()
            .filter(move |(t, _)| *t == tag)
            .map(|(_, v)| *v)
    }
}

/// The kind of a special message's field (its schema, or its array's elements).
fn field_kind(msg: &Message, tag: u32) -> Result<Kind, ProtobufError> {
    msg.field(tag)
        .map(|f| f.kind)
        .ok_or_else(|| ProtobufError::malformed(format!("{} has no field {tag}", msg.name)))
}

fn decode_each(msg: &Message, fields: &Fields<'_>, tag: u32) -> Result<Vec<Value>, ProtobufError> {
    let kind = field_kind(msg, tag)?;
    let mut out = Vec::new();
    for v in fields.repeated(tag) {
        out.push(decode::scalar_or_message(kind, v)?.unwrap_or(Value::Null));
    }
    Ok(out)
}

fn decode_one(
    msg: &Message,
    fields: &Fields<'_>,
    tag: u32,
) -> Result<Option<Value>, ProtobufError> {
    match fields.get(tag) {
        Some(v) => decode::scalar_or_message(field_kind(msg, tag)?, v),
        None => Ok(None),
    }
}

/// A raw JSON value (or, with the protobuf magic, an object in protobuf).
fn raw_value(raw: &[u8]) -> Result<Option<Value>, ProtobufError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.starts_with(MAGIC) {
        return super::decode_object(raw).map(Some);
    }
    serde_json::from_slice(raw)
        .map(Some)
        .map_err(|e| ProtobufError::invalid(format!("the raw value is not JSON: {e}")))
}

/// The JSON of a special message; `None` when Go would leave it out.
pub fn decode(msg: &Message, bytes: &[u8]) -> Result<Option<Value>, ProtobufError> {
    let fields = Fields::read(bytes)?;
    Ok(match msg.special {
        Special::Plain => unreachable!("plain messages are decoded field by field"),
        Special::IntOrString => Some(if fields.varint(1) == 1 {
            Value::String(fields.string(3))
        } else {
            Value::from(fields.varint(2) as i32)
        }),
        Special::Quantity => {
            let s = fields.string(1);
            Some(Value::String(if s.is_empty() { "0".into() } else { s }))
        }
        Special::Time | Special::MicroTime if bytes.is_empty() => None,
        Special::Time => Some(Value::String(timestamp::format_time(
            fields.varint(1) as i64,
            fields.varint(2) as i32,
        )?)),
        Special::MicroTime => Some(Value::String(timestamp::format_micro_time(
            fields.varint(1) as i64,
            fields.varint(2) as i32,
        )?)),
        Special::Duration => Some(Value::String(duration::format(fields.varint(1) as i64))),
        Special::RawExtension | Special::RawJson => raw_value(fields.bytes(1))?,
        Special::Unknown => unknown(bytes)?,
        Special::Array => Some(Value::Array(decode_each(msg, &fields, 1)?)),
        Special::SchemaOrArray => {
            let items = decode_each(msg, &fields, 2)?;
            if items.is_empty() {
                decode_one(msg, &fields, 1)?
            } else {
                Some(Value::Array(items))
            }
        }
        Special::SchemaOrBool => match decode_one(msg, &fields, 2)? {
            Some(schema) => Some(schema),
            None => Some(Value::Bool(fields.varint(1) != 0)),
        },
        Special::SchemaOrStringArray => {
            let items = decode_each(msg, &fields, 2)?;
            if items.is_empty() {
                decode_one(msg, &fields, 1)?
            } else {
                Some(Value::Array(items))
            }
        }
    })
}

/// A nested `runtime.Unknown`: its object when its type is known, else its raw JSON, else
/// the envelope's fields with the raw bytes in base64.
fn unknown(bytes: &[u8]) -> Result<Option<Value>, ProtobufError> {
    let u = Unknown::read(bytes)?;
    let protobuf = u.content_type.is_empty() || u.content_type.contains("protobuf");
    if protobuf && u.content_encoding.is_empty() {
        if let Some(msg) = message_for_kind(&u.api_version, &u.kind) {
            let mut obj = Map::new();
            obj.insert("apiVersion".into(), Value::String(u.api_version.clone()));
            obj.insert("kind".into(), Value::String(u.kind.clone()));
            obj.extend(decode::object(msg, u.raw)?);
            return Ok(Some(Value::Object(obj)));
        }
    }
    if u.content_type.contains("json") && u.content_encoding.is_empty() {
        return raw_value(u.raw);
    }
    use base64::Engine;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(u.api_version));
    obj.insert("kind".into(), Value::String(u.kind));
    obj.insert(
        "raw".into(),
        Value::String(base64::engine::general_purpose::STANDARD.encode(u.raw)),
    );
    obj.insert("contentEncoding".into(), Value::String(u.content_encoding));
    obj.insert("contentType".into(), Value::String(u.content_type));
    Ok(Some(Value::Object(obj)))
}

fn each(msg: &Message, tag: u32, items: &[Value], w: &mut Writer) -> Result<(), ProtobufError> {
    let kind = field_kind(msg, tag)?;
    for (i, item) in items.iter().enumerate() {
        encode::one(tag, kind, item, w).map_err(|e| e.within(&format!("[{i}]")))?;
    }
    Ok(())
}

/// Writes the fields of a special message from its JSON value.
pub fn encode(msg: &Message, value: &Value, w: &mut Writer) -> Result<(), ProtobufError> {
    let unexpected = || {
        ProtobufError::invalid(format!(
            "{} cannot be {}",
            short_name(msg),
            type_name(value)
        ))
    };
    match (msg.special, value) {
        (Special::Plain, _) => unreachable!("plain messages are encoded field by field"),
        (_, Value::Null) => {}
        (Special::IntOrString, Value::Number(n)) => {
            let n = n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(unexpected)?;
            w.varint_field(1, 0);
            w.varint_field(2, i64::from(n) as u64);
            w.bytes_field(3, b"");
        }
        (Special::IntOrString, Value::String(s)) => {
            w.varint_field(1, 1);
            w.varint_field(2, 0);
            w.bytes_field(3, s.as_bytes());
        }
        (Special::Quantity, Value::String(s)) => w.bytes_field(1, s.as_bytes()),
        (Special::Quantity, Value::Number(n)) => w.bytes_field(1, n.to_string().as_bytes()),
        (Special::Time | Special::MicroTime, Value::String(s)) => {
            let (seconds, nanos) = timestamp::parse(s)?;
            if seconds != 0 {
                w.varint_field(1, seconds as u64);
            }
            if nanos != 0 {
                w.varint_field(2, i64::from(nanos) as u64);
            }
        }
        (Special::Duration, Value::String(s)) => w.varint_field(1, duration::parse(s)? as u64),
        (Special::RawExtension | Special::RawJson, v) => {
            let raw = serde_json::to_vec(v).map_err(|e| ProtobufError::invalid(e.to_string()))?;
            w.bytes_field(1, &raw);
        }
        (Special::Unknown, Value::Object(obj)) => {
            let field = |name: &str| {
                obj.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let (api_version, kind) = (field("apiVersion"), field("kind"));
            let (raw, content_type) = match message_for_kind(&api_version, &kind) {
                Some(m) => {
                    let mut inner = Writer::default();
                    encode::object(m, obj, &mut inner)?;
                    (inner.buf, String::new())
                }
                None => (
                    serde_json::to_vec(value).unwrap_or_default(),
                    "application/json".to_string(),
                ),
            };
            let u = Unknown {
                api_version,
                kind,
                raw: &raw,
                content_encoding: String::new(),
                content_type,
            };
            w.buf.extend_from_slice(&u.write());
        }
        (Special::Array, Value::Array(items)) => each(msg, 1, items, w)?,
        (Special::SchemaOrArray | Special::SchemaOrStringArray, Value::Array(items)) => {
            each(msg, 2, items, w)?
        }
        (Special::SchemaOrArray | Special::SchemaOrStringArray, Value::Object(_)) => {
            encode::one(1, field_kind(msg, 1)?, value, w)?;
        }
        (Special::SchemaOrBool, Value::Bool(b)) => w.varint_field(1, u64::from(*b)),
        (Special::SchemaOrBool, Value::Object(_)) => {
            w.varint_field(1, 1);
            encode::one(2, field_kind(msg, 2)?, value, w)?;
        }
        _ => return Err(unexpected()),
    }
    Ok(())
}

fn short_name(msg: &Message) -> &'static str {
    msg.name.rsplit('.').next().unwrap_or(msg.name)
}
