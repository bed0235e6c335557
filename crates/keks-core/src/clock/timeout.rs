//! `Timeout`: a future with a deadline on a clock, and its `Elapsed` error.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::{Instant, Sleep};

/// The error of a [`Timeout`] whose deadline came before its future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed {
    deadline: Instant,
}

impl Elapsed {
    /// The deadline that was reached.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

pin_project! {
    /// A future with a time limit: resolves to `Ok(output)` if the inner future completes
    /// first, `Err(Elapsed)` once the clock reaches the deadline. Made by
    /// [`ClockExt::timeout`](super::ClockExt::timeout) and
    /// [`ClockExt::timeout_at`](super::ClockExt::timeout_at).
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    pub(super) fn new(future: F, sleep: Sleep) -> Timeout<F> {
        Timeout { future, sleep }
    }

    /// The instant the time limit is reached.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Gives the inner future back, dropping the timer.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut *this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed {
                deadline: this.sleep.deadline(),
            })),
            Poll::Pending => Poll::Pending,
        }
    }
}
