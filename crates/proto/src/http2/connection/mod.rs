//! The state of one HTTP/2 connection a server serves (RFC 9113), sans
//! IO: its streams, both directions' flow-control windows, and the
//! frames waiting to be written.
//!
//! The driver owns the socket, the clock and the wakers. It feeds the
//! frames it reads to [`Connection::handle_frame`], writes out what
//! [`Connection::output`] holds, and drains [`Connection::poll_event`]
//! to wake the streams' readers and writers, and its own task when
//! [`Connection::take_output_ready`] says output was queued from a
//! stream's side. A stream's handle reads and sends through the
//! `poll_*` and `send_*` methods with the stream's identifier; a
//! `Poll::Pending` from one of them means "an [`Event`] for this stream
//! follows once that changes".
//!
//! ```
//! use pushwire_proto::http2::connection::{Connection, ConnectionConfig};
//! let mut conn = Connection::new(ConnectionConfig::default());
//! // The server's SETTINGS (and a connection WINDOW_UPDATE) are queued.
//! assert!(conn.output().buffered() > 0);
//! ```

mod closed;
mod config;
mod field_block;
mod head_writer;
mod receive;
mod request;
mod send;
mod stream;
#[cfg(test)]
mod tests;

use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request};

use super::frame::{self, FrameError};
use super::hpack::Decoder;
use super::{ErrorCode, RecvWindow, Settings, Window};
use crate::OutputQueue;
use closed::{ClosedBy, ClosedStreams};
use field_block::PartialBlock;
use stream::{Stream, StreamMap};

/// The `http` crate whose types this API speaks (`Request`,
/// `HeaderMap`, `StatusCode`).
pub use http;

pub use config::ConnectionConfig;
pub use head_writer::HeadWriter;
pub use request::{request_from_fields, trailers_from_fields, DecodedRequest, Malformed};
pub use stream::StreamIdHasher;

/// The highest stream identifier there is.
const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// The payload of the PING that follows a graceful shutdown's first
/// GOAWAY: its answer tells that every stream the client opened before
/// it has arrived.
pub const DRAIN_PING: [u8; 8] = *b"drainnow";

/// The payload of keep-alive PINGs.
pub const KEEP_ALIVE_PING: [u8; 8] = *b"areyouup";

/// A request stream the client opened.
#[derive(Debug)]
pub struct Opened {
    /// The stream's identifier.
    pub id: u32,
    /// The request's head.
    pub request: Request<()>,
    /// `:protocol` of an extended CONNECT (RFC 8441).
    pub protocol: Option<String>,
    /// The request has no body.
    pub end_stream: bool,
}

/// Something that changed for a stream's handle, which waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The stream's reader waited: data, the end, a reset or the
    /// connection's end arrived.
    StreamReadable(u32),
    /// The stream's writer waited: there is room, or the stream was
    /// reset, or the connection ended.
    StreamWritable(u32),
}

/// Why a stream cannot be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// Either side reset it.
    Reset(ErrorCode),
    /// The whole connection ended.
    ConnectionEnded(&'static str),
    /// The stream's sending side was ended already.
    SendEnded,
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Reset(code) => write!(f, "stream reset: {code}"),
            StreamError::ConnectionEnded(why) => write!(f, "HTTP/2 connection ended: {why}"),
            StreamError::SendEnded => f.write_str("stream ended"),
        }
    }
}

impl std::error::Error for StreamError {}

