//! Errors every store backend reports, each distinct so callers can map them (a compacted
//! revision becomes HTTP 410 Gone in the Kubernetes API, a lagging watch a relist).

use std::path::PathBuf;

use crate::types::Revision;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The requested revision was compacted away.
    #[error("required revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },

    /// The requested revision is newer than anything committed.
    #[error("required revision {requested} is a future revision (current revision {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },

    /// The watcher fell so far behind that its buffer filled; it was cancelled and must
    /// relist and watch again.
    #[error("watch cancelled: the watcher fell more than {buffered} batches behind")]
    WatchLagged { buffered: usize },

    /// The request is malformed (empty key, duplicate keys in one transaction, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// A durable write could not be made durable; the store refuses further writes.
    #[error("store is failed and refuses writes: {0}")]
    WriteFailed(String),

    /// The store has been closed.
    #[error("store is closed")]
    Closed,
}

/// Errors opening a durable store: the data directory is locked or its files are damaged.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data directory {dir} is in use by another keks process{holder}")]
    Locked { dir: PathBuf, holder: String },

    #[error("log file {file} is corrupt at offset {offset}: {reason}")]
    CorruptLog {
        file: PathBuf,
        offset: u64,
        reason: String,
    },

    #[error("snapshot file {file} is corrupt: {reason}")]
    CorruptSnapshot { file: PathBuf, reason: String },

    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl OpenError {
    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            context,
            path: path.into(),
            source,
        }
    }
}
