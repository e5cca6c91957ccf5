//! One HTTP/2 request stream: the service's response, its body paced by
//! the peer's flow-control window.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http::header::{CONNECTION, CONTENT_LENGTH, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Response};
use pushwire_proto::http2::ErrorCode;
use tokio::sync::oneshot;

use super::stream::StreamRef;
use super::tunnel::Http2Stream;
use crate::http::body::{is_bodiless, BoxError};
use crate::http::upgrade_slot::Handover;

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
            stream: Option<StreamRef>,
            tunnel: Option<oneshot::Sender<Handover>>,
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
        stream: StreamRef,
        tunnel: Option<oneshot::Sender<Handover>>,
        head_only: bool,
    ) -> Self {
        Respond::Answering {
            future: Box::pin(future),
            stream: Some(stream),
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
                stream,
                tunnel,
                head_only,
            } => {
                let Some(live) = stream.as_ref() else {
                    return Poll::Ready(());
                };
                if live.poll_reset(cx).is_ready() {
                    // The client reset the stream: the service is dropped.
                    self.set(Respond::Done);
                    return Poll::Ready(());
                }
                let response = ready!(future.as_mut().poll(cx));
                match (response, stream.take()) {
                    (Ok(response), Some(stream)) => {
                        send_head(response, stream, tunnel.take(), *head_only)
                            .map(|body| Respond::Sending { body })
                    }
                    (Err(e), Some(stream)) => {
                        tracing::debug!("service failed: {}", e.into());
                        stream.reset(ErrorCode::INTERNAL_ERROR);
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
    stream: StreamRef,
    tunnel: Option<oneshot::Sender<Handover>>,
    head_only: bool,
) -> Option<SendBody<B>> {
    let (mut parts, body) = response.into_parts();
    strip_connection_headers(&mut parts.headers);
    if let Some(tunnel) = tunnel {
        if parts.status.is_success() {
            stream.send_head(parts.status, &parts.headers, false);
            // Refused when the Upgrade was dropped: the stream is then
            // reset as it drops.
            let _ = tunnel.send(Handover::Tunnel(Http2Stream::served(stream)));
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
    stream.send_head(parts.status, &parts.headers, end);
    (!end).then_some(SendBody {
        body,
        stream,
        waiting: None,
    })
}

pin_project_lite::pin_project! {
    /// Sends a body's frames: each DATA chunk waits until what was sent
    /// before it went out, so a client that stops reading stops the
    /// body. (A future of its own rather than an `async fn`: an event
    /// stream lives long, and this keeps its state to the body, the
    /// stream and one chunk.)
    struct SendBody<B> {
        #[pin]
        body: B,
        stream: StreamRef,
        // A chunk taken from the body, waiting for room; and whether it
        // ends the body.
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
            if let Some((data, end)) = me.waiting.take() {
                if me.stream.poll_room(cx)?.is_pending() {
                    *me.waiting = Some((data, end));
                    return Poll::Pending;
                }
                me.stream.send_data(data, end)?;
                if end {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            if let Poll::Ready(code) = me.stream.poll_reset(cx) {
                return Poll::Ready(Err(format!("stream reset: {code}").into()));
            }
            let frame = match ready!(me.body.as_mut().poll_frame(cx)) {
                None => {
                    me.stream.send_data(Bytes::new(), true)?;
                    return Poll::Ready(Ok(()));
                }
                Some(Err(e)) => {
                    me.stream.reset(ErrorCode::INTERNAL_ERROR);
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
                    *me.waiting = Some((data, end));
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
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
