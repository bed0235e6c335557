//! The virtual clock's auto-advance driver: the task that jumps time to the next timer once
//! the runtime has settled and no hold is alive.

use std::sync::{Arc, Weak};

use tokio::sync::Notify;

use super::timers::{DriverStep, Shared};

/// Consecutive `yield_now` rounds without clock activity after which the runtime counts as
/// settled. On tokio a yielded task runs again only once the run queue has drained (or after
/// 61 other polls), so each quiet round means the ready tasks ran and touched no timer or hold.
pub(super) const SETTLE_ROUNDS: u32 = 4;

/// Starts the driver on the current tokio runtime unless one is running. Panics outside a
/// runtime.
pub(super) fn start(shared: &Arc<Shared>) {
    if let Some(token) = shared.claim_driver() {
        let weak = Arc::downgrade(shared);
        let wake = shared.driver_wake.clone();
        tokio::spawn(drive(weak, wake, token));
    }
}

/// Yields to the runtime until `generation` has stayed put for [`SETTLE_ROUNDS`] rounds in a
/// row. `None` if the clock is gone.
pub(super) async fn settle(weak: &Weak<Shared>) -> Option<()> {
    let mut generation = weak.upgrade()?.generation();
    let mut quiet = 0;
    while quiet < SETTLE_ROUNDS {
        tokio::task::yield_now().await;
        let now_generation = weak.upgrade()?.generation();
        if now_generation == generation {
            quiet += 1;
        } else {
            generation = now_generation;
            quiet = 0;
        }
    }
    Some(())
}

/// The driver loop. Holds only a `Weak` to the clock, so dropping every handle, sleep and
/// hold of the clock ends it; `stop_auto_advance` ends it through the token.
async fn drive(weak: Weak<Shared>, wake: Arc<Notify>, token: u64) {
    'jump: loop {
        let Some(shared) = weak.upgrade() else { return };
        let mut generation = match shared.driver_step(token) {
            DriverStep::Stop => return,
            DriverStep::Park => {
                drop(shared);
                wake.notified().await;
                continue 'jump;
            }
            DriverStep::Ready(generation) => generation,
        };
        drop(shared);

        let mut quiet = 0;
        while quiet < SETTLE_ROUNDS {
            tokio::task::yield_now().await;
            let Some(shared) = weak.upgrade() else { return };
            match shared.driver_step(token) {
                DriverStep::Stop => return,
                DriverStep::Park => continue 'jump,
                DriverStep::Ready(now_generation) if now_generation == generation => quiet += 1,
                DriverStep::Ready(now_generation) => {
                    generation = now_generation;
                    quiet = 0;
                }
            }
        }

        let Some(shared) = weak.upgrade() else { return };
        if let Some(now) = shared.driver_fire(token, generation) {
            tracing::trace!(%now, "virtual clock auto-advanced");
        }
    }
}
