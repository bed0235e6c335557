//! Deployment helpers, as `deployment/util` in kube-controller-manager: the pod-template hash,
//! revisions, maxSurge/maxUnavailable, replica counts over sets of ReplicaSets.

use std::sync::Arc;

use serde_json::Value;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const HASH_LABEL: &str = "pod-template-hash";

/// Annotations of a Deployment never copied to its ReplicaSets (kubectl's and ours).
pub fn skipped_annotation(key: &str) -> bool {
    matches!(
        key,
        "kubectl.kubernetes.io/last-applied-configuration"
            | REVISION
            | "deployment.kubernetes.io/revision-history"
            | DESIRED_REPLICAS
            | MAX_REPLICAS
            | "deprecated.deployment.rollback.to"
    )
}

pub fn replicas(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1)
}

pub fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

pub fn annotation_i64(obj: &Value, key: &str) -> Option<i64> {
    obj["metadata"]["annotations"][key].as_str()?.parse().ok()
}

/// A template with the pod-template-hash label and null fields removed, for comparisons:
/// a typed decode treats null as absent (kubectl sends `creationTimestamp: null` back).
pub fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    strip_nulls(&mut t);
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
        if labels.is_empty() {
            t["metadata"].as_object_mut().map(|m| m.remove("labels"));
        }
    }
    if t["metadata"].as_object().is_some_and(|m| m.is_empty()) {
        t.as_object_mut().map(|m| m.remove("metadata"));
    }
    t
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// `EqualIgnoreHash`: the templates are equal apart from the pod-template-hash label.
pub fn equal_ignore_hash(a: &Value, b: &Value) -> bool {
    without_hash(a) == without_hash(b)
}

/// The pod-template hash: FNV-32a over the template (keys in sorted order) and the
/// collision count, written with the safe alphabet as `rand.SafeEncodeString` does.
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut h: u32 = 0x811c9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u32;
            h = h.wrapping_mul(0x01000193);
        }
    };
    canonical(template, &mut feed);
    if let Some(c) = collision_count {
        feed(c.to_string().as_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

fn canonical(v: &Value, feed: &mut impl FnMut(&[u8])) {
    match v {
        Value::Object(map) => {
            // Null fields are absent fields, as for a typed template.
            let mut keys: Vec<&String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect();
            keys.sort();
            feed(b"{");
            for k in keys {
                feed(k.as_bytes());
                feed(b":");
                canonical(&map[k], feed);
                feed(b",");
            }
            feed(b"}");
        }
        Value::Array(items) => {
            feed(b"[");
            for i in items {
                canonical(i, feed);
                feed(b",");
            }
            feed(b"]");
        }
        other => feed(other.to_string().as_bytes()),
    }
}

/// An `IntOrString` (absolute or percent of `total`), rounded up or down.
fn scaled(value: &Value, total: i64, round_up: bool) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) if round_up => (p * total + 99) / 100,
            Some(p) => p * total / 100,
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

pub fn is_rolling(d: &Value) -> bool {
    d["spec"]["strategy"]["type"]
        .as_str()
        .unwrap_or("RollingUpdate")
        == "RollingUpdate"
}

/// (maxSurge, maxUnavailable) resolved against the replica count; both zero means one may
/// be unavailable. Defaults 25% / 25%.
pub fn surge_and_unavailable(d: &Value) -> (i64, i64) {
    let total = replicas(d);
    let ru = &d["spec"]["strategy"]["rollingUpdate"];
    let default = Value::String("25%".into());
    let surge = scaled(ru.get("maxSurge").unwrap_or(&default), total, true);
    let unavailable = scaled(ru.get("maxUnavailable").unwrap_or(&default), total, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

pub fn max_surge(d: &Value) -> i64 {
    if !is_rolling(d) {
        return 0;
    }
    surge_and_unavailable(d).0
}

pub fn max_unavailable(d: &Value) -> i64 {
    if !is_rolling(d) || replicas(d) == 0 {
        return 0;
    }
    surge_and_unavailable(d).1.min(replicas(d))
}

pub fn spec_replicas(sets: &[Arc<Value>]) -> i64 {
    sets.iter().map(|rs| replicas(rs)).sum()
}

pub fn status_count(sets: &[Arc<Value>], field: &str) -> i64 {
    sets.iter()
        .map(|rs| rs["status"][field].as_i64().unwrap_or(0))
        .sum()
}

/// ReplicaSets with pods wanted (`spec.replicas > 0`).
pub fn active(sets: &[Arc<Value>]) -> Vec<Arc<Value>> {
    sets.iter().filter(|rs| replicas(rs) > 0).cloned().collect()
}

pub fn created(rs: &Value) -> String {
    rs["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Oldest first, then by name, as `ReplicaSetsByCreationTimestamp`.
pub fn sort_oldest_first(sets: &mut [Arc<Value>]) {
    sets.sort_by(|a, b| {
        created(a).cmp(&created(b)).then_with(|| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn surge_and_unavailable_round_as_kube() {
        let d = |surge: Value, unavailable: Value, replicas: i64| json!({"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}});
        assert_eq!(
            surge_and_unavailable(&d(json!("25%"), json!("25%"), 10)),
            (3, 2)
        );
        assert_eq!(surge_and_unavailable(&d(json!(0), json!(0), 3)), (0, 1));
        assert_eq!(
            surge_and_unavailable(&json!({"spec": {"replicas": 3}})),
            (1, 0)
        );
        assert_eq!(max_unavailable(&d(json!(1), json!(5), 3)), 3);
    }

    #[test]
    fn the_hash_ignores_key_order_and_changes_with_collisions() {
        let a = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}});
        let b = json!({"spec": {"x": 1}, "metadata": {"labels": {"b": "2", "a": "1"}}});
        assert_eq!(template_hash(&a, None), template_hash(&b, None));
        assert_ne!(template_hash(&a, None), template_hash(&a, Some(1)));
        assert!(template_hash(&a, None)
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        let mut with_hash = a.clone();
        with_hash["metadata"]["labels"][HASH_LABEL] = json!("abc");
        assert!(equal_ignore_hash(&a, &with_hash));
        with_hash["metadata"]["creationTimestamp"] = Value::Null;
        assert!(equal_ignore_hash(&a, &with_hash), "null is absent");
    }
}
