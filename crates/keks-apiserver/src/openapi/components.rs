//! `components.schemas` of one document: every schema reachable from the kinds the document
//! mentions, generated from `k8s-openapi`'s schemars impls and shaped as kube-apiserver
//! publishes them (`$ref`s wrapped in `allOf` beside a description, `x-kubernetes-group-version-kind`
//! on each kind, list kinds, int-or-string and quantity as `oneOf`).

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::kinds;
use super::names;

/// Where `$ref`s point.
pub const SCHEMA_PREFIX: &str = "#/components/schemas/";

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// A group, version and kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        }
    }

    /// The `x-kubernetes-group-version-kind` object.
    pub fn to_json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// The schemas of one document, collected while its paths are built.
pub struct Components {
    generator: SchemaGenerator,
    /// Schema name → the kinds it is published as.
    kinds: BTreeMap<String, Vec<Gvk>>,
    /// List schema name → (item schema name, list kind).
    lists: BTreeMap<String, (String, Gvk)>,
    /// Schemas of kinds without a typed schema (custom resources).
    custom: BTreeMap<String, Gvk>,
}

impl Default for Components {
    fn default() -> Self {
        Self::new()
    }
}

impl Components {
    pub fn new() -> Self {
        Self {
            generator: SchemaSettings::openapi3().into_generator(),
            kinds: BTreeMap::new(),
            lists: BTreeMap::new(),
            custom: BTreeMap::new(),
        }
    }

    /// The `$ref` of a kind's schema, adding the schema.
    pub fn kind_ref(&mut self, group: &str, version: &str, kind: &str) -> String {
        let gvk = Gvk::new(group, version, kind);
        let name = match kinds::lookup(group, version, kind) {
            Some(k) => ref_name(&(k.schema)(&mut self.generator)),
            None => {
                let name = names::custom_schema_name(group, version, kind);
                self.custom.insert(name.clone(), gvk.clone());
                name
            }
        };
        let published = self.kinds.entry(name.clone()).or_default();
        if !published.contains(&gvk) {
            published.push(gvk);
        }
        format!("{SCHEMA_PREFIX}{name}")
    }

    /// The `$ref` of a kind's list (`PodList`), adding it and the kind.
    pub fn list_ref(&mut self, group: &str, version: &str, kind: &str) -> String {
        let item = self.kind_ref(group, version, kind);
        let item_name = item.trim_start_matches(SCHEMA_PREFIX).to_string();
        let list_kind = kinds::lookup(group, version, kind)
            .and_then(|k| k.list_kind)
            .map_or_else(|| format!("{kind}List"), str::to_string);
        let name = format!("{item_name}List");
        self.lists.insert(
            name.clone(),
            (item_name, Gvk::new(group, version, &list_kind)),
        );
        format!("{SCHEMA_PREFIX}{name}")
    }

    /// The `$ref` of a meta type (`Status`, `DeleteOptions`, `WatchEvent`, `Patch`, ...),
    /// published as the kinds given.
    pub fn meta_ref<T: JsonSchema>(&mut self, published_as: &[Gvk]) -> String {
        let name = ref_name(&self.generator.subschema_for::<T>());
        let published = self.kinds.entry(name.clone()).or_default();
        for gvk in published_as {
            if !published.contains(gvk) {
                published.push(gvk.clone());
            }
        }
        format!("{SCHEMA_PREFIX}{name}")
    }

    /// The finished `components.schemas`.
    pub fn finish(mut self) -> Map<String, Value> {
        if !self.custom.is_empty() {
            // Custom resources refer to ObjectMeta and ListMeta.
            self.generator
                .subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>();
        }
        if !self.lists.is_empty() {
            self.generator
                .subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta>();
        }
        let mut schemas = self.generator.take_definitions(true);
        for (name, gvk) in &self.custom {
            schemas.insert(name.clone(), custom_schema(gvk));
        }
        for (name, (item, gvk)) in &self.lists {
            schemas.insert(name.clone(), list_schema(item, gvk));
        }
        for (name, gvks) in &self.kinds {
            if let Some(Value::Object(schema)) = schemas.get_mut(name) {
                schema.insert(
                    "x-kubernetes-group-version-kind".into(),
                    gvks.iter().map(Gvk::to_json).collect(),
                );
            }
        }
        for (name, schema) in schemas.iter_mut() {
            shape(name, schema);
        }
        schemas
    }
}

/// The name a `{"$ref": "#/components/schemas/NAME"}` points to.
fn ref_name(schema: &schemars::Schema) -> String {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .map(|r| r.trim_start_matches(SCHEMA_PREFIX).to_string())
        .unwrap_or_default()
}

