//! The read side of a connection: socket bytes into protocol messages.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use pushwire_proto::{Message, Receiver};
use tokio::io::AsyncRead;

use super::buffers::BufferStream;
use crate::error::Error;
use crate::io::poll_read_on_stack;

/// Bytes read per call when no frame is in progress. The scratch space
/// lives on the stack of the poll call, so an idle connection holds no
/// read buffer at all; it takes a 16 KiB message whole.
const READ_CHUNK: usize = 32 << 10;

/// The least room kept ahead when reading between frames.
const MIN_ROOM: usize = 4 << 10;

/// Buffers what the socket delivers and decodes it.
#[derive(Debug)]
pub(crate) struct ReadState {
    buf: BytesMut,
    receiver: Receiver,
}

/// What one read produced.
pub(crate) enum Received {
    Message(Message),
    /// The peer closed the stream.
    Eof,
}

impl ReadState {
    pub(crate) fn new(receiver: Receiver, leftover: BytesMut) -> Self {
        ReadState {
            // An empty leftover still owns the handshake buffer: drop it.
            buf: if leftover.is_empty() {
                BytesMut::new()
            } else {
                leftover
            },
            receiver,
        }
    }

    /// Whether a data message has begun and not yet arrived whole.
    pub(crate) fn message_in_progress(&self) -> bool {
        self.receiver.message_in_progress()
    }

    /// Decodes the next message, reading from `io` as needed.
    pub(crate) fn poll_receive<R: AsyncRead + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut R,
    ) -> Poll<Result<Received, Error>> {
        self.poll_decode(|buf, awaits_payload| poll_fill(cx, io, buf, awaits_payload))
    }

    /// Decodes the next message from a buffer stream's buffers (an
    /// HTTP/2 stream's DATA payloads), each copied once, straight into
    /// the buffer.
    pub(crate) fn poll_receive_buffers(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut dyn BufferStream,
    ) -> Poll<Result<Received, Error>> {
        self.poll_decode(|buf, _| {
            let Some(chunk) = ready!(stream.poll_chunk(cx))? else {
                return Poll::Ready(Ok(0));
            };
            append(buf, &chunk);
            Poll::Ready(Ok(chunk.len()))
        })
    }

    /// Decodes the next message, calling `fill` for more bytes as needed:
    /// it appends what arrived to the buffer (told whether a frame's
    /// payload is awaited, room for which is reserved already) and
    /// returns how much, 0 at end of stream.
    fn poll_decode(
        &mut self,
        mut fill: impl FnMut(&mut BytesMut, bool) -> Poll<io::Result<usize>>,
    ) -> Poll<Result<Received, Error>> {
        loop {
            if let Some(message) = self.receiver.decode(&mut self.buf)? {
                if self.buf.is_empty() {
                    // Release the buffer: idle connections keep none.
                    self.buf = BytesMut::new();
                }
                return Poll::Ready(Ok(Received::Message(message)));
            }
            if ready!(fill(&mut self.buf, self.receiver.awaits_payload()))? == 0 {
                return Poll::Ready(Ok(Received::Eof));
            }
        }
    }
}

/// Reads once from `io` into `buf`; returns the bytes read.
fn poll_fill<R: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    io: &mut R,
    buf: &mut BytesMut,
    awaits_payload: bool,
) -> Poll<io::Result<usize>> {
    if buf.capacity() == 0 {
        return poll_read_on_stack::<READ_CHUNK, _>(cx, io, |bytes| append(buf, bytes));
    }
    // Room for the rest of a frame in progress is reserved already:
    // more would copy the buffer just to read its last bytes.
    let room = buf.capacity() - buf.len();
    if room == 0 || (room < MIN_ROOM && !awaits_payload) {
        buf.reserve(MIN_ROOM);
    }
    tokio_util::io::poll_read_buf(Pin::new(io), cx, buf)
}

/// Appends `bytes` to `buf`. A released buffer is allocated anew, sized
/// for the whole frame `bytes` begin, so that the rest of it arrives in
/// place rather than by growing (and copying) the buffer.
fn append(buf: &mut BytesMut, bytes: &[u8]) {
    if buf.capacity() == 0 {
        *buf = BytesMut::with_capacity(Receiver::frame_capacity(bytes).max(bytes.len()));
    }
    buf.extend_from_slice(bytes);
}
