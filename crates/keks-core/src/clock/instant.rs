//! `Instant`: a monotonic point on one clock's timeline, stored as the time since its origin.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// Monotonic point on a clock's timeline: the [`Duration`] elapsed since that clock's origin.
///
/// The origin is the moment a [`RealClock`](super::RealClock) was created, or virtual time zero
/// of a [`VirtualClock`](super::VirtualClock). Instants of different clocks are not comparable
/// in any meaningful way; the type does not stop you from doing it.
///
/// Arithmetic follows `std::time::Instant`: `+` and `-` with a `Duration` panic on overflow
/// (use the `checked_*`/`saturating_*` forms where that can happen), and the difference of two
/// instants saturates at zero.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The clock's origin.
    pub const ZERO: Instant = Instant(Duration::ZERO);
    /// The latest representable instant; a deadline here never comes in practice.
    pub const MAX: Instant = Instant(Duration::MAX);

    /// The instant `since_origin` after the origin.
    pub const fn from_duration(since_origin: Duration) -> Self {
        Instant(since_origin)
    }

    /// The instant `secs` seconds after the origin.
    pub const fn from_secs(secs: u64) -> Self {
        Instant(Duration::from_secs(secs))
    }

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(Duration::from_millis(millis))
    }

    /// Time elapsed from the origin to this instant.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }

    /// `self - d`, or `None` if that is before the origin.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d).map(Instant)
    }

    /// `self + d`, clamped to [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }

    /// `self - d`, clamped to [`Instant::ZERO`].
    pub fn saturating_sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d))
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later than `self`.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later (as `std::time::Instant`).
    pub fn duration_since(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Panics on overflow; see [`Instant::checked_add`].
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d)
            .expect("overflow when adding duration to instant")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// Panics if the result is before the origin; see [`Instant::checked_sub`].
    fn sub(self, d: Duration) -> Instant {
        self.checked_sub(d)
            .expect("overflow when subtracting duration from instant")
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Saturates at zero, as [`Instant::duration_since`].
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for Instant {
    /// `t+1.5s`: the time since the origin.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let a = Instant::from_secs(2);
        assert_eq!(a + Duration::from_millis(500), Instant::from_millis(2_500));
        assert_eq!(a - Duration::from_secs(2), Instant::ZERO);
        assert_eq!(Instant::from_secs(5) - a, Duration::from_secs(3));
        assert_eq!(a - Instant::from_secs(5), Duration::ZERO);
        assert_eq!(a.checked_duration_since(Instant::from_secs(3)), None);
        assert_eq!(a.checked_sub(Duration::from_secs(3)), None);
        assert_eq!(Instant::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(
            Instant::MAX.saturating_add(Duration::from_secs(1)),
            Instant::MAX
        );
        assert_eq!(a.saturating_sub(Duration::from_secs(9)), Instant::ZERO);
        let mut b = a;
        b += Duration::from_secs(1);
        b -= Duration::from_millis(250);
        assert_eq!(b.as_duration(), Duration::from_millis(2_750));
        assert!(Instant::ZERO < a && a < Instant::MAX);
        assert_eq!(Instant::default(), Instant::ZERO);
        assert_eq!(a.to_string(), "t+2s");
    }

    #[test]
    #[should_panic(expected = "overflow")]
    fn add_overflow_panics() {
        let _ = Instant::MAX + Duration::from_secs(1);
    }
}
