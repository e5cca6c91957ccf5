//! One long-poll session: the hub connection it stands for, the outlet
//! its output arrives in, its [`Cursor`], and the poll held for it.
//!
//! What a poll takes from the outlet becomes the next batch and stays
//! in the cursor until the client confirms it; only then is the driver
//! asked for more of a backlog (the rest waits in the hub, under the
//! namespace's slow-consumer policy). At most one poll is held: a newer
//! one replaces it, and the replaced one answers empty.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use pushwire_hub::ConnId;
use tokio::time::Instant;

use super::cursor::{self, AckOutcome, Cursor};
use crate::hub::outlet::{self, Outlet};
use crate::task::lock;

/// The push that ends a session when the hub or the server stops.
pub(super) const SHUTDOWN_PUSH: &[u8] =
    br#"{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}"#;

/// A long-poll session.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) conn: ConnId,
    outlet: Arc<Outlet>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    cursor: Cursor,
    /// The driver stopped at the outlet's budget: ask it for more once
    /// the batch taken is confirmed.
    refill_owed: bool,
    /// The number of the poll now held (or last held).
    holder: u64,
    /// Wakes the held poll when a newer one replaces it.
    holder_waker: Option<Waker>,
    /// Since when no poll is held; `None` while one is.
    idle_since: Option<Instant>,
}

/// What a held poll ends with.
#[derive(Debug)]
pub(super) enum Held {
    /// A new batch (already recorded in the cursor).
    Batch(Bytes),
    /// The hub closed the connection with nothing more to send: this
    /// final body (a disconnect push), and the session is over.
    Over(Bytes),
    /// A newer poll took over: answer empty.
    Replaced,
}

/// What a poll's `ack` leads to, seen from the request.
#[derive(Debug)]
pub(super) enum Polled {
    /// Answer at once with this batch (a resend).
    Now(Bytes),
    /// Hold the request ([`Session::hold`] with this turn).
    Hold(u64),
    /// Answer empty, change nothing.
    Stale,
    /// The ack names a batch never sent.
    Ahead,
    /// The session has nothing more: close it.
    Over,
}

impl Session {
    /// A session whose open response (batch 1) was `body`; `refill`: the
    /// driver stopped at the outlet's budget when it was taken.
    pub(super) fn new(conn: ConnId, outlet: Arc<Outlet>, body: Bytes, refill: bool) -> Self {
        Session {
            conn,
            outlet,
            state: Mutex::new(State {
                cursor: Cursor::opened(body),
                refill_owed: refill,
                holder: 0,
                holder_waker: None,
                idle_since: Some(Instant::now()),
            }),
        }
    }

    /// Applies a poll's `ack`. The second value says whether to ask the
    /// driver for more output (a confirmed batch ended at the budget).
    pub(super) fn poll(&self, ack: u64) -> (Polled, bool) {
        let mut state = lock(&self.state);
        let (outcome, confirmed) = state.cursor.ack(ack);
        let refill = confirmed && std::mem::take(&mut state.refill_owed);
        let polled = match outcome {
            AckOutcome::Resend(body) => Polled::Now(body),
            AckOutcome::Stale => Polled::Stale,
            AckOutcome::Ahead => Polled::Ahead,
            AckOutcome::Over => Polled::Over,
            AckOutcome::Wait => {
                state.holder += 1;
                if let Some(replaced) = state.holder_waker.take() {
                    replaced.wake();
                }
                state.idle_since = None;
                Polled::Hold(state.holder)
            }
        };
        (polled, refill)
    }

    /// Waits, as poll `turn`, for the next batch; see [`Held`]. Dropping
    /// the future (the client went away, the hold timed out) leaves the
    /// session idle, and its expiry clock runs from then.
    pub(super) async fn hold(&self, turn: u64) -> Held {
        let _idle_when_done = IdleWhenDone {
            session: self,
            turn,
        };
        let mut messages = Vec::new();
        poll_fn(|cx| self.poll_held(cx, turn, &mut messages)).await
    }

