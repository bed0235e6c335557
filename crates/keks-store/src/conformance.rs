//! The conformance suite every store backend passes: etcd's semantics for revisions,
//! ranges, transactions, watches and compaction. A backend's tests call
//! [`conformance_tests!`](crate::conformance_tests) with a function that makes a fresh store.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use keks_core::{ClockExt, RealClock};

use crate::{
    Compare, CompareOp, CompareTarget, Event, EventKind, KeyRange, RangeRequest, Store, StoreError,
    Txn, TxnOp, TxnOpResponse, WatchRequest, WatchStream,
};

/// A store under test and whatever must live as long as it (a temporary directory).
pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub keep: Box<dyn Any + Send>,
}

/// The watch buffer (undelivered transactions) of the fixture for
/// [`lagging_watcher_is_cancelled_alone`]; the other checks get [`crate::DEFAULT_WATCH_BUFFER`].
pub const SMALL_WATCH_BUFFER: usize = 64;

/// Generates one `#[tokio::test]` per conformance check. `$make` is a function
/// `fn(watch_buffer: usize) -> Fixture` returning a fresh, empty store whose watchers are
/// cancelled after `watch_buffer` undelivered transactions.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make, $crate::DEFAULT_WATCH_BUFFER;
            put_get_and_revisions, one_revision_per_writing_txn, range_prefix_limit_count,
            range_at_past_revision, txn_compare_and_swap, txn_rejects_invalid_requests,
            delete_range, watch_from_now, watch_from_past_revision, watch_future_start,
            watch_filters_by_range, compaction, concurrent_compare_and_swap_loses_nothing,
            watch_order_under_concurrent_writers, watched_writes_are_readable);
        $crate::conformance_tests!(@each $make, $crate::conformance::SMALL_WATCH_BUFFER;
            lagging_watcher_is_cancelled_alone);
    };
    (@each $make:expr, $buffer:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let fixture: $crate::conformance::Fixture = ($make)($buffer);
                $crate::conformance::$check(&*fixture.store).await;
                drop(fixture);
            }
        )*
    };
}

fn b(s: impl Into<String>) -> Bytes {
    Bytes::from(s.into())
}

async fn next_event(w: &mut WatchStream) -> Event {
    RealClock::new()
        .timeout(Duration::from_secs(10), w.next())
        .await
        .expect("watch event within 10 s")
        .expect("watch stream open")
        .expect("watch event, not an error")
}

pub async fn put_get_and_revisions(s: &dyn Store) {
    assert_eq!(s.revisions().await.unwrap().current, 0);
    assert_eq!(s.get(b"/a").await.unwrap(), None);
    let r1 = s.put(b("/a"), b("1")).await.unwrap();
    let r2 = s.put(b("/b"), b("x")).await.unwrap();
    let r3 = s.put(b("/a"), b("2")).await.unwrap();
    assert_eq!((r1, r2, r3), (1, 2, 3));
    let a = s.get(b"/a").await.unwrap().unwrap();
    assert_eq!(a.value, b("2"));
    assert_eq!((a.create_revision, a.mod_revision, a.version), (1, 3, 2));
    let deleted = s.delete(b("/a")).await.unwrap().unwrap();
    assert_eq!(deleted.mod_revision, 3);
    assert_eq!(s.get(b"/a").await.unwrap(), None);
    assert_eq!(s.revisions().await.unwrap().current, 4);
    // Re-creating a deleted key starts a new life.
    let r5 = s.put(b("/a"), b("3")).await.unwrap();
    let a = s.get(b"/a").await.unwrap().unwrap();
    assert_eq!((a.create_revision, a.mod_revision, a.version), (r5, r5, 1));
}

pub async fn one_revision_per_writing_txn(s: &dyn Store) {
    let r = s
        .txn(Txn::new().and_then([
            TxnOp::put("k1", "v"),
            TxnOp::put("k2", "v"),
            TxnOp::put("k3", "v"),
        ]))
        .await
        .unwrap();
    assert!(r.succeeded);
    assert_eq!(r.revision, 1);
    for k in ["k1", "k2", "k3"] {
        assert_eq!(s.get(k.as_bytes()).await.unwrap().unwrap().mod_revision, 1);
    }
    // Reads and deletes of missing keys write nothing.
    let r = s
        .txn(Txn::new().and_then([TxnOp::get("k1"), TxnOp::delete("missing")]))
        .await
        .unwrap();
    assert_eq!(r.revision, 1);
    assert_eq!(s.delete(b("missing")).await.unwrap(), None);
    assert_eq!(s.revisions().await.unwrap().current, 1);
}

