//! Read and write halves of a connection, for use from two tasks.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use pushwire_proto::{CloseCode, CloseFrame, Message};
use tokio::io::{AsyncRead, AsyncWrite};

use super::WebSocket;
use crate::error::Error;
use crate::task::lock;

/// Which half is polling.
#[derive(Debug, Clone, Copy)]
pub(super) enum Side {
    Reader = 0,
    Writer = 1,
}

/// Both halves may write (the reader answers pings), but a stream keeps
/// one waker per direction: writes are polled with this waker, which
/// wakes whichever halves wait, so neither misses its turn.
#[derive(Debug, Default)]
pub(super) struct WriteWakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl WriteWakers {
    pub(super) fn register(&self, side: Side, waker: &Waker) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut slots[side as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = std::mem::take(&mut *self.slots.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

pub(super) fn split<S>(ws: WebSocket<S>) -> (WsReader<S>, WsWriter<S>) {
    let shared = Arc::new(Mutex::new(ws));
    (
        WsReader {
            shared: shared.clone(),
        },
        WsWriter { shared },
    )
}

/// The receiving half of a split [`WebSocket`]. Pings are still answered.
#[derive(Debug)]
pub struct WsReader<S> {
    shared: Arc<Mutex<WebSocket<S>>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsReader<S> {
    /// Receives the next message; see [`WebSocket::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        lock(&self.shared).poll_recv_as(cx, Side::Reader)
    }
}

/// The sending half of a split [`WebSocket`].
#[derive(Debug)]
pub struct WsWriter<S> {
    shared: Arc<Mutex<WebSocket<S>>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsWriter<S> {
    /// Sends a message and flushes it.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message, waiting while the write buffer is full.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        std::future::poll_fn(|cx| lock(&self.shared).poll_ready_as(cx, Side::Writer)).await?;
        lock(&self.shared).start_send(message)
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| lock(&self.shared).poll_flush_as(cx, Side::Writer)).await
    }

    /// Sends a close frame (1000 when `frame` is `None`) and flushes it;
    /// the reader half sees the peer's reply and then the end. Closing a
    /// connection that is already closing is not an error.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let frame = frame.unwrap_or_else(|| CloseFrame::new(CloseCode::NORMAL, ""));
        match self.send(Message::Close(Some(frame))).await {
            Err(e) if e.is_closed() => Ok(()),
            result => result,
        }
    }

    /// Bytes queued and not yet written; see [`WebSocket::buffered_amount`].
    pub fn buffered_amount(&self) -> usize {
        lock(&self.shared).buffered_amount()
    }
}