/// One connection's state.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    streams: StreamMap,
    /// The highest stream the client opened.
    highest_id: u32,
    /// Streams above this are not served: the last stream of a graceful
    /// shutdown's final GOAWAY.
    last_served_id: u32,
    send_window: Window,
    recv_window: RecvWindow,
    peer_initial_window: u32,
    peer_max_frame_size: u32,
    decoder: Decoder,
    heads: HeadWriter,
    partial: Option<PartialBlock>,
    out: OutputQueue,
    /// Streams with data queued that wait for the connection's window.
    blocked: std::collections::VecDeque<u32>,
    closed: ClosedStreams,
    /// Streams whose senders wait for the output to drain.
    room_waiters: Vec<u32>,
    /// What changed for streams' handles, drained by the driver (the
    /// vector is kept, so that the hot path does not allocate).
    events: Vec<Event>,
    /// Output was queued from outside the driver's own handling.
    output_ready: bool,
    /// Why the connection ended, once it has: every stream fails.
    ended: Option<&'static str>,
    /// The client sent GOAWAY: it opens no more streams.
    peer_going_away: bool,
    /// The final GOAWAY went out: no more streams are served.
    final_goaway_sent: bool,
    /// Streams the client reset before their response was done, and
    /// streams that finished.
    peer_resets: u64,
    finished_streams: u64,
    /// The client acknowledged the server's SETTINGS.
    settings_acked: bool,
    /// Answers to the server's own PINGs.
    keep_alive_answered: bool,
    drain_answered: bool,
}

impl Connection {
    /// A connection whose opening frames (the server's SETTINGS and the
    /// connection window's update) are queued; `config` is clamped.
    pub fn new(config: ConnectionConfig) -> Self {
        let config = config.clamped();
        let mut conn = Connection {
            config,
            streams: StreamMap::default(),
            highest_id: 0,
            last_served_id: MAX_STREAM_ID,
            send_window: Window::new(65_535),
            recv_window: RecvWindow::new(config.connection_window),
            peer_initial_window: 65_535,
            peer_max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            decoder: Decoder::new(4096),
            heads: HeadWriter::default(),
            partial: None,
            out: OutputQueue::default(),
            blocked: std::collections::VecDeque::new(),
            closed: ClosedStreams::default(),
            room_waiters: Vec::new(),
            events: Vec::new(),
            output_ready: false,
            ended: None,
            peer_going_away: false,
            final_goaway_sent: false,
            peer_resets: 0,
            finished_streams: 0,
            settings_acked: false,
            keep_alive_answered: false,
            drain_answered: false,
        };
        let settings = Settings {
            max_concurrent_streams: Some(config.max_concurrent_streams),
            initial_window_size: Some(config.stream_window),
            max_frame_size: Some(config.max_frame_size),
            max_header_list_size: Some(config.max_header_list_size),
            enable_connect_protocol: Some(true),
            ..Settings::default()
        };
        settings.put(conn.out.cork());
        let increment = config.connection_window - 65_535;
        if increment > 0 {
            frame::put_window_update(conn.out.cork(), 0, increment);
        }
        conn
    }

    /// What the connection enforces.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// The bytes queued for the peer: the driver writes them out.
    pub fn output(&mut self) -> &mut OutputQueue {
        &mut self.out
    }

    /// The next thing that changed for a stream's handle.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Whether output was queued by a stream's handle (or a change it
    /// caused) since this was last asked: the driver's task has
    /// something to write.
    pub fn take_output_ready(&mut self) -> bool {
        std::mem::take(&mut self.output_ready)
    }

    /// Whether the connection is over: it failed, or it is shutting down
    /// (either side) and its last stream is gone.
    pub fn is_done(&self) -> bool {
        self.ended.is_some()
            || ((self.final_goaway_sent || self.peer_going_away) && self.streams.is_empty())
    }

    /// Ends the connection: every stream fails with `why`.
    pub fn end(&mut self, why: &'static str) {
        if self.ended.is_none() {
            self.ended = Some(why);
            for (&id, stream) in self.streams.iter_mut() {
                stream.wake_all(id, &mut self.events);
            }
        }
    }

    /// Ends the connection for the client's fault: a GOAWAY tells it why.
    pub fn fail(&mut self, error: &FrameError) {
        if self.ended.is_none() {
            frame::put_goaway(
                self.out.cork(),
                self.highest_id,
                error.code,
                error.reason.as_bytes(),
            );
            self.end(error.reason);
        }
    }

