//! The clocks of one HTTP/2 connection besides its keep-alive pings: the
//! SETTINGS acknowledgement that must come in time (RFC 9113 section
//! 6.5.3), the connection left without streams, and request bodies that
//! stall while their service waits for them. One timer serves them all,
//! and reading frames reads no clock: the connection's state is looked
//! at when the timer fires.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use pushwire_proto::http2::frame::FrameError;
use pushwire_proto::http2::ErrorCode;
use tokio::time::{Instant, Sleep};

use super::config::Http2Config;
use pushwire_proto::http2::connection::Connection as Conn;

/// How often, per period of a timeout, the connection is looked at: a
/// timeout takes effect within a quarter of its period after it is due.
const CHECKS_PER_PERIOD: u32 = 4;

/// The clocks of one connection.
pub(crate) struct ConnTimeouts {
    timer: Pin<Box<Sleep>>,
    /// The timer waits for nothing (until a request with a body opens).
    parked: bool,
    idle_timeout: Option<Duration>,
    body_read_timeout: Option<Duration>,
    /// When the SETTINGS acknowledgement is due, until it came.
    settings_due: Option<Instant>,
    /// When the connection was first seen without streams, and its
    /// highest stream then (a stream opened and closed since shows as a
    /// higher one).
    idle_since: Option<(Instant, u32)>,
}

impl ConnTimeouts {
    /// The clocks of a connection that starts now, with `config`'s
    /// timeouts.
    pub(crate) fn new(config: &Http2Config) -> Self {
        let now = Instant::now();
        let settings_due = now + config.settings_timeout;
        let idle_due = config.idle_timeout.map(|timeout| now + timeout);
        let first = idle_due.map_or(settings_due, |idle_due| idle_due.min(settings_due));
        ConnTimeouts {
            timer: Box::pin(tokio::time::sleep_until(first)),
            parked: false,
            idle_timeout: config.idle_timeout,
            body_read_timeout: config.body_read_timeout,
            settings_due: Some(settings_due),
            idle_since: Some((now, 0)),
        }
    }

    /// A request whose body is to come was opened: its body-read clock
    /// is looked at within a quarter of the timeout.
    pub(crate) fn body_stream_opened(&mut self, cx: &mut Context<'_>) {
        let Some(timeout) = self.body_read_timeout else {
            return;
        };
        let due = Instant::now() + timeout / CHECKS_PER_PERIOD;
        if self.parked || self.timer.deadline() > due {
            self.parked = false;
            self.timer.as_mut().reset(due);
            let _ = self.timer.as_mut().poll(cx);
        }
    }

    /// Does what is due to `conn`, and registers the next check with
    /// `cx`.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, conn: &mut Conn) {
        while !self.parked && self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            self.check(now, conn);
            if conn.ended().is_some() {
                self.parked = true;
                return;
            }
            match self.next_check(now, conn) {
                Some(at) => self.timer.as_mut().reset(at),
                None => self.parked = true,
            }
        }
    }

    fn check(&mut self, now: Instant, conn: &mut Conn) {
        if let Some(due) = self.settings_due {
            if conn.settings_acknowledged() {
                self.settings_due = None;
            } else if now >= due {
                tracing::debug!("HTTP/2 connection failed: SETTINGS not acknowledged in time");
                conn.fail(&FrameError::connection(
                    ErrorCode::SETTINGS_TIMEOUT,
                    "SETTINGS not acknowledged in time",
                ));
                return;
            }
        }
        let highest = conn.highest_id();
        self.idle_since = match self.idle_since {
            _ if conn.has_streams() => None,
            Some((since, id)) if id == highest => Some((since, id)),
            _ => Some((now, highest)),
        };
        if let (Some((since, _)), Some(timeout)) = (self.idle_since, self.idle_timeout) {
            if now.duration_since(since) >= timeout {
                tracing::debug!("HTTP/2 connection closed: no stream for {timeout:?}");
                conn.close_idle();
                return;
            }
        }
        if let Some(timeout) = self.body_read_timeout {
            let expired = conn.expire_stalled_bodies(now.into_std(), timeout);
            if expired > 0 {
                tracing::debug!(
                    "{expired} HTTP/2 stream(s) reset: request body stalled for {timeout:?}"
                );
            }
        }
    }

    /// When to look again: at the SETTINGS deadline; a quarter of the
    /// body-read timeout on while a request body is to come; the idle
    /// deadline once the connection has no streams; a quarter of the
    /// idle timeout on while its streams need no body clock (WebSockets,
    /// event streams), to see when they are gone.
    fn next_check(&self, now: Instant, conn: &Conn) -> Option<Instant> {
        let quarter = |timeout: Duration| now + timeout / CHECKS_PER_PERIOD;
        let streams_due = if let Some((since, _)) = self.idle_since {
            self.idle_timeout.map(|timeout| since + timeout)
        } else if conn.awaits_bodies() && self.body_read_timeout.is_some() {
            self.body_read_timeout.map(quarter)
        } else {
            self.idle_timeout.map(quarter)
        };
        match (self.settings_due, streams_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
