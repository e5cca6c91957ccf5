//! One stream's state within its connection: what it received and not
//! yet read, what it queued and not yet sent, both windows, and whether
//! its reader or writer waits for something to change. The byte counts
//! move only with their queues, behind methods, so they cannot drift.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;

use super::super::{ErrorCode, RecvWindow, Window};
use super::Event;

/// What a request body must deliver within the body-read timeout while
/// the service waits for it (unless it ends first), so that a body that
/// drips a few bytes at a time is timed out like one that stalls.
const MIN_BODY_PROGRESS: usize = 1024;

/// A connection's streams by identifier.
pub(crate) type StreamMap = HashMap<u32, Stream, BuildHasherDefault<StreamIdHasher>>;

/// Hashes a stream identifier with one multiplication. No defence
/// against chosen collisions is needed: a client's identifiers only
/// ascend, and only its concurrent streams' limit of them are live.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamIdHasher(u64);

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
#[derive(Debug)]
pub(crate) struct Stream {
    /// The handles that point at it.
    pub(crate) refs: usize,
    /// DATA payloads not read yet, and their bytes.
    recv: VecDeque<Bytes>,
    unread: usize,
    /// The client ended its side (`END_STREAM`).
    pub(crate) recv_ended: bool,
    pub(crate) trailers: Option<HeaderMap>,
    pub(crate) recv_window: RecvWindow,
    /// What the request's `content-length` has yet to receive.
    content_left: Option<u64>,
    /// The reader waits for data (or the stream's end).
    reader_waiting: bool,
    pub(crate) send_window: Window,
    /// Data to send once the windows allow, and its bytes.
    queue: VecDeque<Bytes>,
    queued: usize,
    /// The sender is done: `END_STREAM` (with `trailers_out`, if any)
    /// follows what is queued.
    pub(crate) end_requested: bool,
    pub(crate) trailers_out: Option<HeaderMap>,
    /// `END_STREAM` has been queued for the peer.
    pub(crate) send_ended: bool,
    /// The writer waits for room, or for the stream's reset.
    writer_waiting: bool,
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
            reader_waiting: false,
            send_window: Window::new(send_window),
            queue: VecDeque::new(),
            queued: 0,
            end_requested: false,
            trailers_out: None,
            send_ended: false,
            writer_waiting: false,
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

    /// Bytes received and not read.
    pub(crate) fn unread(&self) -> usize {
        self.unread
    }

    /// Whether nothing received waits to be read.
    pub(crate) fn recv_is_empty(&self) -> bool {
        self.recv.is_empty()
    }

    /// Keeps a DATA payload for the reader.
    pub(crate) fn push_recv(&mut self, data: Bytes) {
        self.unread += data.len();
        self.recv.push_back(data);
    }

    /// The oldest DATA payload not read.
    pub(crate) fn pop_recv(&mut self) -> Option<Bytes> {
        let data = self.recv.pop_front()?;
        self.unread -= data.len();
        Some(data)
    }

    /// Bytes queued to send.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// Queues `data` to send.
    pub(crate) fn queue_send(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.queued += data.len();
            self.queue.push_back(data);
        }
    }

    /// Takes up to `max` bytes (at least one while any are queued) from
    /// the front of what is queued.
    pub(crate) fn take_send(&mut self, max: usize) -> Option<Bytes> {
        let front = self.queue.front_mut()?;
        let chunk = if front.len() <= max {
            self.queue.pop_front()?
        } else {
            front.split_to(max)
        };
        self.queued -= chunk.len();
        Some(chunk)
    }

    /// The reader waits: it hears of data, the end, or a reset.
    pub(crate) fn wait_reader(&mut self) {
        self.reader_waiting = true;
    }

    /// The writer waits: it hears of room, or a reset.
    pub(crate) fn wait_writer(&mut self) {
        self.writer_waiting = true;
    }

    /// Tells a waiting reader (of stream `id`) that something changed.
    pub(crate) fn wake_reader(&mut self, id: u32, events: &mut Vec<Event>) {
        if std::mem::take(&mut self.reader_waiting) {
            events.push(Event::StreamReadable(id));
        }
    }

    /// Tells a waiting writer (of stream `id`) that something changed.
    pub(crate) fn wake_writer(&mut self, id: u32, events: &mut Vec<Event>) {
        if std::mem::take(&mut self.writer_waiting) {
            events.push(Event::StreamWritable(id));
        }
    }

    /// Tells both a waiting reader and writer.
    pub(crate) fn wake_all(&mut self, id: u32, events: &mut Vec<Event>) {
        self.wake_reader(id, events);
        self.wake_writer(id, events);
    }

    /// Resets the stream, by either side: what waits to be sent is
    /// dropped, and its reader and writer learn of it.
    pub(crate) fn mark_reset(&mut self, code: ErrorCode, id: u32, events: &mut Vec<Event>) {
        self.reset = Some(code);
        self.queue.clear();
        self.queued = 0;
        self.wake_all(id, events);
    }

    /// Whether the stream may still receive request body data (a
    /// tunnel's data is not a body).
    pub(crate) fn receives_body(&self) -> bool {
        !self.tunnel && !self.recv_ended && self.reset.is_none()
    }

    /// Whether the service waits for request body data that has not
    /// arrived: its reader waits, and the body's handle still holds the
    /// stream beside the response's (a service that dropped the body
    /// while it waited waits no more).
    fn awaits_body(&self) -> bool {
        self.receives_body() && self.reader_waiting && self.recv.is_empty() && self.refs >= 2
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
        now.saturating_duration_since(since) >= timeout
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

    /// Whether the body has all `content-length` announced.
    pub(crate) fn content_complete(&self) -> bool {
        self.content_left.unwrap_or(0) == 0
    }
}
