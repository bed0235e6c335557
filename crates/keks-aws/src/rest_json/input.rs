//! Reading a restJson1 request into the operation's input: members from path labels, the
//! query string, headers and the JSON body, each converted to its modelled type, then the
//! whole input checked against the model (types, required members, enums, lengths and
//! ranges) with AWS's validation wording, so a service only ever sees well-formed input.

use serde_json::{Map, Number, Value};

use super::model::{Location, Model, ShapeKind, ShapeRef};

/// Why a request could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The body is not JSON (or not a JSON object).
    #[error("{0}")]
    Serialization(String),
    /// The input breaks the model's constraints; each message names the member.
    #[error("{} validation error{} detected: {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("; "))]
    Validation(Vec<String>),
}

/// The parts of the request the input is read from.
pub struct RawRequest<'a> {
    pub labels: &'a [(String, String)],
    pub query: &'a [(String, String)],
    /// Lowercase names.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Builds and validates the input of an operation whose input shape is `shape`.
pub fn read(model: &Model, shape: &str, req: &RawRequest<'_>) -> Result<Value, InputError> {
    let Some(input) = model.shape(shape) else {
        return Ok(Value::Object(Map::new()));
    };
    let has_body_members = input.members.values().any(|m| m.location.is_none());
    let mut object = if has_body_members && !req.body.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(req.body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(InputError::Serialization(
                    "Start of structure or map found where not expected.".into(),
                ))
            }
            Err(e) => {
                return Err(InputError::Serialization(format!(
                    "Could not parse the request body as JSON: {e}"
                )))
            }
        }
    } else {
        Map::new()
    };
    // Members that travel outside the body replace anything the body said about them.
    let mut errors = Vec::new();
    for (name, member) in &input.members {
        let wire = member.location_name.as_deref().unwrap_or(name);
        let raw: Vec<&str> = match member.location {
            None | Some(Location::StatusCode) | Some(Location::Headers) => continue,
            Some(Location::Uri) => req
                .labels
                .iter()
                .filter(|(k, _)| k == wire)
                .map(|(_, v)| v.as_str())
                .collect(),
            Some(Location::Querystring) => req
                .query
                .iter()
                .filter(|(k, _)| k == wire)
                .map(|(_, v)| v.as_str())
                .collect(),
            Some(Location::Header) => {
                let wire = wire.to_ascii_lowercase();
                req.headers
                    .iter()
                    .filter(|(k, _)| *k == wire)
                    .map(|(_, v)| v.as_str())
                    .collect()
            }
        };
        object.remove(name);
        if raw.is_empty() {
            continue;
        }
        match scalar_from_text(model, member, &raw) {
            Ok(value) => {
                object.insert(name.clone(), value);
            }
            Err(message) => errors.push(format!(
                "Value '{}' at '{name}' failed to satisfy constraint: {message}",
                raw.join(",")
            )),
        }
    }
    let value = Value::Object(object);
    check(model, shape, &value, "", &mut errors);
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(InputError::Validation(errors))
    }
}

/// A member carried as text (label, query parameter, header) as its modelled type.
fn scalar_from_text(model: &Model, member: &ShapeRef, raw: &[&str]) -> Result<Value, String> {
    let Some(shape) = model.shape(&member.shape) else {
        return Ok(Value::String(raw.join(",")));
    };
    let one = |text: &str, kind: ShapeKind| -> Result<Value, String> {
        match kind {
            ShapeKind::Integer | ShapeKind::Long => text
                .parse::<i64>()
                .map(|n| Value::Number(n.into()))
                .map_err(|_| "Member must be a number".to_string()),
            ShapeKind::Double | ShapeKind::Float => text
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "Member must be a number".to_string()),
            ShapeKind::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err("Member must be a boolean".into()),
            },
            _ => Ok(Value::String(text.to_string())),
        }
    };
    match shape.kind {
        ShapeKind::List => {
            let item_kind = shape
                .member
                .as_ref()
                .and_then(|m| model.shape(&m.shape))
                .map(|s| s.kind)
                .unwrap_or(ShapeKind::String);
            raw.iter()
                .flat_map(|r| r.split(','))
                .filter(|s| !s.is_empty())
                .map(|s| one(s, item_kind))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        kind => one(raw[0], kind),
    }
}

