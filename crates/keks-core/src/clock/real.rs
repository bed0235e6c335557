//! `RealClock`: the clock of `keks up`, on the OS clocks and tokio's timers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Clock, Hold, Instant, SharedClock, Sleep};

/// How far ahead a deadline past the end of `std::time::Instant`'s range is put: far enough
/// to never come (tokio does the same for `sleep(Duration::MAX)`).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The real clock: monotonic time from `std::time::Instant` (origin captured at creation),
/// sleeps on tokio's timer, wall time from `SystemTime::now`.
///
/// Sleeping needs a tokio runtime with the time driver enabled (`Runtime` built with
/// `enable_time`/`enable_all`, as `#[tokio::main]` and `#[tokio::test]` do). Clones share the
/// origin, so their instants are comparable.
#[derive(Clone, Copy, Debug)]
pub struct RealClock {
    origin: std::time::Instant,
}

impl RealClock {
    /// A real clock whose [`Instant::ZERO`] is now.
    pub fn new() -> RealClock {
        RealClock {
            origin: std::time::Instant::now(),
        }
    }

    /// A real clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(RealClock::new())
    }

    /// The `std::time::Instant` that `instant` stands for.
    fn to_std(self, instant: Instant) -> std::time::Instant {
        self.origin
            .checked_add(instant.as_duration())
            .or_else(|| std::time::Instant::now().checked_add(FAR_FUTURE))
            .unwrap_or(self.origin)
    }
}

impl Default for RealClock {
    fn default() -> Self {
        RealClock::new()
    }
}

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        let at = tokio::time::Instant::from_std(self.to_std(deadline));
        Sleep::from_future(deadline, tokio::time::sleep_until(at))
    }

    fn hold(&self) -> Hold {
        Hold::noop()
    }

    fn to_shared(&self) -> SharedClock {
        Arc::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ClockExt;
    use std::time::UNIX_EPOCH;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn now_is_monotonic_and_wall_is_the_os_clock() {
        let clock = RealClock::shared();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
        let before = SystemTime::now();
        let wall = clock.wall();
        assert!(wall >= before);
        let secs = clock.wall_unix_seconds_f64();
        assert!(secs > 1.7e9, "{secs}");
        assert!(clock.wall_unix_seconds() >= before.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert!(clock.hold().is_noop());
    }

    #[tokio::test]
    async fn sleep_waits_at_least_its_duration() {
        let clock = RealClock::shared();
        let start = clock.now();
        let real_start = std::time::Instant::now();
        clock.sleep(5 * MS).await;
        assert!(clock.now() - start >= 5 * MS);
        assert!(real_start.elapsed() >= 5 * MS);
        // A deadline in the past completes at once.
        clock.sleep_until(Instant::ZERO).await;
        clock.sleep(Duration::ZERO).await;
    }

    #[tokio::test]
    async fn timeout_elapses_or_passes_the_output_through() {
        let clock = RealClock::shared();
        let start = clock.now();
        let err = clock
            .timeout(3 * MS, std::future::pending::<()>())
            .await
            .unwrap_err();
        assert!(clock.now() >= err.deadline());
        assert!(clock.now() - start >= 3 * MS);
        assert_eq!(err.to_string(), "deadline has elapsed");

        let ok = clock
            .timeout(Duration::from_secs(10), async {
                clock.sleep(MS).await;
                7
            })
            .await;
        assert_eq!(ok, Ok(7));
        assert!(clock.now() - start < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn interval_ticks_at_least_a_period_apart() {
        let clock = RealClock::new();
        let start = clock.now();
        let mut interval = clock.interval(2 * MS);
        let first = interval.tick().await;
        assert!(first >= start && first <= clock.now());
        assert!(
            clock.now() - first < Duration::from_secs(1),
            "the first tick is immediate"
        );
        let mut last = first;
        for _ in 0..3 {
            let tick = interval.tick().await;
            assert!(tick >= last + 2 * MS);
            assert!(clock.now() >= tick);
            last = tick;
        }
        assert!(clock.now() - start >= 6 * MS);
    }

    #[tokio::test]
    async fn far_deadlines_do_not_panic() {
        let clock = RealClock::new();
        let sleep = clock.sleep(Duration::MAX);
        assert_eq!(sleep.deadline(), Instant::MAX);
        let r = clock.timeout(MS, sleep).await;
        assert!(r.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sleeps_across_worker_threads() {
        let clock = RealClock::shared();
        let start = clock.now();
        let tasks: Vec<_> = (0..16u64)
            .map(|i| {
                let clock = clock.clone();
                tokio::spawn(async move {
                    let d = Duration::from_millis(1 + i % 4);
                    let before = clock.now();
                    clock.sleep(d).await;
                    assert!(clock.now() - before >= d);
                    let r = clock.timeout(d, std::future::pending::<()>()).await;
                    assert!(r.is_err());
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(clock.now() - start >= 2 * MS);
    }
}
