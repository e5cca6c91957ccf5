//! Streams that move whole buffers rather than bytes: under a WebSocket,
//! reads take the buffers as they arrived and writes hand over the
//! queued buffers themselves, a copy fewer each way than through
//! `AsyncRead` and `AsyncWrite`. An HTTP/2 stream is one.

use std::io;
use std::task::{ready, Context, Poll};

use bytes::Bytes;

use crate::io::WriteQueue;

/// A stream that hands out and takes whole buffers.
pub(crate) trait BufferStream {
    /// The next buffer received; `None` at the end of the stream.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>>;

    /// Ready once the stream takes another buffer.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Takes a buffer to send, after [`BufferStream::poll_room`] said so.
    fn send(&mut self, data: Bytes) -> io::Result<()>;
}

/// Finds the buffer stream under a WebSocket's stream `S`, if it has one.
pub(crate) type FindBuffers<S> = fn(&mut S) -> Option<&mut dyn BufferStream>;

/// Hands everything queued to `stream` as it is: each buffer as soon as
/// the stream has room.
pub(crate) fn poll_hand_over(
    queue: &mut WriteQueue,
    cx: &mut Context<'_>,
    stream: &mut dyn BufferStream,
) -> Poll<io::Result<()>> {
    while !queue.is_empty() {
        ready!(stream.poll_room(cx))?;
        if let Some(buf) = queue.pop_front() {
            stream.send(buf)?;
        }
    }
    queue.release();
    Poll::Ready(Ok(()))
}
