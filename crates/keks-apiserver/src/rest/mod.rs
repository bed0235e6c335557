//! The generic REST storage of one cluster, as kube-apiserver's generic registry store: get,
//! list, create, update, delete and watch of any resource over the versioned store, with
//! metadata handling, optimistic concurrency and the resource's strategy. The HTTP layer
//! and in-process clients (controllers) both call it.

mod binding;
mod create;
mod delete;
mod eviction;
mod finalizers;
pub mod meta;
mod object;
mod read;
pub mod service_ips;
mod splice;
mod update;
mod watch;

use std::sync::Arc;

use keks_core::SharedClock;
use keks_store::{Store, StoreError};

pub use delete::{DeleteOptions, DeleteOutcome, Propagation};

pub use object::{resource_version, set_resource_version};
pub use read::{ListOptions, RvMatch};
pub use update::{Subresource, UpdateOptions};
pub use watch::{WatchEvent, WatchEventType, WatchOptions, WatchStream};

use crate::registry::Registry;
use crate::status::ApiError;

/// The API of one cluster: its name (its store prefix) and what it needs to serve.
#[derive(Clone)]
pub struct ClusterApi {
    pub cluster: String,
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub clock: SharedClock,
    /// The range Services' cluster IPs come from.
    pub service_cidr: (std::net::Ipv4Addr, u8),
    /// Mutating admission plug-ins every creation passes through.
    pub admission: Vec<Arc<dyn crate::admission::Admission>>,
    lifetime: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Options every write takes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run everything, store nothing.
    pub dry_run: bool,
    /// `fieldManager` (the HTTP layer falls back to the User-Agent's prefix).
    pub field_manager: Option<String>,
    /// How the write is recorded in `metadata.managedFields`.
    pub record: FieldsRecord,
}

/// How a write is recorded in `metadata.managedFields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldsRecord {
    /// An `Update` entry of the field manager (create, update, non-apply patch).
    #[default]
    Update,
    /// An `Update` entry with `subresource: scale` (the scale subresource writes through
    /// the main resource).
    UpdateScale,
    /// The object carries the managedFields a server-side apply computed.
    Applied,
    /// Not recorded: writes kube-apiserver makes without its field manager (a pod's
    /// `binding`).
    Skip,
}

impl WriteOptions {
    /// The manager a write is recorded under; in-process writers that name none are
    /// controllers.
    pub fn manager(&self) -> &str {
        self.field_manager
            .as_deref()
            .unwrap_or("kube-controller-manager")
    }
}

impl ClusterApi {
    pub fn new(
        cluster: impl Into<String>,
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        clock: SharedClock,
    ) -> Self {
        Self {
            cluster: cluster.into(),
            store,
            registry,
            clock,
            service_cidr: service_ips::DEFAULT_SERVICE_CIDR,
            admission: Vec::new(),
            lifetime: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// The same API with admission plug-ins in front of every creation.
    pub fn with_admission(mut self, plugins: Vec<Arc<dyn crate::admission::Admission>>) -> Self {
        self.admission = plugins;
        self
    }

    /// The same API with another Service address range.
    pub fn with_service_cidr(mut self, range: (std::net::Ipv4Addr, u8)) -> Self {
        self.service_cidr = range;
        self
    }

    /// Runs a background task of this cluster (a controller, a finalizer) until it ends or
    /// the cluster is stopped, whichever comes first.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let stopped = self.stopped();
        tokio::spawn(async move {
            tokio::select! {
                _ = stopped => {}
                _ = task => {}
            }
        });
    }

    /// Resolves once the cluster is stopped (deleted, or keks shutting down).
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.lifetime.subscribe();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }

    /// Stops every background task started with [`ClusterApi::spawn`].
    pub fn stop(&self) {
        self.lifetime.send_replace(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.lifetime.borrow()
    }
}

/// Maps a store failure to the API error kube-apiserver would give.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Compacted {
            requested,
            compacted,
        } => ApiError::Expired(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        StoreError::FutureRevision { requested, current } => ApiError::ServiceUnavailable(format!(
            "Too large resource version: {requested}, current: {current}"
        )),
        other => ApiError::Internal(other.to_string()),
    }
}
