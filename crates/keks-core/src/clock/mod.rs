//! The one clock of keks: the `Clock` trait, the real and virtual clocks, and the time
//! toolbox on top (sleep, timeout, interval, holds).
//!
//! Nothing outside this module reads `std::time::Instant::now`, `SystemTime::now` or sleeps
//! with `tokio::time::sleep`: every delay, timeout and timestamp goes through a
//! [`SharedClock`], so a [`VirtualClock`] can run a week of cluster life in seconds.
//! See `docs/clock.md`.

mod auto_advance;
mod hold;
mod instant;
mod interval;
mod real;
mod sleep;
mod timeout;
mod timers;
mod traits;
mod virtual_clock;

#[cfg(test)]
mod virtual_tests;

pub use hold::{Hold, WithHold};
pub use instant::Instant;
pub use interval::Interval;
pub use real::RealClock;
pub use sleep::Sleep;
pub use timeout::{Elapsed, Timeout};
pub use traits::{Clock, ClockExt, SharedClock};
pub use virtual_clock::VirtualClock;
