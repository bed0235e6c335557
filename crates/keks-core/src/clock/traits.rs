//! The `Clock` trait every time-dependent part of keks takes, `SharedClock`, and `ClockExt`
//! (sleep, timeout, interval, wall-time helpers) built on it.

use std::fmt;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Hold, Instant, Interval, Sleep, Timeout, WithHold};

/// A source of time: what keks reads, sleeps and times out on instead of `std::time` and
/// `tokio::time`.
///
/// Two implementations: [`RealClock`](super::RealClock) (tokio's timers, the OS wall clock)
/// and [`VirtualClock`](super::VirtualClock) (time moves only when told, or jumps to the next
/// timer when the system is idle). Take a [`SharedClock`] and use the helpers of
/// [`ClockExt`] (`sleep`, `timeout`, `interval`, ...), which every clock has.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current monotonic time. Never goes backwards.
    fn now(&self) -> Instant;

    /// The current wall-clock time. For the virtual clock: its epoch plus the virtual time
    /// elapsed. Use for timestamps users see (creation times, AWS epoch seconds), never for
    /// measuring intervals.
    fn wall(&self) -> SystemTime;

    /// A future that completes once [`now`](Clock::now) has reached `deadline`; at once if it
    /// already has.
    fn sleep_until(&self, deadline: Instant) -> Sleep;

    /// Marks work in progress that is not waiting on this clock (I/O, blocking threads, other
    /// runtimes) for as long as the returned guard lives. The virtual clock does not
    /// auto-advance while any hold is alive; on the real clock it does nothing.
    fn hold(&self) -> Hold;

    /// This clock as a [`SharedClock`] (a cheap handle to the same timeline).
    fn to_shared(&self) -> SharedClock;
}

/// The clock as passed around keks: one timeline shared by everything that uses it.
pub type SharedClock = Arc<dyn Clock>;

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }

    fn wall(&self) -> SystemTime {
        (**self).wall()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        (**self).sleep_until(deadline)
    }

    fn hold(&self) -> Hold {
        (**self).hold()
    }

    fn to_shared(&self) -> SharedClock {
        (**self).to_shared()
    }
}

/// Helpers every [`Clock`] has (including `dyn Clock` and [`SharedClock`]): the
/// `tokio::time` toolbox, on the clock's timeline.
pub trait ClockExt: Clock {
    /// A future that completes `duration` after now. A duration that would overflow sleeps
    /// until [`Instant::MAX`], that is, forever.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now().saturating_add(duration))
    }

    /// Runs `future` with a time limit of `duration` from now: `Ok(output)` if it completes
    /// first, `Err(Elapsed)` once the limit is reached. `future` is polled before the timer,
    /// so a future that is ready when the limit is reached still wins.
    fn timeout<F: IntoFuture>(&self, duration: Duration, future: F) -> Timeout<F::IntoFuture> {
        Timeout::new(future.into_future(), self.sleep(duration))
    }

    /// [`timeout`](ClockExt::timeout) with an absolute deadline.
    fn timeout_at<F: IntoFuture>(&self, deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
        Timeout::new(future.into_future(), self.sleep_until(deadline))
    }

    /// Ticks every `period`, the first tick at once (as `tokio::time::interval`). A tick that
    /// comes late by a whole period or more pushes the schedule back (see [`Interval`]).
    /// Panics if `period` is zero.
    fn interval(&self, period: Duration) -> Interval {
        Interval::new(self.to_shared(), self.now(), period)
    }

    /// [`interval`](ClockExt::interval) whose first tick is at `start`.
    fn interval_at(&self, start: Instant, period: Duration) -> Interval {
        Interval::new(self.to_shared(), start, period)
    }

    /// Runs `future` holding a [`Hold`] until it completes: for non-clock work (I/O) the
    /// virtual clock must not skip time over.
    fn with_hold<F: IntoFuture>(&self, future: F) -> WithHold<F::IntoFuture> {
        WithHold::new(future.into_future(), self.hold())
    }

    /// Wall time as the signed duration since the Unix epoch, in seconds with fraction (the
    /// form of AWS timestamps).
    fn wall_unix_seconds_f64(&self) -> f64 {
        match self.wall().duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_secs_f64(),
            Err(before) => -before.duration().as_secs_f64(),
        }
    }

    /// Wall time as whole seconds since the Unix epoch (0 before it).
    fn wall_unix_seconds(&self) -> u64 {
        self.wall()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Monotonic time elapsed since `earlier` (zero if `earlier` is in the future).
    fn elapsed_since(&self, earlier: Instant) -> Duration {
        self.now().saturating_duration_since(earlier)
    }
}

impl<C: Clock + ?Sized> ClockExt for C {}
