//! Tests of the virtual clock: manual advance, timer order and cancellation, timeout and
//! interval on virtual time, auto-advance with holds.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use parking_lot::Mutex;

use super::{Clock, ClockExt, Instant, SharedClock, VirtualClock};

const SEC: Duration = Duration::from_secs(1);

/// (deadline, now() at wake) of each sleeper, in wake order.
type Wakes = Arc<Mutex<Vec<(Instant, Instant)>>>;

/// Spawns a task that sleeps until `deadline` and records its wake.
fn spawn_sleeper(
    clock: &SharedClock,
    deadline: Instant,
    wakes: &Wakes,
) -> tokio::task::JoinHandle<()> {
    let clock = clock.clone();
    let wakes = wakes.clone();
    tokio::spawn(async move {
        clock.sleep_until(deadline).await;
        wakes.lock().push((deadline, clock.now()));
    })
}

/// A deterministic scatter of 1,000 deadlines in (0, 3s], with some ties.
fn scattered_deadline(i: u64) -> Instant {
    Instant::from_millis((i * 7919) % 997 * 3 + 1)
}

fn assert_woken_in_order_at_their_deadlines(wakes: &[(Instant, Instant)]) {
    assert!(
        wakes.windows(2).all(|w| w[0].0 <= w[1].0),
        "not in deadline order"
    );
    for (deadline, woke_at) in wakes {
        assert_eq!(deadline, woke_at, "woke at {woke_at}, deadline {deadline}");
    }
}

#[tokio::test]
async fn manual_advance_wakes_exactly_the_due_sleepers() {
    let clock = VirtualClock::new();
    let shared = clock.to_shared();
    let wakes = Wakes::default();
    let tasks: Vec<_> = [3, 1, 2]
        .into_iter()
        .map(|s| spawn_sleeper(&shared, Instant::from_secs(s), &wakes))
        .collect();
    clock.settle().await;
    assert_eq!(clock.pending_timers(), 3);
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(1)));
    assert_eq!(clock.now(), Instant::ZERO);

    clock.advance(2 * SEC).await;
    assert_eq!(clock.now(), Instant::from_secs(2));
    assert_eq!(
        *wakes.lock(),
        [
            (Instant::from_secs(1), Instant::from_secs(1)),
            (Instant::from_secs(2), Instant::from_secs(2)),
        ]
    );
    assert_eq!(clock.pending_timers(), 1);

    clock.advance_to(Instant::from_millis(2_999)).await;
    assert_eq!(wakes.lock().len(), 2);
    clock.advance(5 * SEC).await;
    assert_eq!(clock.now(), Instant::from_millis(7_999));
    assert_eq!(wakes.lock().len(), 3);
    assert_eq!(clock.pending_timers(), 0);
    for task in tasks {
        task.await.unwrap();
    }
    // Moving to the past does nothing.
    clock.advance_to(Instant::from_secs(1)).await;
    clock.advance_now_to(Instant::from_secs(1));
    assert_eq!(clock.now(), Instant::from_millis(7_999));
}

#[tokio::test]
async fn sync_advance_fires_registered_timers_and_lands_on_the_target() {
    let clock = VirtualClock::new();
    let shared = clock.to_shared();
    let wakes = Wakes::default();
    for s in [2, 1, 3] {
        spawn_sleeper(&shared, Instant::from_secs(s), &wakes);
    }
    clock.settle().await;
    clock.advance_now(Duration::from_millis(2_500));
    assert_eq!(clock.now(), Instant::from_millis(2_500));
    assert_eq!(clock.pending_timers(), 1);
    clock.settle().await;
    let at = Instant::from_millis(2_500);
    assert_eq!(
        *wakes.lock(),
        [(Instant::from_secs(1), at), (Instant::from_secs(2), at)]
    );
}

#[tokio::test]
async fn advance_honours_timers_registered_by_woken_sleepers() {
    let clock = VirtualClock::new();
    let shared = clock.to_shared();
    let log = Arc::new(Mutex::new(Vec::new()));
    let task = {
        let log = log.clone();
        tokio::spawn(async move {
            for _ in 0..3 {
                shared.sleep(SEC).await;
                log.lock().push(shared.now());
            }
        })
    };
    clock.advance(Duration::from_millis(2_500)).await;
    assert_eq!(*log.lock(), [Instant::from_secs(1), Instant::from_secs(2)]);
    assert_eq!(clock.next_deadline(), Some(Instant::from_secs(3)));
    clock.advance(SEC).await;
    task.await.unwrap();
    assert_eq!(log.lock().len(), 3);
}

