//! The `Store` trait every backend implements, and the conveniences built on it.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::error::StoreError;
use crate::types::{
    KeyRange, KeyValue, RangeRequest, RangeResponse, Revision, Txn, TxnOp, TxnOpResponse,
    TxnResponse, WatchRequest,
};
use crate::Event;

/// The events of one watch in revision order (events of one transaction in the order it
/// wrote them). Ends with [`StoreError::WatchLagged`] if the watcher fell too far behind, and
/// ends cleanly when the store closes.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, StoreError>> + Send>>;

/// The store's head and compaction mark.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Revisions {
    /// The latest committed revision.
    pub current: Revision,
    /// Reads below this revision fail with [`StoreError::Compacted`].
    pub compacted: Revision,
}

/// A versioned key-value store with etcd's semantics.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads a key range, at the latest revision or a retained past one.
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError>;

    /// Runs a transaction atomically. When it returns, its writes are committed (durable,
    /// for a durable backend) and visible to readers and watchers.
    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError>;

    /// Watches a key range from a revision.
    async fn watch(&self, req: WatchRequest) -> Result<WatchStream, StoreError>;

    /// Forgets history below `revision`.
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// The current and compacted revisions.
    async fn revisions(&self) -> Result<Revisions, StoreError>;

    /// Reads one key at the latest revision.
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, StoreError> {
        let range = KeyRange::key(Bytes::copy_from_slice(key));
        Ok(self
            .range(RangeRequest::new(range))
            .await?
            .kvs
            .into_iter()
            .next())
    }

    /// Writes one key unconditionally; returns the revision of the write.
    async fn put(&self, key: Bytes, value: Bytes) -> Result<Revision, StoreError> {
        Ok(self
            .txn(Txn::new().and_then([TxnOp::put(key, value)]))
            .await?
            .revision)
    }

    /// Deletes one key; returns its last value if it existed.
    async fn delete(&self, key: Bytes) -> Result<Option<KeyValue>, StoreError> {
        let response = self.txn(Txn::new().and_then([TxnOp::delete(key)])).await?;
        Ok(match response.responses.into_iter().next() {
            Some(TxnOpResponse::Delete { deleted }) => deleted.into_iter().next(),
            _ => None,
        })
    }
}
