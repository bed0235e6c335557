//! Tests of the served documents against the built-in registry: the v3 index, a
//! group-version document as kubectl reads it, the v2 document and the HTTP answers.

use std::sync::Arc;

use http::{header, StatusCode};
use http_body_util::BodyExt;
use keks_core::{RealClock, SharedClock};
use serde_json::Value;

use super::components::SCHEMA_PREFIX;
use super::document::DocKey;
use super::{handle, index, swagger};
use crate::registry::{Registry, ResourceDescriptor};

fn builtins() -> Vec<Arc<ResourceDescriptor>> {
    Registry::with_builtins().all()
}

fn doc(key: &str) -> Value {
    let key = DocKey::parse(key).expect("a document key");
    let doc = index::document(&builtins(), &key)
        .unwrap()
        .expect("a document");
    serde_json::from_slice(&doc.bytes).unwrap()
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_index_lists_every_group_version_with_a_hash() {
    let index = index::index(&builtins()).unwrap();
    let paths = index["paths"].as_object().unwrap();
    for key in [
        "api",
        "apis",
        "version",
        "api/v1",
        "apis/apps/v1",
        "apis/apps",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/autoscaling/v2",
    ] {
        let url = paths[key]["serverRelativeURL"]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is listed"));
        let (path, hash) = url.split_once("?hash=").unwrap();
        assert_eq!(path, format!("/openapi/v3/{key}"));
        assert_eq!(hash.len(), 128, "SHA-512 in hex");
        assert!(hash
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    }
}

#[test]
fn the_core_document_has_pod_paths_kubectl_can_use() {
    let d = doc("api/v1");
    assert_eq!(d["openapi"], "3.0.0");
    let item = &d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
    let patch = &item["patch"];
    assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        serde_json::json!({"group": "", "kind": "Pod", "version": "v1"})
    );
    // kubectl's QueryParamVerifierV3 looks at the PATCH operation's own parameters.
    let names: Vec<&str> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["dryRun", "fieldManager", "fieldValidation", "force"]
    );
    let shared: Vec<&str> = item["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(shared, ["name", "namespace", "pretty"]);
    assert_eq!(item["get"]["operationId"], "readCoreV1NamespacedPod");
    assert_eq!(
        item["delete"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Pod"
    );

    let collection = &d["paths"]["/api/v1/namespaces/{namespace}/pods"];
    assert_eq!(collection["get"]["operationId"], "listCoreV1NamespacedPod");
    assert_eq!(collection["post"]["x-kubernetes-action"], "post");
    assert_eq!(
        collection["delete"]["operationId"],
        "deleteCoreV1CollectionNamespacedPod"
    );
    assert_eq!(
        d["paths"]["/api/v1/pods"]["get"]["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    assert_eq!(
        d["paths"]["/api/v1/watch/namespaces/{namespace}/pods"]["get"]["x-kubernetes-action"],
        "watchlist"
    );
    assert_eq!(
        d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"]["operationId"],
        "patchCoreV1NamespacedPodStatus"
    );
    let binding = &d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/binding"];
    assert_eq!(
        binding["post"]["x-kubernetes-group-version-kind"]["kind"],
        "Binding"
    );
    assert_eq!(
        d["paths"]["/api/v1/namespaces/{name}/finalize"]["put"]["operationId"],
        "replaceCoreV1NamespaceFinalize"
    );
    assert_eq!(
        d["paths"]["/api/v1/nodes/{name}"]["get"]["operationId"],
        "readCoreV1Node"
    );

    let schemas = d["components"]["schemas"].as_object().unwrap();
    let pod = &schemas["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    assert!(
        schemas["io.k8s.api.core.v1.Container"]["properties"]["image"]["description"].is_string()
    );
    assert!(schemas.contains_key("io.k8s.api.core.v1.PodList"));

    let mut all = Vec::new();
    refs(&d, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix(SCHEMA_PREFIX)
            .unwrap_or_else(|| panic!("{r} points into components"));
        assert!(schemas.contains_key(name), "{r} resolves");
    }
}

#[test]
fn every_patch_operation_offers_field_validation() {
    for key in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
    ] {
        let d = doc(key);
        let mut patches = 0;
        for (path, item) in d["paths"].as_object().unwrap() {
            if let Some(patch) = item.get("patch") {
                patches += 1;
                let has = patch["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                });
                assert!(has, "{path} PATCH has fieldValidation");
            }
        }
        assert!(patches > 0, "{key} has patch operations");
    }
}

#[test]
fn the_apps_document_has_scale_and_deployment_schemas() {
    let d = doc("apis/apps/v1");
    let scale = &d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["get"]["operationId"],
        "readAppsV1NamespacedDeploymentScale"
    );
    assert_eq!(
        scale["put"]["x-kubernetes-group-version-kind"]["group"],
        "autoscaling"
    );
    let schemas = &d["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    assert_eq!(
        schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"][0]["group"],
        "autoscaling"
    );
    assert!(
        schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["template"]["allOf"][0]["$ref"]
            .is_string()
    );
}

#[test]
fn the_v2_document_uses_definitions() {
    let doc = swagger::swagger(&builtins()).unwrap();
    let v2: Value = serde_json::from_slice(&doc.bytes).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    let defs = v2["definitions"].as_object().unwrap();
    assert!(defs.contains_key("io.k8s.api.core.v1.Pod"));
    assert!(defs.contains_key("io.k8s.api.apps.v1.Deployment"));
    assert_eq!(
        defs["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.PodSpec"
    );
    let patch = &v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert!(patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["in"] == "body"));
    assert!(patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "fieldValidation" && p["type"] == "string"));
    let mut all = Vec::new();
    refs(&v2, &mut all);
    for r in all {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("{r:?} points into definitions"));
        assert!(defs.contains_key(name), "{r} resolves");
    }
}

