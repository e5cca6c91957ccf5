//! The body of a request served by a [`Server`](crate::Server).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::body::BoxError;
use super::h1::body::BodyReceiver;
use super::h2::stream::StreamRef;

/// A request's body as a [`Server`](crate::Server) hands it to its
/// service: read from an HTTP/1.1 connection as the service asks for it,
/// or from an HTTP/2 stream (returning its flow-control window as it is
/// read).
///
/// It is an [`http_body::Body`] of [`Bytes`], so `http_body_util`'s
/// `BodyExt::collect` and frameworks such as axum take it as it is.
/// A service that also runs under a hyper server of its own makes one
/// from hyper's `Incoming` with `RequestBody::from`.
///
/// ```
/// use http_body::Body as _;
/// use pushwire::RequestBody;
///
/// assert!(RequestBody::empty().is_end_stream());
/// ```
pub struct RequestBody {
    kind: Kind,
}

enum Kind {
    Empty,
    /// A body that arrived whole with its head: its bytes until read.
    Whole(Option<Bytes>),
    Hyper(hyper::body::Incoming),
    Http1(BodyReceiver),
    Http2 {
        stream: StreamRef,
        data_done: bool,
    },
}

impl RequestBody {
    /// A body with no bytes (what an HTTP/2 extended CONNECT carries
    /// until it is accepted as a tunnel).
    pub fn empty() -> Self {
        RequestBody { kind: Kind::Empty }
    }

    /// A body already received in full (an HTTP/1.1 request whose
    /// content came in the same reads as its head): handed over as one
    /// piece, with no channel to the connection.
    pub(crate) fn whole(bytes: Bytes) -> Self {
        RequestBody {
            kind: Kind::Whole(Some(bytes)),
        }
    }

    /// The body of a request received on an HTTP/1.1 connection.
    pub(crate) fn http1(body: BodyReceiver) -> Self {
        RequestBody {
            kind: Kind::Http1(body),
        }
    }

    /// The body of a request received on an HTTP/2 stream.
    pub(crate) fn http2(stream: StreamRef) -> Self {
        RequestBody {
            kind: Kind::Http2 {
                stream,
                data_done: false,
            },
        }
    }
}

impl From<hyper::body::Incoming> for RequestBody {
    fn from(body: hyper::body::Incoming) -> Self {
        RequestBody {
            kind: Kind::Hyper(body),
        }
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Empty => "empty",
            Kind::Whole(_) => "whole",
            Kind::Hyper(_) => "hyper",
            Kind::Http1(_) => "http1",
            Kind::Http2 { .. } => "http2",
        };
        f.debug_tuple("RequestBody").field(&kind).finish()
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Hyper(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Kind::Http1(body) => body.poll_frame(cx),
            Kind::Http2 { stream, data_done } => {
                if !*data_done {
                    // The window opens again as the service reads.
                    match ready!(stream.poll_data(cx)) {
                        Some(Ok(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                        Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                        None => *data_done = true,
                    }
                }
                Poll::Ready(stream.take_trailers().map(|t| Ok(Frame::trailers(t))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Whole(bytes) => bytes.is_none(),
            Kind::Hyper(body) => body.is_end_stream(),
            Kind::Http1(body) => body.is_end_stream(),
            Kind::Http2 { stream, .. } => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Hyper(body) => body.size_hint(),
            Kind::Http1(body) => body.size_hint(),
            Kind::Http2 { .. } => SizeHint::default(),
        }
    }
}
