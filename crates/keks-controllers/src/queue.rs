//! The work queue of a controller, as client-go's rate-limited workqueue: keys are
//! deduplicated while queued, a key being processed is never handed to a second worker (a
//! change meanwhile re-queues it once the first is done), failed keys come back with
//! exponential backoff, and delayed adds wait on the keks clock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use keks_core::{Instant, SharedClock};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tracing::Instrument;

/// Runs a background future (the queue's delayed adds) for as long as its owner lives.
pub type Spawner = Arc<dyn Fn(Pin<Box<dyn Future<Output = ()> + Send>>) + Send + Sync>;

/// client-go's default per-item backoff: 5 ms doubling up to 1000 s.
const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1000);

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    /// Keys that need processing (queued, or re-added while processing).
    dirty: HashSet<String>,
    processing: HashSet<String>,
    failures: HashMap<String, u32>,
    /// Keys waiting for a delayed add, with the earliest deadline already scheduled.
    waiting: HashMap<String, Instant>,
}

pub struct WorkQueue {
    name: &'static str,
    state: Mutex<State>,
    ready: Notify,
    clock: SharedClock,
    spawn: Spawner,
}

impl WorkQueue {
    pub fn new(name: &'static str, clock: SharedClock, spawn: Spawner) -> Arc<Self> {
        Arc::new(Self {
            name,
            state: Mutex::default(),
            ready: Notify::new(),
            clock,
            spawn,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Queues `key` unless it is already waiting to be processed.
    pub fn add(&self, key: impl Into<String>) {
        let key = key.into();
        let mut state = self.state.lock();
        if !state.dirty.insert(key.clone()) {
            return;
        }
        if state.processing.contains(&key) {
            return; // `done` queues it again
        }
        state.queue.push_back(key);
        drop(state);
        self.ready.notify_one();
    }

    /// Queues `key` after `delay` (at once if zero). Of several delayed adds of one key, the
    /// earliest wins; later ones are dropped.
    pub fn add_after(self: &Arc<Self>, key: impl Into<String>, delay: Duration) {
        let key = key.into();
        if delay.is_zero() {
            return self.add(key);
        }
        let deadline = self.clock.now() + delay;
        {
            let mut state = self.state.lock();
            match state.waiting.get(&key) {
                Some(existing) if *existing <= deadline => return,
                _ => {
                    state.waiting.insert(key.clone(), deadline);
                }
            }
        }
        let me = self.clone();
        (self.spawn)(Box::pin(async move {
            me.clock.sleep_until(deadline).await;
            let fire = {
                let mut state = me.state.lock();
                match state.waiting.get(&key) {
                    Some(d) if *d == deadline => {
                        state.waiting.remove(&key);
                        true
                    }
                    _ => false, // an earlier add replaced this one
                }
            };
            if fire {
                me.add(key);
            }
        }));
    }

    /// Queues `key` again after its backoff, which doubles with each failure.
    pub fn add_rate_limited(self: &Arc<Self>, key: impl Into<String>) {
        let key = key.into();
        let failures = {
            let mut state = self.state.lock();
            let n = state.failures.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        self.add_after(key, backoff(failures));
    }

    /// Forgets the failures of `key` (it succeeded).
    pub fn forget(&self, key: &str) {
        self.state.lock().failures.remove(key);
    }

    pub fn failures(&self, key: &str) -> u32 {
        self.state.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Waits for the next key and marks it as being processed; call [`WorkQueue::done`]
    /// when finished with it.
    pub async fn get(&self) -> String {
        loop {
            {
                let mut state = self.state.lock();
                if let Some(key) = state.queue.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    return key;
                }
            }
            // A permit stored by an add made after the check above wakes this at once.
            self.ready.notified().await;
        }
    }

    /// Ends processing of `key`; if it was added meanwhile it is queued again.
    pub fn done(&self, key: &str) {
        let mut state = self.state.lock();
        state.processing.remove(key);
        if state.dirty.contains(key) {
            state.queue.push_back(key.to_string());
            drop(state);
            self.ready.notify_one();
        }
    }

    /// Keys queued (not processing, not delayed).
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The delay before the `failures`-th retry.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    BASE_DELAY
        .checked_mul(1u32 << exp)
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY)
}

/// The result of one reconcile.
pub type ReconcileResult = Result<Option<Duration>, crate::ControllerError>;

/// Runs `workers` workers that take keys from `queue` and reconcile them: success forgets the
/// key's failures (and re-queues it after the returned delay, if any); failure logs and
/// retries with backoff. Errors never end a worker.
pub fn run_workers<F, Fut>(
    api: &keks_apiserver::ClusterApi,
    queue: Arc<WorkQueue>,
    workers: usize,
    reconcile: F,
) where
    F: Fn(String) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ReconcileResult> + Send,
{
    for _ in 0..workers {
        let queue = queue.clone();
        let reconcile = reconcile.clone();
        api.spawn(async move {
            loop {
                let key = queue.get().await;
                let span = tracing::debug_span!("reconcile", controller = queue.name(), %key);
                // A panic in one reconcile must not take the worker down with it.
                let result = std::panic::AssertUnwindSafe(reconcile(key.clone()).instrument(span))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        Err(crate::ControllerError::Invalid("reconcile panicked".into()))
                    });
                match result {
                    Ok(requeue) => {
                        queue.forget(&key);
                        if let Some(after) = requeue {
                            queue.add_after(key.clone(), after);
                        }
                    }
                    Err(e) => {
                        let n = queue.failures(&key);
                        if n < 5 {
                            tracing::debug!(controller = queue.name(), %key, error = %e, "reconcile failed; retrying");
                        } else {
                            tracing::warn!(controller = queue.name(), %key, error = %e, "reconcile keeps failing; retrying");
                        }
                        queue.add_rate_limited(key.clone());
                    }
                }
                queue.done(&key);
            }
        });
    }
}

/// A spawner for queues of a cluster: delayed adds end with the cluster.
pub fn cluster_spawner(api: &Arc<keks_apiserver::ClusterApi>) -> Spawner {
    let api = api.clone();
    Arc::new(move |fut| api.spawn(fut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keks_core::{Clock, VirtualClock};

    fn queue(clock: &VirtualClock) -> Arc<WorkQueue> {
        WorkQueue::new(
            "test",
            clock.to_shared(),
            Arc::new(|fut| {
                tokio::spawn(fut);
            }),
        )
    }

    #[tokio::test]
    async fn dedups_queued_keys() {
        let clock = VirtualClock::new();
        let q = queue(&clock);
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, "a");
        assert_eq!(q.get().await, "b");
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_key_being_processed_is_not_handed_out_twice() {
        let clock = VirtualClock::new();
        let q = queue(&clock);
        q.add("a");
        let key = q.get().await;
        q.add("a"); // changed while processing
        assert!(q.is_empty(), "not queued while processing");
        q.add("a");
        q.done(&key);
        assert_eq!(q.len(), 1, "queued once after done");
        assert_eq!(q.get().await, "a");
        q.done("a");
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn delayed_adds_wait_on_the_clock_and_the_earliest_wins() {
        let clock = VirtualClock::new();
        let q = queue(&clock);
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(5));
        q.add_after("a", Duration::from_secs(20));
        clock.settle().await;
        assert!(q.is_empty());
        clock.advance(Duration::from_secs(5)).await;
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await, "a");
        q.done("a");
        clock.advance(Duration::from_secs(30)).await;
        assert!(q.is_empty(), "the later adds were dropped");
    }

    #[tokio::test]
    async fn retries_back_off_exponentially_until_forgotten() {
        assert_eq!(backoff(1), Duration::from_millis(5));
        assert_eq!(backoff(2), Duration::from_millis(10));
        assert_eq!(backoff(5), Duration::from_millis(80));
        assert_eq!(backoff(40), MAX_DELAY);
        let clock = VirtualClock::new();
        let q = queue(&clock);
        q.add_rate_limited("a");
        q.add_rate_limited("a");
        assert_eq!(q.failures("a"), 2);
        clock.advance(Duration::from_millis(5)).await;
        assert_eq!(q.len(), 1);
        q.forget("a");
        assert_eq!(q.failures("a"), 0);
    }

    #[tokio::test]
    async fn get_waits_for_an_add() {
        let clock = VirtualClock::new();
        let q = queue(&clock);
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.get().await });
        tokio::task::yield_now().await;
        q.add("x");
        assert_eq!(waiter.await.unwrap(), "x");
    }
}
