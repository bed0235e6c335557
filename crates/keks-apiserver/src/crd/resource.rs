//! Custom resources: the descriptor each served version of a CRD becomes, and the strategy
//! of its objects (schema defaults, pruning and validation, status split, generation,
//! printer columns).

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::columns::{self, CustomColumn};
use super::schema;
use crate::field::FieldError;
use crate::registry::{ResourceDescriptor, Scope, Strategy, ALL_VERBS};

/// The strategy of one custom resource version.
pub struct CustomResourceStrategy {
    schema: Value,
    status: bool,
    columns: Vec<CustomColumn>,
}

impl Strategy for CustomResourceStrategy {
    fn structural_schema(&self) -> Option<&Value> {
        Some(&self.schema)
    }

    fn has_status_subresource(&self) -> bool {
        self.status
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        schema::prune_root(&self.schema, obj);
        schema::apply_defaults(&self.schema, obj);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        schema::validate_root(&self.schema, obj)
    }

    fn table_cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        columns::cells(&self.columns, obj, now)
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn strings(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The descriptors of a CRD's served versions.
pub fn descriptors(crd: &Value) -> Vec<ResourceDescriptor> {
    let group = text(crd, "/spec/group");
    let kind = text(crd, "/spec/names/kind");
    let plural = text(crd, "/spec/names/plural");
    let singular = match text(crd, "/spec/names/singular") {
        "" => kind.to_ascii_lowercase(),
        s => s.to_string(),
    };
    let scope = if text(crd, "/spec/scope") == "Cluster" {
        Scope::Cluster
    } else {
        Scope::Namespaced
    };
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false))
        .map(|v| {
            let status = v.pointer("/subresources/status").is_some();
            let mut subresources = Vec::new();
            if status {
                subresources.push("status".to_string());
            }
            if v.pointer("/subresources/scale").is_some() {
                subresources.push("scale".to_string());
            }
            let columns = columns::parse(v);
            ResourceDescriptor {
                group: group.to_string(),
                version: text(v, "/name").to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                singular: singular.clone(),
                scope,
                short_names: strings(crd, "/spec/names/shortNames"),
                categories: strings(crd, "/spec/names/categories"),
                verbs: ALL_VERBS.to_vec(),
                subresources,
                printer_columns: columns.iter().map(|c| c.column.clone()).collect(),
                strategy: Arc::new(CustomResourceStrategy {
                    schema: v
                        .pointer("/schema/openAPIV3Schema")
                        .cloned()
                        .unwrap_or(Value::Null),
                    status,
                    columns,
                }),
            }
        })
        .collect()
}
