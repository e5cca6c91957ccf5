//! Where the hub's driver leaves what one streaming connection (an
//! emulation or unidirectional stream, a long-poll session) is to send,
//! and where its response body picks it up. (WebSockets are written by
//! the driver itself, see `sockets`.)
//!
//! The hub's own outbox holds a connection's backlog, bounded, under its
//! namespace's slow-consumer policy. The driver moves at most
//! [`OUTLET_BUDGET`] bytes at a time from there into the outlet, and
//! moves more only once the connection has written what it took: a
//! client that does not read leaves its backlog in the hub, where the
//! policy applies, not in buffers here.
//!
//! The hand-over costs one lock on each side and no allocation once
//! warm: the driver drains the outbox straight into the outlet's queue,
//! and the stream swaps that queue with its own emptied one.

use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use pushwire_hub::Outbox;

use crate::task::lock;

/// Bytes the driver hands a connection before it has written them out.
pub(crate) const OUTLET_BUDGET: usize = 64 << 10;

/// Queue capacity (in messages) a connection keeps between batches; a
/// larger one, grown by a backlog, is freed once written, so that idle
/// connections stay small. (Queues are sized to what they first take: a
/// connection that gets one message at a time holds room for one.)
const KEPT_CAPACITY: usize = 16;

/// How a connection ends, told by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Close {
    /// The disconnect code (3000-4999).
    pub(crate) code: u16,
    /// A short reason, for the WebSocket close frame.
    pub(crate) reason: String,
}

/// One connection's outlet, shared by the driver and the connection.
#[derive(Debug, Default)]
pub(crate) struct Outlet {
    state: Mutex<State>,
    waker: AtomicWaker,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<Bytes>,
    bytes: usize,
    /// The driver stopped at the budget: tell it once the queue is taken.
    refill: bool,
    /// Sent after the queue: the connection ends.
    close: Option<Close>,
    /// The driver is gone (the hub stopped).
    ended: bool,
}

/// What comes with a batch of messages taken from an outlet.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// Ask the driver for more once the messages are written.
    pub(crate) refill: bool,
    /// End the connection after the messages.
    pub(crate) close: Option<Close>,
    /// The hub is gone: end the connection.
    pub(crate) ended: bool,
}

impl Outlet {
    /// Moves what fits of `outbox` into the outlet and wakes the
    /// connection if it had nothing to do. Returns whether the outbox
    /// still holds more (the connection asks for it once it has written).
    pub(crate) fn fill(&self, outbox: &mut Outbox) -> bool {
        let was_idle = {
            let mut state = lock(&self.state);
            let room = OUTLET_BUDGET.saturating_sub(state.bytes);
            let before = state.queue.len();
            if room > 0 {
                let moved = outbox.drain_into(&mut state.queue, room);
                let added: usize = state.queue[before..].iter().map(Bytes::len).sum();
                state.bytes += added;
                debug_assert_eq!(state.queue.len() - before, moved);
            }
            let more = !outbox.is_empty();
            state.refill |= more;
            // A queue that held something already had its wake-up.
            before == 0 && !state.queue.is_empty()
        };
        if was_idle {
            self.waker.wake();
        }
        !outbox.is_empty()
    }

    /// Ends the connection once what is queued has gone out.
    pub(crate) fn close(&self, close: Close) {
        lock(&self.state).close = Some(close);
        self.waker.wake();
    }

    /// The hub stopped: the connection ends.
    pub(crate) fn end(&self) {
        lock(&self.state).ended = true;
        self.waker.wake();
    }

