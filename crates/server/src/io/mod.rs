//! Byte-stream plumbing shared by every protocol: the write queue, and
//! the one name for "a connection's stream, whatever is under it".

mod write_queue;

use tokio::io::{AsyncRead, AsyncWrite};

pub(crate) use write_queue::WriteQueue;

/// A connection's byte stream, whatever is under it (TCP, TLS).
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}
