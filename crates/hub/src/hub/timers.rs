//! Time-driven events: stale connections, pings and pongs, token expiry,
//! and on a remote engine the node's reports and survey deadlines.

use std::cmp::Reverse;

use super::{ConnId, Hub, BROKER_TICK};
use crate::client::State;
use crate::protocol::{reply, Disconnect, UnsubscribeCode};
use crate::time::Timestamp;

impl Hub {
    /// When [`handle_timeout`](Hub::handle_timeout) should next be called
    /// (it may be called earlier; nothing happens before its time).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let conn = self.timers.peek().map(|Reverse((t, _))| *t);
        let next = conn.map_or(self.next_broker_tick, |t| t.min(self.next_broker_tick));
        Some(self.cluster_deadline().map_or(next, |t| t.min(next)))
    }

    /// Runs everything due at `now`: closes stale connections (3502), sends
    /// pings, closes connections without pong (3012) or with an expired token
    /// past the grace (3005), ends expired subscriptions (unsubscribe 2501,
    /// or disconnect 3006 for server-side ones), expires history; on a
    /// remote engine also sends this node's report to the others and
    /// answers `channels` surveys whose time is up.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.cluster_timers(now);
        if now >= self.next_broker_tick {
            self.broker.handle_timeout(now);
            self.remote_timers(now);
            self.next_broker_tick = now + BROKER_TICK;
        }
        while let Some(&Reverse((t, conn))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            match self.client_mut(conn) {
                Some(c) if c.scheduled == Some(t) => c.scheduled = None,
                _ => continue, // stale entry
            }
            self.client_timers(now, conn);
            self.schedule(conn);
        }
    }

    /// Puts the client's next deadline in the timer heap if it is earlier
    /// than the one already there.
    pub(crate) fn schedule(&mut self, conn: ConnId) {
        let cfg = &self.cfg.client;
        let Some(c) = self
            .slots
            .get_mut(conn.index as usize)
            .and_then(|s| s.as_mut())
        else {
            return;
        };
        if self.generations[conn.index as usize] != conn.generation {
            return;
        }
        let Some(next) = c.next_deadline(cfg) else {
            return;
        };
        if c.scheduled.is_some_and(|s| s <= next) {
            return;
        }
        c.scheduled = Some(next);
        self.timers.push(Reverse((next, conn)));
    }

    fn client_timers(&mut self, now: Timestamp, conn: ConnId) {
        let cfg = self.cfg.client.clone();
        let Some(c) = self.client(conn) else { return };
        match c.state {
            State::Closed => {}
            State::Connecting => {
                if now >= c.opened + cfg.stale_close_delay {
                    self.disconnect(conn, Disconnect::STALE, false);
                }
            }
            State::Connected => {
                if c.pong_deadline.is_some_and(|d| now >= d) {
                    self.disconnect(conn, Disconnect::NO_PONG, false);
                    return;
                }
                // Expiries the backend proxy decides (refresh, sub_refresh).
                let (proxied, proxied_subs) = self.proxy_expiry(now, conn);
                let Some(c) = self.client(conn) else { return };
                if !proxied
                    && c.expires
                        .is_some_and(|e| now >= e + cfg.expired_close_delay)
                {
                    self.disconnect(conn, Disconnect::EXPIRED, false);
                    return;
                }
                let expired: Vec<(std::sync::Arc<str>, bool)> = c
                    .subs
                    .iter()
                    .filter(|(ch, s)| {
                        s.expires
                            .is_some_and(|e| now >= e + cfg.expired_close_delay)
                            && !proxied_subs.contains(*ch)
                    })
                    .map(|(ch, s)| (ch.clone(), s.server_side))
                    .collect();
                for (ch, server_side) in expired {
                    if server_side {
                        self.disconnect(conn, Disconnect::SUBSCRIPTION_EXPIRED, false);
                        return;
                    }
                    self.remove_subscription(conn, &ch, Some(UnsubscribeCode::Expired));
                }
                let Some(c) = self.client_mut(conn) else {
                    return;
                };
                if c.next_ping.is_some_and(|p| now >= p) {
                    c.next_ping = Some(now + cfg.ping_interval);
                    if !c.transport.is_unidirectional() {
                        c.pong_deadline = Some(now + cfg.pong_timeout);
                    }
                    // A ping is the one push an idle connection gets:
                    // the moment to give back room a burst left behind.
                    if let Some(outbox) = self.outbox(conn) {
                        outbox.trim();
                    }
                    self.send(conn, bytes::Bytes::from_static(reply::PING));
                }
            }
        }
    }

    /// A pong (an id-0 command other than `send`): fine after a ping, a bad
    /// request otherwise.
    pub(crate) fn handle_pong(&mut self, conn: ConnId) -> bool {
        let Some(c) = self.client_mut(conn) else {
            return false;
        };
        if c.pong_deadline.take().is_some() {
            true
        } else {
            self.disconnect(conn, Disconnect::BAD_REQUEST, false);
            false
        }
    }
}