pub async fn range_prefix_limit_count(s: &dyn Store) {
    for i in 0..100 {
        s.put(b(format!("/reg/pods/ns/p{i:03}")), b(format!("v{i}")))
            .await
            .unwrap();
    }
    s.put(b("/reg/pods0"), b("outside")).await.unwrap();
    s.put(b("/reg/podsx"), b("outside")).await.unwrap();
    let all = s
        .range(RangeRequest::new(KeyRange::prefix("/reg/pods/")))
        .await
        .unwrap();
    assert_eq!(all.kvs.len(), 100);
    assert_eq!(all.count, 100);
    assert!(!all.more);
    assert!(
        all.kvs.windows(2).all(|w| w[0].key < w[1].key),
        "sorted by key"
    );

    let page = s
        .range(RangeRequest::new(KeyRange::prefix("/reg/pods/")).with_limit(10))
        .await
        .unwrap();
    assert_eq!((page.kvs.len(), page.count, page.more), (10, 100, true));
    assert_eq!(page.revision, 102);

    // Continue from after the last key at the same revision, as Kubernetes pagination does.
    let mut next_start = page.kvs.last().unwrap().key.to_vec();
    next_start.push(0);
    let rest = s
        .range(
            RangeRequest::new(KeyRange::prefix("/reg/pods/").starting_at(next_start))
                .at_revision(page.revision),
        )
        .await
        .unwrap();
    assert_eq!(rest.kvs.len(), 90);
    assert_eq!(rest.kvs[0].key, b("/reg/pods/ns/p010"));

    let count = s
        .range(RangeRequest::new(KeyRange::prefix("/reg/")).count_only())
        .await
        .unwrap();
    assert_eq!((count.count, count.kvs.len()), (102, 0));
    let keys = s
        .range(RangeRequest::new(KeyRange::prefix("/reg/pods/")).keys_only())
        .await
        .unwrap();
    assert!(keys
        .kvs
        .iter()
        .all(|kv| kv.value.is_empty() && kv.mod_revision > 0));
    let between = s
        .range(RangeRequest::new(KeyRange::between(
            "/reg/pods/ns/p010",
            "/reg/pods/ns/p020",
        )))
        .await
        .unwrap();
    assert_eq!(between.count, 10);
    let to_end = s
        .range(RangeRequest::new(KeyRange::between("/reg/pods0", "")))
        .await
        .unwrap();
    assert_eq!(to_end.count, 2);
}

pub async fn range_at_past_revision(s: &dyn Store) {
    let r1 = s.put(b("k"), b("one")).await.unwrap();
    let r2 = s.put(b("k"), b("two")).await.unwrap();
    let r3 = s
        .txn(Txn::new().and_then([TxnOp::delete("k")]))
        .await
        .unwrap()
        .revision;
    let at = |rev| RangeRequest::new(KeyRange::key("k")).at_revision(rev);
    assert_eq!(s.range(at(r1)).await.unwrap().kvs[0].value, b("one"));
    assert_eq!(s.range(at(r2)).await.unwrap().kvs[0].value, b("two"));
    assert!(s.range(at(r3)).await.unwrap().kvs.is_empty());
    let past = s.range(at(r1)).await.unwrap();
    assert_eq!(past.revision, r1);
    match s.range(at(r3 + 10)).await {
        Err(StoreError::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (r3 + 10, r3));
        }
        other => panic!("expected FutureRevision, got {other:?}"),
    }
}

