//! Defaults of the apps/v1 workloads, as kube-apiserver's `SetDefaults_*` apply them:
//! Deployment (replicas, RollingUpdate 25 %/25 %, revisionHistoryLimit, progress deadline),
//! ReplicaSet (replicas), DaemonSet (RollingUpdate maxUnavailable 1 / maxSurge 0, history),
//! StatefulSet (replicas, OrderedReady, RollingUpdate partition 0, history). Clients read
//! them back (`kubectl rollout status` refuses a DaemonSet without an update strategy).
//! Also the core/v1 volume defaults: PersistentVolumeClaim (volumeMode Filesystem, phase
//! Pending) and PersistentVolume (reclaim policy Retain, volumeMode Filesystem, phase
//! Pending). Everything else is the wrapped strategy's.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::field::FieldError;
use crate::registry::{NameRule, Strategy};

pub struct Defaulted {
    pub inner: Arc<dyn Strategy>,
    pub plural: &'static str,
}

fn spec(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    if obj.get("spec").is_none() {
        obj["spec"] = json!({});
    }
    obj.get_mut("spec").and_then(Value::as_object_mut)
}

fn apply(plural: &str, obj: &mut Value) {
    if matches!(plural, "persistentvolumeclaims" | "persistentvolumes")
        && obj.pointer("/status/phase").is_none()
    {
        if !obj.get("status").is_some_and(Value::is_object) {
            obj["status"] = json!({});
        }
        obj["status"]["phase"] = json!("Pending");
    }
    let Some(spec) = spec(obj) else { return };
    match plural {
        "persistentvolumeclaims" => {
            spec.entry("volumeMode").or_insert(json!("Filesystem"));
        }
        "persistentvolumes" => {
            spec.entry("persistentVolumeReclaimPolicy")
                .or_insert(json!("Retain"));
            spec.entry("volumeMode").or_insert(json!("Filesystem"));
        }
        "deployments" => {
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            let strategy = spec.entry("strategy").or_insert(json!({}));
            if strategy.get("type").is_none() {
                strategy["type"] = json!("RollingUpdate");
            }
            if strategy["type"] == "RollingUpdate" {
                let ru = &mut strategy["rollingUpdate"];
                if !ru.is_object() {
                    *ru = json!({});
                }
                for field in ["maxUnavailable", "maxSurge"] {
                    if ru.get(field).is_none() {
                        ru[field] = json!("25%");
                    }
                }
            }
        }
        "replicasets" => {
            spec.entry("replicas").or_insert(json!(1));
        }
        "daemonsets" => {
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            let strategy = spec.entry("updateStrategy").or_insert(json!({}));
            if strategy.get("type").is_none() {
                strategy["type"] = json!("RollingUpdate");
            }
            if strategy["type"] == "RollingUpdate" {
                let ru = &mut strategy["rollingUpdate"];
                if !ru.is_object() {
                    *ru = json!({});
                }
                if ru.get("maxUnavailable").is_none() {
                    ru["maxUnavailable"] = json!(1);
                }
                if ru.get("maxSurge").is_none() {
                    ru["maxSurge"] = json!(0);
                }
            }
        }
        "statefulsets" => {
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("podManagementPolicy")
                .or_insert(json!("OrderedReady"));
            let strategy = spec.entry("updateStrategy").or_insert(json!({}));
            if strategy.get("type").is_none() {
                strategy["type"] = json!("RollingUpdate");
            }
            if strategy["type"] == "RollingUpdate" && strategy.get("rollingUpdate").is_none() {
                strategy["rollingUpdate"] = json!({"partition": 0});
            }
        }
        _ => {}
    }
}

impl Strategy for Defaulted {
    fn name_rule(&self) -> NameRule {
        self.inner.name_rule()
    }
    fn has_status_subresource(&self) -> bool {
        self.inner.has_status_subresource()
    }
    fn drops_status_on_create(&self) -> bool {
        self.inner.drops_status_on_create()
    }
    fn tracks_generation(&self) -> bool {
        self.inner.tracks_generation()
    }
    fn returns_deleted_object(&self) -> bool {
        self.inner.returns_deleted_object()
    }
    fn deletion_grace_period(&self, obj: &Value, requested: Option<i64>) -> Option<i64> {
        self.inner.deletion_grace_period(obj, requested)
    }
    fn deletion_held(&self, obj: &Value) -> bool {
        self.inner.deletion_held(obj)
    }
    fn prepare_for_delete(&self, obj: &mut Value) {
        self.inner.prepare_for_delete(obj)
    }
    fn default(&self, obj: &mut Value) {
        apply(self.plural, obj);
        self.inner.default(obj)
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        self.inner.prepare_for_create(obj)
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        self.inner.prepare_for_update(new, old)
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        self.inner.validate(obj)
    }
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        self.inner.validate_update(new, old)
    }
    fn table_cells(&self, obj: &Value, now: std::time::SystemTime) -> Vec<Value> {
        self.inner.table_cells(obj, now)
    }
    fn selectable_field(&self, obj: &Value, field: &str) -> Option<String> {
        self.inner.selectable_field(obj, field)
    }
    fn selectable_fields(&self) -> &'static [&'static str] {
        self.inner.selectable_fields()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_get_kubes_defaults() {
        let mut d = json!({"spec": {"template": {}}});
        apply("deployments", &mut d);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(d["spec"]["replicas"], 1);
        let mut recreate = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply("deployments", &mut recreate);
        assert!(recreate["spec"]["strategy"].get("rollingUpdate").is_none());
        let mut ds = json!({"spec": {}});
        apply("daemonsets", &mut ds);
        assert_eq!(
            ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
            1
        );
    }
}
