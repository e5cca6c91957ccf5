//! The hub over a streaming HTTP response: `/connection/uni_sse` (each
//! push a `data:` event) and `/connection/uni_http_stream` (each push a
//! line). The response body is the connection: it takes from its outlet
//! as the client reads, and dropping it (the client went away) closes
//! the hub's connection.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pushwire_hub::ConnId;

use super::outlet::Outlet;
use super::HubHandle;
use crate::http::body::BoxError;

/// How pushes are laid out in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Server-Sent Events: `\r\n` first, then `data: <push>\n\n`.
    Sse,
    /// Newline-delimited JSON: `<push>\n`.
    Lines,
}

/// A unidirectional connection's response body.
pub(crate) struct StreamBody {
    hub: HubHandle,
    conn: ConnId,
    outlet: Arc<Outlet>,
    framing: Framing,
    /// What was taken from the outlet, kept to be reused.
    messages: Vec<Bytes>,
    started: bool,
    done: bool,
}

impl StreamBody {
    pub(crate) fn new(hub: HubHandle, conn: ConnId, outlet: Arc<Outlet>, framing: Framing) -> Self {
        hub.metrics.opened(framing.into());
        StreamBody {
            hub,
            conn,
            outlet,
            framing,
            messages: Vec::new(),
            started: false,
            done: false,
        }
    }

    fn frame(&self, messages: &[Bytes]) -> Bytes {
        let (before, after): (&[u8], &[u8]) = match self.framing {
            Framing::Sse => (b"data: ", b"\n\n"),
            Framing::Lines => (b"", b"\n"),
        };
        let len = messages
            .iter()
            .map(|m| before.len() + m.len() + after.len())
            .sum();
        let mut out = BytesMut::with_capacity(len);
        for message in messages {
            out.extend_from_slice(before);
            out.extend_from_slice(message);
            out.extend_from_slice(after);
        }
        out.freeze()
    }
}

impl HttpBody for StreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if !self.started {
            self.started = true;
            if self.framing == Framing::Sse {
                // Flushes the head through proxies at once.
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"\r\n")))));
            }
        }
        let this = &mut *self;
        let Poll::Ready(taken) = this.outlet.poll_take(cx, &mut this.messages) else {
            return Poll::Pending;
        };
        if taken.refill {
            this.hub.refill_soon(this.conn);
        }
        if taken.close.is_some() || taken.ended {
            this.done = true;
        }
        if this.messages.is_empty() {
            return Poll::Ready(None);
        }
        let framed = this.frame(&this.messages);
        this.messages.clear();
        Poll::Ready(Some(Ok(Frame::data(framed))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        self.hub.metrics.closed(self.framing.into());
        self.hub.closed(self.conn);
    }
}
