//! Where the hub's driver leaves what one connection is to send, and
//! where that connection's task (or its response body) picks it up.
//!
//! The hub's own outbox holds a connection's backlog, bounded, under its
//! namespace's slow-consumer policy. The driver moves at most
//! [`OUTLET_BUDGET`] bytes at a time from there into the outlet, and
//! moves more only once the connection has written what it took: a
//! client that does not read leaves its backlog in the hub, where the
//! policy applies, not in buffers here.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::task::AtomicWaker;

use crate::task::lock;

/// Bytes the driver hands a connection before it has written them out.
pub(crate) const OUTLET_BUDGET: usize = 64 << 10;

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
    queue: VecDeque<Bytes>,
    bytes: usize,
    /// The driver stopped at the budget: tell it once the queue is taken.
    refill: bool,
    /// Sent after the queue: the connection ends.
    close: Option<Close>,
    /// The driver is gone (the hub stopped).
    ended: bool,
}

/// What a connection takes from its outlet in one go.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Messages to send, in order.
    pub(crate) messages: Vec<Bytes>,
    /// Ask the driver for more once these are written.
    pub(crate) refill: bool,
    /// End the connection after the messages.
    pub(crate) close: Option<Close>,
    /// The hub is gone: end the connection.
    pub(crate) ended: bool,
}

impl Outlet {
    /// Room left before the budget is spent.
    pub(crate) fn room(&self) -> usize {
        OUTLET_BUDGET.saturating_sub(lock(&self.state).bytes)
    }

    /// Adds messages from the driver; `more_waiting` marks that the hub
    /// holds more for this connection.
    pub(crate) fn put(&self, messages: &mut Vec<Bytes>, more_waiting: bool) {
        {
            let mut state = lock(&self.state);
            for message in messages.drain(..) {
                state.bytes += message.len();
                state.queue.push_back(message);
            }
            state.refill |= more_waiting;
        }
        self.waker.wake();
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

    /// Takes everything queued, or waits for something.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Batch> {
        if let Some(batch) = self.try_take() {
            return Poll::Ready(batch);
        }
        self.waker.register(cx.waker());
        match self.try_take() {
            Some(batch) => Poll::Ready(batch),
            None => Poll::Pending,
        }
    }

    fn try_take(&self) -> Option<Batch> {
        let mut state = lock(&self.state);
        if state.queue.is_empty() && state.close.is_none() && !state.ended {
            return None;
        }
        state.bytes = 0;
        let messages = std::mem::take(&mut state.queue).into();
        Some(Batch {
            messages,
            refill: std::mem::take(&mut state.refill),
            close: state.close.take(),
            ended: state.ended,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    #[test]
    fn hands_over_in_order_then_closes() {
        let outlet = Outlet::default();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(outlet.poll_take(&mut cx).is_pending());
        outlet.put(&mut vec![Bytes::from("a"), Bytes::from("bc")], true);
        assert_eq!(outlet.room(), OUTLET_BUDGET - 3);
        outlet.close(Close {
            code: 3008,
            reason: "slow".into(),
        });
        let Poll::Ready(batch) = outlet.poll_take(&mut cx) else {
            panic!("queued")
        };
        assert_eq!(batch.messages, [Bytes::from("a"), Bytes::from("bc")]);
        assert!(batch.refill && !batch.ended);
        assert_eq!(batch.close.map(|c| c.code), Some(3008));
        assert_eq!(outlet.room(), OUTLET_BUDGET);
        assert!(outlet.poll_take(&mut cx).is_pending());
    }
}
