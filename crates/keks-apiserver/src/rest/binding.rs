//! The `binding` subresource of pods, as kube-apiserver's BindingREST: a `Binding` assigns a
//! pending pod to a node (sets `spec.nodeName`, copies the binding's annotations, and turns
//! the `PodScheduled` condition True) in one write; a pod already bound or being deleted is
//! refused with 409 Conflict on `pods/binding`.

use keks_store::{Compare, Txn, TxnOp};
use serde_json::{json, Value};

use super::meta::timestamp;
use super::object::{decode, encode, meta_str, metadata_mut, set_resource_version};
use super::{store_error, ClusterApi};
use crate::field::{FieldError, FieldPath};
use crate::registry::keys;
use crate::status::{ApiError, GroupResource};

impl ClusterApi {
    /// Binds pod `namespace/name` to the node named by `binding.target.name`. Returns the
    /// bound pod (the HTTP layer answers with a success `Status`, as kube-apiserver does).
    pub async fn bind_pod(
        &self,
        namespace: &str,
        name: &str,
        binding: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if let Some(n) = meta_str(binding, "name").filter(|n| !n.is_empty()) {
            if n != name {
                return Err(ApiError::BadRequest(
                    "name in URL does not match name in Binding object".into(),
                ));
            }
        }
        let mut errors = Vec::new();
        let target = FieldPath::root("target");
        let kind = binding
            .pointer("/target/kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !kind.is_empty() && kind != "Node" {
            errors.push(FieldError::invalid(
                target.child("kind"),
                json!(kind),
                "must be empty or 'Node'",
            ));
        }
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if node.is_empty() {
            errors.push(FieldError::required(target.child("name"), ""));
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid("", "Binding", name, errors));
        }
        let d = self
            .registry
            .get("", "v1", "pods")
            .expect("pods are built in");
        let key = keys::object_key(&self.cluster, &d, namespace, name);
        // kube-apiserver wraps every failure of the assignment that is not already an API
        // error as a Conflict on pods/binding; the scheduler treats those as final.
        let conflict = |detail: String| ApiError::Conflict {
            resource: GroupResource::new("", "pods/binding"),
            name: name.to_string(),
            detail,
        };
        let annotations = binding
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        loop {
            let Some(kv) = self.store.get(&key).await.map_err(store_error)? else {
                return Err(ApiError::not_found(d.group_resource(), name));
            };
            let mut pod = decode(&kv.value, kv.mod_revision)?;
            if let Some(uid) = meta_str(binding, "uid").filter(|u| !u.is_empty()) {
                if meta_str(&pod, "uid") != Some(uid) {
                    return Err(conflict(format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&pod, "uid").unwrap_or_default()
                    )));
                }
            }
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                return Err(conflict(format!(
                    "pod {name} is being deleted, cannot be assigned to a host"
                )));
            }
            if let Some(current) = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                return Err(conflict(format!(
                    "pod {name} is already assigned to node {current:?}"
                )));
            }
            if pod
                .pointer("/spec/schedulingGates")
                .and_then(Value::as_array)
                .is_some_and(|g| !g.is_empty())
            {
                return Err(conflict(format!(
                    "pod {name} has non-empty .spec.schedulingGates"
                )));
            }
            pod["spec"]["nodeName"] = json!(node);
            if !annotations.is_empty() {
                let meta = metadata_mut(&mut pod);
                let target = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(map) = target.as_object_mut() {
                    map.extend(annotations.clone());
                }
            }
            set_condition(
                &mut pod,
                json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null}),
                &timestamp(self.clock.wall()),
            );
            if dry_run {
                return Ok(pod);
            }
            let txn = Txn::new()
                .when([Compare::mod_revision_is(key.clone(), kv.mod_revision)])
                .and_then([TxnOp::put(key.clone(), encode(&pod))]);
            let response = self.store.txn(txn).await.map_err(store_error)?;
            if response.succeeded {
                set_resource_version(&mut pod, response.revision);
                return Ok(pod);
            }
        }
    }
}

/// Sets a pod condition as podutil.UpdatePodCondition does: the transition time moves only
/// when the status changes.
fn set_condition(pod: &mut Value, mut condition: Value, now: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let conditions = pod["status"]
        .as_object_mut()
        .expect("status is an object")
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("conditions is an array");
    let existing = list.iter_mut().find(|c| c["type"] == condition["type"]);
    match existing {
        Some(c) => {
            let transition = if c["status"] == condition["status"] {
                c.get("lastTransitionTime").cloned().unwrap_or(json!(now))
            } else {
                json!(now)
            };
            condition["lastTransitionTime"] = transition;
            *c = condition;
        }
        None => {
            condition["lastTransitionTime"] = json!(now);
            list.push(condition);
        }
    }
}
