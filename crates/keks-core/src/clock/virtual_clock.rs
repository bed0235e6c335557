//! `VirtualClock`: the clock of tests and simulations, whose time moves only when told to
//! (`advance`) or, with auto-advance, jumps to the next timer when the system is idle.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::auto_advance;
use super::timers::{AdvanceStep, Shared, TimerSleep};
use super::{Clock, Hold, Instant, SharedClock, Sleep};

/// A clock whose time moves only when told to: by [`advance`](VirtualClock::advance) and
/// friends, or — after [`start_auto_advance`](VirtualClock::start_auto_advance) — by a driver
/// task that jumps to the earliest pending timer whenever the runtime is idle.
///
/// Starts at [`Instant::ZERO`]; its wall time is a fixed epoch (by default
/// 2024-01-01T00:00:00Z, see [`with_epoch`](VirtualClock::with_epoch)) plus the virtual time
/// elapsed. Cloning is cheap and every clone (and every `SharedClock` made from it) is the
/// same clock.
///
/// # Timers
///
/// A [`Sleep`] registers a timer on its first poll, keeps its waker current on later polls
/// and removes the timer when dropped, so cancelled sleeps neither leak nor hold time back.
/// Timers fire in deadline order, ties in registration order, and a woken sleeper always sees
/// `now() >= deadline` (exactly `deadline` unless time was moved further in one go).
///
/// # Auto-advance
///
/// The driver jumps time to the earliest pending deadline and fires its timers when all of
/// these hold: at least one timer is pending; no [`Hold`] is alive; and the runtime has
/// *settled* — the driver did [`SETTLE_ROUNDS`](Self::SETTLE_ROUNDS) `yield_now` rounds in
/// a row during which no timer was registered, fired or cancelled, no hold was taken or
/// released and time did not move. Then it repeats (one deadline per jump, so sleepers woken
/// at one deadline can schedule earlier follow-ups than the next one). With no timer pending,
/// or while a hold is alive, it parks without using the CPU.
///
/// On a **current-thread** runtime this is deterministic: a yielded task runs again only
/// after the run queue has drained, so the driver fires only once every task that could run
/// has run and is waiting on the clock (or on something else the clock cannot see). The
/// jumps, and so the whole run, then depend only on the program. On a multi-thread runtime
/// the same rule applies but other workers run concurrently, so it is best effort.
///
/// What the clock cannot see, it cannot wait for: a task doing real I/O, waiting on a
/// blocking thread (`spawn_blocking`), another runtime or an OS timer must take a
/// [`Clock::hold`] for the duration (or wrap the future in
/// [`ClockExt::with_hold`](super::ClockExt::with_hold)), or time may jump while it works.
/// Holds only gate auto-advance; manual `advance` ignores them.
#[derive(Clone)]
pub struct VirtualClock {
    shared: Arc<Shared>,
}

impl VirtualClock {
    /// The default wall-clock epoch, 2024-01-01T00:00:00Z, in seconds since the Unix epoch.
    pub const DEFAULT_EPOCH_UNIX_SECS: u64 = 1_704_067_200;

    /// Quiet `yield_now` rounds after which the runtime counts as settled.
    pub const SETTLE_ROUNDS: u32 = auto_advance::SETTLE_ROUNDS;

    /// A virtual clock at [`Instant::ZERO`], wall time 2024-01-01T00:00:00Z, no auto-advance.
    pub fn new() -> VirtualClock {
        VirtualClock::with_epoch(UNIX_EPOCH + Duration::from_secs(Self::DEFAULT_EPOCH_UNIX_SECS))
    }

    /// A virtual clock whose wall time at [`Instant::ZERO`] is `epoch`.
    pub fn with_epoch(epoch: SystemTime) -> VirtualClock {
        VirtualClock {
            shared: Shared::new(epoch),
        }
    }

    /// A new virtual clock with auto-advance running on the current tokio runtime. Panics
    /// outside a runtime.
    pub fn new_auto_advancing() -> VirtualClock {
        let clock = VirtualClock::new();
        clock.start_auto_advance();
        clock
    }

    /// The wall time at [`Instant::ZERO`].
    pub fn epoch(&self) -> SystemTime {
        self.shared.epoch()
    }

    /// Starts auto-advance (see the type's docs) on the current tokio runtime; does nothing
    /// if it is already running. Panics outside a runtime.
    ///
    /// The driver task stops on [`stop_auto_advance`](Self::stop_auto_advance), when the
    /// clock is gone (every clone, `SharedClock`, pending sleep and hold dropped), or with its
    /// runtime.
    pub fn start_auto_advance(&self) {
        auto_advance::start(&self.shared);
    }

    /// Stops auto-advance; time then moves only by `advance`. Pending timers stay pending.
    pub fn stop_auto_advance(&self) {
        self.shared.stop_driver();
    }

    /// Whether auto-advance is on.
    pub fn is_auto_advancing(&self) -> bool {
        self.shared.is_auto_advancing()
    }

    /// Moves time forward by `by`, firing due timers one deadline at a time and letting the
    /// runtime settle before each step, so tasks woken at one deadline run — and can register
    /// follow-up timers, which are honoured if due by the target — before time moves on.
    /// Ends with `now()` equal to the target and woken tasks run. (With auto-advance also on,
    /// the driver may jump past the target while this settles.)
    pub async fn advance(&self, by: Duration) {
        self.advance_to(self.now().saturating_add(by)).await;
    }

    /// [`advance`](Self::advance) to an absolute instant; a target in the past does nothing.
    pub async fn advance_to(&self, target: Instant) {
        loop {
            self.settle().await;
            if self.shared.advance_step(target) == AdvanceStep::Done {
                break;
            }
        }
    }

    /// Moves time forward by `by` without yielding: fires every timer already registered with
    /// a deadline up to the target, in deadline order, and sets `now()` to the target. The
    /// woken tasks run only when the caller next yields, and see the target time; timers they
    /// register then are not fired by this call.
    pub fn advance_now(&self, by: Duration) {
        self.advance_now_to(self.now().saturating_add(by));
    }

    /// [`advance_now`](Self::advance_now) to an absolute instant; a target in the past does
    /// nothing.
    pub fn advance_now_to(&self, target: Instant) {
        while self.shared.advance_step(target) == AdvanceStep::Fired {}
    }

    /// Yields to the runtime until no clock activity (timers registered, fired or cancelled,
    /// holds taken or released) happened for [`SETTLE_ROUNDS`](Self::SETTLE_ROUNDS) rounds:
    /// lets spawned tasks run up to their next wait. Does not move time.
    pub async fn settle(&self) {
        let weak = Arc::downgrade(&self.shared);
        // `self` keeps the clock alive, so this always completes with `Some`.
        let _ = auto_advance::settle(&weak).await;
    }

    /// Timers registered and not yet fired or cancelled.
    pub fn pending_timers(&self) -> usize {
        self.shared.pending_timers()
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.shared.next_deadline()
    }

    /// Holds alive.
    pub fn active_holds(&self) -> usize {
        self.shared.active_holds()
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        VirtualClock::new()
    }
}

impl fmt::Debug for VirtualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualClock")
            .field("now", &self.now())
            .field("pending_timers", &self.pending_timers())
            .field("active_holds", &self.active_holds())
            .field("auto_advance", &self.is_auto_advancing())
            .finish()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        self.shared.now()
    }

    fn wall(&self) -> SystemTime {
        self.shared.wall()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::timer(TimerSleep::new(self.shared.clone(), deadline))
    }

    fn hold(&self) -> Hold {
        self.shared.take_hold()
    }

    fn to_shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}
