//! An acknowledged write survives `kill -9`. This test binary runs itself as a writer child
//! (`crash_writer_child`, active only when `KEKS_CRASH_WRITER_DIR` is set), SIGKILLs it at a
//! random moment mid-stream, reopens the store and checks every write the child reported
//! as acknowledged; 100 rounds on one data directory (set `KEKS_CRASH_ROUNDS` to change).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use keks_store::{EmbeddedOptions, EmbeddedStore, Store, Txn, TxnOp};
use rand::Rng;

const CHILD_DIR: &str = "KEKS_CRASH_WRITER_DIR";
const CHILD_ROUND: &str = "KEKS_CRASH_WRITER_ROUND";
const WRITERS: usize = 8;

/// Small segments, so rotations and snapshots happen inside the crash windows too.
fn options() -> EmbeddedOptions {
    EmbeddedOptions {
        segment_bytes: 256 << 10,
        ..Default::default()
    }
}

/// The value written under `key`: derived from the key, 200 to 3,000 bytes.
fn expected_value(key: &str) -> Bytes {
    let len = 200
        + key
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
            % 2_800;
    Bytes::from(key.repeat(len / key.len() + 1)[..len].to_string())
}

#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return; // run directly by the test harness: nothing to do
    };
    let round: usize = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Arc::new(EmbeddedStore::open(&dir, options()).expect("open store"));
        let writers = (0..WRITERS).map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("r{round:03}-t{t}-{i:06}");
                    let counter = format!("r{round:03}-t{t}-last");
                    // One transaction: a new key, and the writer's counter overwritten.
                    let txn = Txn::new().and_then([
                        TxnOp::put(key.clone(), expected_value(&key)),
                        TxnOp::put(counter, i.to_string()),
                    ]);
                    let revision = store.txn(txn).await.expect("write").revision;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {key} {revision}").unwrap();
                    out.flush().unwrap();
                }
            })
        });
        futures::future::join_all(writers).await;
    });
}

#[derive(Clone, Debug)]
struct Ack {
    key: String,
    revision: i64,
}

fn run_child_until_killed(dir: &Path, round: usize, rng: &mut impl Rng) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer child");
    let acks = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap();
    let reader = {
        let acks = acks.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split_whitespace();
                if parts.next() != Some("ack") {
                    continue;
                }
                let key = parts.next().unwrap().to_string();
                let revision = parts.next().unwrap().parse().unwrap();
                acks.lock().unwrap().push(Ack { key, revision });
            }
        })
    };
    // Wait for the child to be writing, then kill it at a random moment.
    for _ in 0..1_000 {
        if !acks.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(rng.gen_range(0..60)));
    child.kill().expect("SIGKILL the writer");
    child.wait().unwrap();
    reader.join().unwrap();
    let acks = acks.lock().unwrap().clone();
    acks
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let rounds: usize = std::env::var("KEKS_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut all_acks: Vec<Ack> = Vec::new();
    let mut previous_head = 0;
    let mut torn_tails = 0;
    for round in 0..rounds {
        let acks = run_child_until_killed(dir.path(), round, &mut rng);
        assert!(
            !acks.is_empty(),
            "round {round}: the writer acknowledged nothing"
        );

        let store = EmbeddedStore::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("round {round}: reopening after kill -9 failed: {e}"));
        torn_tails += usize::from(store.opened().torn_tail.is_some());
        let head = store.revisions().await.unwrap().current;
        let newest_ack = acks.iter().map(|a| a.revision).max().unwrap();
        assert!(
            head >= newest_ack,
            "round {round}: head {head} is behind acknowledged revision {newest_ack}"
        );
        let oldest_ack = acks.iter().map(|a| a.revision).min().unwrap();
        assert!(
            oldest_ack > previous_head,
            "round {round}: revisions went backwards ({oldest_ack} <= {previous_head})"
        );
        previous_head = head;

        all_acks.extend(acks);
        // Every acknowledged write so far, this round's and every earlier round's.
        for ack in &all_acks {
            let kv = store
                .get(ack.key.as_bytes())
                .await
                .unwrap()
                .unwrap_or_else(|| {
                    panic!("round {round}: acknowledged key {} is missing", ack.key)
                });
            assert_eq!(
                kv.value,
                expected_value(&ack.key),
                "round {round}: value of {}",
                ack.key
            );
            assert_eq!(
                kv.mod_revision, ack.revision,
                "round {round}: revision of {}",
                ack.key
            );
        }
        // Each writer's counter is at least its last acknowledged write.
        for t in 0..WRITERS {
            let prefix = format!("r{round:03}-t{t}-");
            let Some(last) = all_acks
                .iter()
                .filter(|a| a.key.starts_with(&prefix))
                .map(|a| a.key[prefix.len()..].parse::<u64>().unwrap())
                .max()
            else {
                continue;
            };
            let counter = store
                .get(format!("{prefix}last").as_bytes())
                .await
                .unwrap()
                .unwrap();
            let value: u64 = std::str::from_utf8(&counter.value)
                .unwrap()
                .parse()
                .unwrap();
            assert!(value >= last, "round {round}: writer {t}'s counter {value} is behind its acknowledged write {last}");
        }
        drop(store);
    }
    eprintln!(
        "{rounds} rounds, {} acknowledged writes checked, {torn_tails} torn tails cut off",
        all_acks.len()
    );
}
