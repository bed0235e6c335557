//! The in-memory backend: the shared engine with commits published at once. For tests and
//! simulations, where nothing needs to outlive the process.

use async_trait::async_trait;

use crate::engine::Engine;
use crate::error::StoreError;
use crate::mvcc::Mvcc;
use crate::store::{Revisions, Store, WatchStream};
use crate::types::{RangeRequest, RangeResponse, Revision, Txn, TxnResponse, WatchRequest};

/// Default number of undelivered transactions a watcher may have before it is cancelled.
pub const DEFAULT_WATCH_BUFFER: usize = 10_000;

pub struct MemoryStore {
    engine: Engine,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::with_watch_buffer(DEFAULT_WATCH_BUFFER)
    }

    /// A store whose watchers are cancelled once `watch_buffer` transactions are undelivered.
    pub fn with_watch_buffer(watch_buffer: usize) -> Self {
        Self {
            engine: Engine::new(Mvcc::default(), watch_buffer),
        }
    }

    /// Synchronous range read (the index lives in memory; nothing to wait for).
    pub fn range_now(&self, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
        self.engine.range(req)
    }

    /// Synchronous transaction.
    pub fn txn_now(&self, txn: &Txn) -> Result<TxnResponse, StoreError> {
        self.engine.apply(txn, |commit| {
            // Publishing under the index lock keeps commits in revision order.
            self.engine.publish(commit.revision, commit.events);
        })
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        self.engine.range(&req)
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        self.txn_now(&txn)
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream, StoreError> {
        self.engine.watch(&req)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.engine.compact(revision, || {})
    }

    async fn revisions(&self) -> Result<Revisions, StoreError> {
        Ok(self.engine.revisions())
    }
}
