//! Durable writes: `writers` tasks each doing sequential puts of distinct keys for a fixed
//! time, against the embedded store or etcd. Reports writes/s and per-write latency.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use keks_store::{EmbeddedStore, Store};
use serde::Serialize;

use crate::etcd::EtcdClient;
use crate::stats::{self, Latency};
use crate::timing::{self, Duration};

/// Where the writes go.
pub enum Target {
    Keks(Arc<EmbeddedStore>),
    Etcd(EtcdClient),
}

impl Target {
    async fn put(&self, key: Bytes, value: Bytes) -> anyhow::Result<()> {
        match self {
            Target::Keks(store) => {
                store.put(key, value).await?;
            }
            Target::Etcd(client) => {
                client.put(key, value).await?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WriteResult {
    pub writers: usize,
    pub writes: u64,
    pub seconds: f64,
    pub writes_per_sec: f64,
    pub latency: Latency,
}

/// Runs `writers` concurrent writers for `duration`; keys are `/bench/<run>/w<n>/<seq>`.
pub async fn run(
    target: Arc<Target>,
    run: &str,
    writers: usize,
    value: Bytes,
    duration: Duration,
) -> anyhow::Result<WriteResult> {
    let start = timing::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let target = target.clone();
        let value = value.clone();
        let prefix = format!("/bench/{run}/w{w:03}/");
        tasks.push(tokio::spawn(async move {
            let mut hist = stats::histogram();
            let mut n = 0u64;
            loop {
                let t0 = timing::now();
                if t0 >= deadline {
                    break;
                }
                let key = Bytes::from(format!("{prefix}{n:010}"));
                target.put(key, value.clone()).await?;
                stats::record(&mut hist, timing::since(t0));
                n += 1;
            }
            anyhow::Ok((n, hist))
        }));
    }
    let mut writes = 0;
    let mut hist = stats::histogram();
    for task in tasks {
        let (n, h) = task.await.context("writer task panicked")??;
        writes += n;
        hist.add(&h).expect("same histogram bounds");
    }
    let seconds = timing::since(start).as_secs_f64();
    Ok(WriteResult {
        writers,
        writes,
        seconds,
        writes_per_sec: writes as f64 / seconds,
        latency: Latency::of(&hist),
    })
}
