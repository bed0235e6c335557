//! The state both local backends share: the MVCC index behind a read-write lock, the watch
//! hub, and the "visible" revision up to which readers and watchers may see commits.
//!
//! Lock order: the index lock, then the hub lock. Commits become visible strictly in
//! revision order; the durable backend publishes a commit only once it is on disk.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::error::StoreError;
use crate::mvcc::{Commit, Mvcc};
use crate::store::{Revisions, WatchStream};
use crate::types::{RangeRequest, RangeResponse, Revision, Txn, TxnResponse, WatchRequest};
use crate::watch::{Batch, WatchHub};

pub(crate) struct Engine {
    index: RwLock<Mvcc>,
    hub: Mutex<WatchHub>,
    /// The newest revision readers may see; equals the hub's delivered revision.
    visible: AtomicI64,
}

impl Engine {
    pub fn new(index: Mvcc, watch_buffer: usize) -> Self {
        let head = index.current();
        Self {
            index: RwLock::new(index),
            hub: Mutex::new(WatchHub::new(head, watch_buffer)),
            visible: AtomicI64::new(head),
        }
    }

    pub fn visible(&self) -> Revision {
        self.visible.load(Ordering::Acquire)
    }

    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
        let index = self.index.read();
        index.range(req, self.visible())
    }

    pub fn revisions(&self) -> Revisions {
        let index = self.index.read();
        Revisions {
            current: self.visible(),
            compacted: index.compacted(),
        }
    }

    /// Applies a transaction to the index. `on_commit` runs under the index lock for a
    /// transaction that wrote, so commits reach it in revision order.
    pub fn apply(
        &self,
        txn: &Txn,
        on_commit: impl FnOnce(Commit),
    ) -> Result<TxnResponse, StoreError> {
        let mut index = self.index.write();
        let (response, commit) = index.apply(txn)?;
        if let Some(commit) = commit {
            on_commit(commit);
        }
        Ok(response)
    }

    /// Makes a commit visible and hands its events to the watchers. Callers publish in
    /// revision order.
    pub fn publish(&self, revision: Revision, events: Vec<crate::Event>) {
        let mut hub = self.hub.lock();
        // Visible to readers first: a watcher woken by this commit may read at once, and
        // must find what the event announced.
        self.visible.store(revision, Ordering::Release);
        hub.dispatch(Arc::new(Batch { revision, events }));
    }

    pub fn watch(&self, req: &WatchRequest) -> Result<WatchStream, StoreError> {
        let index = self.index.read();
        let mut hub = self.hub.lock();
        let delivered = hub.delivered();
        let start = if req.start_revision > 0 {
            req.start_revision
        } else {
            delivered + 1
        };
        if start <= index.compacted() {
            return Err(StoreError::Compacted {
                requested: start,
                compacted: index.compacted(),
            });
        }
        let history = if start <= delivered {
            index.events_between(&req.range, start, delivered)
        } else {
            Vec::new()
        };
        Ok(Box::pin(hub.register(req.range.clone(), start, history)))
    }

    /// Compacts the index at `revision`; `on_compact` runs under the index lock (to log it).
    pub fn compact(&self, revision: Revision, on_compact: impl FnOnce()) -> Result<(), StoreError> {
        let mut index = self.index.write();
        let visible = self.visible();
        if revision > visible {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: visible,
            });
        }
        if revision <= index.compacted() {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted: index.compacted(),
            });
        }
        index.compact(revision);
        on_compact();
        Ok(())
    }

    /// Runs `f` with shared access to the index (snapshots, statistics).
    pub fn with_index<R>(&self, f: impl FnOnce(&Mvcc) -> R) -> R {
        f(&self.index.read())
    }

    /// Number of live watchers.
    pub fn watcher_count(&self) -> usize {
        self.hub.lock().len()
    }
}
