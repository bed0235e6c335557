//! What server-side apply needs to know of a type, as kube-apiserver's managedfields type
//! converter reads it: which objects are structs (named fields) or maps, which are atomic,
//! and whether a list is atomic, a set, or a map keyed by some of its items' fields.
//! Built-in kinds come from the generated table (`+listType`/`+listMapKey`/`+mapType`/
//! `+structType` markers, else the strategic-merge strategy and merge key); custom resources
//! from their CRD's structural schema; anything else is deduced from the value.

use serde_json::Value;

use crate::patch::{type_of_kind, Ty, TypeField};

/// The schema of one value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Schema<'a> {
    /// A built-in type, reached through `field` (whose markers say how to merge it).
    Builtin {
        ty: Ty,
        field: Option<&'static TypeField>,
    },
    /// The root of a custom resource: its CRD version's `openAPIV3Schema` (`metadata` is
    /// ObjectMeta whatever the schema says).
    CrdRoot(&'a Value),
    /// A node of a CRD's structural schema.
    Crd(&'a Value),
    /// No schema: objects are granular maps, lists atomic (structured-merge-diff's
    /// "deduced" type).
    Deduced,
}

/// How a list merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType<'a> {
    Atomic,
    Set,
    Map(Vec<&'a str>),
}

/// How an object merges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectType {
    /// Owned and replaced whole.
    Atomic,
    /// Field by field; `named` when its keys are declared fields (a struct), not map keys.
    Granular { named: bool },
}

impl<'a> Schema<'a> {
    /// The schema of a kind: the built-in table's type, the CRD schema, or deduced.
    pub fn of_kind(group: &str, version: &str, kind: &str, crd: Option<&'a Value>) -> Self {
        if let Some(schema) = crd {
            return Schema::CrdRoot(schema);
        }
        match type_of_kind(group, version, kind) {
            Some(ty) => Schema::Builtin { ty, field: None },
            None => Schema::Deduced,
        }
    }

    fn marker(&self) -> &'static str {
        match self {
            Schema::Builtin { field: Some(f), .. } => f.ssa,
            _ => "",
        }
    }

    pub fn object_type(&self) -> ObjectType {
        match self {
            Schema::Builtin { ty, .. } => match ty {
                _ if self.marker() == "atomic" || ty.is_atomic_struct() => ObjectType::Atomic,
                Ty::Struct(_) => ObjectType::Granular { named: true },
                _ => ObjectType::Granular { named: false },
            },
            Schema::CrdRoot(_) => ObjectType::Granular { named: true },
            Schema::Crd(s) => {
                if s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
                    ObjectType::Atomic
                } else {
                    ObjectType::Granular {
                        named: s.get("properties").is_some(),
                    }
                }
            }
            Schema::Deduced => ObjectType::Granular { named: false },
        }
    }

    /// Whether `key` is a declared field of this struct (ensures named fields are members).
    pub fn declares(&self, key: &str) -> bool {
        match self {
            Schema::Builtin { ty, .. } => ty.ssa_field(key).is_some(),
            Schema::CrdRoot(s) => {
                key == "metadata" || s.pointer(&format!("/properties/{key}")).is_some()
            }
            Schema::Crd(s) => s.get("properties").and_then(|p| p.get(key)).is_some(),
            Schema::Deduced => false,
        }
    }

    /// The schema of the member `key` of an object.
    pub fn child(&self, key: &str) -> Schema<'a> {
        match self {
            Schema::Builtin { ty, .. } => match ty {
                Ty::Struct(_) => match ty.ssa_field(key) {
                    Some(f) => Schema::Builtin {
                        ty: f.ty,
                        field: Some(f),
                    },
                    None => Schema::Deduced,
                },
                Ty::Map(elem) => Schema::Builtin {
                    ty: **elem,
                    field: None,
                },
                _ => Schema::Deduced,
            },
            Schema::CrdRoot(s) if key == "metadata" => object_meta(),
            Schema::CrdRoot(s) | Schema::Crd(s) => {
                if let Some(p) = s.get("properties").and_then(|p| p.get(key)) {
                    Schema::Crd(p)
                } else if let Some(a) = s.get("additionalProperties").filter(|a| a.is_object()) {
                    Schema::Crd(a)
                } else {
                    Schema::Deduced
                }
            }
            Schema::Deduced => Schema::Deduced,
        }
    }

    pub fn list_type(&self) -> ListType<'a> {
        match self {
            Schema::Builtin { field: Some(f), .. } => match f.ssa {
                "atomic" => ListType::Atomic,
                "set" => ListType::Set,
                m if m.starts_with("map=") => ListType::Map(m[4..].split(',').collect()),
                // Unmarked: the strategic-merge strategy decides, as kube-openapi's schema
                // conversion does (merge with a key: keyed by it; merge without: a set).
                _ if f.strategy.contains("merge") && !f.merge_key.is_empty() => {
                    ListType::Map(vec![f.merge_key])
                }
                _ if f.strategy.contains("merge") => ListType::Set,
                _ => ListType::Atomic,
            },
            Schema::Crd(s) => match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListType::Set,
                Some("map") => ListType::Map(
                    s.get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect(),
                ),
                _ => ListType::Atomic,
            },
            _ => ListType::Atomic,
        }
    }

    /// The schema of a list's items.
    pub fn item(&self) -> Schema<'a> {
        match self {
            Schema::Builtin {
                ty: Ty::List(elem), ..
            } => Schema::Builtin {
                ty: **elem,
                field: None,
            },
            Schema::Crd(s) => s.get("items").map_or(Schema::Deduced, Schema::Crd),
            _ => Schema::Deduced,
        }
    }

    /// The default of a list-map key field an item omits: kube's OpenAPI defaults
    /// `protocol` to `TCP` (container and service ports); CRDs declare theirs.
    pub fn key_default(&self, key: &str) -> Option<Value> {
        match self {
            Schema::Builtin { .. } if key == "protocol" => Some(Value::String("TCP".into())),
            Schema::Crd(s) => s
                .get("properties")
                .and_then(|p| p.get(key))
                .and_then(|p| p.get("default"))
                .cloned(),
            _ => None,
        }
    }
}

