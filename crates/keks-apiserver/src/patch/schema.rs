//! The type facts a strategic merge walks with, as apimachinery reads them from Go types by
//! reflection: from an object's kind down through its fields, each field's patch strategy and
//! merge key (`patchStrategy:"merge" patchMergeKey:"name"`) and the type of its value.
//! The facts are generated into `merge_keys.rs` by `scripts/gen-smp-table.py`.

use super::go::SmpError;
use super::merge_keys::{KINDS, TYPES};

/// The type of a JSON value, as far as merging cares. Fields with string, number or boolean
/// values are not in the table: nothing is ever merged into them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// A string, number or boolean (also `Quantity`, `IntOrString`, `Time`).
    Scalar,
    /// A struct: an index into `TYPES`.
    Struct(u16),
    /// A free-form value held by a Go struct with no JSON fields (`RawExtension`, `JSON`,
    /// `FieldsV1`): apimachinery finds no field in it.
    Opaque(&'static str),
    /// A list of this element type.
    List(&'static Ty),
    /// A map from strings to this value type.
    Map(&'static Ty),
}

/// One object- or array-valued field of a struct.
#[derive(Debug)]
pub(crate) struct Field {
    pub json: &'static str,
    pub ty: Ty,
    /// The `patchStrategy` tag: "", "merge", "replace", "retainKeys", "merge,retainKeys".
    pub strategy: &'static str,
    /// The `patchMergeKey` tag.
    pub merge_key: &'static str,
    /// Server-side apply's markers: `+listType` (`atomic`, `set`, or `map=<key>,<key>` with
    /// the `+listMapKey`s) or `+mapType` (`atomic`, `granular`); "" when unmarked.
    pub ssa: &'static str,
}

pub(super) const fn f(
    json: &'static str,
    ty: Ty,
    strategy: &'static str,
    merge_key: &'static str,
    ssa: &'static str,
) -> Field {
    Field {
        json,
        ty,
        strategy,
        merge_key,
        ssa,
    }
}

/// A struct type: its Go name, its OpenAPI definition name and its object- or array-valued
/// fields in declaration order (embedded structs' fields in place, as Go's JSON encoding
/// promotes them).
#[derive(Debug)]
pub(super) struct TypeDef {
    pub name: &'static str,
    pub definition: &'static str,
    /// `+structType=atomic`: server-side apply owns the value as a whole.
    pub atomic: bool,
    pub fields: &'static [Field],
}

/// A field's patch metadata.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PatchMeta {
    strategy: &'static str,
    pub merge_key: &'static str,
}

impl PatchMeta {
    /// The strategy other than `retainKeys` ("" for none), as apimachinery's
    /// `extractRetainKeysPatchStrategy` splits the tag.
    pub fn strategy(&self) -> Result<&'static str, SmpError> {
        let parts: Vec<&'static str> = self.strategy.split(',').collect();
        match parts.as_slice() {
            [one] if *one == "retainKeys" => Ok(""),
            [one] => Ok(one),
            ["retainKeys", other] | [other, "retainKeys"] => Ok(other),
            _ => Err(SmpError(format!(
                "unexpected patch strategy: [{}]",
                parts.join(" ")
            ))),
        }
    }
}

/// The type of a built-in kind's objects; `None` for kinds without a Go type (custom
/// resources), which kube-apiserver cannot strategic-merge.
pub(crate) fn root(group: &str, version: &str, kind: &str) -> Option<Ty> {
    KINDS
        .binary_search_by(|(g, v, k, _)| (*g, *v, *k).cmp(&(group, version, kind)))
        .ok()
        .map(|i| Ty::Struct(KINDS[i].3))
}

/// Whether objects of this kind accept strategic merge patches (true for the built-in
/// kinds, false for custom resources).
pub fn supports(group: &str, version: &str, kind: &str) -> bool {
    root(group, version, kind).is_some()
}

/// Every field with a patch strategy, as the OpenAPI extensions name it:
/// (definition, e.g. `io.k8s.api.core.v1.PodSpec`; field; `x-kubernetes-patch-strategy`;
/// `x-kubernetes-patch-merge-key`, "" when none).
pub fn patch_strategies(
) -> impl Iterator<Item = (&'static str, &'static str, &'static str, &'static str)> {
    TYPES.iter().flat_map(|t| {
        t.fields
            .iter()
            .filter(|f| !f.strategy.is_empty() || !f.merge_key.is_empty())
            .map(move |f| (t.definition, f.json, f.strategy, f.merge_key))
    })
}

