//! The OpenAPI v3 documents kube-apiserver serves under `/openapi/v3/<key>`: one per
//! group-version (`api/v1`, `apis/apps/v1`) with every resource's paths and the schemas
//! they reach, and the small ones of the discovery endpoints (`api`, `apis`,
//! `apis/<group>`, `version`).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{json, Map, Value};

use super::components::{Components, Gvk};
use super::names;
use super::operations::{self, OBJECT_TYPES};
use crate::registry::{ResourceDescriptor, Scope};

/// The `info.version` of the documents: the Kubernetes version the schemas are from.
pub const SCHEMA_VERSION: &str = "v1.34.0";

/// One document the index lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocKey {
    /// `api`: the core group's versions.
    CoreVersions,
    /// `apis`: every group.
    Groups,
    /// `apis/<group>`.
    Group(String),
    /// `api/v1`, `apis/<group>/<version>`.
    GroupVersion { group: String, version: String },
    /// `version`.
    Version,
}

impl DocKey {
    /// The key in the index and the URL: `apis/apps/v1`.
    pub fn path(&self) -> String {
        match self {
            Self::CoreVersions => "api".into(),
            Self::Groups => "apis".into(),
            Self::Group(g) => format!("apis/{g}"),
            Self::GroupVersion { group, version } => names::group_version_key(group, version),
            Self::Version => "version".into(),
        }
    }

    /// Parses the part of a URL after `/openapi/v3/`.
    pub fn parse(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        Some(match segments.as_slice() {
            ["api"] => Self::CoreVersions,
            ["apis"] => Self::Groups,
            ["version"] => Self::Version,
            ["apis", group] if !group.is_empty() => Self::Group(group.to_string()),
            ["api", version] if !version.is_empty() => Self::GroupVersion {
                group: String::new(),
                version: version.to_string(),
            },
            ["apis", group, version] if !group.is_empty() && !version.is_empty() => {
                Self::GroupVersion {
                    group: group.to_string(),
                    version: version.to_string(),
                }
            }
            _ => return None,
        })
    }
}

/// Every document the registry's resources call for, in index order.
pub fn keys(all: &[Arc<ResourceDescriptor>]) -> Vec<DocKey> {
    let mut gvs: BTreeSet<(String, String)> = BTreeSet::new();
    let mut groups: BTreeSet<String> = BTreeSet::new();
    for d in all {
        gvs.insert((d.group.clone(), d.version.clone()));
        if !d.group.is_empty() {
            groups.insert(d.group.clone());
        }
    }
    let mut keys = vec![DocKey::CoreVersions, DocKey::Groups, DocKey::Version];
    keys.extend(groups.into_iter().map(DocKey::Group));
    keys.extend(
        gvs.into_iter()
            .map(|(group, version)| DocKey::GroupVersion { group, version }),
    );
    keys
}

/// A string that changes whenever the document of `key` would: the resources' facts the
/// paths are built from. Documents are cached under it.
pub fn fingerprint(key: &DocKey, all: &[Arc<ResourceDescriptor>]) -> Option<String> {
    let DocKey::GroupVersion { group, version } = key else {
        let known = match key {
            DocKey::Group(g) => all.iter().any(|d| &d.group == g),
            _ => true,
        };
        return known.then(|| key.path());
    };
    let mut out = key.path();
    let mut any = false;
    for d in all
        .iter()
        .filter(|d| &d.group == group && &d.version == version)
    {
        any = true;
        let scope = if d.scope == Scope::Namespaced {
            "ns"
        } else {
            "cluster"
        };
        out.push_str(&format!(
            "|{}:{}:{scope}:{}:{}:{}",
            d.plural,
            d.kind,
            d.verbs.join(","),
            d.subresources.join(","),
            d.strategy.returns_deleted_object()
        ));
    }
    any.then_some(out)
}

/// Builds the document of `key`; `None` if the registry serves nothing there.
pub fn build(key: &DocKey, all: &[Arc<ResourceDescriptor>]) -> Option<Value> {
    let mut c = Components::new();
    let mut paths = Map::new();
    match key {
        DocKey::GroupVersion { group, version } => {
            let resources: Vec<&Arc<ResourceDescriptor>> = all
                .iter()
                .filter(|d| &d.group == group && &d.version == version)
                .collect();
            if resources.is_empty() {
                return None;
            }
            let list = schema_ref(c.meta_ref::<meta::APIResourceList>(&[Gvk::new(
                "",
                "v1",
                "APIResourceList",
            )]));
            let gv_camel = format!(
                "{}{}",
                names::group_camel(group),
                names::upper_first(version)
            );
            paths.insert(
                format!("{}/", names::api_prefix(group, version)),
                discovery_op(
                    &names::tag(group, version),
                    &format!("get{gv_camel}APIResources"),
                    "get available resources",
                    &list,
                    OBJECT_TYPES,
                ),
            );
            for d in resources {
                operations::add_resource(d, &mut c, &mut paths);
            }
        }
        DocKey::CoreVersions => {
            let versions =
                schema_ref(c.meta_ref::<meta::APIVersions>(&[Gvk::new("", "v1", "APIVersions")]));
            paths.insert(
                "/api/".into(),
                discovery_op(
                    "core",
                    "getCoreAPIVersions",
                    "get available API versions",
                    &versions,
                    OBJECT_TYPES,
                ),
            );
        }
        DocKey::Groups => {
            let groups =
                schema_ref(c.meta_ref::<meta::APIGroupList>(&[Gvk::new("", "v1", "APIGroupList")]));
            paths.insert(
                "/apis/".into(),
                discovery_op(
                    "apis",
                    "getAPIVersions",
                    "get available API versions",
                    &groups,
                    OBJECT_TYPES,
                ),
            );
        }
        DocKey::Group(group) => {
            if !all.iter().any(|d| &d.group == group) {
                return None;
            }
            let api_group =
                schema_ref(c.meta_ref::<meta::APIGroup>(&[Gvk::new("", "v1", "APIGroup")]));
            let camel = names::group_camel(group);
            let tag = names::tag(group, "").trim_end_matches('_').to_string();
            paths.insert(
                format!("/apis/{group}/"),
                discovery_op(
                    &tag,
                    &format!("get{camel}APIGroup"),
                    "get information of a group",
                    &api_group,
                    OBJECT_TYPES,
                ),
            );
        }
        DocKey::Version => {
            let info = schema_ref(c.meta_ref::<k8s_openapi::apimachinery::pkg::version::Info>(&[]));
            paths.insert(
                "/version/".into(),
                discovery_op(
                    "version",
                    "getCodeVersion",
                    "get the version information for this server",
                    &info,
                    &["application/json"],
                ),
            );
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SCHEMA_VERSION},
        "paths": paths,
        "components": {
            "schemas": c.finish(),
            "securitySchemes": {
                "BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"},
            },
        },
    }))
}

fn schema_ref(r: String) -> Value {
    json!({"$ref": r})
}

/// The one GET of a discovery endpoint.
fn discovery_op(
    tag: &str,
    id: &str,
    description: &str,
    schema: &Value,
    media_types: &[&str],
) -> Value {
    json!({
        "get": {
            "tags": [tag],
            "description": description,
            "operationId": id,
            "responses": operations::responses(&[200], schema, media_types),
        }
    })
}
