//! The CRD controller of one cluster (apiextensions-apiserver's establishing, discovery and
//! finalizing controllers in one): watches the cluster's CRDs, registers a descriptor for
//! each served version in the cluster's custom registry, marks the CRD NamesAccepted and
//! Established, and on deletion deletes every custom resource before it drops the
//! `customresourcecleanup` finalizer and unregisters the resource.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use keks_core::ClockExt;
use serde_json::Value;

use super::resource;
use super::strategy::{established_status, CLEANUP_FINALIZER};
use crate::registry::ResourceDescriptor;
use crate::rest::{
    meta, ClusterApi, DeleteOptions, ListOptions, Propagation, Subresource, UpdateOptions,
    WatchEventType, WatchOptions,
};
use crate::status::ApiError;

const RETRY: Duration = Duration::from_secs(1);

type Key = (String, String, String);

pub struct CrdController {
    api: Arc<ClusterApi>,
    /// CRD name → the (group, version, plural) registered for it.
    served: BTreeMap<String, Vec<Key>>,
    /// CRD name → `uid/generation` its descriptors were built from (status writes do not
    /// rebuild them).
    built_from: BTreeMap<String, String>,
    /// UIDs of the CRDs whose cleanup is under way.
    cleaning: Arc<Mutex<BTreeSet<String>>>,
}

impl CrdController {
    pub fn spawn(api: Arc<ClusterApi>) {
        api.clone().spawn(
            Self {
                api,
                served: BTreeMap::new(),
                built_from: BTreeMap::new(),
                cleaning: Arc::default(),
            }
            .run(),
        );
    }

    async fn run(mut self) {
        let Some(crds) =
            self.api
                .registry
                .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        else {
            return;
        };
        loop {
            self.forget_deleted(&crds).await;
            let Ok(mut events) = self.api.watch(&crds, None, WatchOptions::default()).await else {
                self.api.clock.sleep(RETRY).await;
                continue;
            };
            while let Some(event) = events.next().await {
                let name = event
                    .object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                match event.type_ {
                    WatchEventType::Error => break,
                    WatchEventType::Deleted => self.unregister(&name),
                    WatchEventType::Added | WatchEventType::Modified => {
                        let uid = event.object.pointer("/metadata/uid").cloned();
                        if event
                            .object
                            .pointer("/metadata/deletionTimestamp")
                            .is_some()
                        {
                            if !self
                                .cleaning
                                .lock()
                                .insert(uid.unwrap_or_default().to_string())
                            {
                                continue; // its cleanup is under way
                            }
                            let api = self.api.clone();
                            let descriptors = self.descriptors_of(&name);
                            let d = crds.clone();
                            let uid = event
                                .object
                                .pointer("/metadata/uid")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            self.api.spawn(
                                async move { cleanup(api, d, name, uid, descriptors).await },
                            );
                        } else {
                            self.register(&name, &event.object);
                            if let Err(e) = establish(&self.api, &crds, &name).await {
                                tracing::warn!(cluster = %self.api.cluster, crd = %name, error = %e, "establishing a CRD");
                            }
                        }
                    }
                    _ => {}
                }
            }
            self.api.clock.sleep(RETRY).await;
        }
    }

    fn register(&mut self, name: &str, crd: &Value) {
        let tag = format!(
            "{}/{}",
            crd.pointer("/metadata/uid").unwrap_or(&Value::Null),
            crd.pointer("/metadata/generation").unwrap_or(&Value::Null)
        );
        if self.built_from.get(name) == Some(&tag) {
            return;
        }
        self.built_from.insert(name.to_string(), tag);
        let descriptors = resource::descriptors(crd);
        let keys: Vec<Key> = descriptors
            .iter()
            .map(|d| (d.group.clone(), d.version.clone(), d.plural.clone()))
            .collect();
        for old in self.served.get(name).into_iter().flatten() {
            if !keys.contains(old) {
                self.api
                    .registry
                    .unregister_for(&self.api.cluster, &old.0, &old.1, &old.2);
            }
        }
        for d in descriptors {
            self.api.registry.register_for(&self.api.cluster, d);
        }
        self.served.insert(name.to_string(), keys);
    }

    /// Unregisters the CRDs that went while no watch was running.
    async fn forget_deleted(&mut self, crds: &ResourceDescriptor) {
        let Ok(list) = self.api.list(crds, None, &ListOptions::default()).await else {
            return;
        };
        let present: BTreeSet<&str> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str))
            .collect();
        let gone: Vec<String> = self
            .served
            .keys()
            .filter(|n| !present.contains(n.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.unregister(&name);
        }
    }

    fn unregister(&mut self, name: &str) {
        self.built_from.remove(name);
        for (g, v, p) in self.served.remove(name).unwrap_or_default() {
            self.api
                .registry
                .unregister_for(&self.api.cluster, &g, &v, &p);
        }
    }

    fn descriptors_of(&self, name: &str) -> Vec<Arc<ResourceDescriptor>> {
        self.served
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|(g, v, p)| self.api.registry.get_for(&self.api.cluster, g, v, p))
            .collect()
    }
}

/// Sets NamesAccepted/Established, acceptedNames and storedVersions unless already so.
async fn establish(
    api: &ClusterApi,
    crds: &ResourceDescriptor,
    name: &str,
) -> Result<(), ApiError> {
    let opts = UpdateOptions {
        subresource: Subresource::Status,
        ..Default::default()
    };
    let now = meta::timestamp(api.clock.wall());
    api.guaranteed_update(crds, "", name, &opts, 0, |current| {
        let mut next = current.clone();
        next["status"] = established_status(current, &now);
        Ok(next)
    })
    .await
    .map(|_| ())
}

/// Deletes every custom resource of a CRD being deleted, then releases the CRD.
async fn cleanup(
    api: Arc<ClusterApi>,
    crds: Arc<ResourceDescriptor>,
    name: String,
    uid: String,
    descriptors: Vec<Arc<ResourceDescriptor>>,
) {
    let delete = DeleteOptions {
        propagation: Some(Propagation::Background),
        ..Default::default()
    };
    // One version is enough: every version shares the storage of the resource.
    if let Some(d) = descriptors.first() {
        loop {
            let done = async {
                api.delete_collection(d, None, &ListOptions::default(), &delete)
                    .await?;
                let left = api.list(d, None, &ListOptions::default()).await?;
                Ok::<bool, ApiError>(left["items"].as_array().is_none_or(Vec::is_empty))
            }
            .await;
            match done {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(cluster = %api.cluster, crd = %name, error = %e, "deleting custom resources")
                }
            }
            api.clock.sleep(RETRY).await;
        }
    }
    for d in &descriptors {
        let current = api
            .registry
            .get_for(&api.cluster, &d.group, &d.version, &d.plural);
        if current.is_some_and(|c| Arc::ptr_eq(&c, d)) {
            api.registry
                .unregister_for(&api.cluster, &d.group, &d.version, &d.plural);
        }
    }
    // Only the CRD this cleanup is for: a new one of the same name is not ours.
    let result = api
        .remove_finalizer(&crds, "", &name, CLEANUP_FINALIZER, Some(&uid))
        .await;
    if let Err(e) = result {
        if !matches!(e, ApiError::NotFound { .. }) {
            tracing::warn!(cluster = %api.cluster, crd = %name, error = %e, "finalizing a CRD");
        }
    }
}
