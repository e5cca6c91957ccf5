//! Byte-stream plumbing shared by every protocol: the write queue, the
//! read into scratch space on the stack, and the one name for "a
//! connection's stream, whatever is under it".

mod stack_read;
mod write_queue;

use tokio::io::{AsyncRead, AsyncWrite};

pub(crate) use stack_read::poll_read_on_stack;
pub(crate) use write_queue::{poll_flush_output, WriteQueue};

/// A connection's byte stream, whatever is under it (TCP, TLS).
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}
