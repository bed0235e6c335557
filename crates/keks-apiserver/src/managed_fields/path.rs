//! One step of a field path, as structured-merge-diff names them: a field (`f:name`), an
//! associative-list item by its keys (`k:{"name":"c"}`), a set-list item by its value
//! (`v:"x"`), or a list index (`i:0`), in the `FieldsV1` spelling and in the `.a[k=v]` form
//! of conflict messages.

use std::fmt;

use serde_json::Value;

/// A path element. Keys and values hold their canonical JSON text (compact, object keys
/// sorted), so elements compare and order without decoding. The variant order is
/// structured-merge-diff's: fields before keys before values before indexes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    Field(String),
    Key(String),
    Value(String),
    Index(usize),
}

impl PathElement {
    /// The element of an associative-list item keyed by `keys` (name, value) pairs.
    pub fn key(mut keys: Vec<(&str, &Value)>) -> Self {
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let map: serde_json::Map<String, Value> = keys
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        // serde_json's maps are sorted, so this text is canonical.
        Self::Key(Value::Object(map).to_string())
    }

    /// The element of a set-list item.
    pub fn value(v: &Value) -> Self {
        Self::Value(v.to_string())
    }

    /// The `FieldsV1` key: `f:name`, `k:{...}`, `v:...`, `i:0`.
    pub fn to_fields_v1(&self) -> String {
        match self {
            Self::Field(name) => format!("f:{name}"),
            Self::Key(k) => format!("k:{k}"),
            Self::Value(v) => format!("v:{v}"),
            Self::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key; `None` for a malformed one.
    pub fn from_fields_v1(text: &str) -> Option<Self> {
        let (kind, rest) = text.split_at_checked(2)?;
        match kind {
            "f:" => Some(Self::Field(rest.to_string())),
            "k:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                v.is_object().then(|| Self::Key(v.to_string()))
            }
            "v:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                Some(Self::Value(v.to_string()))
            }
            "i:" => rest.parse().ok().map(Self::Index),
            _ => None,
        }
    }
}

/// Go's `%v` of a value as structured-merge-diff's `value.ToString` prints it: strings
/// quoted, the rest as JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", value_text(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// `.spec.replicas`, `[name="nginx"]`, `[=\"x\"]`, `[0]`: the conflict message spelling.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, ".{name}"),
            Self::Key(k) => {
                let v: Value = serde_json::from_str(k).unwrap_or(Value::Null);
                let parts: Vec<String> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", value_text(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            Self::Value(v) => {
                let v: Value = serde_json::from_str(v).unwrap_or(Value::Null);
                write!(f, "[={}]", value_text(&v))
            }
            Self::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A whole path, printed as its elements one after another.
pub struct Path<'a>(pub &'a [PathElement]);

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for pe in self.0 {
            write!(f, "{pe}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_keys_round_trip() {
        for text in [
            "f:spec",
            r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            r#"v:"example.com/finalizer""#,
            "i:3",
        ] {
            let pe = PathElement::from_fields_v1(text).unwrap();
            assert_eq!(pe.to_fields_v1(), text);
        }
        assert!(PathElement::from_fields_v1("x:y").is_none());
        assert!(PathElement::from_fields_v1("k:[1]").is_none());
    }

    #[test]
    fn keys_are_sorted_and_printed_as_conflicts_print_them() {
        let port = json!(80);
        let proto = json!("TCP");
        let pe = PathElement::key(vec![("protocol", &proto), ("containerPort", &port)]);
        assert_eq!(
            pe.to_fields_v1(),
            r#"k:{"containerPort":80,"protocol":"TCP"}"#
        );
        let path = [
            PathElement::Field("spec".into()),
            PathElement::Field("ports".into()),
            pe,
            PathElement::Field("name".into()),
        ];
        assert_eq!(
            Path(&path).to_string(),
            r#".spec.ports[containerPort=80,protocol="TCP"].name"#
        );
        assert_eq!(PathElement::value(&json!("a")).to_string(), r#"[="a"]"#);
    }

    #[test]
    fn fields_order_before_keys_before_values() {
        let f = PathElement::Field("z".into());
        let k = PathElement::Key("{}".into());
        let v = PathElement::Value("1".into());
        assert!(f < k && k < v && v < PathElement::Index(0));
    }
}
