//! The two halves of a stream of an `h2` crate connection: what a client
//! that opened an extended CONNECT with `h2` runs a WebSocket on.

use std::io;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use h2::{Reason, RecvStream, SendStream};

/// An `h2` stream's sending and receiving halves.
pub(super) struct H2Halves {
    send: SendStream<Bytes>,
    recv: RecvStream,
}

impl H2Halves {
    pub(super) fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        H2Halves { send, recv }
    }

    /// The stream's identifier.
    pub(super) fn id(&self) -> u32 {
        self.send.stream_id().as_u32()
    }

    /// Ready once the peer's window has room.
    pub(super) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Poll::Ready(reason) = self.send.poll_reset(cx) {
            return Poll::Ready(Err(reset_error(reason.map_err(into_io)?)));
        }
        // Ask for one byte only: h2 raises the request to what is
        // buffered, and an idle stream pins nothing of the connection's
        // window.
        self.send.reserve_capacity(1);
        while self.send.capacity() == 0 {
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(into_io(e))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Queues `data`; `end` ends the stream's sending half.
    pub(super) fn send_data(&mut self, data: Bytes, end: bool) -> io::Result<()> {
        self.send.send_data(data, end).map_err(into_io)
    }

    /// The next DATA payload, its window returned; `None` at the end of
    /// the stream, or once the peer cancelled it.
    pub(super) fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        Poll::Ready(match ready!(self.recv.poll_data(cx)) {
            Some(Ok(data)) => {
                let _ = self.recv.flow_control().release_capacity(data.len());
                Ok(Some(data))
            }
            None => Ok(None),
            Some(Err(e)) => match e.reason() {
                Some(Reason::NO_ERROR | Reason::CANCEL) => Ok(None),
                Some(reason) if e.is_reset() => Err(reset_error(reason)),
                _ => Err(into_io(e)),
            },
        })
    }
}

fn reset_error(reason: Reason) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        format!("stream reset by peer: {reason}"),
    )
}

/// An h2 error as an IO error: the socket's own, or h2's wrapped.
fn into_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io().unwrap_or_else(|| io::ErrorKind::Other.into())
    } else {
        io::Error::other(e)
    }
}
