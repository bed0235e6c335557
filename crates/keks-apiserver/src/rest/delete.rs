//! Delete: preconditions, propagation policy recorded as the garbage collector's finalizers,
//! finalizers that hold an object with a deletionTimestamp, graceful deletion for resources
//! whose strategy asks for it, and deletecollection.

use keks_store::{Compare, Txn, TxnOp};
use serde_json::{json, Value};

use super::meta::timestamp;
use super::object::{decode, encode, meta_str, metadata_mut, set_resource_version};
use super::read::ListOptions;
use super::{store_error, ClusterApi};
use crate::registry::{keys, ResourceDescriptor};
use crate::status::ApiError;

/// Namespaces the NamespaceLifecycle admission plugin never lets go.
const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// `propagationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

impl Propagation {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        match text {
            "Orphan" => Ok(Self::Orphan),
            "Background" => Ok(Self::Background),
            "Foreground" => Ok(Self::Foreground),
            other => Err(ApiError::BadRequest(format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ))),
        }
    }

    /// The finalizer that makes the garbage collector carry out this policy.
    fn finalizer(self) -> Option<&'static str> {
        match self {
            Self::Orphan => Some("orphan"),
            Self::Foreground => Some("foregroundDeletion"),
            Self::Background => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    /// The object is gone; its last state.
    Deleted(Value),
    /// The object stays, marked for deletion, until finalizers or a grace period end.
    Pending(Value),
}

impl DeleteOutcome {
    pub fn object(&self) -> &Value {
        match self {
            Self::Deleted(v) | Self::Pending(v) => v,
        }
    }
}

impl ClusterApi {
    /// Deletes one object.
    pub async fn delete(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        if d.group.is_empty() && d.plural == "namespaces" && IMMORTAL_NAMESPACES.contains(&name) {
            return Err(ApiError::Forbidden {
                resource: d.group_resource(),
                name: name.to_string(),
                message: format!(
                    "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                ),
            });
        }
        let key = keys::object_key(&self.cluster, d, namespace, name);
        loop {
            let Some(kv) = self.store.get(&key).await.map_err(store_error)? else {
                return Err(ApiError::not_found(d.group_resource(), name));
            };
            let current = decode(&kv.value, kv.mod_revision)?;
            check_preconditions(d, name, &current, kv.mod_revision, opts)?;

            let mut next = current.clone();
            let mut changed = false;
            let meta = metadata_mut(&mut next);
            let mut finalizers: Vec<Value> = meta
                .get("finalizers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(f) = opts.propagation.and_then(Propagation::finalizer) {
                if !finalizers.iter().any(|x| x == f) {
                    finalizers.push(json!(f));
                    changed = true;
                }
            }
            let grace = d
                .strategy
                .deletion_grace_period(&current, opts.grace_period_seconds);
            let already_deleting = meta.contains_key("deletionTimestamp");
            let outcome_pending = !finalizers.is_empty()
                || grace.is_some_and(|g| g > 0)
                || d.strategy.deletion_held(&current);
            if !outcome_pending {
                if opts.dry_run {
                    return Ok(DeleteOutcome::Deleted(current));
                }
                // A Service's reserved addresses go with it.
                let releases = super::service_ips::reserved(&self.cluster, d, &current)
                    .into_iter()
                    .map(TxnOp::delete);
                let txn = Txn::new()
                    .when([Compare::mod_revision_is(key.clone(), kv.mod_revision)])
                    .and_then(std::iter::once(TxnOp::delete(key.clone())).chain(releases));
                if self.store.txn(txn).await.map_err(store_error)?.succeeded {
                    return Ok(DeleteOutcome::Deleted(current));
                }
                continue; // changed under us: look again
            }
            if !already_deleting {
                let grace = grace.unwrap_or(0);
                let at = self.clock.wall() + std::time::Duration::from_secs(grace.max(0) as u64);
                meta.insert("deletionTimestamp".into(), json!(timestamp(at)));
                meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
                changed = true;
            }
            if !finalizers.is_empty() {
                meta.insert("finalizers".into(), Value::Array(finalizers));
            }
            if !already_deleting {
                d.strategy.prepare_for_delete(&mut next);
            }
            if !changed || opts.dry_run {
                return Ok(DeleteOutcome::Pending(current));
            }
            let txn = Txn::new()
                .when([Compare::mod_revision_is(key.clone(), kv.mod_revision)])
                .and_then([TxnOp::put(key.clone(), encode(&next))]);
            let response = self.store.txn(txn).await.map_err(store_error)?;
            if response.succeeded {
                set_resource_version(&mut next, response.revision);
                return Ok(DeleteOutcome::Pending(next));
            }
        }
    }

    /// Deletes every object of a resource matching `list` in `namespace`; returns the list of
    /// what was deleted or marked for deletion.
    pub async fn delete_collection(
        &self,
        d: &ResourceDescriptor,
        namespace: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let current = self.list(d, namespace, list).await?;
        let mut items = Vec::new();
        for item in current["items"].as_array().into_iter().flatten() {
            let ns = meta_str(item, "namespace").unwrap_or_default();
            let name = meta_str(item, "name").unwrap_or_default();
            match self.delete(d, ns, name, opts).await {
                Ok(outcome) => items.push(outcome.object().clone()),
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "kind": format!("{}List", d.kind),
            "apiVersion": d.api_version(),
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"].clone()},
            "items": items,
        }))
    }
}

fn check_preconditions(
    d: &ResourceDescriptor,
    name: &str,
    obj: &Value,
    revision: i64,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    let conflict = |detail: String| ApiError::Conflict {
        resource: d.group_resource(),
        name: name.to_string(),
        detail,
    };
    if let Some(uid) = &opts.precondition_uid {
        let actual = meta_str(obj, "uid").unwrap_or_default();
        if uid != actual {
            return Err(conflict(format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
            )));
        }
    }
    if let Some(rv) = &opts.precondition_resource_version {
        if *rv != revision.to_string() {
            return Err(conflict(format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
            )));
        }
    }
    Ok(())
}
