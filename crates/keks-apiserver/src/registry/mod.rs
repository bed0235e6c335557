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

/// The served resources. Built-ins are registered at startup; custom resources come and go
/// with their CRDs.
#[derive(Default)]
pub struct Registry {
    /// (group, version, plural) → descriptor.
    resources: RwLock<BTreeMap<(String, String, String), Arc<ResourceDescriptor>>>,
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
}
