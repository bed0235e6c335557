//! Field paths and field errors, worded as Kubernetes' `field.Error`
//! (`spec.containers[0].image: Required value`), with their `StatusCause` form.

use std::fmt;

use serde_json::{json, Value};

/// A path into an object: `metadata.labels`, `spec.containers[0].name`, `metadata.labels[app]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FieldPath(String);

impl FieldPath {
    pub fn root(name: &str) -> Self {
        Self(name.to_string())
    }

    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Kubernetes' field error types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
    NotFound,
}

impl ErrorType {
    /// The `StatusCause` reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::NotFound => "FieldValueNotFound",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Duplicate => "Duplicate value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::NotFound => "Not found",
        }
    }

    /// Whether the message shows the bad value.
    fn shows_value(self) -> bool {
        matches!(
            self,
            Self::Invalid | Self::NotSupported | Self::Duplicate | Self::NotFound
        )
    }
}

/// One validation failure.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: ErrorType,
    pub field: FieldPath,
    pub value: Value,
    pub detail: String,
}

impl FieldError {
    pub fn required(field: FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, field, Value::Null, detail)
    }

    pub fn invalid(field: FieldPath, value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, value, detail)
    }

    pub fn forbidden(field: FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, field, Value::Null, detail)
    }

    pub fn duplicate(field: FieldPath, value: Value) -> Self {
        Self::new(ErrorType::Duplicate, field, value, "")
    }

    pub fn not_supported(field: FieldPath, value: Value, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Self::new(
            ErrorType::NotSupported,
            field,
            value,
            format!("supported values: {list}"),
        )
    }

    pub fn too_long(field: FieldPath, max: usize) -> Self {
        Self::new(
            ErrorType::TooLong,
            field,
            Value::Null,
            format!("may not be more than {max} bytes"),
        )
    }

    pub fn new(kind: ErrorType, field: FieldPath, value: Value, detail: impl Into<String>) -> Self {
        Self {
            kind,
            field,
            value,
            detail: detail.into(),
        }
    }

    /// The message without the field path: `Invalid value: "x": detail`.
    pub fn body(&self) -> String {
        let mut s = self.kind.words().to_string();
        if self.kind.shows_value() {
            s.push_str(": ");
            s.push_str(&render_value(&self.value));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The `StatusCause` form.
    pub fn cause(&self) -> Value {
        json!({"reason": self.kind.reason(), "message": self.body(), "field": self.field.as_str()})
    }
}

/// Values print as Go's `%#v` would for the common cases: strings quoted, numbers and
/// booleans bare, anything else as JSON.
fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            let quoted: Vec<String> = items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| format!("{s:?}"))
                .collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.as_str().is_empty() {
            f.write_str(&self.body())
        } else {
            write!(f, "{}: {}", self.field, self.body())
        }
    }
}
