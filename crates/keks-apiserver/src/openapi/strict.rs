//! Server-side field validation (`fieldValidation=Ignore|Warn|Strict`) worded as
//! kube-apiserver words it: the directive, the 400 of a strict create or update, the 422 of
//! a strict patch, and the `Warning` header of Warn.

use serde_json::{json, Value};

use super::names::go_quote;
use crate::field::{FieldError, FieldPath};
use crate::status::ApiError;

/// What a write does with unknown fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them with one warning each (the default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// The `fieldValidation` query parameter; `options_kind` is `CreateOptions`,
    /// `UpdateOptions` or `PatchOptions`, for kube's error on an unknown value.
    pub fn parse(value: Option<&str>, options_kind: &str) -> Result<Self, ApiError> {
        match value.unwrap_or_default() {
            "" | "Warn" => Ok(Self::Warn),
            "Ignore" => Ok(Self::Ignore),
            "Strict" => Ok(Self::Strict),
            other => Err(ApiError::invalid(
                "meta.k8s.io",
                options_kind,
                "",
                vec![FieldError::not_supported(
                    FieldPath::root("fieldValidation"),
                    json!(other),
                    &["", "Ignore", "Strict", "Warn"],
                )],
            )),
        }
    }
}

/// `unknown field "spec.foo"`: one strict-decoding error, and the text of its warning.
pub fn unknown_field_message(path: &str) -> String {
    format!("unknown field {}", go_quote(path))
}

/// `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
pub fn strict_decoding_message(paths: &[String]) -> String {
    let errors: Vec<String> = paths.iter().map(|p| unknown_field_message(p)).collect();
    format!("strict decoding error: {}", errors.join(", "))
}

/// The 400 BadRequest of a create or update (POST, PUT) with `fieldValidation=Strict`:
/// `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo"`.
/// `kind` and `version` are the body's.
pub fn strict_decoding_error(kind: &str, version: &str, paths: &[String]) -> ApiError {
    ApiError::BadRequest(format!(
        "{kind} in version {} cannot be handled as a {kind}: {}",
        go_quote(version),
        strict_decoding_message(paths)
    ))
}

/// The 422 Invalid of a JSON patch or merge patch with `fieldValidation=Strict`, as
/// kube-apiserver's patcher words it: field `patch`, the patched object as the value.
pub fn strict_patch_error(patched: &Value, paths: &[String]) -> ApiError {
    ApiError::invalid(
        "",
        "",
        "",
        vec![FieldError::invalid(
            FieldPath::root("patch"),
            Value::String(patched.to_string()),
            strict_decoding_message(paths),
        )],
    )
}

/// The value of one `Warning` response header (RFC 7234, as kube's `NewWarningHeader`):
/// `299 - "unknown field \"spec.foo\""`.
pub fn warning_header(text: &str) -> String {
    let mut out = String::from("299 - \"");
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_errors_are_worded_as_kube() {
        let paths = vec![
            "spec.foo".to_string(),
            "spec.containers[0].imagee".to_string(),
        ];
        let e = strict_decoding_error("Pod", "v1", &paths);
        assert_eq!(e.code(), 400);
        assert_eq!(
            e.to_string(),
            r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo", unknown field "spec.containers[0].imagee""#
        );
        let p = strict_patch_error(&json!({"a": 1}), &paths[..1]);
        assert_eq!(p.code(), 422);
        assert_eq!(
            p.to_string(),
            r#" "" is invalid: patch: Invalid value: "{\"a\":1}": strict decoding error: unknown field "spec.foo""#
        );
        assert_eq!(
            warning_header(&unknown_field_message("spec.foo")),
            r#"299 - "unknown field \"spec.foo\"""#
        );
    }

    #[test]
    fn directives_parse_with_kube_defaults() {
        assert_eq!(
            FieldValidation::parse(None, "CreateOptions").unwrap(),
            FieldValidation::Warn
        );
        assert_eq!(
            FieldValidation::parse(Some("Strict"), "CreateOptions").unwrap(),
            FieldValidation::Strict
        );
        let e = FieldValidation::parse(Some("strict"), "CreateOptions").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn""#
        );
    }
}