    fn poll_held(&self, cx: &mut Context<'_>, turn: u64, messages: &mut Vec<Bytes>) -> Poll<Held> {
        let mut state = lock(&self.state);
        if state.holder != turn {
            return Poll::Ready(Held::Replaced);
        }
        if !state
            .holder_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.holder_waker = Some(cx.waker().clone());
        }
        debug_assert!(state.cursor.can_take());
        let Poll::Ready(taken) = self.outlet.poll_take(cx, messages) else {
            return Poll::Pending;
        };
        state.refill_owed |= taken.refill;
        let closed = taken.close.is_some() || taken.ended;
        // The hub writes a disconnect push before it closes an emulation
        // connection; a stopped hub (ended) wrote none.
        let shutdown = (taken.ended && taken.close.is_none()).then_some(SHUTDOWN_PUSH);
        let held = if messages.is_empty() {
            state.cursor.close();
            let push = match &taken.close {
                Some(close) => cursor::disconnect_push(close.code, &close.reason),
                None => SHUTDOWN_PUSH.to_vec(),
            };
            Held::Over(cursor::final_body(&[], Some(&push)))
        } else {
            let body = cursor::batch(state.cursor.next_seq(), None, messages, shutdown);
            state.cursor.handed_out(body.clone(), closed);
            Held::Batch(body)
        };
        outlet::recycle(messages);
        Poll::Ready(held)
    }

    /// Whether no poll has been held for `timeout` by `now`.
    pub(super) fn expired(&self, now: Instant, timeout: std::time::Duration) -> bool {
        lock(&self.state)
            .idle_since
            .is_some_and(|since| now.saturating_duration_since(since) >= timeout)
    }

    /// Bytes kept for a resend.
    #[cfg(test)]
    pub(super) fn held_bytes(&self) -> usize {
        lock(&self.state).cursor.held_bytes()
    }
}

/// Marks the session idle when the poll `turn` ends, however it ends.
struct IdleWhenDone<'a> {
    session: &'a Session,
    turn: u64,
}

impl Drop for IdleWhenDone<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.session.state);
        if state.holder == self.turn {
            state.holder_waker = None;
            state.idle_since = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::time::Duration;

    use pushwire_hub::{Hub, HubConfig, Timestamp, Transport};

    use super::*;

    /// A connected hub connection, its outlet, and the session opened
    /// with what the connect produced.
    fn session() -> (Hub, Session) {
        let now = Timestamp::from_millis(1_000);
        let mut config = HubConfig::default();
        config.client.allow_anonymous_connect_without_token = true;
        let mut hub = Hub::new(config, [7; 32], now).unwrap();
        let conn = hub.open(now, Transport::emulation());
        hub.handle_frame(now, conn, br#"{"id":1,"connect":{}}"#);
        let outlet = Arc::new(Outlet::default());
        outlet.fill(hub.outbox(conn).unwrap());
        let mut messages = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(_) = outlet.poll_take(&mut cx, &mut messages) else {
            panic!("the connect reply")
        };
        let body = cursor::batch(1, Some("s"), &messages, None);
        (hub, Session::new(conn, outlet, body, false))
    }

    #[test]
    fn an_idle_session_is_small() {
        // Beside its hub connection and outlet (a WebSocket has those
        // too), an idle session holds this, a map entry and its id.
        let size = std::mem::size_of::<Session>();
        assert!(size <= 160, "{size} bytes");
    }

    #[test]
    fn a_newer_poll_replaces_the_held_one() {
        let (_hub, session) = session();
        let Polled::Hold(first) = session.poll(1).0 else {
            panic!("up to date")
        };
        let mut cx = Context::from_waker(Waker::noop());
        let mut held = pin!(session.hold(first));
        assert!(held.as_mut().poll(&mut cx).is_pending());
        assert!(!session.expired(Instant::now() + Duration::from_secs(3600), Duration::ZERO));
        let Polled::Hold(second) = session.poll(1).0 else {
            panic!("still up to date")
        };
        assert!(matches!(
            held.as_mut().poll(&mut cx),
            Poll::Ready(Held::Replaced)
        ));
        // The replaced poll ended, the newer one is held: not idle.
        assert!(!session.expired(Instant::now() + Duration::from_secs(3600), Duration::ZERO));
        let mut held = Box::pin(session.hold(second));
        assert!(held.as_mut().poll(&mut cx).is_pending());
        drop(held);
        assert!(session.expired(Instant::now(), Duration::ZERO));
    }

    #[test]
    fn a_held_poll_takes_the_next_batch_and_keeps_it_until_confirmed() {
        let (mut hub, session) = session();
        let Polled::Hold(turn) = session.poll(1).0 else {
            panic!("up to date")
        };
        let mut cx = Context::from_waker(Waker::noop());
        let mut held = pin!(session.hold(turn));
        assert!(held.as_mut().poll(&mut cx).is_pending());
        let now = Timestamp::from_millis(2_000);
        hub.handle_frame(now, session.conn, br#"{"id":2,"rpc":{}}"#);
        session.outlet.fill(hub.outbox(session.conn).unwrap());
        let Poll::Ready(Held::Batch(body)) = held.as_mut().poll(&mut cx) else {
            panic!("a batch")
        };
        assert!(
            body.starts_with(b"{\"poll\":{\"seq\":2}}\n{\"id\":2,\"error\":"),
            "{body:?}"
        );
        assert_eq!(session.held_bytes(), body.len());
        // Lost: the next poll acks 1 and gets the same bytes.
        let Polled::Now(again) = session.poll(1).0 else {
            panic!("a resend")
        };
        assert_eq!(again, body);
        assert!(matches!(session.poll(2).0, Polled::Hold(_)));
        assert_eq!(session.held_bytes(), 0);
    }
}
