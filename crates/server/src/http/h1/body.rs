//! Handing an HTTP/1.1 request body from its connection to the service:
//! a slot of one piece. The connection reads the next piece only once
//! the service asks for it, so a service that reads slowly slows the
//! client down, and `Expect: 100-continue` is answered when the body is
//! first wanted.

use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::decode::Piece;
use crate::http::body::BoxError;
use crate::task::lock;

/// A body's slot, shared by its two ends.
#[derive(Debug, Default)]
struct Slot {
    piece: Option<Result<Piece, io::Error>>,
    wanted: bool,
    receiver: Option<Waker>,
    sender: Option<Waker>,
    receiver_gone: bool,
    sender_gone: bool,
}

/// A new body: the connection's end and the service's.
pub(crate) fn body_channel(hint: SizeHint) -> (BodySender, BodyReceiver) {
    let slot = Arc::new(Mutex::new(Slot::default()));
    (
        BodySender { slot: slot.clone() },
        BodyReceiver {
            slot,
            ended: false,
            hint,
        },
    )
}

/// The connection's end.
#[derive(Debug)]
pub(crate) struct BodySender {
    slot: Arc<Mutex<Slot>>,
}

/// What the service's end wants.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// The next piece.
    Next,
    /// Nothing more: the body was dropped.
    Gone,
}

impl BodySender {
    /// Ready once the service asks for the next piece, or has dropped
    /// the body.
    pub(crate) fn poll_want(&self, cx: &mut Context<'_>) -> Poll<Want> {
        let mut slot = lock(&self.slot);
        if slot.receiver_gone {
            return Poll::Ready(Want::Gone);
        }
        if slot.wanted && slot.piece.is_none() {
            return Poll::Ready(Want::Next);
        }
        if !slot
            .sender
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            slot.sender = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Hands over the next piece (or the error that ends the body).
    pub(crate) fn send(&self, piece: Result<Piece, io::Error>) {
        let mut slot = lock(&self.slot);
        slot.piece = Some(piece);
        slot.wanted = false;
        if let Some(waker) = slot.receiver.take() {
            waker.wake();
        }
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut slot = lock(&self.slot);
        slot.sender_gone = true;
        if let Some(waker) = slot.receiver.take() {
            waker.wake();
        }
    }
}

/// The service's end, inside a [`RequestBody`](crate::RequestBody).
#[derive(Debug)]
pub(crate) struct BodyReceiver {
    slot: Arc<Mutex<Slot>>,
    ended: bool,
    hint: SizeHint,
}

impl BodyReceiver {
    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let mut slot = lock(&self.slot);
        let frame = match slot.piece.take() {
            Some(Ok(Piece::Data(data))) => {
                let left = self.hint.lower().saturating_sub(data.len() as u64);
                self.hint.set_lower(left);
                if let Some(upper) = self.hint.upper() {
                    self.hint.set_upper(upper.saturating_sub(data.len() as u64));
                }
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            Some(Ok(Piece::Trailers(trailers))) => Some(Ok(Frame::trailers(trailers))),
            Some(Ok(Piece::End)) => None,
            Some(Err(e)) => Some(Err(e.into())),
            None if slot.sender_gone => {
                Some(Err("connection closed before the request body ended".into()))
            }
            None => {
                slot.wanted = true;
                if !slot
                    .receiver
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    slot.receiver = Some(cx.waker().clone());
                }
                if let Some(waker) = slot.sender.take() {
                    waker.wake();
                }
                return Poll::Pending;
            }
        };
        self.ended = true;
        Poll::Ready(frame)
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.ended || self.hint.exact() == Some(0)
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

impl Drop for BodyReceiver {
    fn drop(&mut self) {
        let mut slot = lock(&self.slot);
        slot.receiver_gone = true;
        if let Some(waker) = slot.sender.take() {
            waker.wake();
        }
    }
}
