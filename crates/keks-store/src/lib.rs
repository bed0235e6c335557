//! keks-store: the versioned object store with etcd's data model. Keys map to byte values
//! carrying `create_revision`, `mod_revision` and `version`; one global revision counts
//! every committed write; transactions compare revisions (optimistic concurrency); watches
//! deliver changes in revision order; compaction forgets old history.
//!
//! Backends: [`MemoryStore`] (tests, simulations) and [`EmbeddedStore`] (durable, the
//! default). Every backend passes the suite in [`conformance`].

pub mod conformance;
mod embedded;
mod engine;
mod error;
mod memory;
mod mvcc;
mod store;
mod types;
mod watch;

pub use embedded::{DirLock, EmbeddedOptions, EmbeddedStore, StoreStats};
pub use error::{OpenError, StoreError};
pub use memory::{MemoryStore, DEFAULT_WATCH_BUFFER};
pub use store::{Revisions, Store, WatchStream};
pub use types::{
    prefix_end, Compare, CompareOp, CompareTarget, Event, EventKind, KeyRange, KeyValue,
    RangeRequest, RangeResponse, Revision, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchRequest,
};
