//! The driver's wake-up for the hub's next deadline (pings, expiries):
//! one timer for the driver's life, moved only when the deadline moves.
//! A round that leaves the deadline as it was (most of them: a publish,
//! a frame) touches no timer, where a fresh sleep per round would enter
//! the runtime's timer wheel and leave it again each time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pushwire_hub::Timestamp;
use tokio::time::{Instant, Sleep};

use super::driver::now;

/// A timer set to the hub's next deadline, if it has one.
pub(super) struct DeadlineTimer {
    /// The deadline the timer is set to.
    armed: Option<Timestamp>,
    /// Boxed: reset in place for the driver's life.
    sleep: Pin<Box<Sleep>>,
}

impl DeadlineTimer {
    /// A timer with no deadline: it never fires until one is set.
    pub(super) fn new() -> Self {
        DeadlineTimer {
            armed: None,
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
        }
    }

    /// Sets the timer to `deadline` (`None`: none) unless it is set to
    /// it already. The wall-clock deadline becomes a point on the
    /// runtime's clock when it is set.
    pub(super) fn set(&mut self, deadline: Option<Timestamp>) {
        if deadline == self.armed {
            return;
        }
        self.armed = deadline;
        if let Some(at) = deadline {
            self.sleep.as_mut().reset(instant_of(at));
        }
    }

    /// Ready once the deadline set is reached; pending while none is.
    /// Having fired, the timer forgets its deadline: set again, the same
    /// deadline is measured anew, so that a wall clock running behind the
    /// runtime's leaves a wait, not a loop of firings.
    pub(super) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.armed.is_none() {
            return Poll::Pending;
        }
        std::task::ready!(self.sleep.as_mut().poll(cx));
        self.armed = None;
        Poll::Ready(())
    }

    /// [`DeadlineTimer::poll_fired`] as a future, for a `select!`.
    pub(super) fn fired(&mut self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.poll_fired(cx))
    }
}

/// The runtime's instant at which the wall clock reads `at`.
fn instant_of(at: Timestamp) -> Instant {
    Instant::now() + at.saturating_since(now())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether the timer has fired, polled once.
    fn has_fired(timer: &mut DeadlineTimer) -> bool {
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        timer.poll_fired(&mut cx).is_ready()
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_deadline_set_and_never_without_one() {
        let mut timer = DeadlineTimer::new();
        assert!(!has_fired(&mut timer), "no deadline, no firing");
        let in_a_minute = now() + Duration::from_secs(60);
        timer.set(Some(in_a_minute));
        assert!(!has_fired(&mut timer));
        // Setting the same deadline again leaves the timer as it is.
        tokio::time::advance(Duration::from_secs(30)).await;
        timer.set(Some(in_a_minute));
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(has_fired(&mut timer));
        // Fired, it waits for the next deadline set.
        assert!(!has_fired(&mut timer));
        timer.set(Some(now() + Duration::from_secs(3600)));
        assert!(!has_fired(&mut timer));
        timer.set(None);
        tokio::time::advance(Duration::from_secs(7200)).await;
        assert!(!has_fired(&mut timer));
    }
}
