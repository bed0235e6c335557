//! keks-core: the clock and shared types.

pub mod clock;

pub use clock::{
    Clock, ClockExt, Elapsed, Hold, Instant, Interval, RealClock, SharedClock, Sleep, Timeout,
    VirtualClock, WithHold,
};
