//! The byte stream a WebSocket runs on once an HTTP request is upgraded.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Version;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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
    io: TokioIo<hyper::upgrade::Upgraded>,
    version: Version,
    _open: Option<Gauge>,
}

impl UpgradedStream {
    pub(crate) fn new(
        upgraded: hyper::upgrade::Upgraded,
        version: Version,
        open: Option<Gauge>,
    ) -> Self {
        UpgradedStream {
            io: TokioIo::new(upgraded),
            version,
            _open: open,
        }
    }

    /// The HTTP version the WebSocket was opened over: `HTTP/1.1` or
    /// `HTTP/2`.
    pub fn version(&self) -> Version {
        self.version
    }
}

impl AsyncRead for UpgradedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for UpgradedStream {
    crate::forward::forward_async_write!(io);
}
