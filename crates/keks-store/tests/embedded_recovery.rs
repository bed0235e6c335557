//! Recovery of the embedded backend: reopen after close, snapshots and log rotation, a torn
//! log tail, corruption in the middle of the log, and the directory lock.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use keks_store::{
    EmbeddedOptions, EmbeddedStore, KeyRange, OpenError, RangeRequest, Store, Txn, TxnOp,
};

fn options(segment_bytes: u64) -> EmbeddedOptions {
    EmbeddedOptions {
        segment_bytes,
        ..Default::default()
    }
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

fn value(i: usize) -> Bytes {
    Bytes::from(format!("value-{i}-").repeat(20))
}

#[tokio::test]
async fn reopen_keeps_keys_revisions_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
        for i in 0..50 {
            s.put(Bytes::from(format!("/k/{i}")), value(i))
                .await
                .unwrap();
        }
        s.put(Bytes::from_static(b"/k/0"), Bytes::from_static(b"changed"))
            .await
            .unwrap();
        s.delete(Bytes::from_static(b"/k/1")).await.unwrap();
        s.compact(10).await.unwrap();
    }
    let s = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
    assert_eq!(s.opened().replayed_records, 53);
    let revs = s.revisions().await.unwrap();
    assert_eq!((revs.current, revs.compacted), (52, 10));
    let k0 = s.get(b"/k/0").await.unwrap().unwrap();
    assert_eq!(
        (
            k0.value.as_ref(),
            k0.create_revision,
            k0.mod_revision,
            k0.version
        ),
        (&b"changed"[..], 1, 51, 2)
    );
    assert_eq!(s.get(b"/k/1").await.unwrap(), None);
    let old = s
        .range(RangeRequest::new(KeyRange::key("/k/0")).at_revision(20))
        .await
        .unwrap();
    assert_eq!(old.kvs[0].value, value(0));
    assert_eq!(
        s.put(Bytes::from_static(b"/k/new"), value(0))
            .await
            .unwrap(),
        53
    );
}

#[tokio::test]
async fn snapshots_bound_the_log_and_keep_history() {
    let dir = tempfile::tempdir().unwrap();
    let total = 2_000;
    {
        let s = EmbeddedStore::open(dir.path(), options(32 << 10)).unwrap();
        for i in 0..total {
            s.put(Bytes::from(format!("/s/{}", i % 300)), value(i))
                .await
                .unwrap();
        }
        // Closing waits for a running snapshot.
    }
    let snaps = files(dir.path(), ".snap");
    assert_eq!(snaps.len(), 1, "older snapshots are removed: {snaps:?}");
    let segments = files(dir.path(), ".log");
    assert!(
        segments.len() <= 3,
        "older segments are removed: {segments:?}"
    );

    let s = EmbeddedStore::open(dir.path(), options(32 << 10)).unwrap();
    assert!(s.opened().snapshot_revision.is_some());
    assert_eq!(s.revisions().await.unwrap().current, total as i64);
    for k in 0..300 {
        let last_write = (0..total).rev().find(|i| i % 300 == k).unwrap();
        let kv = s.get(format!("/s/{k}").as_bytes()).await.unwrap().unwrap();
        assert_eq!(kv.value, value(last_write));
        assert_eq!(kv.mod_revision, last_write as i64 + 1);
        assert_eq!(kv.create_revision, k as i64 + 1);
    }
    // History before the snapshot survives too: read an early revision.
    let early = s
        .range(RangeRequest::new(KeyRange::key("/s/0")).at_revision(1))
        .await
        .unwrap();
    assert_eq!(early.kvs[0].value, value(0));
}

#[tokio::test]
async fn torn_tail_is_cut_off_and_writing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
        for i in 0..10 {
            s.put(Bytes::from(format!("/t/{i}")), value(i))
                .await
                .unwrap();
        }
    }
    let segment = files(dir.path(), ".log").pop().unwrap();
    let len = fs::metadata(&segment).unwrap().len();
    // Cut the last record in half, as a crash during its write would.
    let file = fs::OpenOptions::new().write(true).open(&segment).unwrap();
    file.set_len(len - 100).unwrap();
    drop(file);

    let s = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
    let torn = s.opened().torn_tail.clone().expect("torn tail reported");
    assert!(torn.contains(&segment.display().to_string()), "{torn}");
    assert_eq!(s.revisions().await.unwrap().current, 9);
    assert_eq!(s.get(b"/t/9").await.unwrap(), None);
    assert_eq!(
        s.put(Bytes::from_static(b"/t/next"), value(1))
            .await
            .unwrap(),
        10
    );
    drop(s);
    let s = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
    assert!(
        s.opened().torn_tail.is_none(),
        "the torn tail was truncated on the first open"
    );
    assert_eq!(s.get(b"/t/next").await.unwrap().unwrap().mod_revision, 10);
}

#[tokio::test]
async fn corruption_in_the_middle_is_refused_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
        let ops: Vec<TxnOp> = (0..5)
            .map(|i| TxnOp::put(format!("/c/{i}"), value(i)))
            .collect();
        for _ in 0..20 {
            s.txn(Txn::new().and_then(ops.clone())).await.unwrap();
        }
    }
    let segment = files(dir.path(), ".log").pop().unwrap();
    let mut data = fs::read(&segment).unwrap();
    let middle = data.len() / 2;
    for b in &mut data[middle..middle + 4] {
        *b ^= 0xA5;
    }
    fs::write(&segment, &data).unwrap();
    let before = data.clone();

    let err = match EmbeddedStore::open(dir.path(), options(64 << 20)) {
        Err(e) => e,
        Ok(_) => panic!("a corrupt log must be refused"),
    };
    match &err {
        OpenError::CorruptLog { file, offset, .. } => {
            assert_eq!(file, &segment);
            assert!(
                *offset <= middle as u64 && *offset > 0,
                "offset {offset} near {middle}"
            );
        }
        other => panic!("expected CorruptLog, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&segment.display().to_string()) && message.contains("offset"),
        "{message}"
    );
    assert_eq!(
        fs::read(&segment).unwrap(),
        before,
        "the log is left untouched, not truncated"
    );
}

#[tokio::test]
async fn a_locked_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
    let err = match EmbeddedStore::open(dir.path(), options(64 << 20)) {
        Err(e) => e,
        Ok(_) => panic!("a second open must be refused"),
    };
    let message = err.to_string();
    assert!(matches!(err, OpenError::Locked { .. }), "{message}");
    assert!(
        message.contains("in use by another keks process"),
        "{message}"
    );
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    drop(first);
    EmbeddedStore::open(dir.path(), options(64 << 20)).expect("free once the first closed");
}

#[tokio::test]
async fn writes_after_close_fail_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStore::open(dir.path(), options(64 << 20)).unwrap();
    s.put(Bytes::from_static(b"k"), value(1)).await.unwrap();
    s.close();
    assert!(matches!(
        s.put(Bytes::from_static(b"k"), value(2)).await,
        Err(keks_store::StoreError::Closed)
    ));
    assert!(matches!(
        s.compact(1).await,
        Err(keks_store::StoreError::Closed)
    ));
    assert_eq!(
        s.get(b"k").await.unwrap().unwrap().value,
        value(1),
        "reads still work"
    );
}
