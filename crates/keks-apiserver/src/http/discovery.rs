//! Discovery and other non-resource URLs: `/version`, `/api`, `/apis`, a group, a
//! group-version's resource list. `/api` and `/apis` also answer aggregated discovery
//! (`apidiscovery.k8s.io/v2`, and `v2beta1` for older clients) when the client asks for it,
//! so kubectl learns every resource in two requests instead of one per group version.

use std::collections::BTreeMap;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::body::{self, Body};
use super::route::Context;
use crate::registry::ResourceDescriptor;
use crate::status::ApiError;

pub fn handle(ctx: &Context<'_>, path: &str) -> Result<Response<Body>, ApiError> {
    if ctx.info.verb != "get" {
        return Err(ApiError::MethodNotAllowed);
    }
    let all = ctx.api.registry.all_for(&ctx.api.cluster);
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let value = match segments.as_slice() {
        ["openapi", ..] => {
            let prefix = super::cluster_path(&ctx.api.cluster);
            return crate::openapi::handle(
                &ctx.api.registry,
                &ctx.server.clock,
                &prefix,
                path,
                ctx.query.get("hash"),
                &ctx.accept,
            );
        }
        ["version"] => version(
            &ctx.server
                .clusters
                .record(&ctx.api.cluster)
                .map(|r| r.version)
                .unwrap_or_default(),
        ),
        ["api" | "apis"] if aggregated_version(&ctx.accept).is_some() => {
            let version = aggregated_version(&ctx.accept).expect("checked");
            let core = segments[0] == "api";
            let list = aggregated(&all, core, version);
            return Ok(body::json_with_type(
                StatusCode::OK,
                &list,
                &format!(
                    "application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
                ),
            ));
        }
        ["api"] => {
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
        }
        ["api", "v1"] => resource_list(
            "v1",
            all.iter()
                .filter(|d| d.group.is_empty() && d.version == "v1"),
        ),
        ["apis"] => {
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups(&all).into_values().collect::<Vec<_>>()})
        }
        ["apis", group] => groups(&all)
            .remove(*group)
            .map(|mut g| {
                g["kind"] = json!("APIGroup");
                g["apiVersion"] = json!("v1");
                g
            })
            .ok_or(ApiError::NoSuchResource)?,
        ["apis", group, version] => {
            let mut matching = all
                .iter()
                .filter(|d| d.group == *group && d.version == *version)
                .peekable();
            if matching.peek().is_none() {
                return Err(ApiError::NoSuchResource);
            }
            resource_list(&format!("{group}/{version}"), matching)
        }
        _ => return Err(ApiError::NoSuchResource),
    };
    Ok(body::json(StatusCode::OK, &value))
}

/// `/version` as EKS reports it.
fn version(minor_version: &str) -> Value {
    let (major, minor) = minor_version
        .split_once('.')
        .unwrap_or(("1", minor_version));
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0-eks-keks"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-01-01T00:00:00Z",
        "goVersion": "go1.22",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn groups(all: &[std::sync::Arc<ResourceDescriptor>]) -> BTreeMap<String, Value> {
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in all.iter().filter(|d| !d.group.is_empty()) {
        let list = versions.entry(d.group.clone()).or_default();
        if !list.contains(&d.version) {
            list.push(d.version.clone());
        }
    }
    versions
        .into_iter()
        .map(|(group, versions)| {
            let list: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                .collect();
            let preferred = list[0].clone();
            (
                group.clone(),
                json!({"name": group, "versions": list, "preferredVersion": preferred}),
            )
        })
        .collect()
}

/// The aggregated discovery version the client accepts (`v2` preferred), if any.
fn aggregated_version(accept: &str) -> Option<&'static str> {
    let offers: Vec<&str> = accept.split(',').map(str::trim).collect();
    let wants = |v: &str| {
        offers.iter().any(|o| {
            o.contains("g=apidiscovery.k8s.io")
                && o.contains("as=APIGroupDiscoveryList")
                && o.split(';').any(|p| p.trim() == format!("v={v}"))
        })
    };
    if wants("v2") {
        Some("v2")
    } else if wants("v2beta1") {
        Some("v2beta1")
    } else {
        None
    }
}

