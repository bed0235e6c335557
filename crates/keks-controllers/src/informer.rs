//! The shared informer of one resource in one cluster, as client-go's: a reflector that lists,
//! then watches from the list's resourceVersion (relisting after a 410 or a broken watch), an
//! in-memory cache of the objects with secondary indexes (pods by node, by owner, ...), and
//! handlers told of every change. Controllers read the cache, never the store, on hot paths.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use keks_apiserver::registry::ResourceDescriptor;
use keks_apiserver::rest::{ListOptions, WatchEventType, WatchOptions};
use keks_apiserver::ClusterApi;
use keks_core::ClockExt;
use parking_lot::RwLock;
use serde_json::Value;
use tokio::sync::watch;

/// A change the informer applied to its cache.
#[derive(Clone, Debug)]
pub enum Change {
    Added(Arc<Value>),
    Updated { old: Arc<Value>, new: Arc<Value> },
    Deleted(Arc<Value>),
}

impl Change {
    /// The object as it is now (or was last, when deleted).
    pub fn object(&self) -> &Arc<Value> {
        match self {
            Self::Added(o) | Self::Deleted(o) | Self::Updated { new: o, .. } => o,
        }
    }
}

type Handler = Box<dyn Fn(&Change) + Send + Sync>;
/// Maps an object to the index values it is filed under.
pub type IndexFn = fn(&Value) -> Vec<String>;

/// How long the reflector waits before listing again after a failure.
const RELIST_BACKOFF: Duration = Duration::from_millis(500);

