//! Controller expectations, as kube-controller-manager's: after a controller asks for N pod
//! creations or deletions it does not act on that owner again until its informer has seen
//! them (or five minutes pass), so a slow watch never makes it create or delete twice.
//! After a restart there are no expectations, and the first sync works from a fresh list.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use keks_core::{Instant, SharedClock};
use parking_lot::Mutex;

/// Expectations older than this are considered met (a lost event must not wedge an owner).
const TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Default)]
struct Expected {
    adds: i64,
    /// Keys of pods whose deletion was asked for and not yet seen.
    deletes: HashSet<String>,
    set_at: Option<Instant>,
}

pub struct Expectations {
    clock: SharedClock,
    owners: Mutex<HashMap<String, Expected>>,
}

impl Expectations {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            owners: Mutex::default(),
        }
    }

    /// Whether `owner` may be synced (no outstanding creations or deletions).
    pub fn satisfied(&self, owner: &str) -> bool {
        let owners = self.owners.lock();
        match owners.get(owner) {
            None => true,
            Some(e) if e.adds <= 0 && e.deletes.is_empty() => true,
            Some(e) => e
                .set_at
                .is_some_and(|t| self.clock.now().saturating_duration_since(t) >= TTL),
        }
    }

    pub fn expect_creations(&self, owner: &str, n: i64) {
        let now = self.clock.now();
        let mut owners = self.owners.lock();
        let e = owners.entry(owner.to_string()).or_default();
        e.adds = n;
        e.deletes.clear();
        e.set_at = Some(now);
    }

    pub fn expect_deletions(&self, owner: &str, pods: impl IntoIterator<Item = String>) {
        let now = self.clock.now();
        let mut owners = self.owners.lock();
        let e = owners.entry(owner.to_string()).or_default();
        e.adds = 0;
        e.deletes = pods.into_iter().collect();
        e.set_at = Some(now);
    }

    pub fn creation_observed(&self, owner: &str) {
        if let Some(e) = self.owners.lock().get_mut(owner) {
            e.adds -= 1;
        }
    }

    pub fn deletion_observed(&self, owner: &str, pod: &str) {
        if let Some(e) = self.owners.lock().get_mut(owner) {
            e.deletes.remove(pod);
        }
    }

    pub fn forget(&self, owner: &str) {
        self.owners.lock().remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keks_core::{Clock, VirtualClock};

    #[tokio::test]
    async fn creations_and_deletions_must_be_seen_or_expire() {
        let clock = VirtualClock::new();
        let e = Expectations::new(clock.to_shared());
        assert!(e.satisfied("rs"));
        e.expect_creations("rs", 2);
        assert!(!e.satisfied("rs"));
        e.creation_observed("rs");
        assert!(!e.satisfied("rs"));
        e.creation_observed("rs");
        assert!(e.satisfied("rs"));
        e.expect_deletions("rs", ["ns/a".to_string()]);
        assert!(!e.satisfied("rs"));
        e.deletion_observed("rs", "ns/b");
        assert!(!e.satisfied("rs"));
        clock.advance(TTL).await;
        assert!(e.satisfied("rs"), "expired");
        e.expect_deletions("rs", ["ns/a".to_string()]);
        e.deletion_observed("rs", "ns/a");
        assert!(e.satisfied("rs"));
    }
}
