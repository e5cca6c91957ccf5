//! The byte stream a WebSocket runs on once an HTTP request is upgraded.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Version;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::tunnel::Http2Stream;
use crate::http::stats::Gauge;

/// The stream under a WebSocket accepted by [`Upgrade`](crate::Upgrade):
/// the whole TCP or TLS connection after an HTTP/1.1 `101`, or one
/// HTTP/2 stream after an extended CONNECT.
///
/// Over HTTP/2, a client's `RST_STREAM` ends only this stream: it
/// surfaces as end of stream or an IO error on this WebSocket, while the
/// connection and its other streams carry on.
#[derive(Debug)]
pub struct UpgradedStream {
    io: Io,
    version: Version,
    _open: Option<Gauge>,
}

/// Where the bytes go.
pub(crate) enum Io {
    /// A connection or HTTP/2 stream that a hyper server upgraded.
    Hyper(TokioIo<hyper::upgrade::Upgraded>),
    /// An HTTP/1.1 connection of a pushwire [`Server`](crate::Server).
    Connection(Box<dyn ByteStream>),
    /// An HTTP/2 stream of a pushwire [`Server`](crate::Server).
    Tunnel(Http2Stream),
}

/// A connection's byte stream, whatever is under it (TCP, TLS).
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Io::Hyper(io) => f.debug_tuple("Hyper").field(io).finish(),
            Io::Connection(_) => f.write_str("Connection"),
            Io::Tunnel(stream) => f.debug_tuple("Tunnel").field(stream).finish(),
        }
    }
}

impl UpgradedStream {
    pub(crate) fn new(io: Io, version: Version, open: Option<Gauge>) -> Self {
        UpgradedStream {
            io,
            version,
            _open: open,
        }
    }

    /// The HTTP/2 stream underneath, when pushwire's server opened it.
    pub(crate) fn http2_stream(&mut self) -> Option<&mut Http2Stream> {
        match &mut self.io {
            Io::Tunnel(stream) => Some(stream),
            Io::Hyper(_) | Io::Connection(_) => None,
        }
    }

    /// The HTTP version the WebSocket was opened over: `HTTP/1.1` or
    /// `HTTP/2`.
    pub fn version(&self) -> Version {
        self.version
    }
}

/// Calls `$method` on whichever stream is under `$self`.
macro_rules! on_io {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &mut $self.io {
            Io::Hyper(io) => Pin::new(io).$method($($arg),*),
            Io::Connection(io) => Pin::new(io).$method($($arg),*),
            Io::Tunnel(io) => Pin::new(io).$method($($arg),*),
        }
    };
}

impl AsyncRead for UpgradedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        on_io!(self.poll_read(cx, buf))
    }
}

impl AsyncWrite for UpgradedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_io!(self.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        on_io!(self.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Hyper(io) => io.is_write_vectored(),
            Io::Connection(io) => io.is_write_vectored(),
            Io::Tunnel(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_io!(self.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_io!(self.poll_shutdown(cx))
    }
}