/// Reshapes a generated schema where `k8s-openapi` differs from what kube-apiserver serves.
fn shape(name: &str, schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    match name {
        INT_OR_STRING => {
            obj.remove("x-kubernetes-int-or-string");
            obj.insert("format".into(), json!("int-or-string"));
            obj.insert(
                "oneOf".into(),
                json!([{"type": "integer"}, {"type": "string"}]),
            );
        }
        QUANTITY => {
            obj.remove("x-kubernetes-int-or-string");
            obj.insert(
                "oneOf".into(),
                json!([{"type": "string"}, {"type": "number"}]),
            );
        }
        _ => {}
    }
    // k8s-openapi marks `metadata` of every resource as required (its Rust field is not
    // optional); the API does not.
    let metadata_is_meta = obj
        .get("properties")
        .and_then(|p| p.get("metadata"))
        .is_some_and(|m| refers_to(m, OBJECT_META) || refers_to(m, LIST_META));
    if metadata_is_meta {
        if let Some(Value::Array(required)) = obj.get_mut("required") {
            required.retain(|r| r != "metadata");
            if required.is_empty() {
                obj.remove("required");
            }
        }
    }
}

/// Whether a property schema refers (directly or through a one-element `allOf`) to `name`.
fn refers_to(schema: &Value, name: &str) -> bool {
    let target = format!("{SCHEMA_PREFIX}{name}");
    let direct = schema.get("$ref").and_then(Value::as_str) == Some(target.as_str());
    let wrapped = schema
        .get("allOf")
        .and_then(Value::as_array)
        .is_some_and(|all| {
            all.iter()
                .any(|s| s.get("$ref").and_then(Value::as_str) == Some(target.as_str()))
        });
    direct || wrapped
}

fn type_meta_properties() -> Value {
    json!({
        "apiVersion": {
            "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
            "type": "string",
        },
        "kind": {
            "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            "type": "string",
        },
    })
}

/// `PodList`: a list of the item kind with list metadata.
fn list_schema(item: &str, gvk: &Gvk) -> Value {
    let item_kind = gvk.kind.strip_suffix("List").unwrap_or(&gvk.kind);
    let mut properties = type_meta_properties();
    properties["items"] = json!({
        "description": format!("Items is the list of {item_kind} objects. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/kubernetes-objects"),
        "type": "array",
        "items": {"default": {}, "allOf": [{"$ref": format!("{SCHEMA_PREFIX}{item}")}]},
    });
    properties["metadata"] = json!({
        "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        "default": {},
        "allOf": [{"$ref": format!("{SCHEMA_PREFIX}{LIST_META}")}],
    });
    json!({
        "description": format!("{} is a list of {item_kind} objects.", gvk.kind),
        "type": "object",
        "required": ["items"],
        "properties": properties,
        "x-kubernetes-group-version-kind": [gvk.to_json()],
    })
}

/// A custom resource without a typed schema: type and object metadata, anything else kept.
fn custom_schema(gvk: &Gvk) -> Value {
    let mut properties = type_meta_properties();
    properties["metadata"] = json!({
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        "allOf": [{"$ref": format!("{SCHEMA_PREFIX}{OBJECT_META}")}],
    });
    json!({
        "type": "object",
        "properties": properties,
        "x-kubernetes-preserve-unknown-fields": true,
        "x-kubernetes-group-version-kind": [gvk.to_json()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_schema_is_kube_shaped() {
        let mut c = Components::new();
        assert_eq!(
            c.kind_ref("", "v1", "Pod"),
            "#/components/schemas/io.k8s.api.core.v1.Pod"
        );
        c.list_ref("", "v1", "Pod");
        let schemas = c.finish();
        let pod = &schemas["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert!(
            pod.get("required").is_none(),
            "metadata is not required: {pod}"
        );
        assert_eq!(
            pod["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec"
        );
        assert!(pod["properties"]["spec"]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Specification")));
        let list = &schemas["io.k8s.api.core.v1.PodList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            "PodList"
        );
        assert_eq!(schemas[INT_OR_STRING]["format"], "int-or-string");
        assert!(schemas.contains_key(LIST_META));
    }

    #[test]
    fn custom_kinds_keep_unknown_fields() {
        let mut c = Components::new();
        let r = c.kind_ref("stable.example.com", "v1", "CronTab");
        assert_eq!(r, "#/components/schemas/com.example.stable.v1.CronTab");
        let schemas = c.finish();
        assert_eq!(
            schemas["com.example.stable.v1.CronTab"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        assert!(schemas.contains_key(OBJECT_META));
    }
}