    /// Takes everything queued into `messages` (which the caller has
    /// emptied), or waits for something.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, messages: &mut Vec<Bytes>) -> Poll<Taken> {
        if let Some(taken) = self.try_take(messages) {
            return Poll::Ready(taken);
        }
        self.waker.register(cx.waker());
        match self.try_take(messages) {
            Some(taken) => Poll::Ready(taken),
            None => Poll::Pending,
        }
    }

    fn try_take(&self, messages: &mut Vec<Bytes>) -> Option<Taken> {
        debug_assert!(messages.is_empty());
        let mut state = lock(&self.state);
        if state.queue.is_empty() && state.close.is_none() && !state.ended {
            return None;
        }
        state.bytes = 0;
        std::mem::swap(&mut state.queue, messages);
        Some(Taken {
            refill: std::mem::take(&mut state.refill),
            close: state.close.take(),
            ended: state.ended,
        })
    }
}

/// Empties `messages` once written, keeping its room only if small.
pub(crate) fn recycle(messages: &mut Vec<Bytes>) {
    if messages.capacity() > KEPT_CAPACITY {
        *messages = Vec::new();
    } else {
        messages.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use pushwire_hub::{ConnId, Hub, HubConfig, Timestamp, Transport};

    use super::*;

    /// A connected hub connection whose outbox holds one reply per rpc
    /// command sent (rpc answers error 104 without a proxy).
    fn outbox_with_replies(rpcs: usize) -> (Hub, ConnId) {
        let now = Timestamp::from_millis(1_000);
        let mut config = HubConfig::default();
        config.client.allow_anonymous_connect_without_token = true;
        let mut hub = Hub::new(config, [7; 32], now).unwrap();
        let conn = hub.open(now, Transport::websocket());
        let mut frame = String::from(r#"{"id":1,"connect":{}}"#);
        for id in 2..rpcs + 2 {
            frame.push_str(&format!("\n{{\"id\":{id},\"rpc\":{{}}}}"));
        }
        hub.handle_frame(now, conn, frame.as_bytes());
        (hub, conn)
    }

    #[test]
    fn hands_over_in_order_then_closes() {
        let (mut hub, conn) = outbox_with_replies(2);
        let outlet = Outlet::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut messages = Vec::new();
        assert!(outlet.poll_take(&mut cx, &mut messages).is_pending());
        assert!(!outlet.fill(hub.outbox(conn).unwrap()));
        outlet.close(Close {
            code: 3008,
            reason: "slow".into(),
        });
        let Poll::Ready(taken) = outlet.poll_take(&mut cx, &mut messages) else {
            panic!("queued")
        };
        assert_eq!(messages.len(), 3);
        assert!(messages[0].starts_with(br#"{"id":1,"connect":"#));
        assert!(messages[2].starts_with(br#"{"id":3,"error":{"code":104"#));
        assert!(!taken.refill && !taken.ended);
        assert_eq!(taken.close.map(|c| c.code), Some(3008));
        messages.clear();
        assert!(outlet.poll_take(&mut cx, &mut messages).is_pending());
    }

    #[test]
    fn stops_at_the_budget_until_refilled() {
        let (mut hub, conn) = outbox_with_replies(4_000);
        let outlet = Outlet::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut messages = Vec::new();
        assert!(outlet.fill(hub.outbox(conn).unwrap()), "more than a budget");
        let Poll::Ready(taken) = outlet.poll_take(&mut cx, &mut messages) else {
            panic!("queued")
        };
        assert!(taken.refill);
        let first: usize = messages.iter().map(Bytes::len).sum();
        assert!(
            (OUTLET_BUDGET - 200..=OUTLET_BUDGET).contains(&first),
            "{first}"
        );
        let mut total = messages.len();
        while {
            messages.clear();
            outlet.fill(hub.outbox(conn).unwrap())
        } {
            let Poll::Ready(_) = outlet.poll_take(&mut cx, &mut messages) else {
                panic!("refilled")
            };
            total += messages.len();
        }
        let Poll::Ready(taken) = outlet.poll_take(&mut cx, &mut messages) else {
            panic!("the rest")
        };
        assert!(!taken.refill);
        assert_eq!(total + messages.len(), 4_001);
    }
}
