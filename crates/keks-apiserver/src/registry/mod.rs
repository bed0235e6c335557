//! The resource registry: every resource the API serves, looked up by group, version and
//! plural (or by kind), with the strategy that shapes its objects.

mod builtin;
mod descriptor;
pub mod keys;
mod strategy;

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

pub use descriptor::{PrinterColumn, ResourceDescriptor, Scope, ALL_VERBS};
pub use strategy::{GenericStrategy, NameRule, Strategy};

/// (group, version, plural) → descriptor.
type Descriptors = BTreeMap<(String, String, String), Arc<ResourceDescriptor>>;

/// The served resources. Built-ins are registered at startup; custom resources come and go
/// with their CRDs.
#[derive(Default)]
pub struct Registry {
    /// (group, version, plural) → descriptor.
    resources: RwLock<Descriptors>,
    /// Custom resources (CRDs) per cluster: cluster → (group, version, plural) → descriptor.
    custom: RwLock<BTreeMap<String, Descriptors>>,
}

impl Registry {
    /// A registry with every built-in resource.
    pub fn with_builtins() -> Self {
        let registry = Self::default();
        for d in builtin::descriptors() {
            registry.register(d);
        }
        registry
    }

    pub fn register(&self, d: ResourceDescriptor) {
        let key = (d.group.clone(), d.version.clone(), d.plural.clone());
        self.resources.write().insert(key, Arc::new(d));
    }

    pub fn unregister(&self, group: &str, version: &str, plural: &str) {
        self.resources.write().remove(&(
            group.to_string(),
            version.to_string(),
            plural.to_string(),
        ));
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDescriptor>> {
        self.resources
            .read()
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// The resource of a kind in a group-version.
    pub fn by_kind(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Option<Arc<ResourceDescriptor>> {
        self.resources
            .read()
            .values()
            .find(|d| d.group == group && d.version == version && d.kind == kind)
            .cloned()
    }

    /// Every descriptor, ordered by group, version, plural.
    pub fn all(&self) -> Vec<Arc<ResourceDescriptor>> {
        self.resources.read().values().cloned().collect()
    }

    // --- per-cluster custom resources (crate::crd) ---

    pub fn register_for(&self, cluster: &str, d: ResourceDescriptor) {
        let key = (d.group.clone(), d.version.clone(), d.plural.clone());
        let mut custom = self.custom.write();
        custom
            .entry(cluster.to_string())
            .or_default()
            .insert(key, Arc::new(d));
    }

    pub fn unregister_for(&self, cluster: &str, group: &str, version: &str, plural: &str) {
        if let Some(m) = self.custom.write().get_mut(cluster) {
            m.remove(&(group.to_string(), version.to_string(), plural.to_string()));
        }
    }

    /// A built-in resource, or a custom resource of `cluster`.
    pub fn get_for(
        &self,
        cluster: &str,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceDescriptor>> {
        self.get(group, version, plural).or_else(|| {
            let key = (group.to_string(), version.to_string(), plural.to_string());
            self.custom.read().get(cluster)?.get(&key).cloned()
        })
    }

    /// Every built-in descriptor and `cluster`'s custom ones, ordered by group, version, plural.
    pub fn all_for(&self, cluster: &str) -> Vec<Arc<ResourceDescriptor>> {
        let mut all: BTreeMap<_, _> = self.resources.read().clone();
        if let Some(m) = self.custom.read().get(cluster) {
            for (k, d) in m {
                all.entry(k.clone()).or_insert_with(|| d.clone());
            }
        }
        all.into_values().collect()
    }
}
