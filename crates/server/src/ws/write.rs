//! The write side of a connection: encoded frames queued and written in
//! as few system calls as possible.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use pushwire_proto::EncodedFrame;
use tokio::io::AsyncWrite;

/// Payloads up to this size are copied next to their header ("corked"),
/// so a burst of small frames goes out in one write; larger payloads are
/// queued by reference and never copied.
const CORK_LIMIT: usize = 1024;

/// The most buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Frames waiting to be written, in order.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Sealed segments, in order; written before `cork`.
    segments: VecDeque<Bytes>,
    /// Small frames gathered since the last sealed segment.
    cork: BytesMut,
    /// Bytes queued in all: the `bufferedAmount`.
    buffered: usize,
}

impl WriteQueue {
    /// Bytes accepted but not yet written to the socket.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Queues one frame.
    pub(crate) fn push(&mut self, frame: EncodedFrame) {
        self.buffered += frame.len();
        self.cork.extend_from_slice(frame.header());
        if frame.payload.len() <= CORK_LIMIT {
            self.cork.extend_from_slice(&frame.payload);
        } else {
            self.seal();
            self.segments.push_back(frame.payload);
        }
    }

    /// Moves the corked bytes into the segment queue.
    fn seal(&mut self) {
        if !self.cork.is_empty() {
            self.segments.push_back(self.cork.split().freeze());
        }
    }

    /// Writes everything queued, then flushes `io`.
    pub(crate) fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<io::Result<()>> {
        self.seal();
        while !self.segments.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = self.segments.len().min(MAX_IOVECS);
            for (slice, segment) in slices.iter_mut().zip(self.segments.iter()) {
                *slice = IoSlice::new(segment);
            }
            let written = ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        // Nothing in flight: give the memory back.
        self.cork = BytesMut::new();
        self.segments = VecDeque::new();
        Pin::new(io).poll_flush(cx)
    }

    fn consume(&mut self, mut written: usize) {
        self.buffered -= written;
        while written > 0 {
            let front = self.segments.front_mut().expect("wrote more than queued");
            if written >= front.len() {
                written -= front.len();
                self.segments.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }
}
