//! `/openapi/v2`: the whole API as one Swagger 2.0 document, converted from the v3
//! group-version documents (`definitions` instead of `components.schemas`, body and typed
//! parameters, `consumes`/`produces`), as kube-apiserver serves it in JSON.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::cache::{self, Doc};
use super::components::SCHEMA_PREFIX;
use super::document::{self, DocKey, SCHEMA_VERSION};
use super::error::OpenApiError;
use super::{gnostic, index};
use crate::registry::ResourceDescriptor;

const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// The Swagger 2.0 document of every group-version, built once per registry content.
pub fn swagger(all: &[Arc<ResourceDescriptor>]) -> Result<Arc<Doc>, OpenApiError> {
    let keys: Vec<DocKey> = document::keys(all);
    let mut fingerprint = String::from("swagger");
    for key in &keys {
        if let Some(f) = document::fingerprint(key, all) {
            fingerprint.push('\n');
            fingerprint.push_str(&f);
        }
    }
    let doc = cache::get_or_build(&fingerprint, || {
        convert_all(all, &keys)
            .and_then(|v| Doc::json(&v))
            .map(Some)
    })?;
    doc.ok_or(OpenApiError::NotFound)
}

/// The Swagger 2.0 document as gnostic's `openapi_v2.Document` protobuf, the form
/// client-go's `OpenAPISchema` asks for.
pub fn swagger_protobuf(all: &[Arc<ResourceDescriptor>]) -> Result<Arc<Doc>, OpenApiError> {
    let json = swagger(all)?;
    let fingerprint = format!("swagger-protobuf {}", json.etag);
    let doc = cache::get_or_build(&fingerprint, || {
        let v2: Value = serde_json::from_slice(&json.bytes).map_err(OpenApiError::Serialize)?;
        Ok(Some(Doc::new(gnostic::document(&v2))))
    })?;
    doc.ok_or(OpenApiError::NotFound)
}

fn convert_all(all: &[Arc<ResourceDescriptor>], keys: &[DocKey]) -> Result<Value, OpenApiError> {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for key in keys {
        let Some(doc) = index::document(all, key)? else {
            continue;
        };
        let v3: Value = serde_json::from_slice(&doc.bytes).map_err(OpenApiError::Serialize)?;
        if let Some(p) = v3["paths"].as_object() {
            for (path, item) in p {
                paths.insert(path.clone(), convert_path_item(item));
            }
        }
        if let Some(schemas) = v3["components"]["schemas"].as_object() {
            for (name, schema) in schemas {
                merge_definition(&mut definitions, name, convert_schema(name, schema));
            }
        }
    }
    Ok(json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": SCHEMA_VERSION},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"},
        },
        "security": [{"BearerToken": []}],
    }))
}

/// Adds a definition; one published by several documents (`DeleteOptions`) gets the union
/// of their kinds.
fn merge_definition(definitions: &mut Map<String, Value>, name: &str, schema: Value) {
    const GVK: &str = "x-kubernetes-group-version-kind";
    match definitions.get_mut(name) {
        None => {
            definitions.insert(name.to_string(), schema);
        }
        Some(existing) => {
            let (Some(Value::Array(have)), Some(Value::Array(more))) =
                (existing.get_mut(GVK), schema.get(GVK))
            else {
                return;
            };
            for gvk in more {
                if !have.contains(gvk) {
                    have.push(gvk.clone());
                }
            }
        }
    }
}

/// A v3 schema as v2: refs into `#/definitions/`, a `$ref` beside other keywords instead of
/// a one-element `allOf`, int-or-string and quantity as strings.
fn convert_schema(name: &str, schema: &Value) -> Value {
    let mut out = rewrite(schema);
    match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            if let Some(o) = out.as_object_mut() {
                o.remove("oneOf");
                o.insert("type".into(), json!("string"));
                o.insert("format".into(), json!("int-or-string"));
            }
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            if let Some(o) = out.as_object_mut() {
                o.remove("oneOf");
                o.insert("type".into(), json!("string"));
            }
        }
        _ => {}
    }
    out
}

fn rewrite(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                // A property may be named `$ref` (JSONSchemaProps): only a string is a reference.
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.insert(
                        k.clone(),
                        json!(r.replacen(SCHEMA_PREFIX, DEFINITIONS_PREFIX, 1)),
                    ),
                    _ => out.insert(k.clone(), rewrite(v)),
                };
            }
            let single_ref = match out.get("allOf") {
                Some(Value::Array(all))
                    if all.len() == 1
                        && all[0].get("$ref").is_some_and(Value::is_string)
                        && all[0].as_object().is_some_and(|o| o.len() == 1) =>
                {
                    all[0].get("$ref").cloned()
                }
                _ => None,
            };
            if let Some(r) = single_ref {
                out.remove("allOf");
                out.insert("$ref".into(), r);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(rewrite).collect()),
        other => other.clone(),
    }
}

fn convert_path_item(item: &Value) -> Value {
    let mut out = Map::new();
    let Some(item) = item.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in item {
        if key == "parameters" {
            out.insert(key.clone(), convert_params(value));
        } else {
            out.insert(key.clone(), convert_operation(value));
        }
    }
    Value::Object(out)
}

fn convert_params(params: &Value) -> Value {
    let list = params.as_array().map(Vec::as_slice).unwrap_or_default();
    Value::Array(
        list.iter()
            .map(|p| {
                let mut out = json!({"uniqueItems": true});
                for key in ["name", "in", "description", "required"] {
                    if let Some(v) = p.get(key) {
                        out[key] = v.clone();
                    }
                }
                out["type"] = p["schema"]["type"].clone();
                out
            })
            .collect(),
    )
}

fn convert_operation(op: &Value) -> Value {
    let Some(op) = op.as_object() else {
        return op.clone();
    };
    let mut out = Map::new();
    let mut params = op
        .get("parameters")
        .map(convert_params)
        .unwrap_or_else(|| json!([]));
    if let Some(content) = op.get("requestBody").and_then(|b| b["content"].as_object()) {
        out.insert("consumes".into(), json!(content.keys().collect::<Vec<_>>()));
        if let Some(schema) = content.values().next().map(|c| rewrite(&c["schema"])) {
            if let Some(list) = params.as_array_mut() {
                list.insert(
                    0,
                    json!({"name": "body", "in": "body", "required": true, "schema": schema}),
                );
            }
        }
    } else {
        out.insert("consumes".into(), json!(["*/*"]));
    }
    let mut responses = Map::new();
    let mut produces: Option<Vec<String>> = None;
    for (code, response) in op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut r = json!({"description": response["description"]});
        if let Some(content) = response["content"].as_object() {
            produces.get_or_insert_with(|| content.keys().cloned().collect());
            if let Some(c) = content.values().next() {
                r["schema"] = rewrite(&c["schema"]);
            }
        }
        responses.insert(code.clone(), r);
    }
    out.insert("produces".into(), json!(produces.unwrap_or_default()));
    out.insert("schemes".into(), json!(["https"]));
    for (key, value) in op {
        match key.as_str() {
            "parameters" | "requestBody" | "responses" => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if params.as_array().is_some_and(|p| !p.is_empty()) {
        out.insert("parameters".into(), params);
    }
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}
