//! The write side of a connection: encoded frames queued and written in
//! as few system calls as possible.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use pushwire_proto::EncodedFrame;
use tokio::io::AsyncWrite;

use crate::Http2Stream;

/// Payloads up to this size are copied next to their header ("corked"),
/// so a burst of small frames goes out in one write; larger payloads are
/// queued by reference and never copied.
const CORK_LIMIT: usize = 1024;

/// The most buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Frames waiting to be written, in order: the `segments`, then the `cork`.
///
/// Small (40 bytes) and empty while idle: a burst of small frames needs
/// only the cork, and the segment list is allocated only when a large
/// payload is queued.
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

    /// Queues one frame.
    pub(crate) fn push(&mut self, mut frame: EncodedFrame) {
        let payload = std::mem::take(&mut frame.payload);
        self.push_parts(frame.header(), payload);
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

    /// Hands everything queued to an HTTP/2 stream as it is, without the
    /// copy a write through `AsyncWrite` makes: each buffer as soon as
    /// the peer's window has room.
    pub(crate) fn poll_hand_over(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut Http2Stream,
    ) -> Poll<io::Result<()>> {
        while self.buffered() > 0 {
            ready!(stream.poll_room(cx))?;
            let queued = self.segments.as_mut().and_then(|s| s.queue.pop_front());
            let buf = match queued {
                Some(buf) => {
                    if let Some(segments) = &mut self.segments {
                        segments.len -= buf.len();
                    }
                    buf
                }
                None => self.cork.split().freeze(),
            };
            stream.send(buf)?;
        }
        self.cork = BytesMut::new();
        self.segments = None;
        Poll::Ready(Ok(()))
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
    use pushwire_proto::{Message, Role, Sender};
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
        for f in frames {
            queue.push(f);
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
}
