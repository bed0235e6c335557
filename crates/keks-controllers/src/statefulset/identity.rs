//! The stable identity of a StatefulSet's pods: the name `<set>-<ordinal>`, the labels
//! (`statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index`,
//! `controller-revision-hash`), hostname and subdomain, and the PersistentVolumeClaims
//! `<template>-<set>-<ordinal>` from `volumeClaimTemplates`, mounted in place of any pod
//! volume of the same name.

use serde_json::{json, Value};

use crate::podutil;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The first ordinal (`spec.ordinals.start`, 0 by default).
pub fn start_ordinal(set: &Value) -> i64 {
    set["spec"]["ordinals"]["start"]
        .as_i64()
        .unwrap_or(0)
        .max(0)
}

pub fn replicas(set: &Value) -> i64 {
    set["spec"]["replicas"].as_i64().unwrap_or(1).max(0)
}

/// The ordinal of a pod named `<set>-<n>` of `set_name`, if it is one.
pub fn ordinal_of(set_name: &str, pod: &Value) -> Option<i64> {
    let rest = podutil::name(pod)
        .strip_prefix(set_name)?
        .strip_prefix('-')?;
    if rest.is_empty()
        || !rest.bytes().all(|b| b.is_ascii_digit())
        || (rest.len() > 1 && rest.starts_with('0'))
    {
        return None;
    }
    rest.parse().ok()
}

pub fn pod_name(set: &Value, ordinal: i64) -> String {
    format!("{}-{ordinal}", podutil::name(set))
}

pub fn claim_name(template: &Value, set: &Value, ordinal: i64) -> String {
    format!(
        "{}-{}",
        template["metadata"]["name"].as_str().unwrap_or_default(),
        pod_name(set, ordinal)
    )
}

/// The pod of `ordinal` from `template` (the template of the revision it belongs to).
pub fn new_pod(set: &Value, template: &Value, revision: &str, ordinal: i64, owner: Value) -> Value {
    let mut pod = podutil::pod_from_template(template, set, owner);
    let name = pod_name(set, ordinal);
    let meta = pod["metadata"].as_object_mut().expect("metadata");
    meta.remove("generateName");
    meta.insert("name".into(), json!(name));
    if !pod["metadata"]["labels"].is_object() {
        pod["metadata"]["labels"] = json!({});
    }
    let labels = &mut pod["metadata"]["labels"];
    labels[POD_NAME_LABEL] = json!(name);
    labels[POD_INDEX_LABEL] = json!(ordinal.to_string());
    labels[REVISION_LABEL] = json!(revision);
    pod["spec"]["hostname"] = json!(name);
    if let Some(service) = set["spec"]["serviceName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        pod["spec"]["subdomain"] = json!(service);
    }
    let claims = set["spec"]["volumeClaimTemplates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !claims.is_empty() {
        let mut volumes: Vec<Value> = pod["spec"]["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for t in &claims {
            let vol = t["metadata"]["name"].clone();
            volumes.retain(|v| v["name"] != vol);
            volumes.push(json!({
                "name": vol,
                "persistentVolumeClaim": {"claimName": claim_name(t, set, ordinal)},
            }));
        }
        pod["spec"]["volumes"] = json!(volumes);
    }
    pod
}

/// The claims a pod of `ordinal` uses: the templates' specs, labelled with the set's
/// selector labels and the template's own. No owner references (retention policy Retain,
/// kube's default: claims outlive their pods and the set).
pub fn claims(set: &Value, ordinal: i64) -> Vec<Value> {
    let selector_labels = set["spec"]["selector"]["matchLabels"].clone();
    set["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let mut labels = t["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            if let Some(sel) = selector_labels.as_object() {
                for (k, v) in sel {
                    labels[k] = v.clone();
                }
            }
            let mut meta = json!({
                "name": claim_name(t, set, ordinal),
                "namespace": podutil::namespace(set),
                "labels": labels,
            });
            if let Some(a) = t["metadata"].get("annotations").filter(|a| a.is_object()) {
                meta["annotations"] = a.clone();
            }
            json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": meta,
                "spec": t["spec"],
                "status": {"phase": "Pending"},
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "s1"},
            "spec": {"replicas": 3, "serviceName": "nginx", "selector": {"matchLabels": {"app": "nginx"}},
                "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "c"}], "volumes": [{"name": "www", "emptyDir": {}}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]},
        })
    }

    #[test]
    fn ordinals_come_from_names() {
        let pod = |n: &str| json!({"metadata": {"name": n}});
        assert_eq!(ordinal_of("web", &pod("web-0")), Some(0));
        assert_eq!(ordinal_of("web", &pod("web-12")), Some(12));
        assert_eq!(ordinal_of("web", &pod("web-x")), None);
        assert_eq!(ordinal_of("web", &pod("web-01")), None);
        assert_eq!(ordinal_of("web", &pod("webby-1")), None);
        assert_eq!(ordinal_of("web", &pod("web-")), None);
    }

    #[test]
    fn pods_get_their_identity_and_claims() {
        let s = set();
        let owner = podutil::owner_ref(&s, "apps/v1", "StatefulSet");
        let pod = new_pod(&s, &s["spec"]["template"], "web-abc", 2, owner);
        assert_eq!(pod["metadata"]["name"], "web-2");
        assert!(pod["metadata"].get("generateName").is_none());
        assert_eq!(pod["metadata"]["labels"][POD_NAME_LABEL], "web-2");
        assert_eq!(pod["metadata"]["labels"][POD_INDEX_LABEL], "2");
        assert_eq!(pod["metadata"]["labels"][REVISION_LABEL], "web-abc");
        assert_eq!(pod["spec"]["hostname"], "web-2");
        assert_eq!(pod["spec"]["subdomain"], "nginx");
        let vols = pod["spec"]["volumes"].as_array().unwrap();
        assert_eq!(vols.len(), 1, "the claim replaces the template's volume");
        assert_eq!(vols[0]["persistentVolumeClaim"]["claimName"], "www-web-2");
        let pvcs = claims(&s, 2);
        assert_eq!(pvcs[0]["metadata"]["name"], "www-web-2");
        assert_eq!(pvcs[0]["metadata"]["labels"]["app"], "nginx");
        assert_eq!(pvcs[0]["spec"]["resources"]["requests"]["storage"], "1Gi");
    }
}