/// The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects.
pub fn key_of(obj: &Value) -> String {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    match meta["namespace"].as_str().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// Splits a cache key into namespace (empty for cluster-scoped) and name.
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

#[derive(Default)]
struct Cache {
    objects: HashMap<String, Arc<Value>>,
    /// index name → index value → keys.
    indexes: HashMap<&'static str, HashMap<String, HashSet<String>>>,
}

pub struct Informer {
    api: Arc<ClusterApi>,
    descriptor: Arc<ResourceDescriptor>,
    indexers: Vec<(&'static str, IndexFn)>,
    cache: RwLock<Cache>,
    handlers: RwLock<Vec<Handler>>,
    synced: watch::Sender<bool>,
}

impl Informer {
    /// An informer of `group/version/plural`; `None` if the resource is not served.
    pub fn new(
        api: Arc<ClusterApi>,
        group: &str,
        version: &str,
        plural: &str,
        indexers: Vec<(&'static str, IndexFn)>,
    ) -> Option<Arc<Self>> {
        let descriptor = api.registry.get(group, version, plural)?;
        Some(Arc::new(Self {
            api,
            descriptor,
            indexers,
            cache: RwLock::default(),
            handlers: RwLock::default(),
            synced: watch::channel(false).0,
        }))
    }

    pub fn descriptor(&self) -> &Arc<ResourceDescriptor> {
        &self.descriptor
    }

    /// Registers a handler; it runs on the reflector's task for every change, so it must be
    /// quick (enqueue a key, update a summary).
    pub fn on_change(&self, handler: impl Fn(&Change) + Send + Sync + 'static) {
        self.handlers.write().push(Box::new(handler));
    }

    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.cache.read().objects.get(key).cloned()
    }

    pub fn list(&self) -> Vec<Arc<Value>> {
        self.cache.read().objects.values().cloned().collect()
    }

    pub fn keys(&self) -> Vec<String> {
        self.cache.read().objects.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.cache.read().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects filed under `value` in index `index`.
    pub fn by_index(&self, index: &str, value: &str) -> Vec<Arc<Value>> {
        let cache = self.cache.read();
        let Some(keys) = cache.indexes.get(index).and_then(|i| i.get(value)) else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| cache.objects.get(k).cloned())
            .collect()
    }

    pub fn has_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Resolves once the first list is in the cache.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Starts the reflector on the cluster's lifetime.
    pub fn start(self: &Arc<Self>) {
        let me = self.clone();
        self.api.spawn(async move { me.run().await });
    }

    async fn run(self: Arc<Self>) {
        let mut resource_version: Option<String> = None;
        loop {
            let rv = match resource_version.take() {
                Some(rv) => rv,
                None => match self.relist().await {
                    Ok(rv) => rv,
                    Err(e) => {
                        tracing::debug!(resource = %self.descriptor.plural, error = %e, "list failed; retrying");
                        self.api.clock.sleep(RELIST_BACKOFF).await;
                        continue;
                    }
                },
            };
            resource_version = self.watch_from(rv).await;
            if resource_version.is_none() {
                self.api.clock.sleep(RELIST_BACKOFF).await;
            }
        }
    }

    /// Lists everything and replaces the cache, telling handlers what differs.
    async fn relist(&self) -> Result<String, keks_apiserver::status::ApiError> {
        let list = self
            .api
            .list(&self.descriptor, None, &ListOptions::default())
            .await?;
        let rv = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string();
        let items: Vec<Value> = match list {
            Value::Object(mut map) => match map.remove("items") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let mut fresh: HashMap<String, Arc<Value>> = HashMap::with_capacity(items.len());
        for item in items {
            fresh.insert(key_of(&item), Arc::new(trimmed(item)));
        }
        let mut changes = Vec::new();
        {
            let cache = self.cache.read();
            for (key, old) in &cache.objects {
                if !fresh.contains_key(key) {
                    changes.push(Change::Deleted(old.clone()));
                }
            }
            for (key, new) in &fresh {
                match cache.objects.get(key) {
                    None => changes.push(Change::Added(new.clone())),
                    Some(old) if rv_of(old) != rv_of(new) => changes.push(Change::Updated {
                        old: old.clone(),
                        new: new.clone(),
                    }),
                    Some(_) => {}
                }
            }
        }
        for change in changes {
            self.apply(change);
        }
        self.synced.send_replace(true);
        Ok(rv)
    }

    /// Watches from `rv` until the watch ends; returns where to resume, or `None` to relist.
    async fn watch_from(&self, rv: String) -> Option<String> {
        let opts = WatchOptions {
            list: ListOptions {
                resource_version: Some(rv.clone()),
                ..Default::default()
            },
            allow_bookmarks: true,
            ..Default::default()
        };
        let mut events = match self.api.watch(&self.descriptor, None, opts).await {
            Ok(events) => events,
            Err(e) => {
                tracing::debug!(resource = %self.descriptor.plural, error = %e, "watch failed; relisting");
                return None;
            }
        };
        let mut last = rv;
        while let Some(event) = events.next().await {
            if let Some(rv) = event.object["metadata"]["resourceVersion"].as_str() {
                if event.type_ != WatchEventType::Error {
                    last = rv.to_string();
                }
            }
            match event.type_ {
                WatchEventType::Added | WatchEventType::Modified => {
                    let new = Arc::new(trimmed(event.object));
                    let old = self.get(&key_of(&new));
                    self.apply(match old {
                        Some(old) => Change::Updated { old, new },
                        None => Change::Added(new),
                    });
                }
                WatchEventType::Deleted => {
                    let key = key_of(&event.object);
                    if self.get(&key).is_some() {
                        self.apply(Change::Deleted(Arc::new(trimmed(event.object))));
                    }
                }
                WatchEventType::Bookmark => {}
                // 410 Gone (compacted, or the watcher lagged): start over with a list.
                WatchEventType::Error => return None,
            }
        }
        // The watch timed out or the server ended it: resume from where it got to.
        Some(last)
    }

    /// Applies a change to the cache and indexes, then runs the handlers.
    fn apply(&self, change: Change) {
        tracing::trace!(resource = %self.descriptor.plural, key = %key_of(change.object()), "informer change");
        {
            let mut cache = self.cache.write();
            let key = key_of(change.object());
            let previous = match &change {
                Change::Deleted(_) => cache.objects.remove(&key),
                Change::Added(o) | Change::Updated { new: o, .. } => {
                    cache.objects.insert(key.clone(), o.clone())
                }
            };
            for (name, index) in &self.indexers {
                let entries = cache.indexes.entry(name).or_default();
                if let Some(prev) = &previous {
                    for value in index(prev) {
                        if let Some(set) = entries.get_mut(&value) {
                            set.remove(&key);
                            if set.is_empty() {
                                entries.remove(&value);
                            }
                        }
                    }
                }
                if !matches!(change, Change::Deleted(_)) {
                    for value in index(change.object()) {
                        entries.entry(value).or_default().insert(key.clone());
                    }
                }
            }
        }
        for handler in self.handlers.read().iter() {
            handler(&change);
        }
    }
}

fn rv_of(obj: &Value) -> Option<&str> {
    obj["metadata"]["resourceVersion"].as_str()
}

/// The object as the cache keeps it: without `metadata.managedFields`, which no controller
/// reads and which is often half an object's size (the transform client-go users set on
/// their informers for the same reason). Updates that omit them keep the stored ones.
fn trimmed(mut obj: Value) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    obj
}

/// Index: the object's namespace.
pub fn by_namespace(obj: &Value) -> Vec<String> {
    obj["metadata"]["namespace"]
        .as_str()
        .map(|n| vec![n.to_string()])
        .unwrap_or_default()
}

/// Index: the uid of the object's controller (the owner reference with `controller: true`).
pub fn by_controller_uid(obj: &Value) -> Vec<String> {
    crate::podutil::controller_ref(obj)
        .and_then(|r| r["uid"].as_str())
        .map(|u| vec![u.to_string()])
        .unwrap_or_default()
}

/// Index: the namespace of an object no controller owns (a candidate for adoption).
pub fn by_orphan_namespace(obj: &Value) -> Vec<String> {
    if crate::podutil::controller_ref(obj).is_some() {
        return Vec::new();
    }
    by_namespace(obj)
}

/// Index: a pod's node.
pub fn by_node(obj: &Value) -> Vec<String> {
    obj["spec"]["nodeName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(|n| vec![n.to_string()])
        .unwrap_or_default()
}

/// Index: the object's uid.
pub fn by_uid(obj: &Value) -> Vec<String> {
    obj["metadata"]["uid"]
        .as_str()
        .map(|u| vec![u.to_string()])
        .unwrap_or_default()
}
