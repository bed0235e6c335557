//! The store's data model: key-values with their revisions, ranges, transactions and events.

use bytes::Bytes;

/// The store-wide revision. Every committed write increments it by one; it becomes the
/// Kubernetes `resourceVersion`. Revision 0 means "nothing written yet" or "latest".
pub type Revision = i64;

/// One key with its current value and the revisions that describe its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Bytes,
    pub value: Bytes,
    /// The revision of the write that created the key (since its last deletion).
    pub create_revision: Revision,
    /// The revision of the last write to the key.
    pub mod_revision: Revision,
    /// How many times the key was written since it was created; 1 after creation.
    pub version: i64,
}

/// A set of keys: one key, a half-open interval `[start, end)`, or everything under a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bytes,
    /// `None` selects exactly `start`; `Some(end)` selects `[start, end)`; an empty `end`
    /// selects every key `>= start`.
    pub end: Option<Bytes>,
}

impl KeyRange {
    /// Exactly one key.
    pub fn key(key: impl Into<Bytes>) -> Self {
        Self {
            start: key.into(),
            end: None,
        }
    }

    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: impl Into<Bytes>) -> Self {
        let start: Bytes = prefix.into();
        let end = prefix_end(&start);
        Self {
            start,
            end: Some(end),
        }
    }

    /// Keys in `[start, end)`.
    pub fn between(start: impl Into<Bytes>, end: impl Into<Bytes>) -> Self {
        Self {
            start: start.into(),
            end: Some(end.into()),
        }
    }

    /// True when `key` lies in this range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match &self.end {
            None => key == self.start.as_ref(),
            Some(end) => key >= self.start.as_ref() && (end.is_empty() || key < end.as_ref()),
        }
    }

    /// The same range starting later at `start` (used to continue a paginated list).
    pub fn starting_at(&self, start: impl Into<Bytes>) -> Self {
        Self {
            start: start.into(),
            end: self.end.clone(),
        }
    }
}

/// The first key after every key with `prefix`, as etcd computes it: the prefix with its last
/// byte below 0xff incremented and the rest dropped. An all-0xff (or empty) prefix has no end,
/// which is spelled as the empty key ("to the end of the keyspace").
pub fn prefix_end(prefix: &[u8]) -> Bytes {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Bytes::from(end);
        }
    }
    Bytes::new()
}

/// A read of a key range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeRequest {
    pub range: KeyRange,
    /// Read as of this revision; 0 reads the latest committed state.
    pub revision: Revision,
    /// At most this many keys; 0 means no limit. `count` still counts the whole range.
    pub limit: usize,
    /// Return only the count, no key-values.
    pub count_only: bool,
    /// Return keys and revisions with empty values.
    pub keys_only: bool,
}

impl RangeRequest {
    pub fn new(range: KeyRange) -> Self {
        Self {
            range,
            revision: 0,
            limit: 0,
            count_only: false,
            keys_only: false,
        }
    }

    pub fn at_revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }

    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn count_only(mut self) -> Self {
        self.count_only = true;
        self
    }

    pub fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }
}

/// The answer to a [`RangeRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RangeResponse {
    /// Key-values in key order, at most `limit` of them.
    pub kvs: Vec<KeyValue>,
    /// How many keys the whole range holds at the read revision.
    pub count: usize,
    /// True when `limit` cut the answer short.
    pub more: bool,
    /// The revision the read was served at.
    pub revision: Revision,
}

/// What a [`Compare`] looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareTarget {
    /// The key's `mod_revision`; 0 when the key does not exist.
    ModRevision(Revision),
    /// The key's `create_revision`; 0 when the key does not exist.
    CreateRevision(Revision),
    /// The key's `version`; 0 when the key does not exist.
    Version(i64),
    /// The key's value; a missing key never compares equal.
    Value(Bytes),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Equal,
    NotEqual,
    Greater,
    Less,
}

