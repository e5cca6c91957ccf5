//! One HTTP/2 request stream: the service's response sent on h2, its
//! body paced by the peer's flow-control window.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use http::header::{CONNECTION, CONTENT_LENGTH, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Response};
use tokio::sync::oneshot;

use super::body::{is_bodiless, BoxError};
use crate::upgrade::Handover;
use crate::Http2Stream;

pin_project_lite::pin_project! {
    /// One request stream's task: runs the service's future, then sends
    /// its response. For an extended CONNECT (`tunnel`), a `2xx` answer
    /// hands the stream to the tunnel's receiver (the
    /// [`Upgrade`](crate::Upgrade)) instead of a body.
    ///
    /// A future of its own rather than an `async fn`: an event stream
    /// lives long, and its task keeps the body's state alone, the
    /// service's (boxed) future and the request's parts freed.
    #[project = RespondProj]
    pub(crate) enum Respond<F, B> {
        Answering {
            future: Pin<Box<F>>,
            send: Option<SendResponse<Bytes>>,
            tunnel: Option<(oneshot::Sender<Handover>, RecvStream)>,
            head_only: bool,
        },
        Sending {
            #[pin]
            body: SendBody<B>,
        },
        Done,
    }
}

impl<F, B> Respond<F, B> {
    pub(crate) fn new(
        future: F,
        send: SendResponse<Bytes>,
        tunnel: Option<(oneshot::Sender<Handover>, RecvStream)>,
        head_only: bool,
    ) -> Self {
        Respond::Answering {
            future: Box::pin(future),
            send: Some(send),
            tunnel,
            head_only,
        }
    }
}

impl<F, B, E> Future for Respond<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let next = match self.as_mut().project() {
            RespondProj::Answering {
                future,
                send,
                tunnel,
                head_only,
            } => {
                let Some(stream) = send.as_mut() else {
                    return Poll::Ready(());
                };
                if stream.poll_reset(cx).is_ready() {
                    // The client reset the stream: the service is dropped.
                    self.set(Respond::Done);
                    return Poll::Ready(());
                }
                let response = ready!(future.as_mut().poll(cx));
                match (response, send.take()) {
                    (Ok(response), Some(send)) => {
                        send_head(response, send, tunnel.take(), *head_only)
                            .map(|body| Respond::Sending { body })
                    }
                    (Err(e), Some(mut send)) => {
                        tracing::debug!("service failed: {}", e.into());
                        send.send_reset(Reason::INTERNAL_ERROR);
                        None
                    }
                    (_, None) => None,
                }
            }
            RespondProj::Sending { body, .. } => {
                if let Err(e) = ready!(body.poll(cx)) {
                    tracing::debug!("response body not sent: {e}");
                }
                None
            }
            RespondProj::Done => return Poll::Ready(()),
        };
        match next {
            Some(sending) => {
                self.set(sending);
                self.poll(cx)
            }
            None => {
                self.set(Respond::Done);
                Poll::Ready(())
            }
        }
    }
}

/// Sends the response's head (or hands over the tunnel); returns what
/// sends its body, if it has one. (Not `async`: the head's locals then
/// take no room in the task of a long-lived stream.)
fn send_head<B: http_body::Body>(
    response: Response<B>,
    mut send: SendResponse<Bytes>,
    tunnel: Option<(oneshot::Sender<Handover>, RecvStream)>,
    head_only: bool,
) -> Option<SendBody<B>> {
    let (mut parts, body) = response.into_parts();
    strip_connection_headers(&mut parts.headers);
    if let Some((tunnel, recv)) = tunnel {
        if parts.status.is_success() {
            if let Ok(stream) = send.send_response(Response::from_parts(parts, ()), false) {
                // Refused when the Upgrade was dropped: the stream is
                // then reset as it drops.
                let stream = Http2Stream::served(stream, recv);
                let _ = tunnel.send(Handover::http2(stream));
            }
            return None;
        }
    }
    if let (Some(len), false) = (body.size_hint().exact(), is_bodiless(parts.status)) {
        parts
            .headers
            .entry(CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(len));
    }
    let end = head_only || body.is_end_stream();
    let stream = send
        .send_response(Response::from_parts(parts, ()), end)
        .ok()?;
    (!end).then_some(SendBody {
        body,
        stream,
        waiting: None,
    })
}

pin_project_lite::pin_project! {
    /// Sends a body's frames: each DATA chunk waits until the peer's
    /// window has room, so a client that stops reading stops the body.
    /// (A future of its own rather than an `async fn`: an event stream
    /// lives long, and this keeps its state to the body, the stream and
    /// one chunk.)
    struct SendBody<B> {
        #[pin]
        body: B,
        stream: SendStream<Bytes>,
        // A chunk taken from the body, waiting for window; and whether
        // it ends the body.
        waiting: Option<(Bytes, bool)>,
    }
}

impl<B> Future for SendBody<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<(), BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut me = self.project();
        loop {
            if let Poll::Ready(reason) = me.stream.poll_reset(cx) {
                return Poll::Ready(Err(format!("stream reset by peer: {}", reason?).into()));
            }
            if let Some((data, end)) = me.waiting.take() {
                if me.stream.capacity() == 0 {
                    let room = me.stream.poll_capacity(cx);
                    *me.waiting = Some((data, end));
                    match ready!(room) {
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Poll::Ready(Err(e.into())),
                        None => return Poll::Ready(Err("stream closed".into())),
                    }
                }
                me.stream.send_data(data, end)?;
                if end {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            let frame = match ready!(me.body.as_mut().poll_frame(cx)) {
                None => {
                    me.stream.send_data(Bytes::new(), true)?;
                    return Poll::Ready(Ok(()));
                }
                Some(Err(e)) => {
                    me.stream.send_reset(Reason::INTERNAL_ERROR);
                    return Poll::Ready(Err(e.into()));
                }
                Some(Ok(frame)) => frame,
            };
            match frame.into_data() {
                Ok(mut data) => {
                    let data = data.copy_to_bytes(data.remaining());
                    let end = me.body.is_end_stream();
                    if data.is_empty() && !end {
                        continue;
                    }
                    // Ask for one byte only: h2 raises the request to
                    // what is buffered, and a body that never yields
                    // again pins nothing of the connection's window.
                    me.stream.reserve_capacity(1);
                    *me.waiting = Some((data, end));
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        me.stream.reserve_capacity(0);
                        me.stream.send_trailers(trailers)?;
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }
}

/// HTTP/2 forbids the headers that describe an HTTP/1.1 connection
/// (RFC 9113 section 8.2.2).
fn strip_connection_headers(headers: &mut HeaderMap) {
    for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    if headers.get(TE).is_some_and(|te| te != "trailers") {
        headers.remove(TE);
    }
}
