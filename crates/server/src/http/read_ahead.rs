//! Reading a connection in large chunks for a reader that asks for
//! small ones.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much one read from the connection may take.
const CHUNK: usize = 32 << 10;

/// A connection whose reads take up to [`CHUNK`] bytes at once, handing
/// them out as the reader asks.
///
/// h2 reads into a buffer of 8 KiB, so a 16 KiB WebSocket message costs
/// it two or three `recvfrom`s; read ahead, it costs one and a copy. What
/// the reader has no room for is held only while it has bytes in it: an
/// idle connection keeps nothing.
#[derive(Debug)]
pub(crate) struct ReadAhead<I> {
    io: I,
    ahead: BytesMut,
}

impl<I> ReadAhead<I> {
    pub(crate) fn new(io: I) -> Self {
        ReadAhead {
            io,
            ahead: BytesMut::new(),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ReadAhead<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.ahead.is_empty() {
            if buf.remaining() >= CHUNK {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            // Read on the stack: only what the reader has no room for
            // is kept, so a read that fits costs no allocation.
            let mut scratch = [MaybeUninit::<u8>::uninit(); CHUNK];
            let mut chunk = ReadBuf::uninit(&mut scratch);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut chunk))?;
            let read = chunk.filled();
            let n = read.len().min(buf.remaining());
            buf.put_slice(&read[..n]);
            if n < read.len() {
                this.ahead = BytesMut::from(&read[n..]);
            }
            return Poll::Ready(Ok(()));
        }
        let n = this.ahead.len().min(buf.remaining());
        buf.put_slice(&this.ahead[..n]);
        this.ahead.advance(n);
        if this.ahead.is_empty() {
            this.ahead = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ReadAhead<I> {
    crate::forward::forward_async_write!(io);
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn hands_out_everything_in_order_through_small_reads() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut io = ReadAhead::new(&data[..]);
        let mut out = Vec::new();
        let mut small = [0u8; 1000];
        loop {
            let n = io.read(&mut small).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(io.ahead.len() <= CHUNK);
            out.extend_from_slice(&small[..n]);
        }
        assert_eq!(out, data);
        assert_eq!(io.ahead.capacity(), 0, "nothing held once drained");
    }
}
