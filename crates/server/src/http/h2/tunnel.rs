//! An HTTP/2 stream opened by an extended CONNECT (RFC 8441) as a byte
//! stream: one of a connection pushwire serves, or (feature `h2`) one a
//! client opened with the `h2` crate.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use pushwire_proto::http2::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "h2")]
use super::h2_halves::H2Halves;
use super::stream::{stream_error, StreamError, StreamRef};

/// One HTTP/2 stream as an `AsyncRead + AsyncWrite` byte stream: what a
/// WebSocket runs on over HTTP/2 (RFC 8441), on either side.
///
/// A [`Server`](crate::Server) hands these to [`Upgrade`](crate::Upgrade)
/// itself; with the `h2` feature, a client that opened an extended
/// CONNECT with the `h2` crate wraps its two halves with
/// `Http2Stream::new` and runs a WebSocket on it with
/// [`WebSocket::from_http2`](crate::WebSocket::from_http2).
///
/// Reads hand out the DATA payloads and return their flow-control
/// window as they are consumed. A write becomes DATA frames once the
/// peer's window has room, so a peer that stops reading stops the
/// writer; a vectored write is sent whole. Shutting down sends
/// `END_STREAM`. A `RST_STREAM` from the peer ends only this stream.
pub struct Http2Stream {
    halves: Halves,
    unread: Bytes,
    ended: bool,
}

enum Halves {
    /// A stream of a connection pushwire serves.
    Served(StreamRef),
    /// A stream of an `h2` crate connection.
    #[cfg(feature = "h2")]
    H2(H2Halves),
}

impl Http2Stream {
    /// The byte stream over an `h2` stream's sending and receiving
    /// halves.
    #[cfg(feature = "h2")]
    pub fn new(send: h2::SendStream<Bytes>, recv: h2::RecvStream) -> Self {
        Http2Stream {
            halves: Halves::H2(H2Halves::new(send, recv)),
            unread: Bytes::new(),
            ended: false,
        }
    }

    /// A stream of pushwire's server.
    pub(crate) fn served(stream: StreamRef) -> Self {
        Http2Stream {
            halves: Halves::Served(stream),
            unread: Bytes::new(),
            ended: false,
        }
    }

    /// Ready once the stream takes more: the peer's window has room (an
    /// `h2` stream), or what was sent before has gone out (a served one).
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.halves {
            Halves::Served(stream) => stream.poll_room(cx),
            #[cfg(feature = "h2")]
            Halves::H2(halves) => halves.poll_room(cx),
        }
    }

    /// Queues `data` on the stream, to go out in DATA frames of the
    /// peer's maximum size.
    pub(crate) fn send(&mut self, data: Bytes) -> io::Result<usize> {
        let len = data.len();
        self.send_data(data, false)?;
        Ok(len)
    }

    fn send_data(&mut self, data: Bytes, end: bool) -> io::Result<()> {
        match &mut self.halves {
            Halves::Served(stream) => Ok(stream.send_data(data, end)?),
            #[cfg(feature = "h2")]
            Halves::H2(halves) => halves.send_data(data, end),
        }
    }

    /// Waits for DATA while nothing is unread; `false` at the end of the
    /// stream, or once the peer cancelled it.
    fn poll_unread(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        while self.unread.is_empty() {
            let next: io::Result<Option<Bytes>> = match &mut self.halves {
                Halves::Served(stream) => match ready!(stream.poll_data(cx)) {
                    Some(Ok(data)) => Ok(Some(data)),
                    None
                    | Some(Err(StreamError::Reset(ErrorCode::NO_ERROR | ErrorCode::CANCEL))) => {
                        Ok(None)
                    }
                    Some(Err(e)) => Err(stream_error(e)),
                },
                #[cfg(feature = "h2")]
                Halves::H2(halves) => ready!(halves.poll_data(cx)),
            };
            match next? {
                Some(data) => self.unread = data,
                None => return Poll::Ready(Ok(false)),
            }
        }
        Poll::Ready(Ok(true))
    }

    /// The next DATA payload, its flow-control window returned; `None`
    /// at the end of the stream. A reader that copies it anyway reads it
    /// here without a copy in between.
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        if !ready!(self.poll_unread(cx))? {
            return Poll::Ready(Ok(None));
        }
        Poll::Ready(Ok(Some(std::mem::take(&mut self.unread))))
    }
}

impl std::fmt::Debug for Http2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stream_id = match &self.halves {
            Halves::Served(stream) => stream.id(),
            #[cfg(feature = "h2")]
            Halves::H2(halves) => halves.id(),
        };
        f.debug_struct("Http2Stream")
            .field("stream_id", &stream_id)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Http2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !ready!(self.poll_unread(cx))? {
            return Poll::Ready(Ok(()));
        }
        let len = self.unread.len().min(buf.remaining());
        buf.put_slice(&self.unread[..len]);
        self.unread.advance(len);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Http2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_room(cx))?;
        Poll::Ready(self.send(Bytes::copy_from_slice(buf)))
    }

    /// All the slices as one DATA frame: a WebSocket frame's header and
    /// payload travel together.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|buf| buf.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_room(cx))?;
        let mut data = BytesMut::with_capacity(len);
        for buf in bufs {
            data.extend_from_slice(buf);
        }
        Poll::Ready(self.send(data.freeze()))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// The connection's task writes what was sent; nothing waits here.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Ends the stream's sending half (`END_STREAM`).
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ended {
            self.ended = true;
            self.send_data(Bytes::new(), true)?;
        }
        Poll::Ready(Ok(()))
    }
}
