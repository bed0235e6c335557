//! JSON to protobuf: the inverse walk of `decode`, writing fields in tag order as Go does.
//! JSON fields the schema does not know are left out (a protobuf client could not read them).

use base64::Engine;
use serde_json::{Map, Value};

use super::error::ProtobufError;
use super::schema::{message, Card, Emit, Field, Kind, Message, Special};
use super::special;
use super::wire::Writer;

/// Writes the fields of a message from its JSON value.
pub fn message_value(msg: &Message, value: &Value, w: &mut Writer) -> Result<(), ProtobufError> {
    if msg.special != Special::Plain {
        return special::encode(msg, value, w);
    }
    match value {
        Value::Object(obj) => object(msg, obj, w),
        Value::Null => Ok(()),
        other => Err(ProtobufError::invalid(format!(
            "expected an object, found {}",
            type_name(other)
        ))),
    }
}

/// Writes the fields of a plain message from a JSON object.
pub fn object(
    msg: &Message,
    obj: &Map<String, Value>,
    w: &mut Writer,
) -> Result<(), ProtobufError> {
    for field in msg.fields() {
        if field.emit == Emit::Inline {
            if let Kind::Msg(index) = field.kind {
                // Go writes an embedded struct always; its fields come from this same object.
                let mut inner = Writer::default();
                object(message(index), obj, &mut inner).map_err(|e| e.within(field.json))?;
                w.bytes_field(field.tag, &inner.buf);
            }
            continue;
        }
        match obj.get(field.json) {
            None | Some(Value::Null) => {}
            Some(v) => encode_field(field, v, w).map_err(|e| e.within(field.json))?,
        }
    }
    Ok(())
}

fn encode_field(field: &Field, value: &Value, w: &mut Writer) -> Result<(), ProtobufError> {
    match field.card {
        Card::One => one(field.tag, field.kind, value, w),
        Card::Rep => {
            let Value::Array(items) = value else {
                return Err(ProtobufError::invalid(format!(
                    "expected an array, found {}",
                    type_name(value)
                )));
            };
            for (i, item) in items.iter().enumerate() {
                one(field.tag, field.kind, item, w).map_err(|e| e.within(&format!("[{i}]")))?;
            }
            Ok(())
        }
        Card::Map => {
            let Value::Object(entries) = value else {
                return Err(ProtobufError::invalid(format!(
                    "expected an object, found {}",
                    type_name(value)
                )));
            };
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            for key in keys {
                let mut entry = Writer::default();
                entry.bytes_field(1, key.as_bytes());
                one(2, field.kind, &entries[key], &mut entry).map_err(|e| e.within(key))?;
                w.bytes_field(field.tag, &entry.buf);
            }
            Ok(())
        }
    }
}

/// Writes one value of a kind as field `tag`. A JSON null is the kind's zero value.
pub fn one(tag: u32, kind: Kind, value: &Value, w: &mut Writer) -> Result<(), ProtobufError> {
    let expected =
        |what: &str| ProtobufError::invalid(format!("expected {what}, found {}", type_name(value)));
    match kind {
        Kind::Str => w.bytes_field(
            tag,
            value
                .as_str()
                .or(value.is_null().then_some(""))
                .ok_or_else(|| expected("a string"))?
                .as_bytes(),
        ),
        Kind::Bytes => {
            let text = value
                .as_str()
                .or(value.is_null().then_some(""))
                .ok_or_else(|| expected("a base64 string"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| ProtobufError::invalid(format!("invalid base64: {e}")))?;
            w.bytes_field(tag, &bytes);
        }
        Kind::Bool => w.varint_field(
            tag,
            u64::from(
                value
                    .as_bool()
                    .or(value.is_null().then_some(false))
                    .ok_or_else(|| expected("a boolean"))?,
            ),
        ),
        Kind::I32 => {
            let n = integer(value).ok_or_else(|| expected("an integer"))?;
            let n = i32::try_from(n)
                .map_err(|_| ProtobufError::invalid(format!("{n} does not fit in an int32")))?;
            w.varint_field(tag, i64::from(n) as u64);
        }
        Kind::I64 => w.varint_field(
            tag,
            integer(value).ok_or_else(|| expected("an integer"))? as u64,
        ),
        Kind::F64 => w.fixed64_field(
            tag,
            value
                .as_f64()
                .or(value.is_null().then_some(0.0))
                .ok_or_else(|| expected("a number"))?
                .to_bits(),
        ),
        Kind::Msg(index) => {
            let mut inner = Writer::default();
            message_value(message(index), value, &mut inner)?;
            w.bytes_field(tag, &inner.buf);
        }
    }
    Ok(())
}

/// An integer from a JSON number (integral floats too, as Go accepts `1.0` for an int).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Null => Some(0),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
