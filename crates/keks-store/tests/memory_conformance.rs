//! The conformance suite against the in-memory backend.

use std::sync::Arc;

use keks_store::conformance::Fixture;
use keks_store::MemoryStore;

fn fresh(watch_buffer: usize) -> Fixture {
    Fixture {
        store: Arc::new(MemoryStore::with_watch_buffer(watch_buffer)),
        keep: Box::new(()),
    }
}

keks_store::conformance_tests!(fresh);
