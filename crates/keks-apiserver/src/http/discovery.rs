//! Discovery and other non-resource URLs: `/version`, `/api`, `/apis`, a group, a
//! group-version's resource list. Answers as kube-apiserver's legacy (unaggregated)
//! discovery; clients that ask for aggregated discovery fall back to it.

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
            let (kind, verbs): (&str, Vec<&str>) = match sub.as_str() {
                "status" => (&d.kind, vec!["get", "patch", "update"]),
                "scale" => ("Scale", vec!["get", "patch", "update"]),
                "binding" => ("Binding", vec!["create"]),
                "eviction" => ("Eviction", vec!["create"]),
                "token" => ("TokenRequest", vec!["create"]),
                "log" => ("Pod", vec!["get"]),
                "finalize" => (&d.kind, vec!["update"]),
                "ephemeralcontainers" => (&d.kind, vec!["get", "patch", "update"]),
                _ => (&d.kind, vec!["get"]),
            };
            let mut entry = json!({"name": format!("{}/{sub}", d.plural), "singularName": "", "namespaced": d.namespaced(), "kind": kind, "verbs": verbs});
            // Subresources of another group's kind say which (kubectl drain finds the
            // Eviction API this way, and deletes pods instead when it is missing).
            let other = match sub.as_str() {
                "eviction" => Some(("policy", "v1")),
                "scale" => Some(("autoscaling", "v1")),
                _ => None,
            };
            if let Some((group, version)) = other {
                entry["group"] = json!(group);
                entry["version"] = json!(version);
            }
            out.push(entry);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out})
}
