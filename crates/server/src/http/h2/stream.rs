//! One stream of an HTTP/2 connection pushwire serves: its state within
//! the connection, and the handle its request body, its response and
//! the WebSocket it may carry read and send through.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use pushwire_proto::http2::{ErrorCode, RecvWindow, Window};

use tokio::time::Instant;

use super::conn::Conn;

/// What a request body must deliver within the body-read timeout while
/// the service waits for it (unless it ends first), so that a body that
/// drips a few bytes at a time is timed out like one that stalls.
const MIN_BODY_PROGRESS: usize = 1024;

/// A connection's state, shared by its task and its streams' handles.
pub(crate) type SharedConn = Arc<Mutex<Conn>>;

/// A connection's streams by identifier.
pub(crate) type StreamMap = HashMap<u32, Stream, BuildHasherDefault<StreamIdHasher>>;

/// Hashes a stream identifier with one multiplication. No defence
/// against chosen collisions is needed: a client's identifiers only
/// ascend, and only its concurrent streams' limit of them are live.
#[derive(Default)]
pub(crate) struct StreamIdHasher(u64);

impl Hasher for StreamIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u32(u32::from(byte) ^ (self.0 as u32));
        }
    }

    fn write_u32(&mut self, id: u32) {
        let h = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

/// A stream's state within its connection.
pub(crate) struct Stream {
    /// The handles that point at it.
    pub(crate) refs: usize,
    /// DATA payloads not read yet, and their bytes.
    pub(crate) recv: VecDeque<Bytes>,
    pub(crate) unread: usize,
    /// The client ended its side (`END_STREAM`).
    pub(crate) recv_ended: bool,
    pub(crate) trailers: Option<HeaderMap>,
    pub(crate) recv_window: RecvWindow,
    /// What the request's `content-length` has yet to receive.
    pub(crate) content_left: Option<u64>,
    reader: Option<Waker>,
    pub(crate) send_window: Window,
    /// Data to send once the windows allow, and its bytes.
    pub(crate) queue: VecDeque<Bytes>,
    pub(crate) queued: usize,
    /// The sender is done: `END_STREAM` (with `trailers_out`, if any)
    /// follows what is queued.
    pub(crate) end_requested: bool,
    pub(crate) trailers_out: Option<HeaderMap>,
    /// `END_STREAM` has been queued for the socket.
    pub(crate) send_ended: bool,
    writer: Option<Waker>,
    /// The stream was reset, by either side.
    pub(crate) reset: Option<ErrorCode>,
    /// The client reset it: frames after that are errors (section 5.1).
    pub(crate) reset_by_peer: bool,
    /// An extended CONNECT's stream (RFC 8441): what it receives is a
    /// tunnel's, not a request body, and no body-read timeout applies.
    pub(crate) tunnel: bool,
    /// The body-read clock, while armed: since when the service waits
    /// for body data, and the bytes received since.
    body_wait: Option<(Instant, usize)>,
}

impl Stream {
    /// A new request stream, held by one handle.
    pub(crate) fn new(
        recv_window: u32,
        send_window: u32,
        recv_ended: bool,
        content_length: Option<u64>,
    ) -> Self {
        Stream {
            refs: 1,
            recv: VecDeque::new(),
            unread: 0,
            recv_ended,
            trailers: None,
            recv_window: RecvWindow::new(recv_window),
            content_left: content_length,
            reader: None,
            send_window: Window::new(send_window),
            queue: VecDeque::new(),
            queued: 0,
            end_requested: false,
            trailers_out: None,
            send_ended: false,
            writer: None,
            reset: None,
            reset_by_peer: false,
            tunnel: false,
            body_wait: None,
        }
    }

    /// Whether the stream no longer counts against the concurrent
    /// streams' limit.
    pub(crate) fn is_closed(&self) -> bool {
        self.reset.is_some() || (self.recv_ended && self.send_ended)
    }

    pub(crate) fn wake_reader(&mut self) {
        if let Some(waker) = self.reader.take() {
            waker.wake();
        }
    }

    pub(crate) fn wake_writer(&mut self) {
        if let Some(waker) = self.writer.take() {
            waker.wake();
        }
    }

    pub(crate) fn wake_all(&mut self) {
        self.wake_reader();
        self.wake_writer();
    }

    /// Resets the stream, by either side: what waits to be sent is
    /// dropped, and its reader and writer learn of it.
    pub(crate) fn mark_reset(&mut self, code: ErrorCode) {
        self.reset = Some(code);
        self.queue.clear();
        self.queued = 0;
        self.wake_all();
    }

    /// Whether the stream may still receive request body data (a
    /// tunnel's data is not a body).
    pub(crate) fn receives_body(&self) -> bool {
        !self.tunnel && !self.recv_ended && self.reset.is_none()
    }

    /// Whether the service waits for request body data that has not
    /// arrived: a reader is registered, and the body's handle still
    /// holds the stream beside the response's (a service that dropped
    /// the body while it waited left its waker behind, and waits no
    /// more).
    fn awaits_body(&self) -> bool {
        self.receives_body() && self.reader.is_some() && self.recv.is_empty() && self.refs >= 2
    }

    /// Counts `len` bytes of body received against the body-read clock:
    /// [`MIN_BODY_PROGRESS`] of them disarm it.
    pub(crate) fn body_received(&mut self, len: usize) {
        if let Some((_, progress)) = &mut self.body_wait {
            *progress += len;
            if *progress >= MIN_BODY_PROGRESS {
                self.body_wait = None;
            }
        }
    }

    /// Looks at the body-read clock at `now`: armed while the service
    /// waits for body data, disarmed while it does not; true once it
    /// has been armed for `timeout` without enough progress.
    pub(crate) fn body_stalled(&mut self, now: Instant, timeout: Duration) -> bool {
        if !self.awaits_body() {
            self.body_wait = None;
            return false;
        }
        let (since, _) = *self.body_wait.get_or_insert((now, 0));
        now.duration_since(since) >= timeout
    }

    /// Takes in a DATA frame's accounting: `flow_len` bytes of the
    /// window, `len` of them data. Refused with the code to reset the
    /// stream with: after the client ended it (`STREAM_CLOSED`), beyond
    /// its window (`FLOW_CONTROL_ERROR`), or not adding up to its
    /// `content-length` (`PROTOCOL_ERROR`).
    pub(crate) fn accept_data(
        &mut self,
        flow_len: u32,
        len: usize,
        end_stream: bool,
    ) -> Result<(), ErrorCode> {
        if self.recv_ended {
            return Err(ErrorCode::STREAM_CLOSED);
        }
        if self.recv_window.receive(flow_len).is_err() {
            return Err(ErrorCode::FLOW_CONTROL_ERROR);
        }
        if let Some(left) = &mut self.content_left {
            let len = len as u64;
            if *left < len || (end_stream && *left != len) {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            *left -= len;
        }
        Ok(())
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
    /// The handle a new stream was created with (see [`Stream::new`]).
    pub(crate) fn adopt(conn: SharedConn, id: u32) -> Self {
        StreamRef { conn, id }
    }

    fn lock(&self) -> MutexGuard<'_, Conn> {
        crate::task::lock(&self.conn)
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
        let ended = conn.ended();
        let Some(stream) = conn.stream(self.id) else {
            return Poll::Ready(Some(Err(StreamError::Reset(ErrorCode::CANCEL))));
        };
        if let Some(data) = stream.recv.pop_front() {
            stream.unread -= data.len();
            conn.release(self.id, data.len() as u32);
            return Poll::Ready(Some(Ok(data)));
        }
        if let Some(code) = stream.reset {
            return Poll::Ready(Some(Err(StreamError::Reset(code))));
        }
        if stream.recv_ended {
            return Poll::Ready(None);
        }
        if let Some(why) = ended {
            return Poll::Ready(Some(Err(StreamError::ConnectionEnded(why))));
        }
        register(&mut stream.reader, cx);
        Poll::Pending
    }

    /// The request's trailers, once its data is read.
    pub(crate) fn take_trailers(&self) -> Option<HeaderMap> {
        self.lock().stream(self.id)?.trailers.take()
    }

    /// Whether the client ended the stream and everything was read.
    pub(crate) fn is_end_stream(&self) -> bool {
        self.lock().stream(self.id).map_or(true, |s| {
            s.recv_ended && s.recv.is_empty() && s.trailers.is_none()
        })
    }

    /// Ready with the reset's code once the client resets the stream.
    pub(crate) fn poll_reset(&self, cx: &mut Context<'_>) -> Poll<ErrorCode> {
        let mut conn = self.lock();
        let ended = conn.ended().is_some();
        match conn.stream(self.id) {
            Some(Stream {
                reset: Some(code), ..
            }) => Poll::Ready(*code),
            None => Poll::Ready(ErrorCode::CANCEL),
            Some(_) if ended => Poll::Ready(ErrorCode::CANCEL),
            Some(stream) => {
                register(&mut stream.writer, cx);
                Poll::Pending
            }
        }
    }

    /// Ready once data may be queued: what was queued before has gone
    /// out to the socket's queue, and that is not backed up.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut conn = self.lock();
        if let Some(why) = conn.ended() {
            return Poll::Ready(Err(StreamError::ConnectionEnded(why).into()));
        }
        let Some(stream) = conn.stream(self.id) else {
            return Poll::Ready(Err(StreamError::Reset(ErrorCode::CANCEL).into()));
        };
        if let Some(code) = stream.reset {
            return Poll::Ready(Err(StreamError::Reset(code).into()));
        }
        if stream.queued == 0 && conn.has_room(self.id) {
            return Poll::Ready(Ok(()));
        }
        if let Some(stream) = conn.stream(self.id) {
            register(&mut stream.writer, cx);
        }
        Poll::Pending
    }

    /// Sends a response's head; `end_stream` when it has no body.
    pub(crate) fn send_head(&self, status: StatusCode, headers: &HeaderMap, end_stream: bool) {
        self.lock().send_head(self.id, status, headers, end_stream);
    }

    /// Queues `data`, then `END_STREAM` if `end_stream`: it goes out as
    /// the peer's windows allow.
    pub(crate) fn send_data(&self, data: Bytes, end_stream: bool) -> io::Result<()> {
        self.send(data, end_stream, None)
    }

    /// Ends the stream with trailers, after what is queued.
    pub(crate) fn send_trailers(&self, trailers: HeaderMap) -> io::Result<()> {
        self.send(Bytes::new(), true, Some(trailers))
    }

    fn send(&self, data: Bytes, end: bool, trailers: Option<HeaderMap>) -> io::Result<()> {
        let mut conn = self.lock();
        if let Some(why) = conn.ended() {
            return Err(StreamError::ConnectionEnded(why).into());
        }
        let Some(stream) = conn.stream(self.id) else {
            return Err(StreamError::Reset(ErrorCode::CANCEL).into());
        };
        if let Some(code) = stream.reset {
            return Err(StreamError::Reset(code).into());
        }
        if stream.end_requested {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stream ended"));
        }
        if !data.is_empty() {
            stream.queued += data.len();
            stream.queue.push_back(data);
        }
        stream.end_requested = end;
        stream.trailers_out = trailers;
        conn.pump(self.id);
        Ok(())
    }

    /// Resets the stream with `code`.
    pub(crate) fn reset(&self, code: ErrorCode) {
        self.lock().reset(self.id, code);
    }
}

impl Clone for StreamRef {
    fn clone(&self) -> Self {
        if let Some(stream) = self.lock().stream(self.id) {
            stream.refs += 1;
        }
        StreamRef {
            conn: self.conn.clone(),
            id: self.id,
        }
    }
}

impl Drop for StreamRef {
    fn drop(&mut self) {
        self.lock().release_ref(self.id);
    }
}

impl std::fmt::Debug for StreamRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRef").field("id", &self.id).finish()
    }
}

/// Keeps the waker of the task that waits, unless it is kept already.
fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    if !slot
        .as_ref()
        .is_some_and(|waker| waker.will_wake(cx.waker()))
    {
        *slot = Some(cx.waker().clone());
    }
}

/// Why a stream cannot be read or written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StreamError {
    /// Either side reset it.
    Reset(ErrorCode),
    /// The whole connection ended.
    ConnectionEnded(&'static str),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Reset(code) => write!(f, "stream reset: {code}"),
            StreamError::ConnectionEnded(why) => write!(f, "HTTP/2 connection ended: {why}"),
        }
    }
}

impl std::error::Error for StreamError {}

impl From<StreamError> for io::Error {
    fn from(e: StreamError) -> Self {
        let kind = match e {
            StreamError::Reset(_) => io::ErrorKind::ConnectionReset,
            StreamError::ConnectionEnded(_) => io::ErrorKind::ConnectionAborted,
        };
        io::Error::new(kind, e)
    }
}