#[tokio::test]
async fn ties_fire_in_registration_order() {
    let clock = VirtualClock::new();
    let shared = clock.to_shared();
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..5 {
        let (shared, order) = (shared.clone(), order.clone());
        tokio::spawn(async move {
            shared.sleep(SEC).await;
            order.lock().push(i);
        });
        clock.settle().await;
    }
    clock.advance(SEC).await;
    assert_eq!(*order.lock(), [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn thousand_sleepers_wake_in_deadline_order_under_auto_advance() {
    let clock = VirtualClock::new_auto_advancing();
    let shared = clock.to_shared();
    let wakes = Wakes::default();
    let tasks: Vec<_> = (0..1_000)
        .map(|i| spawn_sleeper(&shared, scattered_deadline(i), &wakes))
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let wakes = wakes.lock();
    assert_eq!(wakes.len(), 1_000);
    assert_woken_in_order_at_their_deadlines(&wakes);
    let latest = (0..1_000).map(scattered_deadline).max().unwrap();
    assert_eq!(clock.now(), latest);
    assert_eq!(clock.pending_timers(), 0);
}

#[tokio::test]
async fn thousand_sleepers_wake_in_deadline_order_under_manual_advance() {
    let clock = VirtualClock::new();
    let shared = clock.to_shared();
    let wakes = Wakes::default();
    for i in 0..1_000 {
        spawn_sleeper(&shared, scattered_deadline(i), &wakes);
    }
    clock.advance(10 * SEC).await;
    assert_eq!(clock.now(), Instant::from_secs(10));
    let wakes = wakes.lock();
    assert_eq!(wakes.len(), 1_000);
    assert_woken_in_order_at_their_deadlines(&wakes);
}

#[tokio::test]
async fn a_dropped_sleep_deregisters() {
    let clock = VirtualClock::new();
    let mut sleep = clock.sleep(SEC);
    assert_eq!(clock.pending_timers(), 0, "registers on first poll only");
    assert!(futures::poll!(&mut sleep).is_pending());
    assert!(futures::poll!(&mut sleep).is_pending());
    assert_eq!(clock.pending_timers(), 1);
    drop(sleep);
    assert_eq!(clock.pending_timers(), 0);

    // A sleep cancelled by a timeout does not hold time back under auto-advance.
    clock.start_auto_advance();
    let r = clock.timeout(SEC, clock.sleep(100 * SEC)).await;
    assert!(r.is_err());
    assert_eq!(clock.now(), Instant::from_secs(1));
    clock.settle().await;
    assert_eq!(clock.pending_timers(), 0);
    assert_eq!(clock.now(), Instant::from_secs(1));

    // A deadline already reached completes at once and registers nothing.
    let mut past = clock.sleep_until(Instant::ZERO);
    assert!(futures::poll!(&mut past).is_ready());
    assert_eq!(clock.pending_timers(), 0);
}

#[tokio::test]
async fn a_sleep_polled_again_by_another_task_wakes_that_task() {
    let clock = VirtualClock::new();
    let mut sleep = clock.sleep(SEC);
    assert!(futures::poll!(&mut sleep).is_pending());
    let task = tokio::spawn(sleep);
    clock.advance(SEC).await;
    task.await.unwrap();
    assert_eq!(clock.pending_timers(), 0);
}

#[tokio::test]
async fn timeout_elapses_exactly_at_the_deadline_or_passes_the_output() {
    let clock = VirtualClock::new_auto_advancing();
    let err = clock
        .timeout(5 * SEC, std::future::pending::<()>())
        .await
        .unwrap_err();
    assert_eq!(err.deadline(), Instant::from_secs(5));
    assert_eq!(clock.now(), Instant::from_secs(5));

    let ok = clock
        .timeout(5 * SEC, async {
            clock.sleep(2 * SEC).await;
            42
        })
        .await;
    assert_eq!(ok, Ok(42));
    assert_eq!(clock.now(), Instant::from_secs(7));

    // A future that completes at the deadline itself wins: it is polled first.
    let ok = clock.timeout(3 * SEC, clock.sleep(3 * SEC)).await;
    assert_eq!(ok, Ok(()));
    assert_eq!(clock.now(), Instant::from_secs(10));

    let t = clock.timeout_at(Instant::from_secs(11), std::future::pending::<()>());
    assert_eq!(t.deadline(), Instant::from_secs(11));
    assert!(t.await.is_err());
    assert_eq!(clock.now(), Instant::from_secs(11));
}

#[tokio::test]
async fn interval_ticks_on_virtual_time() {
    let clock = VirtualClock::new_auto_advancing();
    let mut interval = clock.interval(10 * SEC);
    for n in 0..5 {
        let tick = interval.tick().await;
        assert_eq!(tick, Instant::from_secs(10 * n));
        assert_eq!(clock.now(), tick);
    }
    assert_eq!(interval.period(), 10 * SEC);

    // A tick missed by more than a period restarts the schedule from the late tick.
    clock.stop_auto_advance();
    clock.advance_now(35 * SEC); // now 75s, next tick was due at 50s
    assert_eq!(interval.tick().await, Instant::from_secs(50));
    assert_eq!(interval.next_tick(), Instant::from_secs(85));
    interval.reset();
    assert_eq!(interval.next_tick(), Instant::from_secs(85));

    let mut late = clock.interval_at(Instant::from_secs(80), SEC);
    clock.advance(5 * SEC).await;
    assert_eq!(late.tick().await, Instant::from_secs(80));
}

#[tokio::test]
async fn auto_advance_waits_for_holds() {
    let clock = VirtualClock::new_auto_advancing();
    let shared = clock.to_shared();
    let hold = clock.hold();
    assert!(!hold.is_noop());
    assert_eq!(clock.active_holds(), 1);
    let wakes = Wakes::default();
    let sleeper = spawn_sleeper(&shared, Instant::from_secs(1), &wakes);
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(clock.now(), Instant::ZERO);
    assert!(wakes.lock().is_empty());
    assert_eq!(clock.pending_timers(), 1);

    drop(hold);
    assert_eq!(clock.active_holds(), 0);
    sleeper.await.unwrap();
    assert_eq!(clock.now(), Instant::from_secs(1));

    // `with_hold` keeps the clock still while its future works outside the clock.
    let done = Arc::new(Mutex::new(false));
    let held = {
        let done = done.clone();
        clock.with_hold(async move {
            for _ in 0..100 {
                tokio::task::yield_now().await;
            }
            *done.lock() = true;
        })
    };
    let watcher = {
        let (clock, done) = (shared.clone(), done.clone());
        tokio::spawn(async move {
            clock.sleep(SEC).await;
            *done.lock()
        })
    };
    held.await;
    assert_eq!(clock.active_holds(), 0);
    assert!(watcher.await.unwrap(), "time jumped while a hold was alive");
    assert_eq!(clock.now(), Instant::from_secs(2));
}

#[tokio::test]
async fn a_chain_of_sleeps_runs_in_virtual_time() {
    let clock = VirtualClock::new_auto_advancing();
    let shared = clock.to_shared();
    let real_start = std::time::Instant::now();
    tokio::spawn(async move {
        for _ in 0..10 {
            shared.sleep(SEC).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(clock.now(), Instant::from_secs(10));
    assert_eq!(
        clock.wall_unix_seconds(),
        VirtualClock::DEFAULT_EPOCH_UNIX_SECS + 10
    );
    assert!(real_start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn stop_and_restart_auto_advance() {
    let clock = VirtualClock::new_auto_advancing();
    assert!(clock.is_auto_advancing());
    clock.stop_auto_advance();
    assert!(!clock.is_auto_advancing());
    let shared = clock.to_shared();
    let wakes = Wakes::default();
    let sleeper = spawn_sleeper(&shared, Instant::from_secs(1), &wakes);
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(clock.now(), Instant::ZERO);
    clock.start_auto_advance();
    clock.start_auto_advance(); // idempotent
    sleeper.await.unwrap();
    assert_eq!(clock.now(), Instant::from_secs(1));
}

#[tokio::test]
async fn the_driver_ends_when_the_clock_is_dropped() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let clock = VirtualClock::new_auto_advancing();
    tokio::task::yield_now().await;
    assert_eq!(metrics.num_alive_tasks(), before + 1);
    // A stop and restart leaves exactly one driver.
    clock.stop_auto_advance();
    clock.start_auto_advance();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(metrics.num_alive_tasks(), before + 1);
    drop(clock);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(metrics.num_alive_tasks(), before);
}

#[tokio::test]
async fn wall_time_is_epoch_plus_virtual_time() {
    let clock = VirtualClock::with_epoch(UNIX_EPOCH + Duration::from_secs(1_000));
    assert_eq!(clock.epoch(), UNIX_EPOCH + Duration::from_secs(1_000));
    clock.advance_now(Duration::from_millis(1_500));
    assert_eq!(clock.wall(), UNIX_EPOCH + Duration::from_millis(1_001_500));
    assert_eq!(clock.wall_unix_seconds_f64(), 1_001.5);
    assert_eq!(
        clock.elapsed_since(Instant::from_secs(1)),
        Duration::from_millis(500)
    );
    let default = VirtualClock::default();
    assert_eq!(default.wall_unix_seconds(), 1_704_067_200);
    assert!(format!("{default:?}").contains("pending_timers: 0"));
    // Time far past SystemTime's range saturates instead of panicking.
    default.advance_now_to(Instant::MAX);
    let _ = default.wall();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_advance_on_a_multi_thread_runtime() {
    let clock = VirtualClock::new_auto_advancing();
    let shared = clock.to_shared();
    let tasks: Vec<_> = (0..8u64)
        .map(|i| {
            let clock = shared.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    clock.sleep(Duration::from_millis(100 + i)).await;
                }
                clock.now()
            })
        })
        .collect();
    for (i, task) in (0..8u64).zip(tasks) {
        assert!(task.await.unwrap() >= Instant::from_millis(10 * (100 + i)));
    }
}
