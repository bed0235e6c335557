//! A StatefulSet's ControllerRevisions, as kube's controller history: each distinct pod
//! template is one revision `<set>-<hash>` (FNV-32a of the template and collisionCount),
//! owned by the set, whose `data` is the patch `kubectl rollout undo` applies
//! (`{"spec": {"template": {..., "$patch": "replace"}}}`) and whose `revision` numbers the
//! history. Going back to an earlier template reuses its revision with a new number.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::deployment::util::{equal_ignore_hash, template_hash};
use crate::podutil;

pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The pod template a revision records.
pub fn template_of(revision: &Value) -> Value {
    let mut t = revision["data"]["spec"]["template"].clone();
    if let Some(map) = t.as_object_mut() {
        map.remove("$patch");
    }
    t
}

pub fn number(revision: &Value) -> i64 {
    revision["revision"].as_i64().unwrap_or(0)
}

/// The revision object for the set's current template.
pub fn new_revision(set: &Value, number: i64, collision_count: i64) -> Value {
    let template = &set["spec"]["template"];
    let hash = template_hash(template, Some(collision_count).filter(|c| *c != 0));
    let mut patch_template = template.clone();
    if patch_template.is_object() {
        patch_template["$patch"] = json!("replace");
    }
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels[HASH_LABEL] = json!(hash);
    json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": format!("{}-{hash}", podutil::name(set)),
            "namespace": podutil::namespace(set),
            "labels": labels,
            "ownerReferences": [podutil::owner_ref(set, "apps/v1", "StatefulSet")],
        },
        "data": {"spec": {"template": patch_template}},
        "revision": number,
    })
}

/// Of `revisions`, the one recording `template` (the newest such), if any.
pub fn find_equal<'a>(revisions: &'a [Arc<Value>], template: &Value) -> Option<&'a Arc<Value>> {
    revisions
        .iter()
        .filter(|r| equal_ignore_hash(&template_of(r), template))
        .max_by_key(|r| number(r))
}

/// Revisions that may be deleted: neither current nor update revision nor used by a pod,
/// beyond the newest `limit` of them.
pub fn to_prune<'a>(
    revisions: &'a [Arc<Value>],
    live: &[&str],
    limit: usize,
) -> Vec<&'a Arc<Value>> {
    let mut dead: Vec<&Arc<Value>> = revisions
        .iter()
        .filter(|r| !live.contains(&podutil::name(r)))
        .collect();
    if dead.len() <= limit {
        return Vec::new();
    }
    dead.sort_by_key(|r| number(r));
    let excess = dead.len() - limit;
    dead.truncate(excess);
    dead
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_record_templates_and_prune_the_oldest_dead_ones() {
        let set = json!({"metadata": {"name": "web", "namespace": "d", "uid": "u"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}});
        let r1 = new_revision(&set, 1, 0);
        assert!(r1["metadata"]["name"].as_str().unwrap().starts_with("web-"));
        assert_eq!(r1["data"]["spec"]["template"]["$patch"], "replace");
        assert_eq!(template_of(&r1), set["spec"]["template"]);
        assert_eq!(r1["metadata"]["labels"]["app"], "web");
        let mut set2 = set.clone();
        set2["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        let r2 = new_revision(&set2, 2, 0);
        assert_ne!(r1["metadata"]["name"], r2["metadata"]["name"]);
        let all = vec![Arc::new(r1.clone()), Arc::new(r2.clone())];
        assert_eq!(
            find_equal(&all, &set["spec"]["template"]).unwrap()["revision"],
            1
        );
        let r2_name = r2["metadata"]["name"].as_str().unwrap();
        let pruned = to_prune(&all, &[r2_name], 0);
        assert_eq!(pruned.len(), 1);
        assert_eq!(pruned[0]["revision"], 1);
        assert!(to_prune(&all, &[r2_name], 1).is_empty());
    }
}