impl Ty {
    /// The object- or array-valued field `key` of a struct, matched exactly as server-side
    /// apply's schema does (no case folding). `None` for scalar fields and other types.
    pub(crate) fn ssa_field(&self, key: &str) -> Option<&'static Field> {
        match self {
            Ty::Struct(i) => TYPES[usize::from(*i)].fields.iter().find(|f| f.json == key),
            _ => None,
        }
    }

    /// Whether the type is `+structType=atomic` (owned and replaced as a whole by apply).
    pub(crate) fn is_atomic_struct(&self) -> bool {
        matches!(self, Ty::Struct(i) if TYPES[usize::from(*i)].atomic)
    }

    /// Go's `reflect.Kind` name of the type, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Ty::Scalar => "string",
            Ty::Struct(_) | Ty::Opaque(_) => "struct",
            Ty::List(_) => "slice",
            Ty::Map(_) => "map",
        }
    }

    /// The field named `key` (exactly, else ignoring ASCII case, as Go's JSON decoding
    /// matches names). `None` when the struct has no such object- or array-valued field.
    fn field(&self, key: &str) -> Result<Option<&'static Field>, SmpError> {
        match self {
            Ty::Struct(i) => {
                let fields = TYPES[usize::from(*i)].fields;
                Ok(fields
                    .iter()
                    .find(|f| f.json == key)
                    .or_else(|| fields.iter().find(|f| f.json.eq_ignore_ascii_case(key))))
            }
            other => Err(other.unknown_field(key)),
        }
    }

    /// The error apimachinery gives for a field its Go type lacks.
    pub fn unknown_field(&self, key: &str) -> SmpError {
        match self {
            Ty::Struct(i) => SmpError(format!(
                "unable to find api field in struct {} for the json field {key:?}",
                TYPES[usize::from(*i)].name
            )),
            Ty::Opaque(name) => SmpError(format!(
                "unable to find api field in struct {name} for the json field {key:?}"
            )),
            other => SmpError(format!(
                "merging an object in json but data type is not struct, instead is: {}",
                other.kind_name()
            )),
        }
    }

    /// The type and patch metadata of the field `key`, whose value is being merged as an
    /// object (apimachinery's `LookupPatchMetadataForStruct`). `None` for a field the table
    /// does not know: apimachinery would never meet one, since the current object comes from
    /// a Go struct; the merge then takes the patch's value, as for a field the object lacks.
    pub(super) fn lookup_struct(&self, key: &str) -> Result<Option<(Ty, PatchMeta)>, SmpError> {
        Ok(self.field(key)?.map(|f| {
            (
                f.ty,
                PatchMeta {
                    strategy: f.strategy,
                    merge_key: f.merge_key,
                },
            )
        }))
    }

    /// The element type and patch metadata of the list field `key`
    /// (`LookupPatchMetadataForSlice`). `None` as for [`Ty::lookup_struct`].
    pub(super) fn lookup_slice(&self, key: &str) -> Result<Option<(Ty, PatchMeta)>, SmpError> {
        let Some(f) = self.field(key)? else {
            return Ok(None);
        };
        match f.ty {
            Ty::List(Ty::List(_)) => Err(SmpError("unexpected slice of slice".into())),
            Ty::List(elem) => Ok(Some((
                *elem,
                PatchMeta {
                    strategy: f.strategy,
                    merge_key: f.merge_key,
                },
            ))),
            _ => Err(SmpError(format!(
                "expected slice or array type, but got: {}",
                self.kind_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ty: Ty, path: &[&str]) -> (Ty, PatchMeta) {
        let mut cur = (ty, PatchMeta::default());
        for key in path {
            let parent = match cur.0 {
                Ty::List(elem) => *elem,
                other => other,
            };
            cur = parent.lookup_struct(key).unwrap().unwrap();
        }
        cur
    }

    #[test]
    fn merge_keys_of_well_known_fields() {
        let pod = root("", "v1", "Pod").unwrap();
        let cases: &[(&[&str], &str, &str)] = &[
            (&["spec", "containers"], "merge", "name"),
            (&["spec", "initContainers"], "merge", "name"),
            (&["spec", "ephemeralContainers"], "merge", "name"),
            (&["spec", "volumes"], "merge,retainKeys", "name"),
            (&["spec", "imagePullSecrets"], "merge", "name"),
            (&["spec", "hostAliases"], "merge", "ip"),
            (&["spec", "tolerations"], "", ""),
            (&["spec", "containers", "ports"], "merge", "containerPort"),
            (&["spec", "containers", "env"], "merge", "name"),
            (&["spec", "containers", "envFrom"], "", ""),
            (
                &["spec", "containers", "volumeMounts"],
                "merge",
                "mountPath",
            ),
            (&["spec", "ephemeralContainers", "env"], "merge", "name"),
            (&["metadata", "ownerReferences"], "merge", "uid"),
            (&["metadata", "finalizers"], "merge", ""),
            (&["status", "conditions"], "merge", "type"),
        ];
        for (path, strategy, key) in cases {
            let (_, m) = meta(pod, path);
            assert_eq!((m.strategy, m.merge_key), (*strategy, *key), "{path:?}");
        }
        let node = root("", "v1", "Node").unwrap();
        assert_eq!(meta(node, &["status", "addresses"]).1.merge_key, "type");
        let svc = root("", "v1", "Service").unwrap();
        assert_eq!(meta(svc, &["spec", "ports"]).1.merge_key, "port");
        let deploy = root("apps", "v1", "Deployment").unwrap();
        assert_eq!(meta(deploy, &["status", "conditions"]).1.merge_key, "type");
        assert_eq!(meta(deploy, &["spec", "strategy"]).1.strategy, "retainKeys");
        assert_eq!(
            meta(deploy, &["spec", "template", "spec", "containers", "env"])
                .1
                .merge_key,
            "name"
        );
    }

    #[test]
    fn built_in_kinds_are_supported_and_custom_resources_are_not() {
        for (g, v, k) in [
            ("", "v1", "ConfigMap"),
            ("apps", "v1", "StatefulSet"),
            ("batch", "v1", "CronJob"),
            ("policy", "v1", "PodDisruptionBudget"),
        ] {
            assert!(supports(g, v, k), "{g}/{v} {k}");
        }
        assert!(supports(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition"
        ));
        assert!(!supports("example.com", "v1", "Widget"));
        assert!(!supports("apps", "v1", "Widget"));
    }

    #[test]
    fn every_kind_the_registry_serves_is_in_the_table() {
        let registry = crate::registry::Registry::with_builtins();
        for d in registry.all() {
            assert!(
                supports(&d.group, &d.version, &d.kind),
                "{}/{} {}",
                d.group,
                d.version,
                d.kind
            );
        }
    }

    #[test]
    fn patch_strategies_name_openapi_definitions() {
        let all: Vec<_> = patch_strategies().collect();
        assert!(all.contains(&("io.k8s.api.core.v1.PodSpec", "containers", "merge", "name")));
        assert!(all.contains(&(
            "io.k8s.api.core.v1.EphemeralContainer",
            "env",
            "merge",
            "name"
        )));
        assert!(all.contains(&(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
            "merge",
            ""
        )));
        assert!(all.contains(&(
            "io.k8s.api.apps.v1.DeploymentSpec",
            "strategy",
            "retainKeys",
            ""
        )));
        assert!(all.contains(&(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
            "x-kubernetes-validations",
            "merge",
            "rule"
        )));
    }

    #[test]
    fn lookups_fail_as_apimachinery_does() {
        let cm = root("", "v1", "ConfigMap").unwrap();
        let (data, _) = cm.lookup_struct("data").unwrap().unwrap();
        assert_eq!(data, Ty::Map(&Ty::Scalar));
        let err = data.lookup_struct("x").unwrap_err();
        assert_eq!(
            err.0,
            "merging an object in json but data type is not struct, instead is: map"
        );
        let rev = root("apps", "v1", "ControllerRevision").unwrap();
        let (raw, _) = rev.lookup_struct("data").unwrap().unwrap();
        assert_eq!(
            raw.lookup_struct("x").unwrap_err().0,
            "unable to find api field in struct RawExtension for the json field \"x\""
        );
        assert!(cm.lookup_struct("noSuchField").unwrap().is_none());
        // JSON names match ignoring case, as Go's decoder matches them.
        assert!(cm.lookup_struct("Metadata").unwrap().is_some());
    }
}