/// The subresource's response kind and verbs, as legacy discovery lists them too.
fn subresource_shape<'a>(d: &'a ResourceDescriptor, sub: &str) -> (&'a str, Vec<&'static str>) {
    match sub {
        "status" => (&d.kind, vec!["get", "patch", "update"]),
        "scale" => ("Scale", vec!["get", "patch", "update"]),
        "binding" => ("Binding", vec!["create"]),
        "eviction" => ("Eviction", vec!["create"]),
        "token" => ("TokenRequest", vec!["create"]),
        "log" => ("Pod", vec!["get"]),
        "finalize" => (&d.kind, vec!["update"]),
        "ephemeralcontainers" => (&d.kind, vec!["get", "patch", "update"]),
        _ => (&d.kind, vec!["get"]),
    }
}

/// The group and version of a subresource whose kind belongs to another group.
fn subresource_group(sub: &str) -> Option<(&'static str, &'static str)> {
    match sub {
        "eviction" => Some(("policy", "v1")),
        "scale" => Some(("autoscaling", "v1")),
        _ => None,
    }
}

/// An `APIGroupDiscoveryList`: the core group (`/api`) or every named group (`/apis`),
/// each with its versions (preferred first) and their resources.
fn aggregated(all: &[std::sync::Arc<ResourceDescriptor>], core: bool, version: &str) -> Value {
    let mut by_group: BTreeMap<&str, BTreeMap<&str, Vec<Value>>> = BTreeMap::new();
    for d in all.iter().filter(|d| d.group.is_empty() == core) {
        let (sub_group, sub_version) = (d.group.as_str(), d.version.as_str());
        let mut r = json!({
            "resource": d.plural,
            "responseKind": {"group": sub_group, "version": sub_version, "kind": d.kind},
            "scope": if d.namespaced() { "Namespaced" } else { "Cluster" },
            "singularResource": d.singular,
            "verbs": d.verbs,
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        let subresources: Vec<Value> = d
            .subresources
            .iter()
            .map(|sub| {
                let (kind, verbs) = subresource_shape(d, sub);
                let (group, version) = subresource_group(sub).unwrap_or((sub_group, sub_version));
                json!({"subresource": sub, "responseKind": {"group": group, "version": version, "kind": kind}, "verbs": verbs})
            })
            .collect();
        if !subresources.is_empty() {
            r["subresources"] = json!(subresources);
        }
        by_group
            .entry(sub_group)
            .or_default()
            .entry(sub_version)
            .or_default()
            .push(r);
    }
    let preferred = groups(all);
    let items: Vec<Value> = by_group
        .into_iter()
        .map(|(group, versions)| {
            let first = preferred
                .get(group)
                .and_then(|g| g["preferredVersion"]["version"].as_str())
                .unwrap_or("v1")
                .to_string();
            let mut ordered: Vec<(&str, Vec<Value>)> = versions.into_iter().collect();
            ordered.sort_by_key(|(v, _)| *v != first);
            let versions: Vec<Value> = ordered
                .into_iter()
                .map(|(v, resources)| json!({"version": v, "resources": resources, "freshness": "Current"}))
                .collect();
            let mut metadata = json!({"creationTimestamp": null});
            if !group.is_empty() {
                metadata["name"] = json!(group);
            }
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

fn resource_list<'a>(
    group_version: &str,
    resources: impl Iterator<Item = &'a std::sync::Arc<ResourceDescriptor>>,
) -> Value {
    let mut out = Vec::new();
    for d in resources {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced(),
            "kind": d.kind,
            "verbs": d.verbs,
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        out.push(r);
        for sub in &d.subresources {
            let (kind, verbs) = subresource_shape(d, sub);
            let mut entry = json!({"name": format!("{}/{sub}", d.plural), "singularName": "", "namespaced": d.namespaced(), "kind": kind, "verbs": verbs});
            // Subresources of another group's kind say which (kubectl drain finds the
            // Eviction API this way, and deletes pods instead when it is missing).
            if let Some((group, version)) = subresource_group(sub) {
                entry["group"] = json!(group);
                entry["version"] = json!(version);
            }
            out.push(entry);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out})
}