/// Checks `value` against shape `name`; appends one message per problem.
fn check(model: &Model, name: &str, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(shape) = model.shape(name) else {
        return;
    };
    let at = |p: &str| {
        if p.is_empty() {
            "input".to_string()
        } else {
            p.to_string()
        }
    };
    let show = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let type_error = |errors: &mut Vec<String>, want: &str| {
        errors.push(format!(
            "Value '{}' at '{}' failed to satisfy constraint: Member must be {want}",
            show(value),
            at(path)
        ))
    };
    match shape.kind {
        ShapeKind::Structure => {
            let Some(object) = value.as_object() else {
                return type_error(errors, "a structure");
            };
            for required in &shape.required {
                if object.get(required).is_none_or(Value::is_null) {
                    errors.push(format!(
                        "Value null at '{}' failed to satisfy constraint: Member must not be null",
                        join(path, required)
                    ));
                }
            }
            for (member, v) in object {
                if v.is_null() {
                    continue;
                }
                if let Some(r) = shape.members.get(member) {
                    check(model, &r.shape, v, &join(path, member), errors);
                }
            }
        }
        ShapeKind::List => {
            let Some(items) = value.as_array() else {
                return type_error(errors, "a list");
            };
            length(shape.min, shape.max, items.len(), value, path, errors);
            if let Some(member) = &shape.member {
                for (i, item) in items.iter().enumerate() {
                    check(
                        model,
                        &member.shape,
                        item,
                        &format!("{}.{}", at(path), i + 1),
                        errors,
                    );
                }
            }
        }
        ShapeKind::Map => {
            let Some(entries) = value.as_object() else {
                return type_error(errors, "a map");
            };
            length(shape.min, shape.max, entries.len(), value, path, errors);
            for (k, v) in entries {
                if let Some(key) = &shape.key {
                    check(
                        model,
                        &key.shape,
                        &Value::String(k.clone()),
                        &format!("{}.key", at(path)),
                        errors,
                    );
                }
                if let Some(val) = &shape.value {
                    check(model, &val.shape, v, &format!("{}.{k}", at(path)), errors);
                }
            }
        }
        ShapeKind::String => {
            let Some(text) = value.as_str() else {
                return type_error(errors, "a string");
            };
            if let Some(allowed) = &shape.enum_values {
                if !allowed.iter().any(|a| a == text) {
                    errors.push(format!(
                        "Value '{text}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                        at(path),
                        allowed.join(", ")
                    ));
                }
            }
            length(
                shape.min,
                shape.max,
                text.chars().count(),
                value,
                path,
                errors,
            );
        }
        ShapeKind::Integer | ShapeKind::Long => {
            let Some(n) = value.as_i64() else {
                return type_error(errors, "an integer");
            };
            if let Some(min) = shape.min {
                if (n as f64) < min {
                    errors.push(format!("Value '{n}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to {min}", at(path)));
                }
            }
            if let Some(max) = shape.max {
                if (n as f64) > max {
                    errors.push(format!("Value '{n}' at '{}' failed to satisfy constraint: Member must have value less than or equal to {max}", at(path)));
                }
            }
        }
        ShapeKind::Double | ShapeKind::Float => {
            if !value.is_number() {
                type_error(errors, "a number");
            }
        }
        ShapeKind::Boolean => {
            if !value.is_boolean() {
                type_error(errors, "a boolean");
            }
        }
        ShapeKind::Timestamp => {
            if !value.is_number() && !value.is_string() {
                type_error(errors, "a timestamp");
            }
        }
        ShapeKind::Blob => {
            if !value.is_string() {
                type_error(errors, "base64-encoded binary data");
            }
        }
    }
}

fn length(
    min: Option<f64>,
    max: Option<f64>,
    len: usize,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let at = if path.is_empty() { "input" } else { path };
    if let Some(min) = min {
        if (len as f64) < min {
            errors.push(format!("Value '{shown}' at '{at}' failed to satisfy constraint: Member must have length greater than or equal to {min}"));
        }
    }
    if let Some(max) = max {
        if (len as f64) > max {
            errors.push(format!("Value '{shown}' at '{at}' failed to satisfy constraint: Member must have length less than or equal to {max}"));
        }
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> Model {
        Model::parse(include_str!("../../models/eks.json")).unwrap()
    }

    fn raw<'a>(
        labels: &'a [(String, String)],
        query: &'a [(String, String)],
        body: &'a [u8],
    ) -> RawRequest<'a> {
        RawRequest {
            labels,
            query,
            headers: &[],
            body,
        }
    }

    #[test]
    fn reads_body_labels_and_query() {
        let m = model();
        let labels = [("name".to_string(), "prod".to_string())];
        let input = read(&m, "DescribeClusterRequest", &raw(&labels, &[], b"")).unwrap();
        assert_eq!(input, json!({"name": "prod"}));
        let query = [("maxResults".to_string(), "5".to_string())];
        let input = read(&m, "ListClustersRequest", &raw(&[], &query, b"")).unwrap();
        assert_eq!(input, json!({"maxResults": 5}));
    }

    #[test]
    fn names_missing_required_members_and_bad_values() {
        let m = model();
        let err = read(&m, "CreateClusterRequest", &raw(&[], &[], br#"{"name": "a", "resourcesVpcConfig": {"subnetIds": "x"}, "kubernetesNetworkConfig": {"ipFamily": "ipv5"}}"#)).unwrap_err();
        let InputError::Validation(messages) = err else {
            panic!()
        };
        assert!(
            messages.iter().any(|m| m
                .contains("at 'roleArn' failed to satisfy constraint: Member must not be null")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("'resourcesVpcConfig.subnetIds'") && m.contains("a list")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("enum value set: [ipv4, ipv6]")),
            "{messages:?}"
        );
        let query = [("maxResults".to_string(), "500".to_string())];
        assert!(matches!(
            read(&m, "ListClustersRequest", &raw(&[], &query, b"")),
            Err(InputError::Validation(_))
        ));
        let query = [("maxResults".to_string(), "many".to_string())];
        assert!(matches!(
            read(&m, "ListClustersRequest", &raw(&[], &query, b"")),
            Err(InputError::Validation(_))
        ));
    }

    #[test]
    fn malformed_json_is_a_serialization_error() {
        let m = model();
        assert!(matches!(
            read(&m, "CreateClusterRequest", &raw(&[], &[], b"{nope")),
            Err(InputError::Serialization(_))
        ));
        assert!(matches!(
            read(&m, "CreateClusterRequest", &raw(&[], &[], b"[1]")),
            Err(InputError::Serialization(_))
        ));
    }
}
