//! An HTTP/2 stream opened by an extended CONNECT (RFC 8441) as a byte
//! stream, read and written on h2's own stream handles.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use h2::{Reason, RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::http2::into_io;

/// The largest DATA frame every peer accepts (RFC 9113 section 4.2):
/// h2 splits longer data into frames of the peer's maximum, at least this.
const MIN_MAX_FRAME_SIZE: usize = 16_384;

/// h2 copies a DATA payload shorter than this next to its frame header,
/// so it rides along in the next write; a longer one is written by
/// reference, in a write of its own.
const H2_INLINE_PAYLOAD: usize = 256;

/// One HTTP/2 stream as an `AsyncRead + AsyncWrite` byte stream: what a
/// WebSocket runs on over HTTP/2 (RFC 8441), on either side.
///
/// A [`Server`](crate::Server) hands these to [`Upgrade`](crate::Upgrade)
/// itself; a client that opened an extended CONNECT with the `h2` crate
/// wraps its two halves with [`Http2Stream::new`] and runs a WebSocket on
/// it with [`WebSocket::from_http2`](crate::WebSocket::from_http2).
///
/// Reads hand out the DATA payloads and return their flow-control
/// window as they are consumed. A write becomes DATA frames once the
/// peer's window has room, so a peer that stops reading stops the
/// writer; a vectored write is sent whole. Shutting down sends
/// `END_STREAM`. A `RST_STREAM` from the peer ends only this stream.
pub struct Http2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    unread: Bytes,
    ended: bool,
    /// Served by pushwire: the peer is a client, which may accept no
    /// DATA frame longer than 16 KiB (browsers do not).
    served: bool,
}

impl Http2Stream {
    /// The byte stream over a stream's sending and receiving halves.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        Http2Stream {
            send,
            recv,
            unread: Bytes::new(),
            ended: false,
            served: false,
        }
    }

    /// A stream of pushwire's server.
    pub(crate) fn served(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        Http2Stream {
            served: true,
            ..Http2Stream::new(send, recv)
        }
    }

    /// Ready once the peer's window has room for at least one byte.
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Poll::Ready(reason) = self.send.poll_reset(cx) {
            return Poll::Ready(Err(reset_error(reason.map_err(into_io)?)));
        }
        // Ask for one byte only: h2 raises the request to what is
        // buffered, and an idle stream pins nothing of the connection's
        // window.
        self.send.reserve_capacity(1);
        while self.send.capacity() == 0 {
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(into_io(e))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Queues `data` on the stream; h2 splits it into frames of the
    /// peer's maximum size.
    ///
    /// A served stream sends a write that is a few bytes longer than a
    /// multiple of 16 KiB with those bytes first: h2 writes a full DATA
    /// frame in a syscall of its own, and a short frame queued *before*
    /// it rides along in that syscall, where the short tail h2 would
    /// split off needs another. A client's peer is a server, which
    /// commonly accepts longer frames (pushwire's announces 64 KiB):
    /// there a masked WebSocket frame, header and payload in one buffer,
    /// goes out as one DATA frame.
    pub(crate) fn send(&mut self, mut data: Bytes) -> io::Result<usize> {
        let len = data.len();
        let remainder = len % MIN_MAX_FRAME_SIZE;
        if self.served && len > MIN_MAX_FRAME_SIZE && (1..H2_INLINE_PAYLOAD).contains(&remainder) {
            let head = data.split_to(remainder);
            self.send.send_data(head, false).map_err(into_io)?;
        }
        self.send.send_data(data, false).map_err(into_io)?;
        Ok(len)
    }

    /// Waits for DATA while nothing is unread; `false` at the end of the
    /// stream.
    fn poll_unread(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        while self.unread.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => self.unread = data,
                None => return Poll::Ready(Ok(false)),
                Some(Err(e)) => {
                    return Poll::Ready(match e.reason() {
                        Some(Reason::NO_ERROR | Reason::CANCEL) => Ok(false),
                        Some(reason) if e.is_reset() => Err(reset_error(reason)),
                        _ => Err(into_io(e)),
                    })
                }
            }
        }
        Poll::Ready(Ok(true))
    }

    /// The next DATA payload, as h2 received it, its flow-control window
    /// returned; `None` at the end of the stream. A reader that copies it
    /// anyway reads it here without a copy in between.
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        if !ready!(self.poll_unread(cx))? {
            return Poll::Ready(Ok(None));
        }
        let chunk = std::mem::take(&mut self.unread);
        let _ = self.recv.flow_control().release_capacity(chunk.len());
        Poll::Ready(Ok(Some(chunk)))
    }
}

impl std::fmt::Debug for Http2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http2Stream")
            .field("stream_id", &self.send.stream_id().as_u32())
            .finish_non_exhaustive()
    }
}

fn reset_error(reason: Reason) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        format!("stream reset by peer: {reason}"),
    )
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
        let _ = self.recv.flow_control().release_capacity(len);
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

    /// h2's connection task writes what was sent; nothing waits here.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Ends the stream's sending half (`END_STREAM`).
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ended {
            self.ended = true;
            self.send.send_data(Bytes::new(), true).map_err(into_io)?;
        }
        Poll::Ready(Ok(()))
    }
}
