//! The bytes an HTTP/1.1 connection has to write: queued as they come,
//! written together in one vectored write.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;

/// The most pieces one vectored write takes.
const MAX_SLICES: usize = 64;

/// Bytes waiting to be written, in order.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    pieces: VecDeque<Bytes>,
    len: usize,
}

impl WriteQueue {
    pub(crate) fn push(&mut self, piece: Bytes) {
        if !piece.is_empty() {
            self.len += piece.len();
            self.pieces.push_back(piece);
        }
    }

    /// How many bytes wait.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frees the queue's memory once it is empty (a connection about to
    /// wait long keeps nothing).
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            self.pieces = VecDeque::new();
        }
    }

    /// Writes everything queued, then flushes `io`.
    pub(crate) fn poll_write_to<W: AsyncWrite + Unpin>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.is_empty() {
            let written = if io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = self.pieces.len().min(MAX_SLICES);
                for (slice, piece) in slices.iter_mut().zip(&self.pieces) {
                    *slice = IoSlice::new(piece);
                }
                ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?
            } else {
                if self.pieces.len() > 1 {
                    // One write (one TLS record) rather than one per piece.
                    self.merge();
                }
                ready!(Pin::new(&mut *io).poll_write(cx, &self.pieces[0]))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        Pin::new(io).poll_flush(cx)
    }

    fn merge(&mut self) {
        let mut merged = BytesMut::with_capacity(self.len);
        for piece in self.pieces.drain(..) {
            merged.extend_from_slice(&piece);
        }
        self.pieces.push_back(merged.freeze());
    }

    fn consume(&mut self, mut written: usize) {
        self.len -= written;
        while written > 0 {
            let Some(front) = self.pieces.front_mut() else {
                return;
            };
            if written < front.len() {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.pieces.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer taking at most `max` bytes a call, vectored or not.
    struct Trickle {
        out: Vec<u8>,
        max: usize,
        vectored: bool,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.max);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.max - n);
                self.out.extend_from_slice(&buf[..take]);
                n += take;
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    struct Noop;

    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    #[test]
    fn writes_everything_in_order_through_partial_writes() {
        for vectored in [true, false] {
            let mut queue = WriteQueue::default();
            for piece in ["head\r\n", "", "a", "bcdefgh", "\r\n"] {
                queue.push(Bytes::from(piece));
            }
            assert_eq!(queue.len(), 16);
            let mut io = Trickle {
                out: Vec::new(),
                max: 3,
                vectored,
            };
            let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
            let mut cx = Context::from_waker(&waker);
            assert!(queue.poll_write_to(&mut io, &mut cx).is_ready());
            assert_eq!(io.out, b"head\r\nabcdefgh\r\n");
            assert!(queue.is_empty());
        }
    }
}
