//! Update: replace an object under optimistic concurrency. A `resourceVersion` in the body
//! is a precondition (409 Conflict if stale); without one the update retries against the
//! latest state, as kube-apiserver's GuaranteedUpdate does. Status and main resource each
//! keep the other's part. An update that changes nothing writes nothing.

use keks_store::{Compare, KeyValue, Txn, TxnOp};
use serde_json::Value;

use super::object::{decode, encode, metadata_mut, name, resource_version, set_resource_version};
use super::{meta, store_error, ClusterApi, WriteOptions};
use crate::registry::{keys, ResourceDescriptor};
use crate::status::ApiError;

/// Which part of the object an update writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Subresource {
    #[default]
    Main,
    Status,
    /// A namespace's `/finalize`: only `spec.finalizers` changes.
    Finalize,
}

#[derive(Clone, Debug, Default)]
pub struct UpdateOptions {
    pub write: WriteOptions,
    pub subresource: Subresource,
}

/// How many times an update without a precondition retries a lost race.
const MAX_RETRIES: usize = 16;

impl ClusterApi {
    /// Replaces an object with `obj` (PUT).
    pub async fn update(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        url_name: &str,
        mut obj: Value,
        opts: &UpdateOptions,
    ) -> Result<Value, ApiError> {
        meta::check_type_and_namespace(d, namespace, &mut obj)?;
        match name(&obj) {
            "" => {
                metadata_mut(&mut obj).insert("name".into(), Value::String(url_name.to_string()));
            }
            n if n != url_name => {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({n}) does not match the name on the URL ({url_name})"
                )))
            }
            _ => {}
        }
        let precondition = resource_version(&obj)?;
        self.guaranteed_update(d, namespace, url_name, opts, precondition, |_current| {
            Ok(obj.clone())
        })
        .await
    }

    /// Reads the object, computes its new state with `mutate`, and writes it if nothing
    /// changed it meanwhile, retrying otherwise. `precondition` (a resourceVersion, 0 for
    /// none) must match the stored object, or the update fails with Conflict.
    pub async fn guaranteed_update(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        name: &str,
        opts: &UpdateOptions,
        precondition: i64,
        mut mutate: impl FnMut(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let key = keys::object_key(&self.cluster, d, namespace, name);
        for _ in 0..MAX_RETRIES {
            let Some(kv) = self.store.get(&key).await.map_err(store_error)? else {
                return Err(ApiError::not_found(d.group_resource(), name));
            };
            if precondition != 0 && precondition != kv.mod_revision {
                return Err(ApiError::stale(d.group_resource(), name));
            }
            let current = decode(&kv.value, kv.mod_revision)?;
            let mut new = mutate(&current)?;
            meta::check_type_and_namespace(d, namespace, &mut new)?;
            match self.write_update(d, &kv, &current, new, opts).await? {
                Some(written) => return Ok(written),
                None if precondition != 0 => return Err(ApiError::stale(d.group_resource(), name)),
                None => continue,
            }
        }
        Err(ApiError::Conflict {
            resource: d.group_resource(),
            name: name.to_string(),
            detail: "too many concurrent updates; try again".into(),
        })
    }

    /// Writes `new` over `current` (stored as `kv`). `None` when `kv` changed meanwhile.
    async fn write_update(
        &self,
        d: &ResourceDescriptor,
        kv: &KeyValue,
        current: &Value,
        mut new: Value,
        opts: &UpdateOptions,
    ) -> Result<Option<Value>, ApiError> {
        let obj_name = name(current).to_string();
        new = match opts.subresource {
            Subresource::Main if d.strategy.has_status_subresource() => {
                let mut n = new;
                match current.get("status") {
                    Some(status) => n["status"] = status.clone(),
                    None => {
                        if let Some(map) = n.as_object_mut() {
                            map.remove("status");
                        }
                    }
                }
                n
            }
            Subresource::Main => new,
            Subresource::Finalize => {
                let mut n = current.clone();
                n["spec"]["finalizers"] = new
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new()));
                n
            }
            Subresource::Status => {
                // Only status changes through /status; everything else stays as stored.
                let mut n = current.clone();
                match new.get("status") {
                    Some(status) => n["status"] = status.clone(),
                    None => {
                        if let Some(map) = n.as_object_mut() {
                            map.remove("status");
                        }
                    }
                }
                n
            }
        };
        meta::prepare_update(d, &mut new, current);
        d.strategy.default(&mut new);
        d.strategy.prepare_for_update(&mut new, current);
        if !matches!(
            opts.write.record,
            super::FieldsRecord::Applied | super::FieldsRecord::Skip
        ) {
            let sub = match (opts.subresource.clone(), opts.write.record) {
                (_, super::FieldsRecord::UpdateScale) => "scale",
                (Subresource::Status, _) => "status",
                (Subresource::Finalize, _) => "finalize",
                (Subresource::Main, _) => "",
            };
            let w = crate::managed_fields::writer(d, opts.write.manager(), sub, self.clock.wall());
            crate::managed_fields::record_update(&w, Some(current), &mut new);
        }
        let mut errors = meta::validate_object_meta(d, &new);
        errors.extend(d.strategy.validate_update(&new, current));
        if !errors.is_empty() {
            return Err(ApiError::invalid(&d.group, &d.kind, &obj_name, errors));
        }
        let bytes = encode(&new);
        // The stored bytes are the encoding of `current`: equal bytes, nothing changed.
        if bytes == kv.value {
            set_resource_version(&mut new, kv.mod_revision);
            return Ok(Some(new)); // nothing changed: no write, same resourceVersion
        }
        if opts.write.dry_run {
            set_resource_version(&mut new, kv.mod_revision);
            return Ok(Some(new));
        }
        // An object being deleted whose last finalizer is removed goes away now.
        let finalized = new.pointer("/metadata/deletionTimestamp").is_some()
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            && !d.strategy.deletion_held(&new);
        let ops: Vec<TxnOp> = if finalized {
            // The object goes; a Service's reserved addresses go with it.
            std::iter::once(TxnOp::delete(kv.key.clone()))
                .chain(
                    super::service_ips::reserved(&self.cluster, d, current)
                        .into_iter()
                        .map(TxnOp::delete),
                )
                .collect()
        } else {
            vec![TxnOp::put(kv.key.clone(), bytes)]
        };
        let txn = Txn::new()
            .when([Compare::mod_revision_is(kv.key.clone(), kv.mod_revision)])
            .and_then(ops);
        let response = self.store.txn(txn).await.map_err(store_error)?;
        if !response.succeeded {
            return Ok(None);
        }
        set_resource_version(&mut new, response.revision);
        Ok(Some(new))
    }
}
