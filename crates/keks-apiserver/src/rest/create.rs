//! Create: type and namespace checks, generated metadata, defaults, validation, and an
//! insert that fails with AlreadyExists if the name is taken.

use bytes::Bytes;
use keks_store::{Compare, Txn, TxnOp};
use serde_json::Value;

use super::object::{encode, name, set_resource_version};
use super::{meta, service_ips, store_error, ClusterApi, WriteOptions};
use crate::registry::{keys, ResourceDescriptor};
use crate::status::{ApiError, GroupResource};

impl ClusterApi {
    /// Creates an object (in the namespace its metadata names) unless one of that name
    /// exists: how clusters get their bootstrap objects, idempotently.
    pub async fn create_if_absent(
        &self,
        d: &ResourceDescriptor,
        obj: Value,
    ) -> Result<(), ApiError> {
        let namespace = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match self
            .create(d, &namespace, obj, &WriteOptions::default())
            .await
        {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates an object in `namespace` (ignored for cluster-scoped resources).
    pub async fn create(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        meta::check_type_and_namespace(d, namespace, &mut obj)?;
        for plugin in &self.admission {
            plugin
                .admit_create(&self.cluster, d, namespace, &mut obj)
                .await?;
        }
        let now = self.clock.wall();
        meta::prepare_create(d, &mut obj, now)?;
        if d.strategy.drops_status_on_create() {
            // The main resource does not write status; the strategy may set an initial one.
            if let Some(map) = obj.as_object_mut() {
                map.remove("status");
            }
        }
        d.strategy.default(&mut obj);
        d.strategy.prepare_for_create(&mut obj);
        if !matches!(
            opts.record,
            super::FieldsRecord::Applied | super::FieldsRecord::Skip
        ) {
            let w = crate::managed_fields::writer(d, opts.manager(), "", now);
            crate::managed_fields::record_update(&w, None, &mut obj);
        }
        let mut errors = meta::validate_object_meta(d, &obj);
        errors.extend(d.strategy.validate(&obj));
        let obj_name = name(&obj).to_string();
        if !errors.is_empty() {
            return Err(ApiError::invalid(&d.group, &d.kind, &obj_name, errors));
        }
        if d.namespaced() {
            self.check_namespace_accepts(d, namespace, &obj_name)
                .await?;
        }
        if opts.dry_run {
            return Ok(obj);
        }
        let key = keys::object_key(&self.cluster, d, namespace, &obj_name);
        // Services reserve their addresses in the same transaction; a random pick that
        // collides is picked again.
        let mut attempts = 0;
        let response = loop {
            let (reserve, explicit) = if service_ips::is_service(d) {
                service_ips::allocate(&self.cluster, self.service_cidr, &mut obj)?
            } else {
                (Vec::new(), false)
            };
            let compares = std::iter::once(Compare::absent(key.clone()))
                .chain(reserve.iter().cloned().map(Compare::absent));
            let puts = std::iter::once(TxnOp::put(key.clone(), encode(&obj))).chain(
                reserve
                    .iter()
                    .cloned()
                    .map(|k| TxnOp::put(k, Bytes::from(format!("{namespace}/{obj_name}")))),
            );
            let response = self
                .store
                .txn(Txn::new().when(compares).and_then(puts))
                .await
                .map_err(store_error)?;
            if response.succeeded {
                break response;
            }
            if reserve.is_empty() || self.store.get(&key).await.map_err(store_error)?.is_some() {
                return Err(ApiError::AlreadyExists {
                    resource: d.group_resource(),
                    name: obj_name,
                });
            }
            attempts += 1;
            if explicit || attempts >= 64 {
                return Err(service_ips::taken(&obj));
            }
        };
        set_resource_version(&mut obj, response.revision);
        Ok(obj)
    }

    /// New objects go only into namespaces that exist and are not terminating, as the
    /// NamespaceLifecycle admission plugin enforces.
    async fn check_namespace_accepts(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let ns_descriptor = self
            .registry
            .get("", "v1", "namespaces")
            .expect("namespaces are built in");
        let ns = self.try_get(&ns_descriptor, "", namespace).await?;
        let Some(ns) = ns else {
            return Err(ApiError::not_found(
                GroupResource::new("", "namespaces"),
                namespace,
            ));
        };
        let terminating = ns.pointer("/status/phase").and_then(Value::as_str)
            == Some("Terminating")
            || ns.pointer("/metadata/deletionTimestamp").is_some();
        if terminating {
            return Err(ApiError::Forbidden {
                resource: d.group_resource(),
                name: name.to_string(),
                message: format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    d.group_resource()
                ),
            });
        }
        Ok(())
    }
}
