//! `Hold`: the guard that marks non-clock work in progress, and `WithHold`, a future holding
//! one until it completes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::timers::Shared;

/// Marks work in progress that is not waiting on the clock (I/O, a blocking thread, another
/// runtime), for as long as it lives. Taken with [`Clock::hold`](super::Clock::hold).
///
/// A [`VirtualClock`](super::VirtualClock) does not auto-advance while any of its holds is
/// alive, so a task that is busy outside the clock's sight is not overtaken by a jump in time.
/// On the real clock a hold does nothing. Not `Clone`: each hold is released exactly once,
/// when dropped.
#[must_use = "a Hold is released as soon as it is dropped"]
pub struct Hold {
    clock: Option<Arc<Shared>>,
}

impl Hold {
    /// A hold that holds nothing (what clocks without auto-advance hand out).
    pub fn noop() -> Hold {
        Hold { clock: None }
    }

    /// A hold already counted in `clock`'s hold count; released on drop.
    pub(super) fn counted(clock: Arc<Shared>) -> Hold {
        Hold { clock: Some(clock) }
    }

    /// Whether this hold holds anything back (false on the real clock).
    pub fn is_noop(&self) -> bool {
        self.clock.is_none()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(clock) = self.clock.take() {
            clock.release_hold();
        }
    }
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hold")
            .field("noop", &self.is_noop())
            .finish()
    }
}

pin_project! {
    /// A future that holds a [`Hold`] until its inner future completes (or it is dropped).
    /// Made by [`ClockExt::with_hold`](super::ClockExt::with_hold).
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct WithHold<F> {
        #[pin]
        future: F,
        hold: Option<Hold>,
    }
}

impl<F> WithHold<F> {
    pub(super) fn new(future: F, hold: Hold) -> WithHold<F> {
        WithHold {
            future,
            hold: Some(hold),
        }
    }
}

impl<F: Future> Future for WithHold<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = std::task::ready!(this.future.poll(cx));
        this.hold.take();
        Poll::Ready(output)
    }
}