    /// Begins a graceful shutdown: a GOAWAY that still admits every
    /// stream, and a PING whose answer shows that those the client sent
    /// before it have arrived (RFC 9113 section 6.8).
    pub fn begin_shutdown(&mut self) {
        frame::put_goaway(self.out.cork(), MAX_STREAM_ID, ErrorCode::NO_ERROR, b"");
        frame::put_ping(self.out.cork(), false, DRAIN_PING);
    }

    /// Ends a graceful shutdown: the final GOAWAY names the last stream
    /// served.
    pub fn finish_shutdown(&mut self) {
        if !self.final_goaway_sent {
            self.final_goaway_sent = true;
            self.last_served_id = self.highest_id;
            frame::put_goaway(self.out.cork(), self.highest_id, ErrorCode::NO_ERROR, b"");
        }
    }

    /// Whether the client acknowledged the server's SETTINGS.
    pub fn settings_acknowledged(&self) -> bool {
        self.settings_acked
    }

    /// Whether the client answered a keep-alive PING since this was last
    /// asked.
    pub fn take_keep_alive_answered(&mut self) -> bool {
        std::mem::take(&mut self.keep_alive_answered)
    }

    /// Whether the client answered the graceful shutdown's PING.
    pub fn drain_answered(&self) -> bool {
        self.drain_answered
    }

    /// The highest stream the client opened: it grows with every
    /// request.
    pub fn highest_id(&self) -> u32 {
        self.highest_id
    }

    /// Whether any stream is open (or still finishing).
    pub fn has_streams(&self) -> bool {
        !self.streams.is_empty()
    }

    /// How many streams the connection holds.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Whether the connection holds stream `id`.
    pub fn has_stream(&self, id: u32) -> bool {
        self.streams.contains_key(&id)
    }

    /// Whether a stream may still receive a request body (not a
    /// tunnel's data).
    pub fn awaits_bodies(&self) -> bool {
        self.streams.values().any(Stream::receives_body)
    }

    /// The largest frame the peer accepts (`SETTINGS_MAX_FRAME_SIZE`).
    pub fn peer_max_frame_size(&self) -> u32 {
        self.peer_max_frame_size
    }

    /// Bytes the streams hold, received and not read or queued and not
    /// sent.
    pub fn stream_buffered(&self) -> usize {
        self.streams.values().map(|s| s.unread() + s.queued()).sum()
    }

    /// Ends a connection that stayed without streams for the idle
    /// timeout: a GOAWAY (`NO_ERROR`) names the last stream served.
    pub fn close_idle(&mut self) {
        if self.ended.is_none() {
            frame::put_goaway(
                self.out.cork(),
                self.highest_id,
                ErrorCode::NO_ERROR,
                b"idle",
            );
            self.end("idle timeout");
        }
    }

    /// Ends a connection whose peer stopped answering keep-alive PINGs,
    /// with a GOAWAY (`NO_ERROR`) that says so, in case it still reads.
    pub fn close_unresponsive(&mut self) {
        if self.ended.is_none() {
            frame::put_goaway(
                self.out.cork(),
                self.highest_id,
                ErrorCode::NO_ERROR,
                b"keep-alive ping not answered",
            );
            self.end("keep-alive ping not answered");
        }
    }

    /// Resets (`CANCEL`) the streams whose service has waited for body
    /// data for `timeout` at `now` without receiving enough of it;
    /// returns how many.
    pub fn expire_stalled_bodies(&mut self, now: Instant, timeout: Duration) -> usize {
        let stalled: Vec<u32> = self
            .streams
            .iter_mut()
            .filter_map(|(&id, stream)| stream.body_stalled(now, timeout).then_some(id))
            .collect();
        for &id in &stalled {
            self.reset(id, ErrorCode::CANCEL);
        }
        stalled.len()
    }

    /// Queues a keep-alive PING.
    pub fn ping(&mut self) {
        frame::put_ping(self.out.cork(), false, KEEP_ALIVE_PING);
    }