async fn get(
    path: &str,
    hash: Option<&str>,
    accept: &str,
) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let registry = Registry::with_builtins();
    let clock: SharedClock = RealClock::shared();
    let response = handle(&registry, &clock, "/clusters/dev", path, hash, accept)
        .map_err(|e| e.code())
        .unwrap_or_else(|code| {
            let mut r =
                http::Response::new(http_body_util::Full::new(bytes::Bytes::new()).boxed_unsync());
            *r.status_mut() = StatusCode::from_u16(code).unwrap();
            r
        });
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn documents_are_served_with_kube_caching_headers() {
    let (status, headers, body) = get("/openapi/v3", None, "application/json, */*").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(headers.contains_key(header::ETAG));
    let index: Value = serde_json::from_slice(&body).unwrap();
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = url.split_once("?hash=").unwrap().1;

    let (status, headers, body) =
        get("/openapi/v3/apis/apps/v1", Some(hash), "application/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, immutable");
    assert!(headers[header::EXPIRES].to_str().unwrap().ends_with(" GMT"));
    assert_eq!(
        headers[header::ETAG].to_str().unwrap(),
        format!("\"{hash}\"")
    );
    assert_eq!(super::cache::etag(&body), hash);

    let (status, headers, _) = get(
        "/openapi/v3/apis/apps/v1",
        Some("stale"),
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        headers[header::LOCATION].to_str().unwrap(),
        format!("/clusters/dev{url}")
    );

    let (status, _, _) = get("/openapi/v3/apis/nope/v1", None, "application/json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(
        "/openapi/v3/api/v1",
        None,
        "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn v2_is_served_as_json_or_protobuf() {
    let (status, headers, body) = get(
        "/openapi/v2",
        None,
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    // Document.swagger (field 1) = "2.0" comes first.
    assert_eq!(&body[..5], b"\x0a\x032.0");
    let (status, headers, body) = get("/openapi/v2", None, "application/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(body.starts_with(b"{"));
    let (status, _, _) = get("/openapi/v2", None, "text/html").await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
}
