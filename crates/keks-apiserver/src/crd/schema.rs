//! A CRD version's structural `openAPIV3Schema` applied to custom resources as
//! apiextensions-apiserver does: defaults, pruning of unknown fields and validation with
//! kube's error wording.

use serde_json::{json, Map, Value};

use crate::field::{FieldError, FieldPath};

fn preserves(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn int_or_string(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Fills in `default`s of absent properties, depth first.
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if !map.contains_key(name) {
                        if let Some(d) = prop.get("default") {
                            map.insert(name.clone(), d.clone());
                        }
                    }
                    if let Some(child) = map.get_mut(name) {
                        apply_defaults(prop, child);
                    }
                }
            } else if let Some(extra) = schema.get("additionalProperties").filter(|s| s.is_object())
            {
                for child in map.values_mut() {
                    apply_defaults(extra, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for child in items {
                    apply_defaults(item, child);
                }
            }
        }
        _ => {}
    }
}

/// Drops fields the schema does not specify (structural pruning); `metadata`, `apiVersion`
/// and `kind` at the root are kept. `x-kubernetes-preserve-unknown-fields` stops pruning.
pub fn prune_root(schema: &Value, obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let props = schema.get("properties").and_then(Value::as_object);
    if !preserves(schema) {
        map.retain(|k, _| {
            matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                || props.is_some_and(|p| p.contains_key(k))
        });
    }
    for (k, v) in map.iter_mut() {
        if let Some(prop) = props.and_then(|p| p.get(k)) {
            if k != "metadata" {
                prune(prop, v);
            }
        }
    }
}

fn prune(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|s| s.is_object());
            if let Some(extra) = extra {
                for v in map.values_mut() {
                    prune(extra, v);
                }
                return;
            }
            if !preserves(schema) {
                map.retain(|k, _| props.is_some_and(|p| p.contains_key(k)));
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = props.and_then(|p| p.get(k)) {
                    prune(prop, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for v in items {
                    prune(item, v);
                }
            }
        }
        _ => {}
    }
}

/// The JSON type name kube reports for a value.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "number" => value.is_number(),
        "integer" => type_of(value) == "integer",
        other => type_of(value) == other,
    }
}

/// Validates the object's fields other than `metadata`, `apiVersion` and `kind`.
pub fn validate_root(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(map) = obj.as_object() else {
        return errors;
    };
    let props = schema.get("properties").and_then(Value::as_object);
    for (k, v) in map {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(prop) = props.and_then(|p| p.get(k)) {
            validate(prop, v, &FieldPath::root(k), &mut errors);
        }
    }
    required(schema, map, None, &mut errors);
    errors
}

fn required(
    schema: &Value,
    map: &Map<String, Value>,
    path: Option<&FieldPath>,
    errors: &mut Vec<FieldError>,
) {
    for r in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(r) {
            let field = path.map_or_else(|| FieldPath::root(r), |p| p.child(r));
            errors.push(FieldError::required(field, ""));
        }
    }
}

fn validate(schema: &Value, value: &Value, path: &FieldPath, errors: &mut Vec<FieldError>) {
    let p = path.as_str().to_string();
    if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if int_or_string(schema) {
        if !(value.is_string() || type_of(value) == "integer") {
            errors.push(FieldError::invalid(
                path.clone(),
                json!(type_of(value)),
                format!(
                    "{p} in body must be of type integer,string: \"{}\"",
                    type_of(value)
                ),
            ));
        }
        return;
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        if !type_matches(t, value) {
            errors.push(FieldError::invalid(
                path.clone(),
                json!(type_of(value)),
                format!("{p} in body must be of type {t}: \"{}\"", type_of(value)),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            let supported: Vec<String> = options
                .iter()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_string))
                .collect();
            let refs: Vec<&str> = supported.iter().map(String::as_str).collect();
            errors.push(FieldError::not_supported(
                path.clone(),
                value.clone(),
                &refs,
            ));
        }
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            let exclusive_min =
                schema.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
            let exclusive_max =
                schema.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
            if let Some(min) = schema.get("minimum").filter(|m| m.is_number()) {
                let m = min.as_f64().unwrap_or_default();
                if x < m || (exclusive_min && x == m) {
                    let word = if exclusive_min {
                        "greater than"
                    } else {
                        "greater than or equal to"
                    };
                    errors.push(FieldError::invalid(
                        path.clone(),
                        value.clone(),
                        format!("{p} in body should be {word} {min}"),
                    ));
                }
            }
            if let Some(max) = schema.get("maximum").filter(|m| m.is_number()) {
                let m = max.as_f64().unwrap_or_default();
                if x > m || (exclusive_max && x == m) {
                    let word = if exclusive_max {
                        "less than"
                    } else {
                        "less than or equal to"
                    };
                    errors.push(FieldError::invalid(
                        path.clone(),
                        value.clone(),
                        format!("{p} in body should be {word} {max}"),
                    ));
                }
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if len < min {
                    errors.push(FieldError::invalid(
                        path.clone(),
                        value.clone(),
                        format!("{p} in body should be at least {min} chars long"),
                    ));
                }
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if len > max {
                    errors.push(FieldError::too_long(path.clone(), max as usize));
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    errors.push(FieldError::invalid(
                        path.clone(),
                        value.clone(),
                        format!("{p} in body should have at least {min} items"),
                    ));
                }
            }
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    validate(item, v, &path.index(i), errors);
                }
            }
        }
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|s| s.is_object());
            for (k, v) in map {
                if let Some(prop) = props.and_then(|ps| ps.get(k)).or(extra) {
                    validate(prop, v, &path.child(k), errors);
                }
            }
            required(schema, map, Some(path), errors);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
            "properties": {"replicas": {"type": "integer", "minimum": 1, "default": 1},
                           "size": {"type": "string", "enum": ["S", "M"]}}}}})
    }

    #[test]
    fn wording() {
        let obj = json!({"spec": {"replicas": "x"}});
        let e: Vec<String> = validate_root(&schema(), &obj)
            .iter()
            .map(|e| format!("{}: {}", e.field.as_str(), e.body()))
            .collect();
        assert_eq!(
            e,
            [
                "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
                "spec.size: Required value",
            ]
        );
        let obj = json!({"spec": {"replicas": 0, "size": "S"}});
        let e: Vec<String> = validate_root(&schema(), &obj)
            .iter()
            .map(|e| format!("{}: {}", e.field.as_str(), e.body()))
            .collect();
        assert_eq!(e, ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]);
    }

    #[test]
    fn defaults_and_pruning() {
        let mut obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"x": 1}, "spec": {"size": "S", "junk": 1}, "other": 2});
        apply_defaults(&schema(), &mut obj);
        prune_root(&schema(), &mut obj);
        assert_eq!(
            obj,
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"x": 1}, "spec": {"size": "S", "replicas": 1}})
        );
    }
}
