//! Bytes waiting to be written to a connection, queued as they come and
//! written in as few system calls as possible: the one write queue of
//! HTTP/1.1 responses, HTTP/2 frames and WebSocket frames. The queue
//! itself is `pushwire-proto`'s [`OutputQueue`] (an HTTP/2 connection's
//! state queues its frames there, sans IO); this is its writing.

use std::io::{self, IoSlice};
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pushwire_proto::OutputQueue;
use tokio::io::AsyncWrite;

/// The most buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Bytes waiting to be written, in order: small pieces corked together,
/// large ones queued by reference (see [`OutputQueue`]).
#[derive(Debug, Default)]
pub(crate) struct WriteQueue(OutputQueue);

impl Deref for WriteQueue {
    type Target = OutputQueue;

    fn deref(&self) -> &OutputQueue {
        &self.0
    }
}

impl DerefMut for WriteQueue {
    fn deref_mut(&mut self) -> &mut OutputQueue {
        &mut self.0
    }
}

impl WriteQueue {
    /// Writes everything queued, then flushes `io`.
    pub(crate) fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<io::Result<()>> {
        poll_flush_output(&mut self.0, cx, io)
    }
}

/// Writes everything `queue` holds to `io`, then flushes it; the queue
/// gives its memory back once it is empty.
pub(crate) fn poll_flush_output<W: AsyncWrite + Unpin>(
    queue: &mut OutputQueue,
    cx: &mut Context<'_>,
    io: &mut W,
) -> Poll<io::Result<()>> {
    while !queue.is_empty() {
        let written = if queue.is_segmented() && !io.is_write_vectored() {
            // One write (one TLS record) rather than one per piece.
            queue.merge();
            continue;
        } else if queue.is_segmented() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = queue.chunks_vectored(&mut slices);
            ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?
        } else {
            let mut slices = [IoSlice::new(&[]); 1];
            queue.chunks_vectored(&mut slices);
            ready!(Pin::new(&mut *io).poll_write(cx, &slices[0]))?
        };
        if written == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        queue.advance(written);
    }
    // Nothing in flight: give the memory back.
    queue.release();
    Pin::new(io).poll_flush(cx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use pushwire_proto::{EncodedFrame, Message, Role, Sender};
    use tokio::io::AsyncReadExt;

    fn frame(len: usize) -> EncodedFrame {
        Sender::new(Role::Server, None, 0).encode(&Message::binary(vec![len as u8; len]), [0; 4])
    }

    /// Small and large frames, interleaved, come out in order through a
    /// stream that takes a few bytes per write.
    #[tokio::test]
    async fn writes_in_order_through_short_writes() {
        let frames: Vec<EncodedFrame> = [3, 2000, 5, 7, 3000, 4000, 1]
            .into_iter()
            .map(frame)
            .collect();
        let mut expected = Vec::new();
        for f in &frames {
            expected.extend_from_slice(f.header());
            expected.extend_from_slice(&f.payload);
        }
        let mut queue = WriteQueue::default();
        for f in &frames {
            queue.push_parts(f.header(), f.payload.clone());
        }
        assert_eq!(queue.buffered(), expected.len());
        let (mut writer, mut reader) = tokio::io::duplex(7);
        let total = expected.len();
        let read = tokio::spawn(async move {
            let mut got = vec![0; total];
            reader.read_exact(&mut got).await.unwrap();
            got
        });
        std::future::poll_fn(|cx| queue.poll_flush(cx, &mut writer))
            .await
            .unwrap();
        assert_eq!(queue.buffered(), 0);
        assert!(queue.holds_no_memory());
        assert_eq!(read.await.unwrap(), expected);
    }

    #[test]
    fn write_queue_stays_small() {
        assert!(std::mem::size_of::<WriteQueue>() <= 40);
    }

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
            let large = Bytes::from(vec![b'x'; 2048]);
            for piece in ["head\r\n", "", "a", "bcdefgh", "\r\n"] {
                queue.push(Bytes::from(piece));
            }
            queue.push(large.clone());
            queue.push(Bytes::from_static(b"end"));
            assert_eq!(queue.buffered(), 16 + large.len() + 3);
            let mut io = Trickle {
                out: Vec::new(),
                max: 3,
                vectored,
            };
            let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
            let mut cx = Context::from_waker(&waker);
            assert!(queue.poll_flush(&mut cx, &mut io).is_ready());
            let mut expected = b"head\r\nabcdefgh\r\n".to_vec();
            expected.extend_from_slice(&large);
            expected.extend_from_slice(b"end");
            assert_eq!(io.out, expected);
            assert!(queue.is_empty());
        }
    }
}
