//! The channel behind [`Sse::channel`](super::Sse::channel): bounded, any
//! number of senders, one receiver (the response body), and nothing
//! allocated while it is empty.
//!
//! A tokio `mpsc` channel allocates a block of 32 slots up front, about
//! 3.7 KB for [`Event`]s, and keeps it while idle; with ten thousand idle
//! event streams that block was most of the memory each one held. Here
//! the queue is a `VecDeque` that is given back whenever it drains, so an
//! idle stream's channel is one small shared allocation.

use std::collections::VecDeque;
use std::fmt;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use pushwire_proto::sse::Event;
use tokio::sync::Notify;

/// A new channel holding up to `capacity` (at least 1) events.
pub(super) fn channel(capacity: usize) -> (SseSender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            receiver_waker: None,
            senders: 1,
            receiver_open: true,
        }),
        room: Notify::new(),
        capacity: capacity.max(1),
    });
    (
        SseSender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// What both ends share.
struct Shared {
    state: Mutex<State>,
    /// Wakes senders waiting for room in the queue or for the receiver to
    /// go away.
    room: Notify,
    capacity: usize,
}

struct State {
    /// Events sent and not yet received; unallocated while empty.
    queue: VecDeque<Event>,
    /// The body waiting for an event.
    receiver_waker: Option<Waker>,
    /// Live [`SseSender`]s; the stream ends when the last one is dropped.
    senders: usize,
    /// Whether the response body still exists.
    receiver_open: bool,
}

/// Why an event could not be queued now.
enum Refused {
    Full(Event),
    Closed(Event),
}

impl Shared {
    /// The state, even if a thread panicked while holding the lock (the
    /// state is valid after every step).
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::task::lock(&self.state)
    }

    /// Queues `event` if the receiver is there and has room.
    fn try_push(&self, event: Event) -> Result<(), Refused> {
        let mut state = self.lock();
        if !state.receiver_open {
            return Err(Refused::Closed(event));
        }
        if state.queue.len() >= self.capacity {
            return Err(Refused::Full(event));
        }
        state.queue.push_back(event);
        let waker = state.receiver_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

/// The sending half of [`Sse::channel`](super::Sse::channel): cheap to
/// clone; the event stream ends when every clone is dropped.
pub struct SseSender {
    shared: Arc<Shared>,
}

/// The client went away, or the response ended: the event was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected(pub Event);

impl fmt::Display for Disconnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event stream's client went away")
    }
}

impl std::error::Error for Disconnected {}

impl SseSender {
    /// Queues an event, waiting while the channel is full. Fails once the
    /// response has ended: the client disconnected, or the server is
    /// shutting down.
    pub async fn send(&self, mut event: Event) -> Result<(), Disconnected> {
        loop {
            // Registered before looking, so that room made in between is
            // not missed.
            let mut room = pin!(self.shared.room.notified());
            room.as_mut().enable();
            match self.shared.try_push(event) {
                Ok(()) => return Ok(()),
                Err(Refused::Closed(refused)) => return Err(Disconnected(refused)),
                Err(Refused::Full(refused)) => event = refused,
            }
            room.await;
        }
    }

    /// Queues an event if there is room now.
    pub fn try_send(&self, event: Event) -> Result<(), Disconnected> {
        self.shared
            .try_push(event)
            .map_err(|refused| match refused {
                Refused::Full(event) | Refused::Closed(event) => Disconnected(event),
            })
    }

    /// Resolves when the response has ended (the client went away, or the
    /// server is shutting down).
    pub async fn closed(&self) {
        loop {
            let mut room = pin!(self.shared.room.notified());
            room.as_mut().enable();
            if self.is_closed() {
                return;
            }
            room.await;
        }
    }

    /// Whether the response has ended.
    pub fn is_closed(&self) -> bool {
        !self.shared.lock().receiver_open
    }
}

impl Clone for SseSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        SseSender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for SseSender {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let waker = if state.senders == 0 {
            state.receiver_waker.take()
        } else {
            None
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl fmt::Debug for SseSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("SseSender")
            .field("queued", &state.queue.len())
            .field("capacity", &self.shared.capacity)
            .field("closed", &!state.receiver_open)
            .finish()
    }
}

/// The receiving half: the events, in order, ending when every sender is
/// gone. Dropping it fails every later send.
pub(super) struct Receiver {
    shared: Arc<Shared>,
}

impl Stream for Receiver {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut state = self.shared.lock();
        if let Some(event) = state.queue.pop_front() {
            if state.queue.is_empty() {
                // Idle again: give the queue's memory back.
                state.queue = VecDeque::new();
            }
            drop(state);
            self.shared.room.notify_one();
            return Poll::Ready(Some(event));
        }
        if state.senders == 0 {
            return Poll::Ready(None);
        }
        match &mut state.receiver_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_open = false;
        state.receiver_waker = None;
        let queued = std::mem::take(&mut state.queue);
        drop(state);
        drop(queued);
        self.shared.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::time::Duration;

    use super::*;

    async fn next(rx: &mut Receiver) -> Option<Event> {
        poll_fn(|cx| Pin::new(&mut *rx).poll_next(cx)).await
    }

    fn event(n: u32) -> Event {
        Event::new().data(n.to_string())
    }

    #[tokio::test]
    async fn events_arrive_in_order_and_the_stream_ends_with_the_last_sender() {
        let (tx, mut rx) = channel(4);
        let tx2 = tx.clone();
        tx.send(event(1)).await.unwrap();
        tx2.send(event(2)).await.unwrap();
        drop(tx);
        assert_eq!(next(&mut rx).await, Some(event(1)));
        assert_eq!(next(&mut rx).await, Some(event(2)));
        let waiting = tokio::spawn(async move { next(&mut rx).await });
        tokio::task::yield_now().await;
        drop(tx2);
        assert_eq!(waiting.await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_full_channel_makes_send_wait_for_room() {
        let (tx, mut rx) = channel(1);
        tx.send(event(1)).await.unwrap();
        assert_eq!(tx.try_send(event(2)), Err(Disconnected(event(2))));
        let sender = tokio::spawn(async move {
            tx.send(event(2)).await.unwrap();
            tx
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !sender.is_finished(),
            "send waits while the channel is full"
        );
        assert_eq!(next(&mut rx).await, Some(event(1)));
        let _tx = sender.await.unwrap();
        assert_eq!(next(&mut rx).await, Some(event(2)));
    }

    #[tokio::test]
    async fn dropping_the_receiver_fails_sends_and_wakes_waiters() {
        let (tx, rx) = channel(1);
        tx.send(event(1)).await.unwrap();
        let blocked = tx.clone();
        let sender = tokio::spawn(async move { blocked.send(event(2)).await });
        let watcher = {
            let tx = tx.clone();
            tokio::spawn(async move { tx.closed().await })
        };
        tokio::task::yield_now().await;
        assert!(!tx.is_closed());
        drop(rx);
        assert_eq!(sender.await.unwrap(), Err(Disconnected(event(2))));
        watcher.await.unwrap();
        assert!(tx.is_closed());
        assert_eq!(tx.try_send(event(3)), Err(Disconnected(event(3))));
    }

    #[tokio::test]
    async fn a_drained_queue_holds_no_memory() {
        let (tx, mut rx) = channel(8);
        for n in 0..8 {
            tx.send(event(n)).await.unwrap();
        }
        assert!(rx.shared.lock().queue.capacity() >= 8);
        for n in 0..8 {
            assert_eq!(next(&mut rx).await, Some(event(n)));
        }
        assert_eq!(rx.shared.lock().queue.capacity(), 0);
    }
}
