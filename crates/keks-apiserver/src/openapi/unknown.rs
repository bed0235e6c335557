//! Unknown fields of an object, found by walking it against its kind's schema, and named as
//! kube-apiserver's strict decoder (sigs.k8s.io/json) names them: `spec.foo`,
//! `spec.containers[0].imagee`, `spec.nodeSelector.key.x` for a map value's field.
//!
//! Kinds without a typed schema (custom resources) have no unknown fields here.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::components::{Components, SCHEMA_PREFIX};
use super::kinds::KINDS;

/// kube-apiserver reports at most this many strict-decoding errors.
const MAX_REPORTED: usize = 100;

/// The schemas of every typed kind, generated once.
struct SchemaSet {
    definitions: Map<String, Value>,
    /// (group, version, kind) → `$ref` of the kind's schema.
    roots: HashMap<(&'static str, &'static str, &'static str), String>,
}

static SCHEMAS: LazyLock<SchemaSet> = LazyLock::new(|| {
    let mut c = Components::new();
    let roots = KINDS
        .iter()
        .map(|k| {
            (
                (k.group, k.version, k.kind),
                c.kind_ref(k.group, k.version, k.kind),
            )
        })
        .collect();
    SchemaSet {
        definitions: c.finish(),
        roots,
    }
});

impl SchemaSet {
    fn root(&self, group: &str, version: &str, kind: &str) -> Option<Value> {
        self.roots
            .get(&(group, version, kind))
            .map(|r| serde_json::json!({"$ref": r}))
    }

    /// Follows `$ref`s and one-element `allOf` wrappers to the schema that describes the value.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                match self.definitions.get(r.trim_start_matches(SCHEMA_PREFIX)) {
                    Some(target) => schema = target,
                    None => return schema,
                }
                continue;
            }
            match schema.get("allOf").and_then(Value::as_array) {
                Some(all) if all.len() == 1 && schema.get("properties").is_none() => {
                    schema = &all[0]
                }
                _ => return schema,
            }
        }
        schema
    }
}

/// The walk of [`prune_unknown_fields`]: reports and removes.
struct Pruner<'a> {
    set: &'a SchemaSet,
    found: Vec<String>,
}

impl Pruner<'_> {
    fn value(&mut self, schema: &Value, value: &mut Value, path: &str) {
        let schema = self.set.resolve(schema);
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        match value {
            Value::Object(fields) => {
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    let mut unknown = Vec::new();
                    for (name, field) in fields.iter_mut() {
                        let child = child_path(path, name);
                        match properties.get(name) {
                            Some(field_schema) => self.value(field_schema, field, &child),
                            None => {
                                unknown.push(name.clone());
                                self.found.push(child);
                            }
                        }
                    }
                    for name in unknown {
                        fields.remove(&name);
                    }
                } else if let Some(values) =
                    schema.get("additionalProperties").filter(|s| s.is_object())
                {
                    for (key, field) in fields.iter_mut() {
                        self.value(values, field, &child_path(path, key));
                    }
                }
                // An object with neither properties nor additionalProperties (RawExtension,
                // FieldsV1, JSON) holds anything.
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.value(item_schema, item, &format!("{path}[{i}]"));
                    }
                }
            }
            // Scalars, including int-or-string, quantities and times, have no fields.
            _ => {}
        }
    }
}

fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The paths of the fields of `obj` its kind does not have, in the object's key order:
/// `["spec.foo", "spec.containers[0].imagee"]`. Empty for kinds without a typed schema.
pub fn unknown_fields(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<String> {
    let set = &*SCHEMAS;
    let Some(root) = set.root(group, version, kind) else {
        return Vec::new();
    };
    let mut probe = Probe {
        set,
        found: Vec::new(),
    };
    probe.value(&root, obj, "");
    let mut found = probe.found;
    found.truncate(MAX_REPORTED);
    found
}

/// Removes the fields of `obj` its kind does not have (what kube-apiserver's decoding into
/// typed objects does with `fieldValidation=Ignore` or `Warn`), returning their paths as
/// [`unknown_fields`] does.
pub fn prune_unknown_fields(
    group: &str,
    version: &str,
    kind: &str,
    obj: &mut Value,
) -> Vec<String> {
    let set = &*SCHEMAS;
    let Some(root) = set.root(group, version, kind) else {
        return Vec::new();
    };
    let mut pruner = Pruner {
        set,
        found: Vec::new(),
    };
    pruner.value(&root, obj, "");
    let mut found = pruner.found;
    found.truncate(MAX_REPORTED);
    found
}

/// The read-only walk of [`unknown_fields`].
struct Probe<'a> {
    set: &'a SchemaSet,
    found: Vec<String>,
}

impl Probe<'_> {
    fn value(&mut self, schema: &Value, value: &Value, path: &str) {
        let schema = self.set.resolve(schema);
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return;
        }
        match value {
            Value::Object(fields) => {
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    for (name, field) in fields {
                        match properties.get(name) {
                            Some(field_schema) => {
                                self.value(field_schema, field, &child_path(path, name))
                            }
                            None => self.found.push(child_path(path, name)),
                        }
                    }
                } else if let Some(values) =
                    schema.get("additionalProperties").filter(|s| s.is_object())
                {
                    for (key, field) in fields {
                        self.value(values, field, &child_path(path, key));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item_schema, item, &format!("{path}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "x"}, "annotations": {"a": "b"}},
            "spec": {
                "containers": [
                    {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                     "resources": {"limits": {"cpu": "1", "memory": 128}}},
                    {"name": "d", "imagee": "busybox", "env": [{"name": "A", "valu": "1"}]},
                ],
                "nodeSelector": {"disk": "ssd"},
                "foo": true,
            },
            "status": {"startTime": "2024-01-01T00:00:00Z"},
        })
    }

    #[test]
    fn a_clean_pod_has_no_unknown_fields() {
        let mut p = pod();
        p["spec"]["containers"][1] = json!({"name": "d", "image": "busybox"});
        p["spec"].as_object_mut().unwrap().remove("foo");
        assert!(unknown_fields("", "v1", "Pod", &p).is_empty());
    }

    #[test]
    fn typos_are_reported_with_kube_paths() {
        let mut found = unknown_fields("", "v1", "Pod", &pod());
        found.sort();
        assert_eq!(
            found,
            vec![
                "spec.containers[1].env[0].valu",
                "spec.containers[1].imagee",
                "spec.foo"
            ]
        );
    }

    #[test]
    fn metadata_and_top_level_fields_are_checked() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "lables": {}}, "data": {"k": "v"}, "extra": 1});
        let mut found = unknown_fields("", "v1", "ConfigMap", &obj);
        found.sort();
        assert_eq!(found, vec!["extra", "metadata.lables"]);
    }

    #[test]
    fn free_form_fields_hold_anything() {
        let crd_object = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"managedFields": [{"fieldsV1": {"f:x": {}}}]}, "involvedObject": {}});
        assert!(unknown_fields("", "v1", "Event", &crd_object).is_empty());
        assert!(unknown_fields("example.com", "v1", "Widget", &json!({"anything": 1})).is_empty());
    }

    #[test]
    fn deployment_templates_are_walked() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                     "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Always"}]}}}});
        assert_eq!(
            unknown_fields("apps", "v1", "Deployment", &d),
            vec!["spec.template.spec.containers[0].imagePullPolicyy"]
        );
    }

    #[test]
    fn pruning_removes_what_is_reported() {
        let mut p = pod();
        let mut removed = prune_unknown_fields("", "v1", "Pod", &mut p);
        removed.sort();
        assert_eq!(removed.len(), 3);
        assert!(p["spec"].get("foo").is_none());
        assert!(p["spec"]["containers"][1].get("imagee").is_none());
        assert_eq!(p["spec"]["containers"][1]["name"], "d");
        assert!(unknown_fields("", "v1", "Pod", &p).is_empty());
    }
}
