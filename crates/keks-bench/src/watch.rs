//! Watch fan-out: many watchers on one prefix while a writer puts at a steady rate. Each
//! value starts with the instant its put was issued (nanoseconds since the run began), so
//! every watcher measures the delay from issuing the write to receiving its event: the
//! durable commit (the event is published only once the write is on disk) plus fan-out.

use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use keks_store::{EmbeddedStore, KeyRange, Store, WatchRequest};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::stats::{self, Latency};
use crate::timing::{self, Duration, Instant};

const PREFIX: &str = "/watch/";
const STOP_KEY: &str = "/watch/~stop";

#[derive(Clone, Debug, Serialize)]
pub struct WatchResult {
    pub watchers: usize,
    pub target_rate: u32,
    pub writes: u64,
    pub write_rate: f64,
    pub events_delivered: u64,
    /// From issuing a put to a watcher receiving its event, over all watchers.
    pub delivery: Latency,
    /// From issuing a put to its acknowledgement (durable), for comparison.
    pub write: Latency,
}

fn nanos_since(base: Instant) -> u64 {
    u64::try_from(timing::since(base).as_nanos()).unwrap_or(u64::MAX)
}

pub async fn run(
    store: Arc<EmbeddedStore>,
    watchers: usize,
    rate: u32,
    duration: Duration,
    value_bytes: usize,
) -> anyhow::Result<WatchResult> {
    let base = timing::now();
    let mut watcher_tasks = JoinSet::new();
    for _ in 0..watchers {
        let mut stream = store
            .watch(WatchRequest::new(KeyRange::prefix(PREFIX)))
            .await?;
        watcher_tasks.spawn(async move {
            let mut hist = stats::histogram();
            while let Some(event) = stream.next().await {
                let event = event?;
                if event.kv.key.as_ref() == STOP_KEY.as_bytes() {
                    return anyhow::Ok(hist);
                }
                let stamp: [u8; 8] = event.kv.value[..8].try_into()?;
                let sent = u64::from_le_bytes(stamp);
                stats::record(
                    &mut hist,
                    Duration::from_nanos(nanos_since(base).saturating_sub(sent)),
                );
            }
            bail!("watch ended before the stop key")
        });
    }

    let padding = vec![b'w'; value_bytes.saturating_sub(8)];
    let mut puts = JoinSet::new();
    let mut write_hist = stats::histogram();
    let start = timing::now();
    let mut issued = 0u64;
    loop {
        let elapsed = timing::since(start);
        if elapsed >= duration {
            break;
        }
        let due = (elapsed.as_secs_f64() * f64::from(rate)) as u64;
        while issued < due {
            let mut value = BytesMut::with_capacity(8 + padding.len());
            let t0 = timing::now();
            value.put_u64_le(nanos_since(base));
            value.extend_from_slice(&padding);
            let key = Bytes::from(format!("{PREFIX}{:06}", issued % 100_000));
            let store = store.clone();
            puts.spawn(async move {
                store.put(key, value.freeze()).await?;
                anyhow::Ok(timing::since(t0))
            });
            issued += 1;
        }
        while let Some(done) = puts.try_join_next() {
            stats::record(&mut write_hist, done??);
        }
        timing::sleep(Duration::from_millis(1)).await;
    }
    while let Some(done) = puts.join_next().await {
        stats::record(&mut write_hist, done??);
    }
    let write_seconds = timing::since(start).as_secs_f64();
    store
        .put(
            Bytes::from_static(STOP_KEY.as_bytes()),
            Bytes::from_static(&[0; 8]),
        )
        .await?;

    let mut delivery = stats::histogram();
    while let Some(done) = watcher_tasks.join_next().await {
        let hist = done.context("watcher task panicked")??;
        delivery.add(&hist).expect("same histogram bounds");
    }
    Ok(WatchResult {
        watchers,
        target_rate: rate,
        writes: issued,
        write_rate: issued as f64 / write_seconds,
        events_delivered: delivery.len(),
        delivery: Latency::of(&delivery),
        write: Latency::of(&write_hist),
    })
}
