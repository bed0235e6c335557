//! Micro-benchmarks of the store: point reads and ranges from the in-memory index, in-memory
//! transactions, and single-writer durable puts. Whole-run numbers (concurrent durable
//! writers, watch fan-out, etcd side by side) come from the `keks-bench` binary; both are
//! recorded in BENCHMARKS.md.
//!
//! Measurement times are short on purpose: `cargo bench -p keks-store` takes about a minute.

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use keks_store::{
    EmbeddedOptions, EmbeddedStore, KeyRange, MemoryStore, RangeRequest, Store, Txn, TxnOp,
};

const POINT_KEYS: usize = 100_000;

fn key(prefix: &str, i: usize) -> Bytes {
    Bytes::from(format!("{prefix}{i:08}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A memory store holding `n` keys under `prefix` with `value_bytes`-byte values, each its
/// own allocation as in a real store (a shared `Bytes` would make reads contend on one
/// refcount).
fn fill(store: &MemoryStore, prefix: &str, n: usize, value_bytes: usize) {
    let value = vec![b'v'; value_bytes];
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let ops = chunk
            .iter()
            .map(|&i| TxnOp::put(key(prefix, i), Bytes::copy_from_slice(&value)));
        store.txn_now(&Txn::new().and_then(ops)).expect("fill");
    }
}

fn point_reads(c: &mut Criterion) {
    let store = MemoryStore::new();
    fill(&store, "/p/", POINT_KEYS, 256);
    let requests: Vec<RangeRequest> = (0..POINT_KEYS)
        .map(|i| {
            RangeRequest::new(KeyRange::key(key(
                "/p/",
                i.wrapping_mul(7_919) % POINT_KEYS,
            )))
        })
        .collect();

    let mut group = c.benchmark_group("point_get_100k_keys");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("memory_range_now", |b| {
        b.iter(|| {
            i = (i + 1) % POINT_KEYS;
            let response = store.range_now(&requests[i]).expect("get");
            assert_eq!(response.kvs.len(), 1);
        })
    });
    let rt = runtime();
    let mut i = 0;
    group.bench_function("memory_trait_get", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % POINT_KEYS;
            let k = requests[i].range.start.clone();
            let store = &store;
            async move {
                assert!(store.get(&k).await.expect("get").is_some());
            }
        })
    });
    group.finish();
}

fn memory_txn_put(c: &mut Criterion) {
    let store = MemoryStore::new();
    let value = Bytes::from(vec![b'v'; 2048]);
    let mut group = c.benchmark_group("memory_txn_put");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("2KiB_value", |b| {
        b.iter(|| {
            i = (i + 1) % POINT_KEYS;
            let txn = Txn::new().and_then([TxnOp::put(key("/w/", i), value.clone())]);
            store.txn_now(&txn).expect("put");
        })
    });
    group.finish();
}

fn ranges(c: &mut Criterion) {
    let store = MemoryStore::new();
    fill(&store, "/r10k/", 10_000, 256);
    fill(&store, "/r100k/", 100_000, 256);
    let mut group = c.benchmark_group("range_prefix");
    for (n, prefix) in [(10_000u64, "/r10k/"), (100_000, "/r100k/")] {
        let req = RangeRequest::new(KeyRange::prefix(prefix));
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("memory_range_now", n), &req, |b, req| {
            b.iter(|| {
                let response = store.range_now(req).expect("range");
                assert_eq!(response.kvs.len() as u64, n);
            })
        });
    }
    group.finish();
}

fn durable_put(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open");
    let rt = runtime();
    let value = Bytes::from(vec![b'v'; 2048]);
    let mut group = c.benchmark_group("durable_put");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("1_writer_2KiB_fsync", |b| {
        b.to_async(&rt).iter_batched(
            || {
                i += 1;
                key("/d/", i)
            },
            |k| {
                let store = &store;
                let value = value.clone();
                async move {
                    store.put(k, value).await.expect("put");
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    store.close();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = point_reads, memory_txn_put, ranges, durable_put
}
criterion_main!(benches);
