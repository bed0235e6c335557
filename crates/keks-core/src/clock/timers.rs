//! The virtual clock's shared state — its time, the timer table ordered by (deadline,
//! registration), the hold count and the activity generation — and `TimerSleep`, the future
//! a virtual `Sleep` polls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::{Hold, Instant};

/// Key of a timer: deadline first, then registration order (ties fire first-come first).
type TimerKey = (Instant, u64);

/// Everything a virtual clock's handles, sleeps and holds share.
pub(super) struct Shared {
    state: Mutex<State>,
    epoch: SystemTime,
    /// Wakes the auto-advance driver while it is parked. The driver keeps its own `Arc` of
    /// this and only a `Weak<Shared>`, so the clock can be dropped while the driver waits.
    pub(super) driver_wake: Arc<Notify>,
}

struct State {
    now: Instant,
    timers: BTreeMap<TimerKey, Waker>,
    next_seq: u64,
    holds: usize,
    /// Bumped by every change the auto-advance driver must see as activity: a timer
    /// registered, fired or cancelled, a hold taken or released, time moved.
    generation: u64,
    /// The auto-advance driver is (about to be) parked on `driver_wake`.
    driver_parked: bool,
    /// Token of the running auto-advance driver; `None` when auto-advance is off.
    driver: Option<u64>,
    next_driver_token: u64,
}

/// What the auto-advance driver should do next.
pub(super) enum DriverStep {
    /// Auto-advance was stopped (or restarted with another driver): exit.
    Stop,
    /// No timer pending, or a hold alive: wait on `driver_wake` (the flag is set).
    Park,
    /// Timers pending and no hold: settle, then fire if the generation is still this.
    Ready(u64),
}

/// What one step of a manual advance did.
#[derive(PartialEq, Eq)]
pub(super) enum AdvanceStep {
    /// Fired the timers of the earliest deadline at or before the target.
    Fired,
    /// No timer left at or before the target; time is now at least the target.
    Done,
}

impl Shared {
    pub(super) fn new(epoch: SystemTime) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                now: Instant::ZERO,
                timers: BTreeMap::new(),
                next_seq: 0,
                holds: 0,
                generation: 0,
                driver_parked: false,
                driver: None,
                next_driver_token: 0,
            }),
            epoch,
            driver_wake: Arc::new(Notify::new()),
        })
    }

    pub(super) fn now(&self) -> Instant {
        self.state.lock().now
    }

    pub(super) fn epoch(&self) -> SystemTime {
        self.epoch
    }

    /// The epoch plus the virtual time elapsed; saturates (about 35,000 years after the
    /// epoch) rather than overflow `SystemTime`.
    pub(super) fn wall(&self) -> SystemTime {
        let elapsed = self.now().as_duration();
        self.epoch
            .checked_add(elapsed)
            .or_else(|| self.epoch.checked_add(Duration::from_secs(1 << 40)))
            .unwrap_or(self.epoch)
    }

    pub(super) fn generation(&self) -> u64 {
        self.state.lock().generation
    }

    pub(super) fn pending_timers(&self) -> usize {
        self.state.lock().timers.len()
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.state
            .lock()
            .timers
            .keys()
            .next()
            .map(|&(deadline, _)| deadline)
    }

    pub(super) fn active_holds(&self) -> usize {
        self.state.lock().holds
    }

    pub(super) fn take_hold(self: &Arc<Self>) -> Hold {
        let mut state = self.state.lock();
        state.holds += 1;
        state.generation += 1;
        drop(state);
        Hold::counted(self.clone())
    }

    pub(super) fn release_hold(&self) {
        let mut state = self.state.lock();
        state.holds -= 1;
        state.generation += 1;
        let wake = state.holds == 0 && std::mem::take(&mut state.driver_parked);
        drop(state);
        if wake {
            self.driver_wake.notify_one();
        }
    }

    /// One step of a manual advance to `target`: fire the earliest deadline's timers if it
    /// is at or before `target`, else move time to `target` (never backwards).
    pub(super) fn advance_step(&self, target: Instant) -> AdvanceStep {
        let mut state = self.state.lock();
        match state.timers.keys().next() {
            Some(&(deadline, _)) if deadline <= target => {
                let wakers = state.fire_earliest();
                drop(state);
                wakers.into_iter().for_each(Waker::wake);
                AdvanceStep::Fired
            }
            _ => {
                if state.now < target {
                    state.now = target;
                    state.generation += 1;
                }
                AdvanceStep::Done
            }
        }
    }

    /// Claims the driver slot: the token of a new driver, or `None` if one is running.
    pub(super) fn claim_driver(&self) -> Option<u64> {
        let mut state = self.state.lock();
        if state.driver.is_some() {
            return None;
        }
        let token = state.next_driver_token;
        state.next_driver_token += 1;
        state.driver = Some(token);
        Some(token)
    }

    pub(super) fn stop_driver(&self) {
        let mut state = self.state.lock();
        state.driver = None;
        state.driver_parked = false;
        drop(state);
        self.wake_all_drivers();
    }

    /// Wakes the driver however it waits: parked now, or about to park (a stored permit).
    /// After a stop and restart an old driver may still be parked beside the new one.
    fn wake_all_drivers(&self) {
        self.driver_wake.notify_waiters();
        self.driver_wake.notify_one();
    }

    pub(super) fn is_auto_advancing(&self) -> bool {
        self.state.lock().driver.is_some()
    }

    /// The driver's next move; sets the parked flag (under the lock, so no wake-up is lost)
    /// when it should park.
    pub(super) fn driver_step(&self, token: u64) -> DriverStep {
        let mut state = self.state.lock();
        if state.driver != Some(token) {
            DriverStep::Stop
        } else if state.holds > 0 || state.timers.is_empty() {
            state.driver_parked = true;
            DriverStep::Park
        } else {
            DriverStep::Ready(state.generation)
        }
    }

    /// Fires the earliest deadline's timers if the driver `token` is current, no hold is
    /// alive and nothing happened since `generation`. Returns the new time if it fired.
    pub(super) fn driver_fire(&self, token: u64, generation: u64) -> Option<Instant> {
        let mut state = self.state.lock();
        if state.driver != Some(token)
            || state.generation != generation
            || state.holds > 0
            || state.timers.is_empty()
        {
            return None;
        }
        let wakers = state.fire_earliest();
        let now = state.now;
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
        Some(now)
    }
}

