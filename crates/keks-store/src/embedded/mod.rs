//! The embedded durable backend: the shared in-memory engine, with every commit appended to
//! a write-ahead log and made durable by group commit before it is acknowledged or visible.
//! Periodic snapshots bound the log; opening replays the newest snapshot plus the log.
//!
//! Files in the store directory: `LOCK`, `snap-<revision>.snap`, and log segments
//! `wal-<sequence>.log` (20-digit numbers, so names sort in order).

mod committer;
mod dirlock;
mod snapshot;
mod wal;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;

pub use dirlock::DirLock;

use self::committer::{Committer, Log};
use self::wal::Record;
use crate::engine::Engine;
use crate::error::{OpenError, StoreError};
use crate::memory::DEFAULT_WATCH_BUFFER;
use crate::mvcc::Mvcc;
use crate::store::{Revisions, Store, WatchStream};
use crate::types::{RangeRequest, RangeResponse, Revision, Txn, TxnResponse, WatchRequest};

/// Tuning of the embedded backend.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// A log segment past this size starts a new segment and a snapshot.
    pub segment_bytes: u64,
    /// Sync the log before acknowledging writes. Only tests of other things turn this off.
    pub fsync: bool,
    /// Undelivered transactions a watcher may have before it is cancelled.
    pub watch_buffer: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
            fsync: true,
            watch_buffer: DEFAULT_WATCH_BUFFER,
        }
    }
}

/// What [`EmbeddedStore::open`] found and what the store holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub revision: Revision,
    pub compacted: Revision,
    pub keys: usize,
    /// The snapshot the store was opened from, if any.
    pub snapshot_revision: Option<Revision>,
    /// Log records replayed on open.
    pub replayed_records: usize,
    /// Set when the log ended in a torn record that was cut off on open.
    pub torn_tail: Option<String>,
}

