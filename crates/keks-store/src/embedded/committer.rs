//! Group commit: writers queue encoded records; one thread writes everything queued, makes
//! it durable with a single `fdatasync`, then publishes the commits to readers and watchers
//! and wakes the writers. Every write waiting at that moment shares the one sync.
//!
//! When the current segment grows past its limit the thread starts a new one and hands the
//! old state to a snapshot thread; once the snapshot is on disk, older segments go.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::{segment_path, snapshot, sync_dir};
use crate::engine::Engine;
use crate::error::StoreError;
use crate::types::{Event, Revision};

/// How far the log is durable, or why it failed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Durability {
    /// Every record with a sequence number up to this one is on disk.
    pub synced: u64,
    /// Set once a write or sync failed; the store refuses writes from then on.
    pub failed: Option<Arc<str>>,
}

/// Records waiting for the next write.
#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    commits: Vec<(Revision, Vec<Event>)>,
    /// Sequence number of the newest queued record.
    last_seq: u64,
    shutdown: bool,
}

/// The writer side of group commit, shared by the store and its commit thread.
pub(crate) struct Log {
    queue: Mutex<Queue>,
    wake: Condvar,
    durability: watch::Sender<Durability>,
    failed: AtomicBool,
}

impl Log {
    pub fn new(next_seq: u64) -> Arc<Self> {
        let (durability, _) = watch::channel(Durability {
            synced: next_seq,
            failed: None,
        });
        Arc::new(Self {
            queue: Mutex::new(Queue {
                last_seq: next_seq,
                ..Default::default()
            }),
            wake: Condvar::new(),
            durability,
            failed: AtomicBool::new(false),
        })
    }

    /// Refuses writes once the log has failed or shut down.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        if self.queue.lock().shutdown {
            return Err(StoreError::Closed);
        }
        if self.failed.load(Ordering::Acquire) {
            let reason = self
                .durability
                .borrow()
                .failed
                .clone()
                .unwrap_or_else(|| "".into());
            return Err(StoreError::WriteFailed(reason.to_string()));
        }
        Ok(())
    }

    /// Queues one record, encoded by `encode`, with the commit to publish once it is durable
    /// (none for a compaction). Returns the record's sequence number, or `None` once the log
    /// has shut down.
    pub fn append(
        &self,
        encode: impl FnOnce(&mut Vec<u8>),
        publish: Option<(Revision, Vec<Event>)>,
    ) -> Option<u64> {
        let mut q = self.queue.lock();
        if q.shutdown {
            return None;
        }
        encode(&mut q.buf);
        q.commits.extend(publish);
        q.last_seq += 1;
        let seq = q.last_seq;
        drop(q);
        self.wake.notify_one();
        Some(seq)
    }

    /// The sequence number of the newest queued record: once it is durable, so is every
    /// write applied before this call.
    pub fn last_seq(&self) -> u64 {
        self.queue.lock().last_seq
    }

    /// Waits until the record `seq` is on disk.
    pub async fn wait_durable(&self, seq: u64) -> Result<(), StoreError> {
        let mut rx = self.durability.subscribe();
        let state = rx
            .wait_for(|d| d.synced >= seq || d.failed.is_some())
            .await
            .map_err(|_| StoreError::Closed)?;
        match (&state.failed, state.synced >= seq) {
            (_, true) => Ok(()),
            (Some(reason), false) => Err(StoreError::WriteFailed(reason.to_string())),
            (None, false) => unreachable!("wait_for returned early"),
        }
    }

    /// Asks the commit thread to write what is queued and stop.
    pub fn shut_down(&self) {
        self.queue.lock().shutdown = true;
        self.wake.notify_one();
    }

    fn fail(&self, reason: String) {
        tracing::error!(%reason, "store log write failed; refusing further writes");
        self.failed.store(true, Ordering::Release);
        self.durability
            .send_modify(|d| d.failed = Some(reason.into()));
    }
}

/// The commit thread's state.
pub(crate) struct Committer {
    pub log: Arc<Log>,
    pub engine: Arc<Engine>,
    pub dir: PathBuf,
    pub file: File,
    pub segment: u64,
    pub segment_len: u64,
    pub segment_limit: u64,
    pub fsync: bool,
    /// The running snapshot, if any; joined before the thread exits.
    pub snapshot: Option<JoinHandle<()>>,
    /// Log bytes written since the last snapshot started.
    pub since_snapshot: u64,
    /// Size of the last snapshot: a new one starts only once the log since the last one is
    /// at least this large, so snapshot work stays proportional to what was written.
    pub snapshot_bytes: Arc<AtomicU64>,
}

impl Committer {
    pub fn run(mut self) {
        let mut buf = Vec::new();
        let mut commits = Vec::new();
        loop {
            let (last_seq, shutdown) = {
                let mut q = self.log.queue.lock();
                while q.buf.is_empty() && !q.shutdown {
                    self.log.wake.wait(&mut q);
                }
                std::mem::swap(&mut buf, &mut q.buf);
                std::mem::swap(&mut commits, &mut q.commits);
                (q.last_seq, q.shutdown)
            };
            if !buf.is_empty() && !self.log.failed.load(Ordering::Acquire) {
                match self.write_out(&buf) {
                    Ok(()) => {
                        for (revision, events) in commits.drain(..) {
                            self.engine.publish(revision, events);
                        }
                        self.log.durability.send_modify(|d| d.synced = last_seq);
                        self.segment_len += buf.len() as u64;
                        self.since_snapshot += buf.len() as u64;
                        if self.segment_len >= self.segment_limit
                            && self.since_snapshot >= self.snapshot_bytes.load(Ordering::Acquire)
                        {
                            if let Err(e) = self.rotate() {
                                self.log.fail(format!("starting a new log segment: {e}"));
                            }
                        }
                    }
                    Err(e) => self.log.fail(format!(
                        "writing log segment {}: {e}",
                        segment_path(&self.dir, self.segment).display()
                    )),
                }
            }
            buf.clear();
            commits.clear();
            if shutdown {
                if let Some(snapshot) = self.snapshot.take() {
                    let _ = snapshot.join();
                }
                return;
            }
        }
    }

    fn write_out(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file.write_all(buf)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Starts a new segment and, unless one is running, a snapshot of everything before it.
    fn rotate(&mut self) -> std::io::Result<()> {
        if self.snapshot.as_ref().is_some_and(|s| !s.is_finished()) {
            return Ok(()); // rotate once the running snapshot is done
        }
        let next = self.segment + 1;
        let path = segment_path(&self.dir, next);
        self.file = File::options().create_new(true).append(true).open(&path)?;
        sync_dir(&self.dir)?;
        self.segment = next;
        self.segment_len = 0;
        self.since_snapshot = 0;
        // Everything published so far is in older segments; snapshot exactly that.
        let revision = self.engine.visible();
        let engine = self.engine.clone();
        let dir = self.dir.clone();
        let snapshot_bytes = self.snapshot_bytes.clone();
        let handle = std::thread::Builder::new()
            .name("keks-store-snapshot".into())
            .spawn(move || {
                match snapshot::write(&dir, &engine, revision, next) {
                    Ok(path) => {
                        tracing::debug!(path = %path.display(), revision, "snapshot written");
                        super::remove_obsolete(&dir, revision, next);
                        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                        snapshot_bytes.store(size, Ordering::Release);
                    }
                    Err(e) => tracing::warn!(error = %e, revision, "snapshot failed; the log still holds everything"),
                }
            })?;
        self.snapshot = Some(handle);
        Ok(())
    }
}