pub async fn txn_compare_and_swap(s: &dyn Store) {
    // Create only if absent.
    let create = |v: &'static str| {
        Txn::new()
            .when([Compare::absent("obj")])
            .and_then([TxnOp::put("obj", v)])
            .or_else([TxnOp::get("obj")])
    };
    let r = s.txn(create("v1")).await.unwrap();
    assert!(r.succeeded);
    let rev = r.revision;
    let r = s.txn(create("again")).await.unwrap();
    assert!(!r.succeeded);
    match &r.responses[0] {
        TxnOpResponse::Range(got) => assert_eq!(got.kvs[0].value, b("v1")),
        other => panic!("expected a range response, got {other:?}"),
    }
    // Update guarded by mod_revision; a stale revision fails and returns the current object.
    let update = |expected, v: &'static str| {
        Txn::new()
            .when([Compare::mod_revision_is("obj", expected)])
            .and_then([TxnOp::put("obj", v)])
            .or_else([TxnOp::get("obj")])
    };
    let r = s.txn(update(rev, "v2")).await.unwrap();
    assert!(r.succeeded);
    match &r.responses[0] {
        TxnOpResponse::Put { prev } => assert_eq!(prev.as_ref().unwrap().value, b("v1")),
        other => panic!("expected a put response, got {other:?}"),
    }
    let stale = s.txn(update(rev, "v3")).await.unwrap();
    assert!(!stale.succeeded);
    assert_eq!(s.get(b"obj").await.unwrap().unwrap().value, b("v2"));
    assert_eq!(
        stale.revision, r.revision,
        "a failed compare writes nothing"
    );
    // Other compare targets.
    let cmp = |target, op| Compare {
        key: b("obj"),
        op,
        target,
    };
    let holds = |c: Compare| async move { s.txn(Txn::new().when([c])).await.unwrap().succeeded };
    assert!(holds(cmp(CompareTarget::Version(2), CompareOp::Equal)).await);
    assert!(holds(cmp(CompareTarget::Version(1), CompareOp::Greater)).await);
    assert!(holds(cmp(CompareTarget::Value(b("v2")), CompareOp::Equal)).await);
    assert!(holds(cmp(CompareTarget::Value(b("v1")), CompareOp::NotEqual)).await);
    assert!(holds(cmp(CompareTarget::CreateRevision(rev + 1), CompareOp::Less)).await);
    assert!(
        !holds(Compare {
            key: b("nope"),
            op: CompareOp::Equal,
            target: CompareTarget::Value(b("")),
        })
        .await
    );
}

pub async fn txn_rejects_invalid_requests(s: &dyn Store) {
    let dup = Txn::new().and_then([TxnOp::put("a", "1"), TxnOp::put("a", "2")]);
    assert!(matches!(
        s.txn(dup).await,
        Err(StoreError::InvalidRequest(_))
    ));
    let overlap = Txn::new().and_then([
        TxnOp::put("p/a", "1"),
        TxnOp::Delete {
            range: KeyRange::prefix("p/"),
        },
    ]);
    assert!(matches!(
        s.txn(overlap).await,
        Err(StoreError::InvalidRequest(_))
    ));
    let empty = Txn::new().and_then([TxnOp::put("", "1")]);
    assert!(matches!(
        s.txn(empty).await,
        Err(StoreError::InvalidRequest(_))
    ));
    assert_eq!(
        s.revisions().await.unwrap().current,
        0,
        "nothing was written"
    );
}

pub async fn delete_range(s: &dyn Store) {
    for k in ["/x/1", "/x/2", "/x/3", "/y/1"] {
        s.put(b(k), b("v")).await.unwrap();
    }
    let r = s
        .txn(Txn::new().and_then([TxnOp::Delete {
            range: KeyRange::prefix("/x/"),
        }]))
        .await
        .unwrap();
    assert_eq!(r.revision, 5);
    match &r.responses[0] {
        TxnOpResponse::Delete { deleted } => assert_eq!(deleted.len(), 3),
        other => panic!("expected a delete response, got {other:?}"),
    }
    let left = s
        .range(RangeRequest::new(KeyRange::between("/", "")))
        .await
        .unwrap();
    assert_eq!(left.count, 1);
}

pub async fn watch_from_now(s: &dyn Store) {
    s.put(b("/w/before"), b("0")).await.unwrap();
    let mut w = s
        .watch(WatchRequest::new(KeyRange::prefix("/w/")))
        .await
        .unwrap();
    s.put(b("/w/a"), b("1")).await.unwrap();
    s.put(b("/w/a"), b("2")).await.unwrap();
    s.delete(b("/w/a")).await.unwrap();
    let e1 = next_event(&mut w).await;
    assert_eq!(
        (e1.kind, e1.kv.mod_revision, e1.kv.version),
        (EventKind::Put, 2, 1)
    );
    assert!(e1.prev_kv.is_none());
    let e2 = next_event(&mut w).await;
    assert_eq!((e2.kind, e2.kv.value.clone()), (EventKind::Put, b("2")));
    assert_eq!(e2.prev_kv.unwrap().value, b("1"));
    let e3 = next_event(&mut w).await;
    assert_eq!((e3.kind, e3.kv.mod_revision), (EventKind::Delete, 4));
    assert_eq!(e3.prev_kv.unwrap().value, b("2"));
}

