//! History compaction, as kube-apiserver asks etcd for it (`--etcd-compaction-interval`,
//! 5 minutes): at every interval the store forgets history below the revision it had at the
//! previous interval, so at least one interval of history stays for watches and
//! `resourceVersion` reads, and memory does not grow with every write ever made (a Lease
//! renewed every 10 s per node would otherwise keep every renewal). A watch that falls
//! further behind gets 410 Gone, as from kube.

use std::sync::Arc;
use std::time::Duration;

use keks_core::{ClockExt, SharedClock};
use keks_store::Store;

/// kube-apiserver's default `--etcd-compaction-interval`.
pub const COMPACTION_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Compacts the store every `interval` of the clock, for as long as the runtime runs.
pub fn spawn(store: Arc<dyn Store>, clock: SharedClock, interval: Duration) {
    tokio::spawn(async move {
        let mut previous = None;
        loop {
            clock.sleep(interval).await;
            previous = compact_once(store.as_ref(), previous).await;
        }
    });
}

/// One interval: compacts to the revision seen last time (if any); returns the revision to
/// compact to next time.
async fn compact_once(
    store: &dyn Store,
    previous: Option<keks_store::Revision>,
) -> Option<keks_store::Revision> {
    let revisions = match store.revisions().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "reading the store's revision for compaction");
            return previous;
        }
    };
    if let Some(target) = previous.filter(|&r| r > revisions.compacted) {
        if let Err(e) = store.compact(target).await {
            tracing::warn!(error = %e, revision = target, "compacting the store");
        }
    }
    Some(revisions.current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use keks_store::MemoryStore;

    #[tokio::test]
    async fn keeps_one_interval_of_history() {
        let store = MemoryStore::new();
        let first = store
            .put(Bytes::from_static(b"/k"), Bytes::from_static(b"1"))
            .await
            .unwrap();
        let next = compact_once(&store, None).await;
        assert_eq!(next, Some(first));
        assert_eq!(store.revisions().await.unwrap().compacted, 0);
        let second = store
            .put(Bytes::from_static(b"/k"), Bytes::from_static(b"2"))
            .await
            .unwrap();
        let next = compact_once(&store, next).await;
        assert_eq!(next, Some(second));
        // History below the first interval's revision is gone; the rest remains.
        assert_eq!(store.revisions().await.unwrap().compacted, first);
    }
}
