//! `Sleep`: the named future every clock's `sleep_until` returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::timers::TimerSleep;
use super::Instant;

/// A future that completes once its clock reaches [`deadline`](Sleep::deadline).
///
/// `Send + Sync + Unpin + 'static`, so it can be stored in structs, moved into tasks and used
/// in `select!` without pinning. Dropping a `Sleep` cancels it: on the virtual clock its
/// timer is removed and no longer counts as pending.
#[must_use = "a Sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    kind: Kind,
}

enum Kind {
    /// A timer in a virtual clock's timer table.
    Timer(TimerSleep),
    /// Any other clock's timer future (the real clock's is tokio's `Sleep`).
    Future(Pin<Box<dyn Future<Output = ()> + Send + Sync>>),
}

impl Sleep {
    /// A `Sleep` until `deadline` that completes when `future` does. For `Clock`
    /// implementations; `future` must complete when the clock reaches `deadline`.
    pub fn from_future<F>(deadline: Instant, future: F) -> Sleep
    where
        F: Future<Output = ()> + Send + Sync + 'static,
    {
        Sleep {
            deadline,
            kind: Kind::Future(Box::pin(future)),
        }
    }

    pub(super) fn timer(timer: TimerSleep) -> Sleep {
        Sleep {
            deadline: timer.deadline(),
            kind: Kind::Timer(timer),
        }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.get_mut().kind {
            Kind::Timer(timer) => timer.poll(cx),
            Kind::Future(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Hold, Interval, Timeout, WithHold};

    fn send_sync_unpin_static<T: Send + Sync + Unpin + 'static>() {}
    fn send_static<T: Send + 'static>() {}

    #[test]
    fn public_futures_are_send() {
        send_sync_unpin_static::<Sleep>();
        send_sync_unpin_static::<Timeout<std::future::Ready<()>>>();
        send_sync_unpin_static::<WithHold<std::future::Ready<()>>>();
        send_static::<Interval>();
        send_static::<Hold>();
    }

    #[tokio::test]
    async fn from_future_completes_with_its_future() {
        let sleep = Sleep::from_future(Instant::from_secs(3), std::future::ready(()));
        assert_eq!(sleep.deadline(), Instant::from_secs(3));
        assert!(format!("{sleep:?}").contains("3s"));
        sleep.await;
    }
}