/// A watcher that reads what an event announced finds it: commits are visible to readers no
/// later than to watchers (controllers read the store right after their informer hears).
pub async fn watched_writes_are_readable(s: &dyn Store) {
    let mut w = s
        .watch(WatchRequest::new(KeyRange::prefix("/seen/")))
        .await
        .unwrap();
    let writes = 300;
    let writer = async {
        for i in 0..writes {
            s.put(b(format!("/seen/{i:04}")), b("v")).await.unwrap();
        }
    };
    let reader = async {
        for _ in 0..writes {
            let e = next_event(&mut w).await;
            let kv = s.get(&e.kv.key).await.unwrap();
            assert!(
                kv.is_some_and(|kv| kv.mod_revision >= e.kv.mod_revision),
                "a read right after the event for revision {} sees it",
                e.kv.mod_revision
            );
        }
    };
    futures::join!(writer, reader);
}

pub async fn watch_from_past_revision(s: &dyn Store) {
    s.put(b("/h/a"), b("1")).await.unwrap(); // 1
    s.txn(Txn::new().and_then([TxnOp::put("/h/b", "1"), TxnOp::put("/h/c", "1")]))
        .await
        .unwrap(); // 2
    s.delete(b("/h/a")).await.unwrap(); // 3
    let mut w = s
        .watch(WatchRequest::new(KeyRange::prefix("/h/")).from_revision(2))
        .await
        .unwrap();
    s.put(b("/h/d"), b("1")).await.unwrap(); // 4
    let got: Vec<(i64, String, EventKind)> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let e = next_event(&mut w).await;
            v.push((
                e.kv.mod_revision,
                String::from_utf8_lossy(&e.kv.key).into_owned(),
                e.kind,
            ));
        }
        v
    };
    assert_eq!(
        got,
        vec![
            (2, "/h/b".into(), EventKind::Put),
            (2, "/h/c".into(), EventKind::Put),
            (3, "/h/a".into(), EventKind::Delete),
            (4, "/h/d".into(), EventKind::Put),
        ]
    );
}

pub async fn watch_future_start(s: &dyn Store) {
    let mut w = s
        .watch(WatchRequest::new(KeyRange::prefix("/f/")).from_revision(3))
        .await
        .unwrap();
    for i in 1..=4 {
        s.put(b(format!("/f/{i}")), b("v")).await.unwrap();
    }
    assert_eq!(next_event(&mut w).await.kv.mod_revision, 3);
    assert_eq!(next_event(&mut w).await.kv.mod_revision, 4);
}

pub async fn watch_filters_by_range(s: &dyn Store) {
    let mut one = s
        .watch(WatchRequest::new(KeyRange::key("/k/1")))
        .await
        .unwrap();
    let mut pre = s
        .watch(WatchRequest::new(KeyRange::prefix("/k/2")))
        .await
        .unwrap();
    s.txn(Txn::new().and_then([
        TxnOp::put("/k/1", "a"),
        TxnOp::put("/k/2x", "b"),
        TxnOp::put("/k/3", "c"),
    ]))
    .await
    .unwrap();
    s.put(b("/k/10"), b("d")).await.unwrap();
    s.put(b("/k/1"), b("e")).await.unwrap();
    assert_eq!(next_event(&mut one).await.kv.value, b("a"));
    assert_eq!(
        next_event(&mut one).await.kv.value,
        b("e"),
        "/k/10 is not /k/1"
    );
    assert_eq!(next_event(&mut pre).await.kv.key, b("/k/2x"));
}

