//! The hub over a streaming HTTP response: `/connection/sse` and
//! `/connection/uni_sse` (each message a `data:` event),
//! `/connection/http_stream` and `/connection/uni_http_stream` (each
//! message a line). The response body is the connection: it takes from
//! its outlet as the client reads, and dropping it (the client went
//! away) closes the hub's connection. When the server shuts down, the
//! stream ends with a `disconnect` push (3001, the client reconnects).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pushwire_hub::{ConnId, Transport};

use super::metrics::TransportKind;
use super::outlet::{self, Outlet};
use super::HubHandle;
use crate::http::body::BoxError;
use crate::http::connection::ConnectionInfo;

/// The push that ends a stream when the server shuts down: the client
/// reconnects (to this server once it is back, or to another).
const SHUTDOWN_PUSH: &[u8] = br#"{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}"#;
/// [`SHUTDOWN_PUSH`] for a unidirectional stream (bare pushes).
const UNI_SHUTDOWN_PUSH: &[u8] = br#"{"disconnect":{"code":3001,"reason":"shutdown"}}"#;

/// Resolves when the server begins shutting down.
type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How pushes are laid out in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Server-Sent Events: `\r\n` first, then `data: <push>\n\n`.
    Sse,
    /// Newline-delimited JSON: `<push>\n`.
    Lines,
}

/// A streaming connection's response body.
pub(crate) struct StreamBody {
    hub: HubHandle,
    conn: ConnId,
    outlet: Arc<Outlet>,
    framing: Framing,
    kind: TransportKind,
    /// The server's shutdown, when the request came through a server.
    shutdown: Option<ShutdownSignal>,
    /// What was taken from the outlet, kept to be reused.
    messages: Vec<Bytes>,
    started: bool,
    done: bool,
}

impl StreamBody {
    /// The body of the connection `conn` over `transport`, laid out as
    /// `framing`; it ends early when the server that delivered the
    /// request (`info`) shuts down.
    pub(crate) fn new(
        hub: HubHandle,
        conn: ConnId,
        outlet: Arc<Outlet>,
        framing: Framing,
        transport: &Transport,
        info: Option<&ConnectionInfo>,
    ) -> Self {
        let kind = TransportKind::stream(framing, transport);
        hub.metrics.opened(kind);
        StreamBody {
            hub,
            conn,
            outlet,
            framing,
            kind,
            shutdown: info.map(|info| Box::pin(info.shutting_down()) as ShutdownSignal),
            messages: Vec::new(),
            started: false,
            done: false,
        }
    }

    /// The disconnect push that ends the stream at a shutdown.
    fn shutdown_push(&self) -> Bytes {
        let push = match self.kind {
            TransportKind::UniSse | TransportKind::UniHttpStream => UNI_SHUTDOWN_PUSH,
            _ => SHUTDOWN_PUSH,
        };
        self.frame(&[Bytes::from_static(push)])
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
            if let Some(shutdown) = &mut this.shutdown {
                if shutdown.as_mut().poll(cx).is_ready() {
                    this.done = true;
                    return Poll::Ready(Some(Ok(Frame::data(this.shutdown_push()))));
                }
            }
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
        outlet::recycle(&mut this.messages);
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
        self.hub.metrics.closed(self.kind);
        self.hub.closed(self.conn);
    }
}
