//! Keep-alive pings and dead-peer detection, for a WebSocket and for an
//! HTTP/2 connection alike.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// What the ping timer asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing proved the peer alive for an interval: send a ping.
    Ping,
    /// Nothing proved it alive even within the timeout after a ping: the
    /// peer is gone.
    Dead,
}

/// Pings a quiet peer, and gives it up when a ping goes unanswered for
/// the timeout.
///
/// The peer proves itself alive in one of two ways, as its protocol
/// allows:
/// - [`saw_life`](PingTimer::saw_life): anything received (a WebSocket's
///   frames). It only sets a flag, so receiving costs no clock reads; the
///   timer looks at the flag when it fires, so a ping goes out after one
///   to two intervals of silence.
/// - [`answered`](PingTimer::answered): the answer to the ping itself (an
///   HTTP/2 PING ACK); the next ping goes out an interval after it.
#[derive(Debug)]
pub(crate) struct PingTimer {
    timer: Pin<Box<Sleep>>,
    interval: Duration,
    timeout: Duration,
    saw_life: bool,
    awaiting_answer: bool,
}

impl PingTimer {
    /// A ping after `interval`, and the peer given up `timeout` after a
    /// ping that nothing followed.
    pub(crate) fn new(interval: Duration, timeout: Duration) -> Self {
        PingTimer {
            timer: Box::pin(tokio::time::sleep(interval)),
            interval,
            timeout,
            saw_life: false,
            awaiting_answer: false,
        }
    }

    /// The peer sent something: it is alive (looked at when the timer
    /// fires).
    pub(crate) fn saw_life(&mut self) {
        self.saw_life = true;
    }

    /// The ping was answered: the next goes out an interval from now.
    /// (The timer's new deadline is registered at its next poll.)
    pub(crate) fn answered(&mut self) {
        self.awaiting_answer = false;
        self.timer.as_mut().reset(Instant::now() + self.interval);
    }

    /// Ready when a ping is due or the peer is gone. After
    /// [`Due::Ping`] the timeout's deadline is already registered with
    /// `cx`: a caller need not poll again to be woken for it.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Due> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            if std::mem::take(&mut self.saw_life) {
                self.awaiting_answer = false;
                self.timer.as_mut().reset(Instant::now() + self.interval);
            } else if !self.awaiting_answer {
                self.awaiting_answer = true;
                self.timer.as_mut().reset(Instant::now() + self.timeout);
                let _ = self.timer.as_mut().poll(cx);
                return Poll::Ready(Due::Ping);
            } else {
                return Poll::Ready(Due::Dead);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    const INTERVAL: Duration = Duration::from_secs(30);
    const TIMEOUT: Duration = Duration::from_secs(20);

    async fn next(timer: &mut PingTimer) -> (Due, Duration) {
        let start = Instant::now();
        let due = poll_fn(|cx| timer.poll(cx)).await;
        (due, start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_ping_gives_the_peer_up() {
        let mut timer = PingTimer::new(INTERVAL, TIMEOUT);
        assert_eq!(next(&mut timer).await, (Due::Ping, INTERVAL));
        assert_eq!(next(&mut timer).await, (Due::Dead, TIMEOUT));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_sends_the_next_ping_an_interval_later() {
        let mut timer = PingTimer::new(INTERVAL, TIMEOUT);
        assert_eq!(next(&mut timer).await, (Due::Ping, INTERVAL));
        tokio::time::advance(Duration::from_secs(5)).await;
        timer.answered();
        assert_eq!(next(&mut timer).await, (Due::Ping, INTERVAL));
    }

    #[tokio::test(start_paused = true)]
    async fn life_seen_puts_the_ping_off_by_an_interval() {
        let mut timer = PingTimer::new(INTERVAL, TIMEOUT);
        timer.saw_life();
        assert_eq!(next(&mut timer).await, (Due::Ping, INTERVAL * 2));
        timer.saw_life();
        assert_eq!(next(&mut timer).await, (Due::Ping, TIMEOUT + INTERVAL));
    }
}
