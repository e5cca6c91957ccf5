//! Reading a connection in large chunks for a reader that asks for
//! small ones.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much one read from the connection may take.
const CHUNK: usize = 32 << 10;

/// A connection whose reads take up to [`CHUNK`] bytes at once, handing
/// them out as the reader asks.
///
/// h2 reads into a buffer of 8 KiB, so a 16 KiB WebSocket message costs
/// it two or three `recvfrom`s; read ahead, it costs one and a copy. The
/// chunk is held only while it has bytes in it: an idle connection
/// keeps nothing.
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
            this.ahead.reserve(CHUNK);
            let read = tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.ahead);
            if !matches!(read, Poll::Ready(Ok(n)) if n > 0) {
                this.ahead = BytesMut::new();
                return read.map_ok(|_| ());
            }
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
