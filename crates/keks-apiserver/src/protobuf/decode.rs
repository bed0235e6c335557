//! Protobuf to JSON: one generic walk over the schema table, producing the JSON Kubernetes'
//! Go types would encode (JSON names, omitted zero values, base64 bytes, numbers as numbers).

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::error::ProtobufError;
use super::schema::{message, Card, Emit, Field, Kind, Message, Special};
use super::special;
use super::wire::{Reader, WireValue};

/// The JSON of a message; `None` when Go would leave it out (a zero `Time`, a nil raw value).
pub fn message_value(msg: &Message, bytes: &[u8]) -> Result<Option<Value>, ProtobufError> {
    if msg.special == Special::Plain {
        Ok(Some(Value::Object(object(msg, bytes)?)))
    } else {
        special::decode(msg, bytes)
    }
}

/// The JSON object of a plain message's fields.
pub fn object(msg: &Message, bytes: &[u8]) -> Result<Map<String, Value>, ProtobufError> {
    let mut out = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((tag, value)) = reader.next_field()? {
        // Fields this schema does not know are skipped, as Go's generated code does.
        let Some(field) = msg.field(tag) else {
            continue;
        };
        decode_field(field, value, &mut out).map_err(|e| e.within(field.json))?;
    }
    Ok(out)
}

fn decode_field(
    field: &Field,
    value: WireValue<'_>,
    out: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    match (field.card, field.emit) {
        (Card::One, Emit::Inline) => {
            let Kind::Msg(index) = field.kind else {
                return Err(ProtobufError::malformed(
                    "an inline field must be a message",
                ));
            };
            out.extend(object(message(index), bytes_of(value)?)?);
        }
        (Card::One, emit) => match scalar_or_message(field.kind, value)? {
            Some(v) if emit == Emit::NonZero && is_zero(&v) => {
                out.remove(field.json);
            }
            Some(v) => {
                out.insert(field.json.to_string(), v);
            }
            None => {
                out.remove(field.json);
            }
        },
        (Card::Rep, _) => {
            let items = out
                .entry(field.json)
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else {
                unreachable!("inserted as an array")
            };
            repeated(field.kind, value, items)?;
        }
        (Card::Map, _) => {
            let (key, v) = map_entry(field.kind, bytes_of(value)?)?;
            let entries = out
                .entry(field.json)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(entries) = entries {
                entries.insert(key, v);
            }
        }
    }
    Ok(())
}

/// Appends one wire value of a repeated field: one element, or several when packed.
fn repeated(kind: Kind, value: WireValue<'_>, items: &mut Vec<Value>) -> Result<(), ProtobufError> {
    let packable = matches!(kind, Kind::Bool | Kind::I32 | Kind::I64 | Kind::F64);
    match value {
        WireValue::Bytes(packed) if packable => {
            let mut reader = Reader::new(packed);
            while !reader.at_end() {
                let v = if kind == Kind::F64 {
                    WireValue::Fixed64(reader.fixed64()?)
                } else {
                    WireValue::Varint(reader.varint()?)
                };
                items.push(scalar_or_message(kind, v)?.unwrap_or(Value::Null));
            }
        }
        value => {
            let index = items.len();
            let v = scalar_or_message(kind, value).map_err(|e| e.within(&format!("[{index}]")))?;
            items.push(v.unwrap_or(Value::Null));
        }
    }
    Ok(())
}

/// A map entry message {1 key, 2 value}; a missing value is the kind's zero value.
fn map_entry(kind: Kind, bytes: &[u8]) -> Result<(String, Value), ProtobufError> {
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(bytes);
    while let Some((tag, v)) = reader.next_field()? {
        match tag {
            1 => key = String::from_utf8_lossy(bytes_of(v)?).into_owned(),
            2 => value = Some(v),
            _ => {}
        }
    }
    let value = match value {
        Some(v) => scalar_or_message(kind, v).map_err(|e| e.within(&key))?,
        None => zero(kind)?,
    };
    Ok((key, value.unwrap_or(Value::Null)))
}

fn zero(kind: Kind) -> Result<Option<Value>, ProtobufError> {
    Ok(Some(match kind {
        Kind::Str | Kind::Bytes => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::I32 | Kind::I64 | Kind::F64 => Value::from(0),
        Kind::Msg(index) => return message_value(message(index), &[]),
    }))
}

fn bytes_of(value: WireValue<'_>) -> Result<&[u8], ProtobufError> {
    match value {
        WireValue::Bytes(b) => Ok(b),
        other => Err(ProtobufError::malformed(format!(
            "expected a length-delimited value, found a {}",
            other.type_name()
        ))),
    }
}

fn varint_of(value: WireValue<'_>) -> Result<u64, ProtobufError> {
    match value {
        WireValue::Varint(v) => Ok(v),
        other => Err(ProtobufError::malformed(format!(
            "expected a varint, found a {}",
            other.type_name()
        ))),
    }
}

/// The JSON of one value of a kind.
pub fn scalar_or_message(kind: Kind, value: WireValue<'_>) -> Result<Option<Value>, ProtobufError> {
    Ok(Some(match kind {
        Kind::Str => Value::String(String::from_utf8_lossy(bytes_of(value)?).into_owned()),
        Kind::Bytes => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes_of(value)?))
        }
        Kind::Bool => Value::Bool(varint_of(value)? != 0),
        // Negative int32s are sign-extended to 64 bits on the wire.
        Kind::I32 => Value::from(varint_of(value)? as i32),
        Kind::I64 => Value::from(varint_of(value)? as i64),
        Kind::F64 => {
            let WireValue::Fixed64(bits) = value else {
                return Err(ProtobufError::malformed(format!(
                    "expected a fixed64, found a {}",
                    value.type_name()
                )));
            };
            float(f64::from_bits(bits))?
        }
        Kind::Msg(index) => return message_value(message(index), bytes_of(value)?),
    }))
}

/// A float as Go's encoding/json writes it: integral values without a fraction.
fn float(f: f64) -> Result<Value, ProtobufError> {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| ProtobufError::invalid(format!("{f} has no JSON form")))
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}
