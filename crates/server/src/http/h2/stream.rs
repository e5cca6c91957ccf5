//! The driver's side of an HTTP/2 connection's state: the shared
//! [`Connection`] (sans IO, in `pushwire-proto`) with the wakers it
//! asks for, and the handle its streams' request bodies, responses and
//! WebSockets read and send through.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use pushwire_proto::http2::connection::{Connection, Event, StreamIdHasher};
use pushwire_proto::http2::ErrorCode;

pub(crate) use pushwire_proto::http2::connection::StreamError;

/// A connection's state, shared by its task and its streams' handles.
pub(crate) type SharedConn = Arc<Mutex<Driven>>;

/// A connection's state and the wakers of those waiting on it: the
/// connection's task, and its streams' readers and writers.
pub(crate) struct Driven {
    conn: Connection,
    task: Waker,
    streams: HashMap<u32, StreamWakers, BuildHasherDefault<StreamIdHasher>>,
}

/// The wakers of one stream's reader and writer.
#[derive(Default)]
struct StreamWakers {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Driven {
    /// `conn`, whose task `task` wakes.
    pub(crate) fn new(conn: Connection, task: Waker) -> SharedConn {
        Arc::new(Mutex::new(Driven {
            conn,
            task,
            streams: HashMap::default(),
        }))
    }

    /// Wakes whom the connection's events name, and the task if output
    /// was queued.
    fn wake_ready(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            let (id, reader) = match event {
                Event::StreamReadable(id) => (id, true),
                Event::StreamWritable(id) => (id, false),
            };
            if let Some(wakers) = self.streams.get_mut(&id) {
                let slot = if reader {
                    &mut wakers.reader
                } else {
                    &mut wakers.writer
                };
                if let Some(waker) = slot.take() {
                    waker.wake();
                }
            }
        }
        if self.conn.take_output_ready() {
            self.task.wake_by_ref();
        }
    }
}

/// The locked connection: whatever its use changed wakes those waiting
/// for it when the lock is let go.
pub(crate) struct ConnGuard<'a>(MutexGuard<'a, Driven>);

/// Locks a connection's state.
pub(crate) fn lock_conn(shared: &SharedConn) -> ConnGuard<'_> {
    ConnGuard(crate::task::lock(shared))
}

impl ConnGuard<'_> {
    /// Keeps the waker of stream `id`'s reader (or writer), which the
    /// connection just left waiting.
    fn register(&mut self, id: u32, reader: bool, cx: &Context<'_>) {
        let wakers = self.0.streams.entry(id).or_default();
        let slot = if reader {
            &mut wakers.reader
        } else {
            &mut wakers.writer
        };
        if !slot
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            *slot = Some(cx.waker().clone());
        }
    }
}

impl Deref for ConnGuard<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0.conn
    }
}

impl DerefMut for ConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0.conn
    }
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.0.wake_ready();
    }
}

/// A handle on one stream of a served HTTP/2 connection. The stream
/// lives while a handle does; dropping the last one before the response
/// is done resets it (`CANCEL`).
pub(crate) struct StreamRef {
    conn: SharedConn,
    id: u32,
}

impl StreamRef {
    /// The handle a new stream was opened with (see
    /// [`Connection::handle_frame`]).
    pub(crate) fn adopt(conn: SharedConn, id: u32) -> Self {
        StreamRef { conn, id }
    }

    fn lock(&self) -> ConnGuard<'_> {
        lock_conn(&self.conn)
    }

    /// The stream's identifier.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The next DATA payload, its flow-control window returned; `None`
    /// once the client ended the stream.
    pub(crate) fn poll_data(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, StreamError>>> {
        let mut conn = self.lock();
        let poll = conn.poll_data(self.id);
        if poll.is_pending() {
            conn.register(self.id, true, cx);
        }
        poll
    }

    /// The request's trailers, once its data is read.
    pub(crate) fn take_trailers(&self) -> Option<HeaderMap> {
        self.lock().take_trailers(self.id)
    }

    /// Whether the client ended the stream and everything was read.
    pub(crate) fn is_end_stream(&self) -> bool {
        self.lock().is_end_stream(self.id)
    }

    /// Ready with the reset's code once the client resets the stream.
    pub(crate) fn poll_reset(&self, cx: &mut Context<'_>) -> Poll<ErrorCode> {
        let mut conn = self.lock();
        let poll = conn.poll_reset(self.id);
        if poll.is_pending() {
            conn.register(self.id, false, cx);
        }
        poll
    }

    /// Ready once data may be queued: what was queued before has gone
    /// out to the socket's queue, and that is not backed up.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut conn = self.lock();
        let poll = conn.poll_room(self.id);
        if poll.is_pending() {
            conn.register(self.id, false, cx);
        }
        poll.map_err(stream_error)
    }

    /// Sends a response's head; `end_stream` when it has no body.
    pub(crate) fn send_head(&self, status: StatusCode, headers: &HeaderMap, end_stream: bool) {
        self.lock().send_head(self.id, status, headers, end_stream);
    }

    /// Queues `data`, then `END_STREAM` if `end_stream`: it goes out as
    /// the peer's windows allow.
    pub(crate) fn send_data(&self, data: Bytes, end_stream: bool) -> io::Result<()> {
        self.lock()
            .send_data(self.id, data, end_stream, None)
            .map_err(stream_error)
    }

    /// Ends the stream with trailers, after what is queued.
    pub(crate) fn send_trailers(&self, trailers: HeaderMap) -> io::Result<()> {
        self.lock()
            .send_data(self.id, Bytes::new(), true, Some(trailers))
            .map_err(stream_error)
    }

    /// Resets the stream with `code`.
    pub(crate) fn reset(&self, code: ErrorCode) {
        self.lock().reset(self.id, code);
    }
}

impl Clone for StreamRef {
    fn clone(&self) -> Self {
        self.lock().add_ref(self.id);
        StreamRef {
            conn: self.conn.clone(),
            id: self.id,
        }
    }
}

impl Drop for StreamRef {
    fn drop(&mut self) {
        let mut conn = self.lock();
        conn.release_ref(self.id);
        if !conn.has_refs(self.id) {
            // No handle waits on the stream any more.
            conn.0.streams.remove(&self.id);
        }
    }
}

impl std::fmt::Debug for StreamRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRef").field("id", &self.id).finish()
    }
}

/// A stream's error as the IO error its readers and writers see.
pub(crate) fn stream_error(e: StreamError) -> io::Error {
    let kind = match e {
        StreamError::Reset(_) => io::ErrorKind::ConnectionReset,
        StreamError::ConnectionEnded(_) => io::ErrorKind::ConnectionAborted,
        StreamError::SendEnded => io::ErrorKind::BrokenPipe,
    };
    io::Error::new(kind, e)
}