/// One guard of a transaction, evaluated against the latest state of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compare {
    pub key: Bytes,
    pub op: CompareOp,
    pub target: CompareTarget,
}

impl Compare {
    /// `mod_revision(key) == revision`: the basis of optimistic concurrency. Revision 0
    /// means "the key does not exist".
    pub fn mod_revision_is(key: impl Into<Bytes>, revision: Revision) -> Self {
        Self {
            key: key.into(),
            op: CompareOp::Equal,
            target: CompareTarget::ModRevision(revision),
        }
    }

    /// The key does not exist.
    pub fn absent(key: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            op: CompareOp::Equal,
            target: CompareTarget::CreateRevision(0),
        }
    }

    /// The key exists.
    pub fn present(key: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            op: CompareOp::NotEqual,
            target: CompareTarget::CreateRevision(0),
        }
    }
}

/// One operation inside a transaction branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    Put { key: Bytes, value: Bytes },
    Delete { range: KeyRange },
    Range(RangeRequest),
}

impl TxnOp {
    pub fn put(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Self::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    pub fn delete(key: impl Into<Bytes>) -> Self {
        Self::Delete {
            range: KeyRange::key(key),
        }
    }

    pub fn get(key: impl Into<Bytes>) -> Self {
        Self::Range(RangeRequest::new(KeyRange::key(key)))
    }
}

/// If every compare holds, run `success`, otherwise `failure`; atomically.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn when(mut self, compares: impl IntoIterator<Item = Compare>) -> Self {
        self.compares.extend(compares);
        self
    }

    pub fn and_then(mut self, ops: impl IntoIterator<Item = TxnOp>) -> Self {
        self.success.extend(ops);
        self
    }

    pub fn or_else(mut self, ops: impl IntoIterator<Item = TxnOp>) -> Self {
        self.failure.extend(ops);
        self
    }
}

/// The result of one [`TxnOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOpResponse {
    Put { prev: Option<KeyValue> },
    Delete { deleted: Vec<KeyValue> },
    Range(RangeResponse),
}

/// The result of a [`Txn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnResponse {
    /// Whether the compares held (so `success` ran).
    pub succeeded: bool,
    /// The store revision after the transaction: the revision of its writes, if it wrote.
    pub revision: Revision,
    /// One response per operation of the branch that ran, in order.
    pub responses: Vec<TxnOpResponse>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change seen by a watcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The key after the change. For a delete: the key, an empty value, `mod_revision` = the
    /// deletion's revision, and zero `create_revision` and `version`.
    pub kv: KeyValue,
    /// The key before the change, if it existed.
    pub prev_kv: Option<KeyValue>,
}

/// Where a watch starts and what it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchRequest {
    pub range: KeyRange,
    /// Deliver every event with revision `>= start_revision`; 0 starts after the latest
    /// committed revision (only future changes).
    pub start_revision: Revision,
}

impl WatchRequest {
    pub fn new(range: KeyRange) -> Self {
        Self {
            range,
            start_revision: 0,
        }
    }

    pub fn from_revision(mut self, start_revision: Revision) -> Self {
        self.start_revision = start_revision;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte_below_ff() {
        assert_eq!(
            prefix_end(b"/registry/pods/"),
            Bytes::from_static(b"/registry/pods0")
        );
        assert_eq!(prefix_end(b"a\xff"), Bytes::from_static(b"b"));
        assert_eq!(prefix_end(b"\xff\xff"), Bytes::new());
        assert_eq!(prefix_end(b""), Bytes::new());
    }

    #[test]
    fn key_range_contains() {
        let r = KeyRange::prefix("/a/");
        assert!(r.contains(b"/a/x"));
        assert!(!r.contains(b"/b"));
        assert!(KeyRange::key("k").contains(b"k"));
        assert!(!KeyRange::key("k").contains(b"k2"));
        assert!(KeyRange::between("b", "").contains(b"zzz"));
    }
}