pub struct EmbeddedStore {
    engine: Arc<Engine>,
    log: Arc<Log>,
    committer: Mutex<Option<JoinHandle<()>>>,
    opened: StoreStats,
    dir: PathBuf,
    _lock: DirLock,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`, replaying what is there.
    pub fn open(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self, OpenError> {
        let dir = dir.as_ref().to_path_buf();
        let lock = DirLock::acquire(&dir)?;
        let (mut index, mut stats, first_segment) = load_snapshot(&dir)?;
        let segments = list_segments(&dir)?;
        let mut last_segment = None;
        for (i, &seq) in segments.iter().enumerate() {
            if seq < first_segment {
                // Covered by the snapshot; a crash came between the snapshot and cleanup.
                let _ = fs::remove_file(segment_path(&dir, seq));
                continue;
            }
            let is_last = i + 1 == segments.len();
            replay_segment(&dir, seq, is_last, &mut index, &mut stats)?;
            last_segment = Some(seq);
        }
        let segment = last_segment.unwrap_or(first_segment.max(1));
        let path = segment_path(&dir, segment);
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| OpenError::io("opening log segment", &path, e))?;
        sync_dir(&dir).map_err(|e| OpenError::io("syncing directory", &dir, e))?;
        let segment_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let snapshot_size = stats.snapshot_revision.map_or(0, |r| {
            fs::metadata(dir.join(snapshot::file_name(r)))
                .map(|m| m.len())
                .unwrap_or(0)
        });

        stats.revision = index.current();
        stats.compacted = index.compacted();
        stats.keys = index.key_count();
        let engine = Arc::new(Engine::new(index, options.watch_buffer));
        let log = Log::new(0);
        let committer = Committer {
            log: log.clone(),
            engine: engine.clone(),
            dir: dir.clone(),
            file,
            segment,
            segment_len,
            segment_limit: options.segment_bytes.max(1),
            fsync: options.fsync,
            snapshot: None,
            since_snapshot: segment_len,
            snapshot_bytes: Arc::new(AtomicU64::new(snapshot_size)),
        };
        let handle = std::thread::Builder::new()
            .name("keks-store-commit".into())
            .spawn(move || committer.run())
            .map_err(|e| OpenError::io("starting commit thread for", &dir, e))?;
        Ok(Self {
            engine,
            log,
            committer: Mutex::new(Some(handle)),
            opened: stats,
            dir,
            _lock: lock,
        })
    }

    /// What was found on open.
    pub fn opened(&self) -> &StoreStats {
        &self.opened
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Synchronous range read from the in-memory index.
    pub fn range_now(&self, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
        self.engine.range(req)
    }

    /// Number of live watchers.
    pub fn watcher_count(&self) -> usize {
        self.engine.watcher_count()
    }

    /// Writes everything queued, waits for a running snapshot, and stops the commit thread.
    /// Later writes fail with [`StoreError::Closed`].
    pub fn close(&self) {
        self.log.shut_down();
        if let Some(handle) = self.committer.lock().take() {
            let _ = handle.join();
        }
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        self.engine.range(&req)
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        self.log.check_writable()?;
        let mut queued = None;
        let response = self.engine.apply(&txn, |commit| {
            let revision = commit.revision;
            queued = Some(self.log.append(
                |buf| wal::encode_commit(buf, revision, &commit.mutations),
                Some((revision, commit.events)),
            ));
        })?;
        let seq = match queued {
            Some(Some(seq)) => seq,
            Some(None) => return Err(StoreError::Closed),
            // Wrote nothing, but its compares and reads may have seen writes that are not yet
            // durable: answer only once they are, so no client observes a write a crash
            // could still lose.
            None => self.log.last_seq(),
        };
        self.log.wait_durable(seq).await?;
        Ok(response)
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream, StoreError> {
        self.engine.watch(&req)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.log.check_writable()?;
        let mut queued = None;
        self.engine.compact(revision, || {
            queued = self
                .log
                .append(|buf| wal::encode_compact(buf, revision), None);
        })?;
        self.log
            .wait_durable(queued.ok_or(StoreError::Closed)?)
            .await
    }

    async fn revisions(&self) -> Result<Revisions, StoreError> {
        Ok(self.engine.revisions())
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("wal-{seq:020}.log"))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

fn list_dir(dir: &Path) -> Result<Vec<String>, OpenError> {
    let entries = fs::read_dir(dir).map_err(|e| OpenError::io("listing", dir, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| OpenError::io("listing", dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, OpenError> {
    Ok(list_dir(dir)?
        .iter()
        .filter_map(|n| parse_segment_name(n))
        .collect())
}

/// Loads the newest snapshot, if any. Returns the index, the stats so far and the first log
/// segment that is not covered by it.
fn load_snapshot(dir: &Path) -> Result<(Mvcc, StoreStats, u64), OpenError> {
    let names = list_dir(dir)?;
    for name in names.iter().filter(|n| n.ends_with(".snap.tmp")) {
        // A snapshot a crash interrupted before its rename; it was never used.
        let _ = fs::remove_file(dir.join(name));
    }
    let newest = names.iter().filter_map(|n| snapshot::parse_name(n)).max();
    let Some(revision) = newest else {
        return Ok((Mvcc::default(), StoreStats::default(), 0));
    };
    let loaded = snapshot::read(&dir.join(snapshot::file_name(revision)))?;
    let stats = StoreStats {
        snapshot_revision: Some(loaded.revision),
        ..Default::default()
    };
    Ok((loaded.index, stats, loaded.first_segment))
}

fn replay_segment(
    dir: &Path,
    seq: u64,
    is_last: bool,
    index: &mut Mvcc,
    stats: &mut StoreStats,
) -> Result<(), OpenError> {
    let path = segment_path(dir, seq);
    let data =
        Bytes::from(fs::read(&path).map_err(|e| OpenError::io("reading log segment", &path, e))?);
    let corrupt = |offset: u64, reason: String| OpenError::CorruptLog {
        file: path.clone(),
        offset,
        reason,
    };
    let scan = wal::scan(&data).map_err(|c| corrupt(c.offset, c.reason))?;
    if let Some(why) = scan.torn {
        if !is_last {
            // Only the newest segment can be cut short by a crash; older ones were synced
            // before the next one began.
            return Err(corrupt(
                scan.valid_len,
                format!("{why} in a segment that is not the newest"),
            ));
        }
        tracing::warn!(file = %path.display(), offset = scan.valid_len, why, "cutting off a torn log tail");
        let file = File::options()
            .write(true)
            .open(&path)
            .map_err(|e| OpenError::io("opening log segment", &path, e))?;
        file.set_len(scan.valid_len)
            .and_then(|_| file.sync_all())
            .map_err(|e| OpenError::io("truncating torn log segment", &path, e))?;
        stats.torn_tail = Some(format!(
            "{} at offset {}: {why}",
            path.display(),
            scan.valid_len
        ));
    }
    for record in scan.records {
        match record {
            Record::Commit {
                revision,
                mutations,
            } => {
                if revision <= index.current() {
                    continue; // already in the snapshot
                }
                index
                    .replay(revision, &mutations)
                    .map_err(|reason| corrupt(0, reason))?;
                stats.replayed_records += 1;
            }
            Record::Compact { revision } => {
                if revision > index.compacted() && revision <= index.current() {
                    index.compact(revision);
                }
                stats.replayed_records += 1;
            }
        }
    }
    Ok(())
}

/// Removes snapshots older than `revision` and segments before `first_segment`, once the
/// snapshot at `revision` is safely on disk.
fn remove_obsolete(dir: &Path, revision: Revision, first_segment: u64) {
    let Ok(names) = list_dir(dir) else { return };
    for name in names {
        let obsolete = snapshot::parse_name(&name).is_some_and(|r| r < revision)
            || parse_segment_name(&name).is_some_and(|s| s < first_segment);
        if obsolete {
            let _ = fs::remove_file(dir.join(&name));
        }
    }
}

/// Syncs a directory so a file created or renamed in it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
