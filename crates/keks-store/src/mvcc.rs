//! The in-memory multi-version index: every key's history of values by revision, reads at
//! any retained revision, transaction evaluation, compaction and history replay for watches.
//!
//! Both backends keep their whole state here; the durable backend adds a log in front.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;

use crate::error::StoreError;
use crate::types::{
    Compare, CompareOp, CompareTarget, Event, EventKind, KeyRange, KeyValue, RangeRequest,
    RangeResponse, Revision, Txn, TxnOp, TxnOpResponse, TxnResponse,
};

/// One version of a key. `value == None` is a tombstone (the key was deleted at `mod_rev`).
#[derive(Clone, Debug)]
pub(crate) struct Version {
    pub mod_rev: Revision,
    /// Position of the write within its transaction, so replayed events keep their order.
    pub sub: u32,
    pub create_rev: Revision,
    pub version: i64,
    pub value: Option<Bytes>,
}

/// A key's versions in increasing `mod_rev` order.
type History = Vec<Version>;

/// A resolved write, as the log records it: the outcome of a transaction, not its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mutation {
    Put { key: Bytes, value: Bytes },
    Delete { key: Bytes },
}

/// The writes of one committed transaction, all at one revision.
#[derive(Clone, Debug)]
pub(crate) struct Commit {
    pub revision: Revision,
    pub mutations: Vec<Mutation>,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Mvcc {
    keys: BTreeMap<Bytes, History>,
    current: Revision,
    compacted: Revision,
}

impl Mvcc {
    pub fn current(&self) -> Revision {
        self.current
    }

    pub fn compacted(&self) -> Revision {
        self.compacted
    }

