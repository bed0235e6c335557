//! The garbage collector, as kube-controller-manager's: an ownership graph of every object of
//! a cluster, kept current by one store watch over the cluster's prefix, and the three
//! deletion modes — Background (dependents go once all their owners are gone), Foreground
//! (the owner waits, holding `foregroundDeletion`, until its dependents are gone) and Orphan
//! (dependents lose their owner reference, then the owner's `orphan` finalizer is removed).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use keks_core::ClockExt;
use keks_store::{EventKind, KeyRange, RangeRequest, WatchRequest};
use serde_json::{json, Value};

use crate::registry::{keys, ResourceDescriptor};
use crate::rest::{ClusterApi, DeleteOptions, Propagation, UpdateOptions};
use crate::status::ApiError;

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";
const RETRY: Duration = Duration::from_secs(1);

/// One object in the graph.
#[derive(Clone)]
struct Node {
    d: Arc<ResourceDescriptor>,
    namespace: String,
    name: String,
    owners: Vec<String>,
    deleting: bool,
    finalizers: Vec<String>,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    uid_by_key: HashMap<Vec<u8>, String>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn remove(&mut self, key: &[u8]) -> Option<(String, Node)> {
        let uid = self.uid_by_key.remove(key)?;
        let node = self.nodes.remove(&uid)?;
        for owner in &node.owners {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(&uid);
            }
        }
        Some((uid, node))
    }

    fn insert(&mut self, key: &[u8], uid: String, node: Node) {
        self.remove(key);
        for owner in &node.owners {
            self.dependents
                .entry(owner.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.uid_by_key.insert(key.to_vec(), uid.clone());
        self.nodes.insert(uid, node);
    }

    fn live_dependents(&self, uid: &str) -> Vec<(String, Node)> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d).map(|n| (d.clone(), n.clone())))
            .collect()
    }
}

pub struct GarbageCollector {
    api: Arc<ClusterApi>,
    graph: Graph,
}

impl GarbageCollector {
    pub fn spawn(api: Arc<ClusterApi>) {
        api.clone().spawn(
            Self {
                api,
                graph: Graph::default(),
            }
            .run(),
        );
    }

    async fn run(mut self) {
        let prefix = keys::cluster_prefix(&self.api.cluster);
        loop {
            let Ok(all) = self
                .api
                .store
                .range(RangeRequest::new(KeyRange::prefix(prefix.clone())))
                .await
            else {
                return;
            };
            self.graph = Graph::default();
            for kv in &all.kvs {
                self.observe(&kv.key, Some(&kv.value));
            }
            let pending: Vec<String> = self.graph.nodes.keys().cloned().collect();
            for uid in pending {
                self.process(&uid).await;
            }
            let request =
                WatchRequest::new(KeyRange::prefix(prefix.clone())).from_revision(all.revision + 1);
            let Ok(mut events) = self.api.store.watch(request).await else {
                return;
            };
            while let Some(Ok(event)) = events.next().await {
                match event.kind {
                    EventKind::Put => {
                        if let Some(uid) = self.observe(&event.kv.key, Some(&event.kv.value)) {
                            self.process(&uid).await;
                        }
                    }
                    EventKind::Delete => {
                        if let Some((uid, _)) = self.graph.remove(&event.kv.key) {
                            // Dependents whose last owner this was go now; a foreground
                            // owner waiting for this one may be done.
                            for (dependent, _) in self.graph.live_dependents(&uid) {
                                self.process(&dependent).await;
                            }
                            let waiting: Vec<String> = self
                                .graph
                                .nodes
                                .iter()
                                .filter(|(_, n)| {
                                    n.deleting && n.finalizers.iter().any(|f| f == FOREGROUND)
                                })
                                .map(|(u, _)| u.clone())
                                .collect();
                            for owner in waiting {
                                self.process(&owner).await;
                            }
                        }
                    }
                }
            }
            self.api.clock.sleep(RETRY).await; // the watch broke: relist
        }
    }

