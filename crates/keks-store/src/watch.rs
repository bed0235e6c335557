//! Watch fan-out: the set of live watchers, delivery of committed batches to them, and the
//! stream a watcher reads. Delivery never blocks: a watcher whose buffer is full is cancelled
//! with [`StoreError::WatchLagged`] so it can relist, and writers and other watchers go on.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::types::{Event, KeyRange, Revision};

/// The events of one committed transaction, shared by every watcher that sees it.
#[derive(Debug)]
pub(crate) struct Batch {
    pub revision: Revision,
    pub events: Vec<Event>,
}

struct Watcher {
    range: KeyRange,
    tx: mpsc::Sender<Arc<Batch>>,
    /// Raised when the buffer overflowed and the hub dropped this watcher.
    lagged: Arc<AtomicBool>,
}

/// The live watchers of one store and the revision delivered to them so far.
pub(crate) struct WatchHub {
    watchers: Vec<Watcher>,
    /// Every batch up to this revision has been handed to the watchers.
    delivered: Revision,
    buffer: usize,
}

impl WatchHub {
    pub fn new(delivered: Revision, buffer: usize) -> Self {
        Self {
            watchers: Vec::new(),
            delivered,
            buffer: buffer.max(1),
        }
    }

    pub fn delivered(&self) -> Revision {
        self.delivered
    }

    /// Registers a watcher that first replays `history` and then receives every batch
    /// after [`Self::delivered`].
    pub fn register(&mut self, range: KeyRange, start: Revision, history: Vec<Event>) -> HubStream {
        let (tx, rx) = mpsc::channel(self.buffer);
        let lagged = Arc::new(AtomicBool::new(false));
        self.watchers.push(Watcher {
            range: range.clone(),
            tx,
            lagged: lagged.clone(),
        });
        HubStream {
            range,
            start,
            pending: history.into(),
            current: None,
            rx,
            lagged,
            buffered: self.buffer,
            done: false,
        }
    }

    /// Hands a committed batch to every watcher whose range it touches.
    pub fn dispatch(&mut self, batch: Arc<Batch>) {
        debug_assert!(batch.revision > self.delivered);
        self.delivered = batch.revision;
        self.watchers.retain(|w| {
            if !batch.events.iter().any(|e| w.range.contains(&e.kv.key)) {
                return !w.tx.is_closed();
            }
            match w.tx.try_send(batch.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // Dropping the sender ends the stream once it has drained its buffer;
                    // the flag makes that end an error instead of a clean close.
                    w.lagged.store(true, Ordering::Release);
                    tracing::debug!("watcher fell behind and was cancelled");
                    false
                }
            }
        });
    }

    /// Number of live watchers.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }
}

/// The in-process watch stream of both local backends (see [`crate::WatchStream`]).
pub(crate) struct HubStream {
    range: KeyRange,
    /// Events below this revision are skipped (a watch that starts in the future).
    start: Revision,
    pending: VecDeque<Event>,
    current: Option<(Arc<Batch>, usize)>,
    rx: mpsc::Receiver<Arc<Batch>>,
    lagged: Arc<AtomicBool>,
    buffered: usize,
    done: bool,
}

impl HubStream {
    fn next_from_current(&mut self) -> Option<Event> {
        let (batch, pos) = self.current.as_mut()?;
        while *pos < batch.events.len() {
            let event = &batch.events[*pos];
            *pos += 1;
            if event.kv.mod_revision >= self.start && self.range.contains(&event.kv.key) {
                return Some(event.clone());
            }
        }
        self.current = None;
        None
    }
}

impl Stream for HubStream {
    type Item = Result<Event, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(event) = this.pending.pop_front() {
            return Poll::Ready(Some(Ok(event)));
        }
        loop {
            if let Some(event) = this.next_from_current() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => this.current = Some((batch, 0)),
                Poll::Ready(None) => {
                    this.done = true;
                    if this.lagged.load(Ordering::Acquire) {
                        return Poll::Ready(Some(Err(StoreError::WatchLagged {
                            buffered: this.buffered,
                        })));
                    }
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