/// ObjectMeta, found through a kind that has it.
fn object_meta() -> Schema<'static> {
    match type_of_kind("", "v1", "ConfigMap") {
        Some(ty) => Schema::Builtin { ty, field: None }.child("metadata"),
        None => Schema::Deduced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at<'a>(mut s: Schema<'a>, path: &[&str]) -> Schema<'a> {
        for key in path {
            s = match *key {
                "[]" => s.item(),
                k => s.child(k),
            };
        }
        s
    }

    #[test]
    fn built_in_lists_use_markers_then_merge_keys() {
        let deploy = Schema::of_kind("apps", "v1", "Deployment", None);
        let pod_spec = ["spec", "template", "spec"];
        let containers = at(deploy, &[&pod_spec[..], &["containers"]].concat());
        assert_eq!(containers.list_type(), ListType::Map(vec!["name"]));
        let ports = at(containers, &["[]", "ports"]);
        assert_eq!(
            ports.list_type(),
            ListType::Map(vec!["containerPort", "protocol"])
        );
        assert_eq!(
            at(containers, &["[]", "args"]).list_type(),
            ListType::Atomic
        );
        assert_eq!(
            at(deploy, &["metadata", "finalizers"]).list_type(),
            ListType::Set
        );
        assert_eq!(
            at(deploy, &["spec", "selector"]).object_type(),
            ObjectType::Atomic
        );
        assert_eq!(
            at(deploy, &["metadata", "labels"]).object_type(),
            ObjectType::Granular { named: false }
        );
        assert_eq!(
            at(deploy, &["spec"]).object_type(),
            ObjectType::Granular { named: true }
        );
        let svc = Schema::of_kind("", "v1", "Service", None);
        assert_eq!(
            at(svc, &["spec", "ports"]).list_type(),
            ListType::Map(vec!["port", "protocol"])
        );
    }

    #[test]
    fn crd_schemas_use_their_extensions() {
        let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "items": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["id"],
                      "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "plain": {"type": "array", "items": {"type": "string"}},
            "sel": {"type": "object", "x-kubernetes-map-type": "atomic"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        }}}});
        let root = Schema::of_kind("example.com", "v1", "Widget", Some(&schema));
        assert_eq!(
            at(root, &["spec", "items"]).list_type(),
            ListType::Map(vec!["id"])
        );
        assert_eq!(at(root, &["spec", "tags"]).list_type(), ListType::Set);
        assert_eq!(at(root, &["spec", "plain"]).list_type(), ListType::Atomic);
        assert_eq!(at(root, &["spec", "sel"]).object_type(), ObjectType::Atomic);
        assert_eq!(
            at(root, &["spec", "labels"]).object_type(),
            ObjectType::Granular { named: false }
        );
        assert_eq!(
            at(root, &["metadata", "finalizers"]).list_type(),
            ListType::Set
        );
    }
}