    /// Records an object; returns its uid.
    fn observe(&mut self, key: &[u8], value: Option<&[u8]>) -> Option<String> {
        let d = self.descriptor_of(key)?;
        let obj: Value = serde_json::from_slice(value?).ok()?;
        let meta = obj.get("metadata")?;
        let uid = meta.get("uid")?.as_str()?.to_string();
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        let node = Node {
            d,
            namespace: meta
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: meta
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            owners: meta
                .get("ownerReferences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| o.get("uid").and_then(Value::as_str).map(str::to_string))
                .collect(),
            deleting: meta.get("deletionTimestamp").is_some(),
            finalizers: strings(meta.get("finalizers")),
        };
        self.graph.insert(key, uid.clone(), node);
        Some(uid)
    }

    /// The resource a store key belongs to: `/k8s/<cluster>/<group|core>/<plural>/...`.
    fn descriptor_of(&self, key: &[u8]) -> Option<Arc<ResourceDescriptor>> {
        let key = std::str::from_utf8(key).ok()?;
        let rest = key.strip_prefix(&keys::cluster_prefix(&self.api.cluster))?;
        let mut parts = rest.split('/');
        let group = match parts.next()? {
            "core" => "",
            g => g,
        };
        let plural = parts.next()?;
        self.api
            .registry
            .all_for(&self.api.cluster)
            .into_iter()
            .find(|d| d.group == group && d.plural == plural)
    }

    /// Does what the object's state asks of the collector.
    async fn process(&mut self, uid: &str) {
        let Some(node) = self.graph.nodes.get(uid).cloned() else {
            return;
        };
        let result = if node.deleting && node.finalizers.iter().any(|f| f == ORPHAN) {
            self.orphan_dependents(uid, &node).await
        } else if node.deleting && node.finalizers.iter().any(|f| f == FOREGROUND) {
            self.delete_dependents_first(uid, &node).await
        } else if !node.owners.is_empty()
            && !node.deleting
            && node
                .owners
                .iter()
                .all(|o| !self.graph.nodes.contains_key(o))
        {
            // Every owner is gone: a background cascade.
            self.delete(&node, Propagation::Background).await
        } else {
            Ok(())
        };
        if let Err(e) = result {
            tracing::debug!(cluster = %self.api.cluster, name = %node.name, error = %e, "garbage collection step failed; it is retried on the next change");
        }
    }

    async fn orphan_dependents(&self, uid: &str, owner: &Node) -> Result<(), ApiError> {
        for (_, dep) in self.graph.live_dependents(uid) {
            let opts = UpdateOptions::default();
            self.ignore_gone(
                self.api
                    .guaranteed_update(&dep.d, &dep.namespace, &dep.name, &opts, 0, |current| {
                        let mut next = current.clone();
                        let meta = next["metadata"]
                            .as_object_mut()
                            .expect("stored objects have metadata");
                        if let Some(refs) = meta
                            .get_mut("ownerReferences")
                            .and_then(Value::as_array_mut)
                        {
                            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                            if refs.is_empty() {
                                meta.remove("ownerReferences");
                            }
                        }
                        Ok(next)
                    })
                    .await,
            )?;
        }
        self.remove_finalizer(owner, ORPHAN).await
    }

    async fn delete_dependents_first(&self, uid: &str, owner: &Node) -> Result<(), ApiError> {
        let dependents = self.graph.live_dependents(uid);
        if dependents.is_empty() {
            return self.remove_finalizer(owner, FOREGROUND).await;
        }
        for (_, dep) in dependents.iter().filter(|(_, d)| !d.deleting) {
            self.delete(dep, Propagation::Foreground).await?;
        }
        Ok(())
    }

    async fn delete(&self, node: &Node, propagation: Propagation) -> Result<(), ApiError> {
        let opts = DeleteOptions {
            propagation: Some(propagation),
            ..Default::default()
        };
        self.ignore_gone(
            self.api
                .delete(&node.d, &node.namespace, &node.name, &opts)
                .await
                .map(|_| json!(null)),
        )
    }

    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> Result<(), ApiError> {
        self.api
            .remove_finalizer(&node.d, &node.namespace, &node.name, finalizer, None)
            .await
    }

    fn ignore_gone(&self, result: Result<Value, ApiError>) -> Result<(), ApiError> {
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
