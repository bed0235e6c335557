//! The conformance suite against the embedded durable backend (with fsync on).

use std::sync::Arc;

use keks_store::conformance::Fixture;
use keks_store::{EmbeddedOptions, EmbeddedStore};

fn fresh(watch_buffer: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = EmbeddedOptions {
        watch_buffer,
        // Small segments, so the suite also runs across segment rotations and snapshots.
        segment_bytes: 4 << 10,
        ..Default::default()
    };
    let store = EmbeddedStore::open(dir.path(), options).expect("open store");
    Fixture {
        store: Arc::new(store),
        keep: Box::new(dir),
    }
}

keks_store::conformance_tests!(fresh);