impl State {
    /// Moves time to the earliest deadline and removes its timers, returning their wakers in
    /// registration order. The caller wakes them after unlocking. Needs a pending timer.
    fn fire_earliest(&mut self) -> Vec<Waker> {
        let deadline = match self.timers.keys().next() {
            Some(&(deadline, _)) => deadline,
            None => return Vec::new(),
        };
        if self.now < deadline {
            self.now = deadline;
        }
        self.generation += 1;
        let mut wakers = Vec::new();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 != deadline {
                break;
            }
            wakers.push(entry.remove());
        }
        wakers
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Let a parked driver notice that the clock is gone.
        self.wake_all_drivers();
    }
}

/// The state of one virtual sleep: registers its timer on first pending poll, refreshes the
/// waker on later polls, removes the timer when dropped before firing.
pub(super) struct TimerSleep {
    shared: Arc<Shared>,
    deadline: Instant,
    /// Registration number of the timer while it is in the table.
    seq: Option<u64>,
}

impl TimerSleep {
    pub(super) fn new(shared: Arc<Shared>, deadline: Instant) -> TimerSleep {
        TimerSleep {
            shared,
            deadline,
            seq: None,
        }
    }

    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    // Wakers are never dropped under the lock: dropping one can drop a task's last
    // reference, and with it futures that touch this clock again.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.shared.state.lock();
        if state.now >= self.deadline {
            // Fired. (Time never moves past a pending timer without firing it, so the timer
            // is gone; `self.seq` just forgets it.)
            self.seq = None;
            return Poll::Ready(());
        }
        if let Some(seq) = self.seq {
            if let Some(waker) = state.timers.get_mut(&(self.deadline, seq)) {
                if waker.will_wake(cx.waker()) {
                    return Poll::Pending;
                }
                let old = std::mem::replace(waker, cx.waker().clone());
                drop(state);
                drop(old);
                return Poll::Pending;
            }
        }
        // First poll (or, defensively, a timer that vanished): register.
        let seq = state.next_seq;
        state.next_seq += 1;
        state
            .timers
            .insert((self.deadline, seq), cx.waker().clone());
        state.generation += 1;
        self.seq = Some(seq);
        let wake_driver = std::mem::take(&mut state.driver_parked);
        drop(state);
        if wake_driver {
            self.shared.driver_wake.notify_one();
        }
        Poll::Pending
    }
}

impl Drop for TimerSleep {
    fn drop(&mut self) {
        if let Some(seq) = self.seq.take() {
            let mut state = self.shared.state.lock();
            let removed = state.timers.remove(&(self.deadline, seq));
            if removed.is_some() {
                state.generation += 1;
            }
            drop(state);
            drop(removed);
        }
    }
}
