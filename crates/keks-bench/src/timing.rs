//! Wall-clock access for the benchmark, in one place: keks-core's [`RealClock`], as the
//! project's clock rule asks. A benchmark measures real elapsed time, so nothing here is
//! virtual; every phase reads and sleeps on this one clock.

use std::sync::OnceLock;

pub use keks_core::Instant;
use keks_core::{Clock, ClockExt, RealClock};
pub use std::time::Duration;

fn clock() -> &'static RealClock {
    static CLOCK: OnceLock<RealClock> = OnceLock::new();
    CLOCK.get_or_init(RealClock::new)
}

/// Now, on the real monotonic clock.
pub fn now() -> Instant {
    clock().now()
}

/// Real time elapsed since `earlier`.
pub fn since(earlier: Instant) -> Duration {
    clock().elapsed_since(earlier)
}

/// Waits `duration` of real time without blocking the runtime.
pub async fn sleep(duration: Duration) {
    clock().sleep(duration).await
}

/// Wall-clock time, for request signatures (`X-Amz-Date`).
pub fn wall() -> std::time::SystemTime {
    clock().wall()
}
