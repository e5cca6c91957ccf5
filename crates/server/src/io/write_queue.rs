//! Bytes waiting to be written to a connection, queued as they come and
//! written in as few system calls as possible: the one write queue of
//! HTTP/1.1 responses, HTTP/2 frames and WebSocket frames.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;

/// Pieces up to this size are copied next to what came before them
/// ("corked"), so a burst of small frames goes out in one write; larger
/// pieces are queued by reference and never copied.
const CORK_LIMIT: usize = 1024;

/// The most buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Bytes waiting to be written, in order: the `segments`, then the `cork`.
///
/// Small (40 bytes) and empty while idle: a burst of small frames needs
/// only the cork, and the segment list is allocated only when a large
/// piece is queued. Once everything is written it holds no memory.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Small frames gathered after the last segment.
    cork: BytesMut,
    /// Large payloads queued by reference, with the corked bytes that came
    /// before each of them.
    segments: Option<Box<Segments>>,
}

/// Sealed buffers written before the cork.
#[derive(Debug, Default)]
struct Segments {
    queue: VecDeque<Bytes>,
    /// Bytes in `queue`.
    len: usize,
}

impl WriteQueue {
    /// Bytes accepted but not yet written to the socket.
    pub(crate) fn buffered(&self) -> usize {
        self.cork.len() + self.segments.as_ref().map_or(0, |s| s.len)
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.buffered() == 0
    }

    /// Queues `piece`: copied after what is queued if small, queued by
    /// reference if not.
    pub(crate) fn push(&mut self, piece: Bytes) {
        self.push_parts(&[], piece);
    }

    /// Queues `header`, then `payload`: copied next to it if small,
    /// queued by reference if not.
    pub(crate) fn push_parts(&mut self, header: &[u8], payload: Bytes) {
        let corked = payload.len() <= CORK_LIMIT;
        // One allocation for the header and a corked payload, rather
        // than one and then a reallocation.
        self.cork
            .reserve(header.len() + if corked { payload.len() } else { 0 });
        self.cork.extend_from_slice(header);
        if corked {
            self.cork.extend_from_slice(&payload);
        } else {
            let segments = self.segments.get_or_insert_with(Box::default);
            if !self.cork.is_empty() {
                let corked = self.cork.split().freeze();
                segments.len += corked.len();
                segments.queue.push_back(corked);
            }
            segments.len += payload.len();
            segments.queue.push_back(payload);
        }
    }

    /// The buffer that small writes are appended to, after everything
    /// queued so far.
    pub(crate) fn cork(&mut self) -> &mut BytesMut {
        &mut self.cork
    }

    /// Writes everything queued, then flushes `io`.
    pub(crate) fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<io::Result<()>> {
        loop {
            let written = match &self.segments {
                Some(_) if !io.is_write_vectored() => {
                    // One write (one TLS record) rather than one per piece.
                    self.merge();
                    continue;
                }
                Some(segments) => {
                    let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                    let mut count = 0;
                    let cork = (!self.cork.is_empty()).then_some(&self.cork[..]);
                    for (slice, buf) in slices
                        .iter_mut()
                        .zip(segments.queue.iter().map(|b| &b[..]).chain(cork))
                    {
                        *slice = IoSlice::new(buf);
                        count += 1;
                    }
                    if count == 0 {
                        break;
                    }
                    ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?
                }
                None if self.cork.is_empty() => break,
                None => ready!(Pin::new(&mut *io).poll_write(cx, &self.cork))?,
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        // Nothing in flight: give the memory back.
        self.cork = BytesMut::new();
        self.segments = None;
        Pin::new(io).poll_flush(cx)
    }

    /// Takes the next buffer to write, whole: for a transport that takes
    /// buffers rather than bytes (an HTTP/2 stream).
    pub(crate) fn pop_front(&mut self) -> Option<Bytes> {
        if let Some(segments) = &mut self.segments {
            if let Some(buf) = segments.queue.pop_front() {
                segments.len -= buf.len();
                return Some(buf);
            }
        }
        if self.cork.is_empty() {
            self.release();
            return None;
        }
        Some(self.cork.split().freeze())
    }

    /// Frees the queue's memory once nothing waits.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            self.cork = BytesMut::new();
            self.segments = None;
        }
    }

    /// Gathers everything queued into the cork.
    fn merge(&mut self) {
        let Some(segments) = self.segments.take() else {
            return;
        };
        let mut merged = BytesMut::with_capacity(segments.len + self.cork.len());
        for buf in &segments.queue {
            merged.extend_from_slice(buf);
        }
        merged.extend_from_slice(&self.cork);
        self.cork = merged;
    }

    /// Drops `written` bytes from the front: segments first, then the cork.
    fn consume(&mut self, mut written: usize) {
        if let Some(segments) = &mut self.segments {
            while written > 0 {
                let Some(front) = segments.queue.front_mut() else {
                    break;
                };
                let n = written.min(front.len());
                written -= n;
                segments.len -= n;
                if n == front.len() {
                    segments.queue.pop_front();
                } else {
                    front.advance(n);
                }
            }
        }
        assert!(written <= self.cork.len(), "wrote more than queued");
        self.cork.advance(written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(queue.segments.is_none() && queue.cork.capacity() == 0);
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
            let large = Bytes::from(vec![b'x'; 2 * CORK_LIMIT]);
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
