//! `Interval`: periodic ticks on a clock (the clock's `tokio::time::Interval`).

use std::future::poll_fn;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, SharedClock, Sleep};

/// Ticks every `period` on a clock. Made by [`ClockExt::interval`](super::ClockExt::interval)
/// (first tick at once) or [`ClockExt::interval_at`](super::ClockExt::interval_at).
///
/// Each tick returns its scheduled instant. The next tick is scheduled one period after the
/// previous *scheduled* one, so a late tick does not make the schedule drift; but if a tick is
/// so late that the next one is already due, the schedule restarts from the late tick (one
/// period after it) rather than firing a burst to catch up: tokio's
/// `MissedTickBehavior::Delay` when a tick was missed, no drift otherwise.
#[derive(Debug)]
pub struct Interval {
    clock: SharedClock,
    period: Duration,
    next: Instant,
    sleep: Option<Sleep>,
}

impl Interval {
    pub(super) fn new(clock: SharedClock, start: Instant, period: Duration) -> Interval {
        assert!(!period.is_zero(), "Interval period must be non-zero");
        Interval {
            clock,
            period,
            next: start,
            sleep: None,
        }
    }

    /// Waits for the next tick and returns its scheduled instant. Cancel-safe: dropping the
    /// future before it completes loses no tick.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for hand-written futures and `select!`-free loops).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let clock = &self.clock;
        let next = self.next;
        let sleep = self.sleep.get_or_insert_with(|| clock.sleep_until(next));
        if Pin::new(sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        let now = self.clock.now();
        let mut following = next.saturating_add(self.period);
        if following <= now {
            following = now.saturating_add(self.period);
        }
        self.next = following;
        Poll::Ready(next)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = self.clock.now().saturating_add(self.period);
        self.sleep = None;
    }

    /// The instant of the next tick.
    pub fn next_tick(&self) -> Instant {
        self.next
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }
}
