//! JSON values as Go's `map[string]interface{}` world sees them, so that strategic merge
//! patch errors read as apimachinery's: Go type names (`reflect.TypeOf(x).String()`), `%v`
//! formatting (`map[image:nginx name:c]`, `[a b]`, `<nil>`) and the `mergepatch` errors.

use std::fmt;

use serde_json::Value;

/// A strategic merge patch failure, worded as apimachinery words it.
///
/// kube-apiserver answers 400 BadRequest for the malformed-directive errors of
/// `mergepatch` (`invalid patch format of ...`), 422 for lists of lists and 500 for the rest
/// (missing merge keys, unknown `$patch` values); keks answers 400 for all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmpError(pub String);

impl fmt::Display for SmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SmpError {}

pub(super) const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
pub(super) const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
pub(super) const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
pub(super) const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

impl SmpError {
    pub(super) fn new(message: &str) -> Self {
        Self(message.to_string())
    }

    /// `mergepatch.ErrNoMergeKey`.
    pub(super) fn no_merge_key(m: &Value, key: &str) -> Self {
        Self(format!(
            "map: {} does not contain declared merge key: {key}",
            v(m)
        ))
    }

    /// `mergepatch.ErrBadArgType` where Go expected a value of `expected` type.
    pub(super) fn bad_arg_type(expected: GoType, actual: &Value) -> Self {
        // Go prints the nil `reflect.Type` of a nil value with `%s`.
        let actual = match GoType::of(actual) {
            GoType::Nil => "%!s(<nil>)",
            other => other.name(),
        };
        Self(format!(
            "expected a {}, but received a {actual}",
            expected.name()
        ))
    }

    /// `mergepatch.ErrBadPatchType`.
    pub(super) fn bad_patch_type(directive: &Value, m: &Value) -> Self {
        Self(format!(
            "unknown patch type: {} in map: {}",
            s(directive),
            v(m)
        ))
    }
}

/// The dynamic Go type of a decoded JSON value. Go decodes integers as `int64` and other
/// numbers as `float64` (kube-apiserver preserves ints), and compares values of different
/// types as unequal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GoType {
    Nil,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Map,
}

impl GoType {
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Nil,
            Value::Bool(_) => Self::Bool,
            Value::Number(n) if n.is_f64() => Self::Float,
            Value::Number(_) => Self::Int,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Slice,
            Value::Object(_) => Self::Map,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Nil => "<nil>",
            Self::Bool => "bool",
            Self::Int => "int64",
            Self::Float => "float64",
            Self::String => "string",
            Self::Slice => "[]interface {}",
            Self::Map => "map[string]interface {}",
        }
    }
}

/// Go's `%v` of a decoded JSON value.
pub(super) fn v(value: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, value);
    out
}

/// Go's `fmt.Sprint` of several lists (`[[a b] [c]]`).
pub(super) fn v_lists(lists: &[&[Value]]) -> String {
    let parts: Vec<String> = lists.iter().map(|l| v(&Value::Array(l.to_vec()))).collect();
    format!("[{}]", parts.join(" "))
}

/// Go's `%s` of a decoded JSON value: strings as they are, anything else flagged.
fn s(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "%!s(<nil>)".into(),
        other => format!("%!s({}={})", GoType::of(other).name(), v(other)),
    }
}

fn write_v(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&float_v(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(text) => out.push_str(text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go prints map keys sorted; serde_json's map iterates sorted too.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_v(out, &map[key]);
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64: the shortest representation, in exponent form when the exponent
/// is below -4 or at least 6 (`1e+06`, `1.5e-05`).
fn float_v(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exp) {
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn formats_values_as_go_does() {
        assert_eq!(
            v(&json!({"name": "c", "image": "nginx", "ports": [80, 443]})),
            "map[image:nginx name:c ports:[80 443]]"
        );
        assert_eq!(v(&json!(null)), "<nil>");
        assert_eq!(v(&json!(1.5)), "1.5");
        assert_eq!(v(&json!(1000000.0)), "1e+06");
        assert_eq!(v(&json!(0.00001)), "1e-05");
        assert_eq!(v(&json!(123456.0)), "123456");
        assert_eq!(s(&json!(3)), "%!s(int64=3)");
        assert_eq!(v_lists(&[&[json!("a"), json!(1)], &[]]), "[[a 1] []]");
        assert_eq!(
            SmpError::bad_arg_type(GoType::Map, &json!("x")).0,
            "expected a map[string]interface {}, but received a string"
        );
    }
}
