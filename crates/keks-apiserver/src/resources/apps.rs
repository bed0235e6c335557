//! Defaults of the apps/v1 workloads, as kube-apiserver's `SetDefaults_*` apply them:
//! Deployment (replicas, RollingUpdate 25 %/25 %, revisionHistoryLimit, progress deadline),
//! ReplicaSet (replicas), DaemonSet (RollingUpdate maxUnavailable 1 / maxSurge 0, history),
//! StatefulSet (replicas, OrderedReady, RollingUpdate partition 0, history). Clients read
//! them back (`kubectl rollout status` refuses a DaemonSet without an update strategy).
//! Also the core/v1 volume defaults: PersistentVolumeClaim (volumeMode Filesystem, phase
//! Pending) and PersistentVolume (reclaim policy Retain, volumeMode Filesystem, phase
//! Pending). Everything else is the wrapped strategy's.

use serde_json::{json, Map, Value};

use super::layered::Layer;

/// The defaults of one of these resources, on top of its strategy ([`super::layered`]).
pub struct Defaulted {
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

impl Layer for Defaulted {
    fn default(&self, obj: &mut Value) {
        apply(self.plural, obj);
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
