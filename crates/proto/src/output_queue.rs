//! The bytes a connection has queued for its peer, in order: small
//! frames gathered ("corked") into one buffer, large payloads queued by
//! reference and never copied. The driver takes them as buffers
//! ([`OutputQueue::pop_front`]) or as vectored slices
//! ([`OutputQueue::chunks_vectored`] then [`OutputQueue::advance`]).
//!
//! Protocol-independent: it holds bytes, not frames. An HTTP/2
//! [`Connection`](crate::http2::connection::Connection) queues its frames
//! in one, and an IO layer may queue HTTP/1.1 responses, WebSocket frames
//! or SSE events in another.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Pieces up to this size are copied next to what came before them, so
/// a burst of small frames goes out in one write; larger pieces are
/// queued by reference.
const CORK_LIMIT: usize = 1024;

/// Bytes waiting to be written, in order: the `segments`, then the `cork`.
///
/// Small and empty while idle: a burst of small frames needs only the
/// cork, and the segment list is allocated only when a large piece is
/// queued. [`OutputQueue::release`] gives the memory back once
/// everything is written.
#[derive(Debug, Default)]
pub struct OutputQueue {
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

impl OutputQueue {
    /// Bytes accepted but not yet taken.
    pub fn buffered(&self) -> usize {
        self.cork.len() + self.segments.as_ref().map_or(0, |s| s.len)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.buffered() == 0
    }

    /// Queues `piece`: copied after what is queued if small, queued by
    /// reference if not.
    pub fn push(&mut self, piece: Bytes) {
        self.push_parts(&[], piece);
    }

    /// Queues `header`, then `payload`: copied next to it if small,
    /// queued by reference if not.
    pub fn push_parts(&mut self, header: &[u8], payload: Bytes) {
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
    pub fn cork(&mut self) -> &mut BytesMut {
        &mut self.cork
    }

    /// Takes the next buffer to write, whole: for a transport that takes
    /// buffers rather than bytes.
    pub fn pop_front(&mut self) -> Option<Bytes> {
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

    /// Whether what is queued is in more than one buffer (a transport
    /// that writes one buffer at a time may [`merge`](Self::merge) it).
    pub fn is_segmented(&self) -> bool {
        self.segments.is_some()
    }

    /// Fills `dst` with what is queued, in order, as far as it has room;
    /// returns how many slices it filled.
    pub fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let cork = (!self.cork.is_empty()).then_some(&self.cork[..]);
        let segments = self
            .segments
            .iter()
            .flat_map(|s| s.queue.iter().map(|b| &b[..]));
        let mut count = 0;
        for (slice, buf) in dst.iter_mut().zip(segments.chain(cork)) {
            *slice = IoSlice::new(buf);
            count += 1;
        }
        count
    }

    /// Gathers everything queued into one buffer.
    pub fn merge(&mut self) {
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

    /// Drops `written` bytes from the front: segments first, then the
    /// cork. At most [`buffered`](Self::buffered) bytes are dropped.
    pub fn advance(&mut self, mut written: usize) {
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
        let n = written.min(self.cork.len());
        self.cork.advance(n);
    }

    /// Frees the queue's memory once nothing waits.
    pub fn release(&mut self) {
        if self.is_empty() {
            self.cork = BytesMut::new();
            self.segments = None;
        }
    }

    /// Whether the queue holds no memory at all.
    pub fn holds_no_memory(&self) -> bool {
        self.segments.is_none() && self.cork.capacity() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_small() {
        assert!(std::mem::size_of::<OutputQueue>() <= 40);
    }

    #[test]
    fn slices_and_advance_keep_the_order() {
        let mut queue = OutputQueue::default();
        let large = Bytes::from(vec![b'x'; 2 * CORK_LIMIT]);
        queue.push(Bytes::from_static(b"head"));
        queue.push(large.clone());
        queue.push(Bytes::from_static(b"end"));
        let mut written = Vec::new();
        while !queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); 4];
            let count = queue.chunks_vectored(&mut slices);
            // Three bytes at a time, as a slow socket takes them.
            let mut taken = 0;
            for slice in &slices[..count] {
                let n = slice.len().min(3 - taken);
                written.extend_from_slice(&slice[..n]);
                taken += n;
            }
            queue.advance(taken);
        }
        queue.release();
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&large);
        expected.extend_from_slice(b"end");
        assert_eq!(written, expected);
        assert!(queue.holds_no_memory());
    }
}
