//! Reads from the embedded store's in-memory index: point gets (synchronous `range_now` on
//! plain threads, and the async `Store` trait on tokio) and full prefix ranges.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::ensure;
use bytes::Bytes;
use keks_store::{EmbeddedStore, KeyRange, RangeRequest, Store, Txn, TxnOp};
use serde::Serialize;

use crate::timing::{self, Duration};

/// Point reads go to keys `/pods/<i>`, ranges read `/nodes/` (10,000 keys) and `/pods/`.
pub const POINT_PREFIX: &str = "/pods/";
pub const SMALL_RANGE_PREFIX: &str = "/nodes/";

pub fn key(prefix: &str, i: usize) -> Bytes {
    Bytes::from(format!("{prefix}{i:08}"))
}

/// Writes `n` keys under `prefix`, 1,000 to a transaction. Every value is its own allocation,
/// as in a real store (one shared `Bytes` would make every read bump one contended refcount).
pub async fn fill(
    store: &EmbeddedStore,
    prefix: &str,
    n: usize,
    value: &[u8],
) -> anyhow::Result<()> {
    for start in (0..n).step_by(1_000) {
        let ops = (start..(start + 1_000).min(n))
            .map(|i| TxnOp::put(key(prefix, i), Bytes::copy_from_slice(value)));
        store.txn(Txn::new().and_then(ops)).await?;
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize)]
pub struct PointReads {
    pub threads: usize,
    pub reads: u64,
    pub seconds: f64,
    pub reads_per_sec: f64,
}

/// A scrambled order over `keys` keys, so reads do not walk the index in order.
fn requests(keys: usize) -> Vec<RangeRequest> {
    (0..keys)
        .map(|i| {
            RangeRequest::new(KeyRange::key(key(
                POINT_PREFIX,
                i.wrapping_mul(7_919) % keys,
            )))
        })
        .collect()
}

/// Point reads through the synchronous `range_now` on `threads` plain threads (not the
/// runtime's: it only waits out the duration meanwhile).
pub async fn point_sync(
    store: &Arc<EmbeddedStore>,
    keys: usize,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<PointReads> {
    let requests = Arc::new(requests(keys));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let start = timing::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (store, requests, stop, total) =
                (store.clone(), requests.clone(), stop.clone(), total.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut i = t * requests.len() / threads.max(1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        i = if i + 1 == requests.len() { 0 } else { i + 1 };
                        let response = store.range_now(&requests[i])?;
                        ensure!(response.kvs.len() == 1, "point read found nothing");
                    }
                    n += 256;
                }
                total.fetch_add(n, Ordering::Relaxed);
                Ok(())
            })
        })
        .collect();
    timing::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .try_for_each(|handle| handle.join().expect("reader thread panicked"))
    })
    .await??;
    let seconds = timing::since(start).as_secs_f64();
    let reads = total.load(Ordering::Relaxed);
    Ok(PointReads {
        threads,
        reads,
        seconds,
        reads_per_sec: reads as f64 / seconds,
    })
}

/// Point reads through the async `Store::get` on `tasks` tokio tasks.
pub async fn point_async(
    store: &Arc<EmbeddedStore>,
    keys: usize,
    tasks: usize,
    duration: Duration,
) -> anyhow::Result<PointReads> {
    let requests = Arc::new(requests(keys));
    let stop = Arc::new(AtomicBool::new(false));
    let start = timing::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, requests, stop) = (store.clone(), requests.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = t * requests.len() / tasks.max(1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        i = if i + 1 == requests.len() { 0 } else { i + 1 };
                        let found = store.get(&requests[i].range.start).await?;
                        ensure!(found.is_some(), "point read found nothing");
                    }
                    n += 256;
                    // Let the timer task that sets `stop` run on a busy runtime.
                    tokio::task::yield_now().await;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    timing::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    for handle in handles {
        reads += handle.await??;
    }
    let seconds = timing::since(start).as_secs_f64();
    Ok(PointReads {
        threads: tasks,
        reads,
        seconds,
        reads_per_sec: reads as f64 / seconds,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct RangeResult {
    pub keys: usize,
    pub iterations: u32,
    pub mean_ms: f64,
    pub min_ms: f64,
    pub keys_per_sec: f64,
}

/// Full reads of `prefix` (holding `keys` keys), repeated for about `budget`, at least 3
/// times.
pub fn range(
    store: &EmbeddedStore,
    prefix: &str,
    keys: usize,
    budget: Duration,
) -> anyhow::Result<RangeResult> {
    let req = RangeRequest::new(KeyRange::prefix(Bytes::copy_from_slice(prefix.as_bytes())));
    let start = timing::now();
    let mut iterations = 0u32;
    let mut min = Duration::MAX;
    while iterations < 3 || timing::since(start) < budget {
        let t0 = timing::now();
        let response = store.range_now(&req)?;
        let found = response.kvs.len();
        drop(response);
        let took = timing::since(t0);
        ensure!(
            found == keys,
            "range of {prefix} returned {found} keys, not {keys}"
        );
        min = min.min(took);
        iterations += 1;
    }
    let mean = timing::since(start).as_secs_f64() / f64::from(iterations);
    Ok(RangeResult {
        keys,
        iterations,
        mean_ms: mean * 1e3,
        min_ms: min.as_secs_f64() * 1e3,
        keys_per_sec: keys as f64 / mean,
    })
}