    /// Why the connection ended, if it has.
    pub fn ended(&self) -> Option<&'static str> {
        self.ended
    }

    /// Whether the output has reached its limit: streams wait to send
    /// and the driver stops reading until it drains.
    pub fn output_backed_up(&self) -> bool {
        self.out.buffered() >= self.config.output_limit
    }

    /// The output drained: senders waiting for room go on.
    pub fn output_drained(&mut self) {
        for id in self.room_waiters.drain(..) {
            if let Some(stream) = self.streams.get_mut(&id) {
                stream.wake_writer(id, &mut self.events);
            }
        }
    }

    /// The next DATA payload of stream `id`, its flow-control window
    /// returned; `None` once the client ended the stream. Pending: an
    /// [`Event::StreamReadable`] follows.
    pub fn poll_data(&mut self, id: u32) -> Poll<Option<Result<Bytes, StreamError>>> {
        let ended = self.ended;
        let Some(stream) = self.streams.get_mut(&id) else {
            return Poll::Ready(Some(Err(StreamError::Reset(ErrorCode::CANCEL))));
        };
        if let Some(data) = stream.pop_recv() {
            self.release(id, data.len() as u32);
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
        stream.wait_reader();
        Poll::Pending
    }

    /// The request trailers of stream `id`, once its data is read.
    pub fn take_trailers(&mut self, id: u32) -> Option<HeaderMap> {
        self.streams.get_mut(&id)?.trailers.take()
    }

    /// Whether the client ended stream `id` and everything was read.
    pub fn is_end_stream(&self, id: u32) -> bool {
        self.streams.get(&id).map_or(true, |s| {
            s.recv_ended && s.recv_is_empty() && s.trailers.is_none()
        })
    }

    /// Ready with the reset's code once stream `id` is reset (or gone,
    /// or the connection ended: `CANCEL`). Pending: an
    /// [`Event::StreamWritable`] follows.
    pub fn poll_reset(&mut self, id: u32) -> Poll<ErrorCode> {
        let ended = self.ended.is_some();
        match self.streams.get_mut(&id) {
            Some(Stream {
                reset: Some(code), ..
            }) => Poll::Ready(*code),
            None => Poll::Ready(ErrorCode::CANCEL),
            Some(_) if ended => Poll::Ready(ErrorCode::CANCEL),
            Some(stream) => {
                stream.wait_writer();
                Poll::Pending
            }
        }
    }

    /// Ready once stream `id` may queue data: what it queued before went
    /// to the output, and that is not backed up. Pending: an
    /// [`Event::StreamWritable`] follows.
    pub fn poll_room(&mut self, id: u32) -> Poll<Result<(), StreamError>> {
        if let Some(why) = self.ended {
            return Poll::Ready(Err(StreamError::ConnectionEnded(why)));
        }
        let backed_up = self.output_backed_up();
        let Some(stream) = self.streams.get_mut(&id) else {
            return Poll::Ready(Err(StreamError::Reset(ErrorCode::CANCEL)));
        };
        if let Some(code) = stream.reset {
            return Poll::Ready(Err(StreamError::Reset(code)));
        }
        if stream.queued() == 0 {
            if !backed_up {
                return Poll::Ready(Ok(()));
            }
            if !self.room_waiters.contains(&id) {
                self.room_waiters.push(id);
            }
        }
        stream.wait_writer();
        Poll::Pending
    }

    /// Another handle points at stream `id`.
    pub fn add_ref(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.refs += 1;
        }
    }

    /// Whether any handle still points at stream `id`.
    pub fn has_refs(&self, id: u32) -> bool {
        self.streams.get(&id).is_some_and(|s| s.refs > 0)
    }

    /// A handle of stream `id` was dropped: the stream is removed once
    /// none is left and it is done with; one dropped before its response
    /// was done is reset.
    pub fn release_ref(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.refs = stream.refs.saturating_sub(1);
            self.settle(id);
        }
    }

    fn remember_closed(&mut self, stream_id: u32, by: ClosedBy) {
        self.closed.remember(stream_id, by);
    }
}
