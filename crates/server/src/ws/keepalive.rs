//! Keepalive pings and dead-peer detection.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// What the keepalive timer asks for.
pub(super) enum Due {
    /// Nothing was received for a while: send a ping.
    Ping,
    /// Nothing was received even after a ping: the peer is gone.
    Dead,
}

/// Pings a quiet peer, and gives it up when even a ping brings nothing.
///
/// Traffic only sets a flag, so receiving costs no clock reads; the timer
/// looks at the flag when it fires. A ping therefore goes out after one
/// to two intervals of silence.
#[derive(Debug)]
pub(super) struct Keepalive {
    timer: Pin<Box<Sleep>>,
    interval: Duration,
    pong_timeout: Duration,
    saw_traffic: bool,
    awaiting_pong: bool,
}

impl Keepalive {
    pub(super) fn new(interval: Duration, pong_timeout: Duration) -> Self {
        Keepalive {
            timer: Box::pin(tokio::time::sleep(interval)),
            interval,
            pong_timeout,
            saw_traffic: false,
            awaiting_pong: false,
        }
    }

    /// Any frame from the peer proves it alive.
    pub(super) fn saw_traffic(&mut self) {
        self.saw_traffic = true;
    }

    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Due> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            if std::mem::take(&mut self.saw_traffic) {
                self.awaiting_pong = false;
                self.timer.as_mut().reset(Instant::now() + self.interval);
            } else if !self.awaiting_pong {
                self.awaiting_pong = true;
                self.timer
                    .as_mut()
                    .reset(Instant::now() + self.pong_timeout);
                return Poll::Ready(Due::Ping);
            } else {
                return Poll::Ready(Due::Dead);
            }
        }
    }
}