pub async fn compaction(s: &dyn Store) {
    for i in 1..=10 {
        s.put(b("c"), b(format!("{i}"))).await.unwrap();
    }
    s.put(b("gone"), b("x")).await.unwrap(); // 11
    s.delete(b("gone")).await.unwrap(); // 12
    s.compact(8).await.unwrap();
    let revs = s.revisions().await.unwrap();
    assert_eq!((revs.current, revs.compacted), (12, 8));
    let at = |rev| RangeRequest::new(KeyRange::key("c")).at_revision(rev);
    assert!(matches!(
        s.range(at(7)).await,
        Err(StoreError::Compacted {
            requested: 7,
            compacted: 8
        })
    ));
    assert_eq!(s.range(at(8)).await.unwrap().kvs[0].value, b("8"));
    assert_eq!(s.range(at(9)).await.unwrap().kvs[0].value, b("9"));
    assert!(matches!(
        s.watch(WatchRequest::new(KeyRange::key("c")).from_revision(5))
            .await,
        Err(StoreError::Compacted { .. })
    ));
    let mut w = s
        .watch(WatchRequest::new(KeyRange::key("c")).from_revision(9))
        .await
        .unwrap();
    assert_eq!(next_event(&mut w).await.kv.value, b("9"));
    assert!(matches!(
        s.compact(8).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        s.compact(100).await,
        Err(StoreError::FutureRevision { .. })
    ));
    s.compact(12).await.unwrap();
    assert_eq!(s.get(b"c").await.unwrap().unwrap().value, b("10"));
    assert_eq!(s.get(b"gone").await.unwrap(), None);
    assert_eq!(
        s.revisions().await.unwrap().current,
        12,
        "compaction writes no revision"
    );
}

/// A watcher that stops reading is cancelled once [`SMALL_WATCH_BUFFER`] transactions are
/// undelivered, while writes go on and a watcher that keeps up sees every event.
pub async fn lagging_watcher_is_cancelled_alone(s: &dyn Store) {
    let mut slow = s
        .watch(WatchRequest::new(KeyRange::prefix("/l/")))
        .await
        .unwrap();
    let mut fast = s
        .watch(WatchRequest::new(KeyRange::prefix("/l/")))
        .await
        .unwrap();
    let writes = 5 * SMALL_WATCH_BUFFER;
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel(0usize);
    let reader = tokio::spawn(async move {
        for seen in 1..=writes {
            next_event(&mut fast).await;
            seen_tx.send_replace(seen);
        }
    });
    for i in 0..writes {
        s.put(b(format!("/l/{i}")), b("v")).await.unwrap();
        // Keep the fast watcher within a quarter of its buffer; the slow one never reads.
        let behind_at_most = SMALL_WATCH_BUFFER / 4;
        seen_rx
            .wait_for(|seen| i + 1 - seen <= behind_at_most)
            .await
            .unwrap();
    }
    reader.await.unwrap();
    let mut delivered = 0;
    let end = loop {
        match RealClock::new()
            .timeout(Duration::from_secs(10), slow.next())
            .await
            .unwrap()
        {
            Some(Ok(_)) => delivered += 1,
            other => break other,
        }
    };
    assert!(
        matches!(end, Some(Err(StoreError::WatchLagged { .. }))),
        "got {end:?}"
    );
    assert!(
        delivered <= SMALL_WATCH_BUFFER,
        "only what was buffered before the cut"
    );
}

pub async fn concurrent_compare_and_swap_loses_nothing(s: &dyn Store) {
    s.put(b("counter"), b("0")).await.unwrap();
    let store: &dyn Store = s;
    let tasks = (0..16).map(|_| async move {
        for _ in 0..25 {
            loop {
                let kv = store.get(b"counter").await.unwrap().unwrap();
                let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                let txn = Txn::new()
                    .when([Compare::mod_revision_is("counter", kv.mod_revision)])
                    .and_then([TxnOp::put("counter", (n + 1).to_string())]);
                if store.txn(txn).await.unwrap().succeeded {
                    break;
                }
            }
        }
    });
    futures::future::join_all(tasks).await;
    let kv = s.get(b"counter").await.unwrap().unwrap();
    assert_eq!(kv.value, b("400"));
    assert_eq!(kv.version, 401);
}

pub async fn watch_order_under_concurrent_writers(s: &dyn Store) {
    let mut w = s
        .watch(WatchRequest::new(KeyRange::prefix("/o/")))
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let mut revisions = Vec::new();
        for _ in 0..160 {
            revisions.push(next_event(&mut w).await.kv.mod_revision);
        }
        revisions
    });
    let store: &dyn Store = s;
    let writers = (0..8).map(|t| async move {
        for i in 0..20 {
            store.put(b(format!("/o/{t}/{i}")), b("v")).await.unwrap();
        }
    });
    futures::future::join_all(writers).await;
    let revisions = reader.await.unwrap();
    assert_eq!(
        revisions,
        (1..=160).collect::<Vec<_>>(),
        "every revision, in order"
    );
}