    /// Number of distinct keys with any retained history (live or tombstoned).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Checks that `revision` can be read given the visible head `visible`.
    pub fn check_readable(&self, revision: Revision, visible: Revision) -> Result<(), StoreError> {
        if revision > visible {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: visible,
            });
        }
        if revision < self.compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted: self.compacted,
            });
        }
        Ok(())
    }

    /// The key as of `revision`, if it existed then.
    pub fn get(&self, key: &[u8], revision: Revision) -> Option<KeyValue> {
        let (key, history) = self.keys.get_key_value(key)?;
        version_at(history, revision).and_then(|v| live(key, v))
    }

    /// Serves a range read at `visible` (or the request's revision, which must be readable).
    pub fn range(
        &self,
        req: &RangeRequest,
        visible: Revision,
    ) -> Result<RangeResponse, StoreError> {
        let revision = if req.revision > 0 {
            req.revision
        } else {
            visible
        };
        self.check_readable(revision, visible)?;
        let mut out = RangeResponse {
            revision,
            ..Default::default()
        };
        let mut push = |key: &Bytes, v: &Version| {
            out.count += 1;
            if req.count_only {
                return;
            }
            if req.limit > 0 && out.kvs.len() >= req.limit {
                out.more = true;
                return;
            }
            let mut kv = live(key, v).expect("only live versions are pushed");
            if req.keys_only {
                kv.value = Bytes::new();
            }
            out.kvs.push(kv);
        };
        match &req.range.end {
            None => {
                if let Some((key, history)) = self.keys.get_key_value(req.range.start.as_ref()) {
                    if let Some(v) = version_at(history, revision).filter(|v| v.value.is_some()) {
                        push(key, v);
                    }
                }
            }
            Some(end) => {
                for (key, history) in self
                    .keys
                    .range::<[u8], _>(range_bounds(&req.range.start, end))
                {
                    if let Some(v) = version_at(history, revision).filter(|v| v.value.is_some()) {
                        push(key, v);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Evaluates and applies a transaction against the latest state. Returns the response and,
    /// if it wrote anything, the commit to log and publish.
    pub fn apply(&mut self, txn: &Txn) -> Result<(TxnResponse, Option<Commit>), StoreError> {
        validate(txn)?;
        let succeeded = txn.compares.iter().all(|c| self.holds(c));
        let ops = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        let revision = self.current + 1;
        let mut commit = Commit {
            revision,
            mutations: Vec::new(),
            events: Vec::new(),
        };
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let response = match op {
                TxnOp::Put { key, value } => {
                    let prev = self.write(key, Some(value.clone()), &mut commit);
                    TxnOpResponse::Put { prev }
                }
                TxnOp::Delete { range } => {
                    let keys = self.live_keys(range);
                    let mut deleted = Vec::with_capacity(keys.len());
                    for key in keys {
                        deleted.extend(self.write(&key, None, &mut commit));
                    }
                    TxnOpResponse::Delete { deleted }
                }
                TxnOp::Range(req) => {
                    // Reads inside a transaction see the latest state, including this
                    // transaction's earlier writes.
                    let latest = if commit.mutations.is_empty() {
                        self.current
                    } else {
                        revision
                    };
                    let mut req = req.clone();
                    req.revision = 0;
                    TxnOpResponse::Range(self.range(&req, latest)?)
                }
            };
            responses.push(response);
        }
        let commit = if commit.mutations.is_empty() {
            None
        } else {
            self.current = revision;
            Some(commit)
        };
        Ok((
            TxnResponse {
                succeeded,
                revision: self.current,
                responses,
            },
            commit,
        ))
    }

    /// Re-applies a logged commit during recovery.
    pub fn replay(&mut self, revision: Revision, mutations: &[Mutation]) -> Result<(), String> {
        if revision != self.current + 1 {
            return Err(format!(
                "revision {revision} does not follow revision {}",
                self.current
            ));
        }
        let mut commit = Commit {
            revision,
            mutations: Vec::new(),
            events: Vec::new(),
        };
        for m in mutations {
            match m {
                Mutation::Put { key, value } => {
                    self.write(key, Some(value.clone()), &mut commit);
                }
                Mutation::Delete { key } => {
                    self.write(key, None, &mut commit);
                }
            }
        }
        self.current = revision;
        Ok(())
    }

    /// Writes one version of `key` at `commit.revision`; returns the previous live value.
    /// A delete of a missing key writes nothing.
    fn write(
        &mut self,
        key: &Bytes,
        value: Option<Bytes>,
        commit: &mut Commit,
    ) -> Option<KeyValue> {
        let revision = commit.revision;
        let prev = self
            .keys
            .get(key.as_ref())
            .and_then(|h| h.last())
            .and_then(|v| live(key, v));
        if value.is_none() && prev.is_none() {
            return None;
        }
        let sub = commit.mutations.len() as u32;
        let (create_rev, version) = match (&prev, &value) {
            (_, None) => (0, 0),
            (Some(p), Some(_)) => (p.create_revision, p.version + 1),
            (None, Some(_)) => (revision, 1),
        };
        let kv = KeyValue {
            key: key.clone(),
            value: value.clone().unwrap_or_default(),
            create_revision: create_rev,
            mod_revision: revision,
            version,
        };
        self.keys.entry(key.clone()).or_default().push(Version {
            mod_rev: revision,
            sub,
            create_rev,
            version,
            value: value.clone(),
        });
        commit.mutations.push(match value {
            Some(value) => Mutation::Put {
                key: key.clone(),
                value,
            },
            None => Mutation::Delete { key: key.clone() },
        });
        commit.events.push(Event {
            kind: if kv.version == 0 {
                EventKind::Delete
            } else {
                EventKind::Put
            },
            kv,
            prev_kv: prev.clone(),
        });
        prev
    }

    fn live_keys(&self, range: &KeyRange) -> Vec<Bytes> {
        let is_live = |h: &History| h.last().is_some_and(|v| v.value.is_some());
        match &range.end {
            None => self
                .keys
                .get_key_value(range.start.as_ref())
                .filter(|(_, h)| is_live(h))
                .map(|(k, _)| vec![k.clone()])
                .unwrap_or_default(),
            Some(end) => self
                .keys
                .range::<[u8], _>(range_bounds(&range.start, end))
                .filter(|(_, h)| is_live(h))
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }

    fn holds(&self, compare: &Compare) -> bool {
        let current = self.get(&compare.key, self.current);
        let ordering = match (&compare.target, &current) {
            (CompareTarget::ModRevision(r), kv) => {
                kv.as_ref().map_or(0, |kv| kv.mod_revision).cmp(r)
            }
            (CompareTarget::CreateRevision(r), kv) => {
                kv.as_ref().map_or(0, |kv| kv.create_revision).cmp(r)
            }
            (CompareTarget::Version(v), kv) => kv.as_ref().map_or(0, |kv| kv.version).cmp(v),
            (CompareTarget::Value(_), None) => return false,
            (CompareTarget::Value(v), Some(kv)) => kv.value.as_ref().cmp(v.as_ref()),
        };
        match compare.op {
            CompareOp::Equal => ordering.is_eq(),
            CompareOp::NotEqual => ordering.is_ne(),
            CompareOp::Greater => ordering.is_gt(),
            CompareOp::Less => ordering.is_lt(),
        }
    }

    /// Drops every version that no read at `revision` or later can see.
    pub fn compact(&mut self, revision: Revision) {
        if revision <= self.compacted {
            return;
        }
        self.keys.retain(|_, history| {
            // Keep the newest version at or below `revision` (what a read at `revision`
            // sees) and everything after it; a tombstone seen there can go too.
            let keep_from = history.partition_point(|v| v.mod_rev <= revision);
            if keep_from > 0 {
                let newest_old = keep_from - 1;
                let drop_to = if history[newest_old].value.is_none() {
                    keep_from
                } else {
                    newest_old
                };
                history.drain(..drop_to);
            }
            !history.is_empty()
        });
        self.compacted = revision;
    }

    /// Sets the compaction mark while loading a snapshot.
    pub fn set_compacted(&mut self, revision: Revision) {
        self.compacted = revision;
    }

    /// Every event in `range` with revision in `[from, to]`, in revision order, for a watch
    /// that starts in the past. The caller checks `from` is not compacted.
    pub fn events_between(&self, range: &KeyRange, from: Revision, to: Revision) -> Vec<Event> {
        let mut found: Vec<(Revision, u32, Event)> = Vec::new();
        let mut collect = |key: &Bytes, history: &History| {
            let first = history.partition_point(|v| v.mod_rev < from);
            for i in first..history.len() {
                let v = &history[i];
                if v.mod_rev > to {
                    break;
                }
                let prev_kv = i.checked_sub(1).and_then(|p| live(key, &history[p]));
                let kv = KeyValue {
                    key: key.clone(),
                    value: v.value.clone().unwrap_or_default(),
                    create_revision: v.create_rev,
                    mod_revision: v.mod_rev,
                    version: v.version,
                };
                let kind = if v.value.is_some() {
                    EventKind::Put
                } else {
                    EventKind::Delete
                };
                found.push((v.mod_rev, v.sub, Event { kind, kv, prev_kv }));
            }
        };
        match &range.end {
            None => {
                if let Some((k, h)) = self.keys.get_key_value(range.start.as_ref()) {
                    collect(k, h);
                }
            }
            Some(end) => {
                for (k, h) in self.keys.range::<[u8], _>(range_bounds(&range.start, end)) {
                    collect(k, h);
                }
            }
        }
        found.sort_by_key(|(rev, sub, _)| (*rev, *sub));
        found.into_iter().map(|(_, _, e)| e).collect()
    }

    /// Up to `limit` keys after `after` (from the start when `None`) with their versions at or
    /// below `upto`, for writing a snapshot a chunk at a time. Versions at or below a revision
    /// never change once written (only compaction drops old ones), so chunks read under
    /// separate locks still describe revision `upto`.
    pub fn versions_chunk(
        &self,
        after: Option<&Bytes>,
        upto: Revision,
        limit: usize,
    ) -> Vec<(Bytes, Vec<Version>)> {
        let lower = match after {
            Some(k) => Bound::Excluded(k.as_ref()),
            None => Bound::Unbounded,
        };
        self.keys
            .range::<[u8], _>((lower, Bound::Unbounded))
            .filter_map(|(k, h)| {
                let n = h.partition_point(|v| v.mod_rev <= upto);
                (n > 0).then(|| (k.clone(), h[..n].to_vec()))
            })
            .take(limit)
            .collect()
    }

    /// Loads one key's versions from a snapshot.
    pub fn load_versions(&mut self, key: Bytes, versions: Vec<Version>, current: Revision) {
        self.keys.insert(key, versions);
        self.current = self.current.max(current);
    }

    /// Sets the head revision while loading a snapshot.
    pub fn set_current(&mut self, revision: Revision) {
        self.current = revision;
    }
}

fn version_at(history: &History, revision: Revision) -> Option<&Version> {
    match history.last() {
        Some(v) if v.mod_rev <= revision => Some(v),
        _ => {
            let n = history.partition_point(|v| v.mod_rev <= revision);
            n.checked_sub(1).map(|i| &history[i])
        }
    }
}

fn live(key: &Bytes, v: &Version) -> Option<KeyValue> {
    v.value.as_ref().map(|value| KeyValue {
        key: key.clone(),
        value: value.clone(),
        create_revision: v.create_rev,
        mod_revision: v.mod_rev,
        version: v.version,
    })
}

fn range_bounds<'a>(start: &'a Bytes, end: &'a Bytes) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    let upper = if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(end.as_ref())
    };
    (Bound::Included(start.as_ref()), upper)
}

/// The checks etcd makes before running a transaction.
fn validate(txn: &Txn) -> Result<(), StoreError> {
    for ops in [&txn.success, &txn.failure] {
        let mut puts: Vec<&Bytes> = Vec::new();
        let mut deletes: Vec<&KeyRange> = Vec::new();
        for op in ops {
            match op {
                TxnOp::Put { key, .. } => {
                    if key.is_empty() {
                        return Err(StoreError::InvalidRequest("key is not provided".into()));
                    }
                    if puts.contains(&key) {
                        return Err(StoreError::InvalidRequest(
                            "duplicate key given in txn request".into(),
                        ));
                    }
                    puts.push(key);
                }
                TxnOp::Delete { range } => {
                    if range.start.is_empty() && range.end.is_none() {
                        return Err(StoreError::InvalidRequest("key is not provided".into()));
                    }
                    deletes.push(range);
                }
                TxnOp::Range(_) => {}
            }
        }
        if puts.iter().any(|k| deletes.iter().any(|r| r.contains(k))) {
            return Err(StoreError::InvalidRequest(
                "duplicate key given in txn request".into(),
            ));
        }
    }
    for c in &txn.compares {
        if c.key.is_empty() {
            return Err(StoreError::InvalidRequest("key is not provided".into()));
        }
    }
    Ok(())
}
