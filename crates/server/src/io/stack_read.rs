//! Reading without a buffer: a connection that waits for its peer (an
//! idle keep-alive, a WebSocket between messages, a handshake not yet
//! sent) holds no read buffer of its own; each read lands in scratch
//! space on the stack of the poll call, and only the bytes that arrived
//! are kept.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// Reads once from `io` into `N` bytes of scratch space on the stack and
/// hands what arrived to `keep` (which appends it to a buffer, allocated
/// then). Returns how many bytes arrived: 0 once the peer has closed its
/// sending side.
pub(crate) fn poll_read_on_stack<const N: usize, R>(
    cx: &mut Context<'_>,
    io: &mut R,
    keep: impl FnOnce(&[u8]),
) -> Poll<io::Result<usize>>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut scratch = [MaybeUninit::<u8>::uninit(); N];
    let mut read_buf = ReadBuf::uninit(&mut scratch);
    ready!(Pin::new(io).poll_read(cx, &mut read_buf))?;
    let filled = read_buf.filled();
    keep(filled);
    Poll::Ready(Ok(filled.len()))
}
