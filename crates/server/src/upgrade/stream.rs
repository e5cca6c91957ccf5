//! The byte stream a WebSocket runs on once an HTTP request is upgraded,
//! and the WebSocket's buffer-passing reads and writes over HTTP/2.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Version;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use bytes::{Bytes, BytesMut};
use pushwire_proto::Role;

use crate::http::h2::tunnel::Http2Stream;
use crate::http::stats::Gauge;
use crate::io::ByteStream;
use crate::ws::buffers::BufferStream;
use crate::ws::{Negotiated, WebSocket, WebSocketConfig};

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

    /// The HTTP/2 stream underneath, when pushwire's server opened it: a
    /// WebSocket passes it buffers rather than bytes.
    pub(crate) fn buffers(&mut self) -> Option<&mut dyn BufferStream> {
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

impl BufferStream for Http2Stream {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        Http2Stream::poll_chunk(self, cx)
    }

    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Http2Stream::poll_room(self, cx)
    }

    fn send(&mut self, data: Bytes) -> io::Result<()> {
        Http2Stream::send(self, data).map(drop)
    }
}

impl WebSocket<Http2Stream> {
    /// Wraps an HTTP/2 stream opened by an extended CONNECT (RFC 8441)
    /// whose response said yes. Unlike [`WebSocket::from_upgraded`],
    /// which works on any byte stream, reads and writes pass the HTTP/2
    /// connection's buffers as they are: a copy fewer each way.
    pub fn from_http2(
        stream: Http2Stream,
        role: Role,
        config: &WebSocketConfig,
        negotiated: Negotiated,
    ) -> Self {
        WebSocket::from_upgraded(stream, role, config, negotiated, BytesMut::new())
            .with_buffers(|stream| Some(stream))
    }
}
