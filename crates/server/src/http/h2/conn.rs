//! The state of one HTTP/2 connection pushwire serves (RFC 9113): its
//! streams, both directions' flow-control windows, and the frames
//! waiting to be written. The connection's task feeds it the frames it
//! reads and writes out what it queued; the streams' handles
//! ([`StreamRef`](super::stream::StreamRef)) read and send through
//! it.

use std::collections::VecDeque;
use std::task::Waker;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request};
use pushwire_proto::http2::frame::{self, Frame, FrameError};
use pushwire_proto::http2::hpack::{Decoder, HpackError};
use pushwire_proto::http2::{ErrorCode, RecvWindow, Settings, Window};
use tokio::time::Instant;

use super::config::Http2Config;
use super::headers::{request_from_fields, trailers_from_fields, HeadWriter};
use super::stream::{Stream, StreamMap};
use crate::io::WriteQueue;

/// The highest stream identifier there is.
const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// The payload of the PING that follows a graceful shutdown's first
/// GOAWAY: its answer tells that every stream the client opened before
/// it has arrived.
pub(crate) const DRAIN_PING: [u8; 8] = *b"drainnow";

/// How many closed streams a connection remembers, and who closed
/// them: frames the client sent before it learned of the server's
/// RST_STREAM are ignored, while frames after the client's own
/// RST_STREAM or END_STREAM are errors (section 5.1). Of an older
/// stream, a DATA frame gets RST_STREAM (`STREAM_CLOSED`) and a HEADERS
/// frame ends the connection (`PROTOCOL_ERROR`, section 5.1.1).
const CLOSED_STREAMS_KEPT: usize = 32;

/// Who closed a stream the connection no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClosedBy {
    /// The server reset it (or refused it): the client may not know yet.
    ServerReset,
    /// The client reset it.
    ClientReset,
    /// Both sides sent END_STREAM.
    BothEnded,
}

/// The payload of keep-alive PINGs.
pub(crate) const KEEP_ALIVE_PING: [u8; 8] = *b"areyouup";

/// What the server was configured with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub(crate) config: Http2Config,
    pub(crate) max_header_list_size: u32,
}

/// A request stream the client opened.
pub(crate) struct Opened {
    pub(crate) id: u32,
    pub(crate) request: Request<()>,
    /// The request has no body.
    pub(crate) end_stream: bool,
}

/// A field block that CONTINUATION frames are still adding to.
struct PartialBlock {
    stream_id: u32,
    block: BytesMut,
    end_stream: bool,
    frames: usize,
}

/// One connection's state.
pub(crate) struct Conn {
    limits: ConnLimits,
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
    pub(crate) out: WriteQueue,
    /// Streams with data queued that wait for the connection's window.
    blocked: VecDeque<u32>,
    /// The streams closed last, newest at the back (at most
    /// [`CLOSED_STREAMS_KEPT`]).
    closed: VecDeque<(u32, ClosedBy)>,
    /// Streams whose senders wait for the output to drain.
    room_waiters: Vec<u32>,
    /// Wakes the connection's task: it has something to write.
    task: Waker,
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
    pub(crate) keep_alive_answered: bool,
    pub(crate) drain_answered: bool,
}

impl Conn {
    /// A connection whose task `task` wakes; its opening frames (the
    /// server's SETTINGS and the connection window's update) are queued.
    pub(crate) fn new(limits: ConnLimits, task: Waker) -> Self {
        let mut conn = Conn {
            limits,
            streams: StreamMap::default(),
            highest_id: 0,
            last_served_id: MAX_STREAM_ID,
            send_window: Window::new(65_535),
            recv_window: RecvWindow::new(limits.config.connection_window),
            peer_initial_window: 65_535,
            peer_max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            decoder: Decoder::new(4096),
            heads: HeadWriter::default(),
            partial: None,
            out: WriteQueue::default(),
            blocked: VecDeque::new(),
            closed: VecDeque::new(),
            room_waiters: Vec::new(),
            task,
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
            max_concurrent_streams: Some(limits.config.max_concurrent_streams),
            initial_window_size: Some(limits.config.stream_window),
            max_frame_size: Some(limits.config.max_frame_size),
            max_header_list_size: Some(limits.max_header_list_size),
            enable_connect_protocol: Some(true),
            ..Settings::default()
        };
        settings.put(conn.out.cork());
        let increment = limits.config.connection_window - 65_535;
        if increment > 0 {
            frame::put_window_update(conn.out.cork(), 0, increment);
        }
        conn
    }

    /// Whether the connection is over: it failed, or it is shutting down
    /// (either side) and its last stream is gone.
    pub(crate) fn is_done(&self) -> bool {
        self.ended.is_some()
            || ((self.final_goaway_sent || self.peer_going_away) && self.streams.is_empty())
    }

    /// Ends the connection: every stream fails with `why`.
    pub(crate) fn end(&mut self, why: &'static str) {
        if self.ended.is_none() {
            self.ended = Some(why);
            for stream in self.streams.values_mut() {
                stream.wake_all();
            }
        }
    }

    /// Ends the connection for the client's fault: a GOAWAY tells it why.
    pub(crate) fn fail(&mut self, error: &FrameError) {
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
    pub(crate) fn begin_shutdown(&mut self) {
        frame::put_goaway(self.out.cork(), MAX_STREAM_ID, ErrorCode::NO_ERROR, b"");
        frame::put_ping(self.out.cork(), false, DRAIN_PING);
    }

    /// Ends a graceful shutdown: the final GOAWAY names the last stream
    /// served.
    pub(crate) fn finish_shutdown(&mut self) {
        if !self.final_goaway_sent {
            self.final_goaway_sent = true;
            self.last_served_id = self.highest_id;
            frame::put_goaway(self.out.cork(), self.highest_id, ErrorCode::NO_ERROR, b"");
        }
    }

    /// Whether the client acknowledged the server's SETTINGS.
    pub(crate) fn settings_acknowledged(&self) -> bool {
        self.settings_acked
    }

    /// The highest stream the client opened: it grows with every
    /// request.
    pub(crate) fn highest_id(&self) -> u32 {
        self.highest_id
    }

    /// Whether any stream is open (or still finishing).
    pub(crate) fn has_streams(&self) -> bool {
        !self.streams.is_empty()
    }

    /// Whether a stream may still receive a request body (not a
    /// tunnel's data).
    pub(crate) fn awaits_bodies(&self) -> bool {
        self.streams.values().any(Stream::receives_body)
    }

    /// Ends a connection that stayed without streams for the idle
    /// timeout: a GOAWAY (`NO_ERROR`) names the last stream served.
    pub(crate) fn close_idle(&mut self) {
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
    pub(crate) fn close_unresponsive(&mut self) {
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
    /// data for `timeout` without receiving enough of it.
    pub(crate) fn expire_stalled_bodies(&mut self, now: Instant, timeout: Duration) {
        let stalled: Vec<u32> = self
            .streams
            .iter_mut()
            .filter_map(|(&id, stream)| stream.body_stalled(now, timeout).then_some(id))
            .collect();
        for id in stalled {
            tracing::debug!("HTTP/2 stream {id} reset: request body stalled for {timeout:?}");
            self.reset(id, ErrorCode::CANCEL);
        }
    }

    /// Queues a keep-alive PING.
    pub(crate) fn ping(&mut self) {
        frame::put_ping(self.out.cork(), false, KEEP_ALIVE_PING);
    }

    /// Handles one frame from the client. A request stream it opens is
    /// returned; a connection error is returned for the caller to
    /// [`fail`](Conn::fail) the connection with.
    pub(crate) fn receive(&mut self, frame: Frame) -> Result<Option<Opened>, FrameError> {
        if self.partial.is_some() && !matches!(frame, Frame::Continuation { .. }) {
            return Err(FrameError::connection(
                ErrorCode::PROTOCOL_ERROR,
                "field block interrupted by another frame",
            ));
        }
        match frame {
            Frame::Data {
                stream_id,
                data,
                end_stream,
                flow_len,
            } => self.on_data(stream_id, data, end_stream, flow_len)?,
            Frame::Headers {
                stream_id,
                fragment,
                end_stream,
                end_headers,
            } => {
                if end_headers {
                    return self.on_field_block(stream_id, fragment, end_stream);
                }
                self.partial = Some(PartialBlock {
                    stream_id,
                    block: BytesMut::from(&fragment[..]),
                    end_stream,
                    frames: 1,
                });
            }
            Frame::Continuation {
                stream_id,
                fragment,
                end_headers,
            } => return self.on_continuation(stream_id, fragment, end_headers),
            Frame::RstStream { stream_id, code } => self.on_reset(stream_id, code)?,
            Frame::Settings(settings) => self.on_settings(&settings)?,
            Frame::SettingsAck => self.settings_acked = true,
            Frame::Priority { .. } | Frame::Unknown { .. } => {}
            Frame::PushPromise { .. } => {
                return Err(FrameError::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    "PUSH_PROMISE from a client",
                ))
            }
            Frame::Ping {
                ack: false,
                payload,
            } => {
                frame::put_ping(self.out.cork(), true, payload);
            }
            Frame::Ping { ack: true, payload } => match payload {
                KEEP_ALIVE_PING => self.keep_alive_answered = true,
                DRAIN_PING => self.drain_answered = true,
                _ => {}
            },
            Frame::GoAway { .. } => self.peer_going_away = true,
            Frame::WindowUpdate {
                stream_id,
                increment,
            } => self.on_window_update(stream_id, increment)?,
        }
        Ok(None)
    }

    /// A stream error found while decoding a frame: the stream is reset.
    /// Field blocks are the exception: the dynamic table would go out of
    /// step, so the connection fails.
    pub(crate) fn on_stream_error(
        &mut self,
        kind: u8,
        error: FrameError,
    ) -> Result<(), FrameError> {
        let Some(stream_id) = error.stream_id else {
            return Err(error);
        };
        if kind == frame::kind::HEADERS || kind == frame::kind::CONTINUATION {
            return Err(FrameError::connection(error.code, error.reason));
        }
        // PRIORITY may come on a stream in any state (section 6.3).
        if kind != frame::kind::PRIORITY {
            self.refuse_idle(stream_id, "frame on an idle stream")?;
        }
        self.reset(stream_id, error.code);
        Ok(())
    }

    fn on_continuation(
        &mut self,
        stream_id: u32,
        fragment: Bytes,
        end_headers: bool,
    ) -> Result<Option<Opened>, FrameError> {
        let max_block = (self.limits.max_header_list_size as usize).max(16 << 10) + (16 << 10);
        let Some(partial) = self.partial.as_mut().filter(|p| p.stream_id == stream_id) else {
            return Err(FrameError::connection(
                ErrorCode::PROTOCOL_ERROR,
                "CONTINUATION without HEADERS before it",
            ));
        };
        partial.frames += 1;
        if partial.frames > self.limits.config.max_continuations
            || partial.block.len() + fragment.len() > max_block
        {
            return Err(FrameError::connection(
                ErrorCode::ENHANCE_YOUR_CALM,
                "field block too long",
            ));
        }
        partial.block.extend_from_slice(&fragment);
        if !end_headers {
            return Ok(None);
        }
        let partial = self.partial.take().expect("checked above");
        self.on_field_block(stream_id, partial.block.freeze(), partial.end_stream)
    }

    /// A whole field block: a new request, or a request's trailers.
    fn on_field_block(
        &mut self,
        stream_id: u32,
        block: Bytes,
        end_stream: bool,
    ) -> Result<Option<Opened>, FrameError> {
        let max_list = self.limits.max_header_list_size as usize;
        // Decoded whatever becomes of the stream: the table stays in step.
        let fields = match self.decoder.decode(&block, max_list) {
            Ok(fields) => Ok(fields),
            Err(HpackError::ListTooLarge) => Err(()),
            Err(_) => {
                return Err(FrameError::connection(
                    ErrorCode::COMPRESSION_ERROR,
                    "field block not decodable",
                ))
            }
        };
        if stream_id % 2 == 0 {
            return Err(FrameError::connection(
                ErrorCode::PROTOCOL_ERROR,
                "client stream with an even identifier",
            ));
        }
        if let Some(stream) = self.streams.get_mut(&stream_id) {
            if stream.reset.is_some() {
                if stream.reset_by_peer {
                    self.put_reset(stream_id, ErrorCode::STREAM_CLOSED);
                }
                return Ok(None);
            }
            if stream.recv_ended {
                self.reset(stream_id, ErrorCode::STREAM_CLOSED);
                return Ok(None);
            }
            // Trailers: they end the stream, and the body is whole.
            let trailers = match fields {
                Ok(fields) if end_stream && stream.content_left.unwrap_or(0) == 0 => {
                    trailers_from_fields(fields)
                }
                _ => Err("HEADERS that are not the request's trailers"),
            };
            match trailers {
                Ok(trailers) => {
                    stream.trailers = Some(trailers);
                    stream.recv_ended = true;
                    stream.wake_reader();
                    self.settle(stream_id);
                }
                Err(_) => self.reset(stream_id, ErrorCode::PROTOCOL_ERROR),
            }
            return Ok(None);
        }
        if stream_id <= self.highest_id {
            self.on_closed_stream(stream_id, frame::kind::HEADERS)?;
            return Ok(None);
        }
        self.highest_id = stream_id;
        if stream_id > self.last_served_id || self.ended.is_some() {
            return Ok(None);
        }
        let Ok(fields) = fields else {
            self.refuse_too_large(stream_id, end_stream);
            return Ok(None);
        };
        if self.active_streams() >= self.limits.config.max_concurrent_streams as usize {
            self.put_reset(stream_id, ErrorCode::REFUSED_STREAM);
            return Ok(None);
        }
        let head = match request_from_fields(fields) {
            Ok(head) if !(end_stream && head.content_length.is_some_and(|len| len > 0)) => head,
            Ok(_) | Err(_) => {
                self.put_reset(stream_id, ErrorCode::PROTOCOL_ERROR);
                return Ok(None);
            }
        };
        let mut stream = Stream::new(
            self.limits.config.stream_window,
            self.peer_initial_window,
            end_stream,
            head.content_length,
        );
        stream.tunnel = head.request.method() == http::Method::CONNECT;
        self.streams.insert(stream_id, stream);
        Ok(Some(Opened {
            id: stream_id,
            request: head.request,
            end_stream,
        }))
    }

    /// Answers a request whose fields exceed the header list size with
    /// `431`, without a stream.
    fn refuse_too_large(&mut self, stream_id: u32, end_stream: bool) {
        self.heads.put_head(
            self.out.cork(),
            stream_id,
            http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &HeaderMap::new(),
            true,
            self.peer_max_frame_size,
        );
        if end_stream {
            self.remember_closed(stream_id, ClosedBy::BothEnded);
        } else {
            self.put_reset(stream_id, ErrorCode::NO_ERROR);
        }
    }

    /// Sends RST_STREAM for a stream the connection does not hold (any
    /// more), and remembers that the server reset it.
    fn put_reset(&mut self, stream_id: u32, code: ErrorCode) {
        frame::put_rst_stream(self.out.cork(), stream_id, code);
        self.task.wake_by_ref();
        if code != ErrorCode::STREAM_CLOSED {
            self.remember_closed(stream_id, ClosedBy::ServerReset);
        }
    }

    fn remember_closed(&mut self, stream_id: u32, by: ClosedBy) {
        if self.closed.len() == CLOSED_STREAMS_KEPT {
            self.closed.pop_front();
        }
        self.closed.push_back((stream_id, by));
    }

    /// A DATA or HEADERS frame (`kind`) on a stream the client opened
    /// before and the connection no longer holds (section 5.1).
    fn on_closed_stream(&mut self, stream_id: u32, kind: u8) -> Result<(), FrameError> {
        if stream_id > self.last_served_id {
            // Refused by the final GOAWAY: ignored.
            return Ok(());
        }
        let by = self
            .closed
            .iter()
            .rev()
            .find(|(id, _)| *id == stream_id)
            .map(|&(_, by)| by);
        match by {
            // Sent before the client learned of the reset.
            Some(ClosedBy::ServerReset) => Ok(()),
            Some(ClosedBy::BothEnded) => Err(FrameError::connection(
                ErrorCode::STREAM_CLOSED,
                "frame on a stream after its END_STREAM",
            )),
            None if kind == frame::kind::HEADERS => Err(FrameError::connection(
                ErrorCode::PROTOCOL_ERROR,
                "HEADERS on a stream identifier below one opened before",
            )),
            Some(ClosedBy::ClientReset) | None => {
                self.put_reset(stream_id, ErrorCode::STREAM_CLOSED);
                Ok(())
            }
        }
    }

    /// Refuses a frame on a stream the client never opened: only HEADERS
    /// and PRIORITY may come on one (section 5.1).
    fn refuse_idle(&self, stream_id: u32, reason: &'static str) -> Result<(), FrameError> {
        if stream_id > self.highest_id {
            return Err(FrameError::connection(ErrorCode::PROTOCOL_ERROR, reason));
        }
        Ok(())
    }

    fn active_streams(&self) -> usize {
        self.streams.values().filter(|s| !s.is_closed()).count()
    }

    fn on_data(
        &mut self,
        stream_id: u32,
        data: Bytes,
        end_stream: bool,
        flow_len: u32,
    ) -> Result<(), FrameError> {
        self.recv_window.receive(flow_len).map_err(|_| {
            FrameError::connection(
                ErrorCode::FLOW_CONTROL_ERROR,
                "DATA beyond the connection's window",
            )
        })?;
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            self.refuse_idle(stream_id, "DATA on an idle stream")?;
            self.release_connection_window(flow_len);
            return self.on_closed_stream(stream_id, frame::kind::DATA);
        };
        if stream.reset.is_some() {
            // Sent before the client learned of the server's reset:
            // dropped; after its own, an error (section 5.1).
            let by_peer = stream.reset_by_peer;
            self.release_connection_window(flow_len);
            if by_peer {
                self.put_reset(stream_id, ErrorCode::STREAM_CLOSED);
            }
            return Ok(());
        }
        if let Err(code) = stream.accept_data(flow_len, data.len(), end_stream) {
            self.release_connection_window(flow_len);
            self.reset(stream_id, code);
            return Ok(());
        }
        // Padding counts against the windows but is never read.
        let padding = flow_len - data.len() as u32;
        if !data.is_empty() {
            stream.body_received(data.len());
            stream.unread += data.len();
            stream.recv.push_back(data);
        }
        stream.recv_ended = end_stream;
        stream.wake_reader();
        if padding > 0 {
            self.release(stream_id, padding);
        }
        if end_stream {
            self.settle(stream_id);
        }
        Ok(())
    }

    fn on_reset(&mut self, stream_id: u32, code: ErrorCode) -> Result<(), FrameError> {
        self.refuse_idle(stream_id, "RST_STREAM on an idle stream")?;
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return Ok(());
        };
        if stream.reset.is_none() {
            if !stream.send_ended {
                self.peer_resets += 1;
                if self.peer_resets > self.limits.config.reset_allowance + self.finished_streams {
                    return Err(FrameError::connection(
                        ErrorCode::ENHANCE_YOUR_CALM,
                        "too many streams reset",
                    ));
                }
            }
            stream.mark_reset(code);
            stream.reset_by_peer = true;
            self.settle(stream_id);
        }
        Ok(())
    }

    fn on_settings(&mut self, settings: &Settings) -> Result<(), FrameError> {
        if let Some(size) = settings.header_table_size {
            self.heads.set_peer_table_size(size as usize);
        }
        if let Some(size) = settings.max_frame_size {
            self.peer_max_frame_size = size;
        }
        if let Some(new) = settings.initial_window_size {
            let old = std::mem::replace(&mut self.peer_initial_window, new);
            for stream in self.streams.values_mut() {
                stream.send_window.resize(old, new).map_err(|_| {
                    FrameError::connection(
                        ErrorCode::FLOW_CONTROL_ERROR,
                        "SETTINGS_INITIAL_WINDOW_SIZE overflows a window",
                    )
                })?;
            }
            if new > old {
                let ids: Vec<u32> = self.streams.keys().copied().collect();
                for id in ids {
                    self.pump(id);
                }
            }
        }
        frame::put_settings_ack(self.out.cork());
        Ok(())
    }

    fn on_window_update(&mut self, stream_id: u32, increment: u32) -> Result<(), FrameError> {
        if stream_id == 0 {
            self.send_window.grow(increment).map_err(|_| {
                FrameError::connection(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    "connection window beyond 2^31-1",
                )
            })?;
            for _ in 0..self.blocked.len() {
                if let Some(id) = self.blocked.pop_front() {
                    self.pump(id);
                }
            }
            return Ok(());
        }
        self.refuse_idle(stream_id, "WINDOW_UPDATE on an idle stream")?;
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return Ok(());
        };
        if stream.send_window.grow(increment).is_err() {
            self.reset(stream_id, ErrorCode::FLOW_CONTROL_ERROR);
        } else {
            self.pump(stream_id);
        }
        Ok(())
    }

    /// Resets a stream from this side.
    pub(crate) fn reset(&mut self, stream_id: u32, code: ErrorCode) {
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            self.put_reset(stream_id, code);
            return;
        };
        if stream.reset.is_some() {
            return;
        }
        stream.mark_reset(code);
        frame::put_rst_stream(self.out.cork(), stream_id, code);
        self.task.wake_by_ref();
        self.settle(stream_id);
    }

    /// Returns `len` consumed bytes of a stream to both windows.
    pub(crate) fn release(&mut self, stream_id: u32, len: u32) {
        self.release_connection_window(len);
        if let Some(stream) = self.streams.get_mut(&stream_id) {
            if let Some(increment) = stream.recv_window.release(len) {
                if !stream.recv_ended && stream.reset.is_none() {
                    frame::put_window_update(self.out.cork(), stream_id, increment);
                    self.task.wake_by_ref();
                }
            }
        }
    }

    fn release_connection_window(&mut self, len: u32) {
        if let Some(increment) = self.recv_window.release(len) {
            frame::put_window_update(self.out.cork(), 0, increment);
            self.task.wake_by_ref();
        }
    }

    /// A stream's state, if it is still there.
    pub(crate) fn stream(&mut self, stream_id: u32) -> Option<&mut Stream> {
        self.streams.get_mut(&stream_id)
    }

    /// Why the connection ended, if it has.
    pub(crate) fn ended(&self) -> Option<&'static str> {
        self.ended
    }

    /// Whether the output has reached its limit: streams wait to send
    /// and the connection stops reading until it drains.
    pub(crate) fn output_backed_up(&self) -> bool {
        self.out.buffered() >= self.limits.config.output_limit
    }

    /// Whether a sender may queue more: the output is not backed up.
    pub(crate) fn has_room(&mut self, stream_id: u32) -> bool {
        if !self.output_backed_up() {
            return true;
        }
        if !self.room_waiters.contains(&stream_id) {
            self.room_waiters.push(stream_id);
        }
        false
    }

    /// The output drained: senders waiting for room go on.
    pub(crate) fn output_drained(&mut self) {
        for id in std::mem::take(&mut self.room_waiters) {
            if let Some(stream) = self.streams.get_mut(&id) {
                stream.wake_writer();
            }
        }
    }

    /// Queues a response's head.
    pub(crate) fn send_head(
        &mut self,
        stream_id: u32,
        status: http::StatusCode,
        headers: &HeaderMap,
        end_stream: bool,
    ) {
        let open = self
            .streams
            .get(&stream_id)
            .is_some_and(|s| s.reset.is_none());
        if !open || self.ended.is_some() {
            return;
        }
        self.heads.put_head(
            self.out.cork(),
            stream_id,
            status,
            headers,
            end_stream,
            self.peer_max_frame_size,
        );
        self.task.wake_by_ref();
        if end_stream {
            if let Some(stream) = self.streams.get_mut(&stream_id) {
                stream.send_ended = true;
            }
            self.settle(stream_id);
        }
    }

    /// Writes what a stream has queued as DATA frames, as far as both
    /// windows allow; then its end, if it asked for one and all is sent.
    pub(crate) fn pump(&mut self, stream_id: u32) {
        let max_frame = self.peer_max_frame_size as usize;
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return;
        };
        if stream.reset.is_some() || stream.send_ended {
            return;
        }
        while stream.queued > 0 {
            let window = stream
                .send_window
                .available()
                .min(self.send_window.available()) as usize;
            if window == 0 {
                if self.send_window.available() == 0 && !self.blocked.contains(&stream_id) {
                    self.blocked.push_back(stream_id);
                }
                return;
            }
            let len = window.min(max_frame).min(stream.queued);
            let end = len == stream.queued && stream.end_requested && stream.trailers_out.is_none();
            let flags = if end { frame::flag::END_STREAM } else { 0 };
            let header = frame::FrameHeader {
                len: len as u32,
                kind: frame::kind::DATA,
                flags,
                stream_id,
            }
            .encode();
            let mut header = &header[..];
            let mut left = len;
            while left > 0 {
                let front = stream.queue.front_mut().expect("queued bytes");
                let chunk = if front.len() <= left {
                    stream.queue.pop_front().expect("a front")
                } else {
                    front.split_to(left)
                };
                left -= chunk.len();
                self.out.push_parts(header, chunk);
                header = &[];
            }
            stream.queued -= len;
            stream
                .send_window
                .take(len as u32)
                .expect("within the window");
            self.send_window
                .take(len as u32)
                .expect("within the window");
            if end {
                stream.send_ended = true;
            }
        }
        if stream.end_requested && !stream.send_ended {
            match stream.trailers_out.take() {
                Some(trailers) => self.heads.put_trailers(
                    self.out.cork(),
                    stream_id,
                    &trailers,
                    self.peer_max_frame_size,
                ),
                None => frame::put_header(
                    self.out.cork(),
                    frame::kind::DATA,
                    frame::flag::END_STREAM,
                    stream_id,
                    0,
                ),
            }
            stream.send_ended = true;
        }
        stream.wake_writer();
        self.task.wake_by_ref();
        self.settle(stream_id);
    }

    /// A handle of a stream was dropped.
    pub(crate) fn release_ref(&mut self, stream_id: u32) {
        if let Some(stream) = self.streams.get_mut(&stream_id) {
            stream.refs -= 1;
            self.settle(stream_id);
        }
    }

    /// Removes a stream that has no handles left once it is done with:
    /// a stream still sending what was queued stays until it is sent;
    /// one dropped before its response was done is reset.
    fn settle(&mut self, stream_id: u32) {
        let Some(stream) = self.streams.get(&stream_id) else {
            return;
        };
        if stream.refs > 0 {
            return;
        }
        if stream.reset.is_none() {
            if stream.end_requested && !stream.send_ended {
                return;
            }
            let code = if !stream.send_ended {
                Some(ErrorCode::CANCEL)
            } else if !stream.recv_ended {
                // The response is whole; the rest of the request is not
                // needed (section 8.1).
                Some(ErrorCode::NO_ERROR)
            } else {
                None
            };
            if let Some(code) = code {
                frame::put_rst_stream(self.out.cork(), stream_id, code);
                self.task.wake_by_ref();
            } else {
                self.finished_streams += 1;
            }
        }
        let stream = self.streams.remove(&stream_id).expect("looked up above");
        let by = match stream.reset {
            Some(_) if stream.reset_by_peer => ClosedBy::ClientReset,
            Some(_) => ClosedBy::ServerReset,
            None if stream.recv_ended && stream.send_ended => ClosedBy::BothEnded,
            None => ClosedBy::ServerReset,
        };
        self.remember_closed(stream_id, by);
        if stream.unread > 0 {
            self.release_connection_window(stream.unread as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use pushwire_proto::http2::frame::{kind, FrameHeader, HEADER_LEN};

    use super::*;

    /// The frames a new connection queued: its SETTINGS, and the
    /// connection window's update when there is one.
    fn opening_frames(config: Http2Config) -> (Settings, Option<u32>) {
        let limits = ConnLimits {
            config: config.clamped(),
            max_header_list_size: 16 << 10,
        };
        let mut conn = Conn::new(limits, Waker::noop().clone());
        let mut bytes = BytesMut::new();
        while let Some(buf) = conn.out.pop_front() {
            bytes.extend_from_slice(&buf);
        }
        let mut settings = None;
        let mut window_update = None;
        while bytes.len() >= HEADER_LEN {
            let header = FrameHeader::parse(bytes[..HEADER_LEN].try_into().unwrap());
            let frame = bytes.split_to(HEADER_LEN + header.len as usize);
            let payload = &frame[HEADER_LEN..];
            match header.kind {
                kind::SETTINGS => settings = Some(Settings::parse(payload).unwrap()),
                kind::WINDOW_UPDATE => {
                    window_update = Some(u32::from_be_bytes(payload.try_into().unwrap()))
                }
                other => panic!("unexpected frame type {other}"),
            }
        }
        (settings.expect("SETTINGS first"), window_update)
    }

    /// A connection with the default limits, its opening frames taken.
    fn connection() -> Conn {
        let limits = ConnLimits {
            config: Http2Config::default().clamped(),
            max_header_list_size: 16 << 10,
        };
        let mut conn = Conn::new(limits, Waker::noop().clone());
        sent(&mut conn);
        conn
    }

    /// The frames the connection queued since this was last called.
    fn sent(conn: &mut Conn) -> Vec<Frame> {
        let mut bytes = BytesMut::new();
        while let Some(buf) = conn.out.pop_front() {
            bytes.extend_from_slice(&buf);
        }
        let mut frames = Vec::new();
        while bytes.len() >= HEADER_LEN {
            let header = FrameHeader::parse(bytes[..HEADER_LEN].try_into().unwrap());
            let mut frame = bytes.split_to(HEADER_LEN + header.len as usize).freeze();
            frames.push(Frame::decode(header, frame.split_off(HEADER_LEN)).unwrap());
        }
        frames
    }

    fn request(conn: &mut Conn, stream_id: u32, method: &str, end_stream: bool) -> Option<Opened> {
        let fields = [
            (":method", method),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "localhost"),
        ];
        let mut block = Vec::new();
        // A fresh encoder each time: literals only, no dynamic table.
        pushwire_proto::http2::hpack::Encoder::new().encode(
            fields
                .iter()
                .map(|(name, value)| pushwire_proto::http2::hpack::Field {
                    name: name.as_bytes(),
                    value: value.as_bytes(),
                    never_indexed: true,
                }),
            &mut block,
        );
        let headers = Frame::Headers {
            stream_id,
            fragment: Bytes::from(block),
            end_stream,
            end_headers: true,
        };
        conn.receive(headers).unwrap()
    }

    fn data(stream_id: u32) -> Frame {
        Frame::Data {
            stream_id,
            data: Bytes::from_static(b"late"),
            end_stream: true,
            flow_len: 4,
        }
    }

    #[test]
    fn frames_on_closed_streams_get_the_reaction_of_who_closed_them() {
        let mut conn = connection();
        // Both sides end stream 1: DATA after that ends the connection.
        assert!(request(&mut conn, 1, "GET", true).is_some());
        conn.send_head(1, http::StatusCode::OK, &HeaderMap::new(), true);
        conn.release_ref(1);
        // The client resets stream 3: DATA after that resets it again.
        assert!(request(&mut conn, 3, "POST", false).is_some());
        let reset = Frame::RstStream {
            stream_id: 3,
            code: ErrorCode::CANCEL,
        };
        conn.receive(reset).unwrap();
        conn.release_ref(3);
        // The server resets stream 5: DATA the client sent before it
        // knew is dropped.
        assert!(request(&mut conn, 5, "POST", false).is_some());
        conn.reset(5, ErrorCode::CANCEL);
        conn.release_ref(5);
        sent(&mut conn);

        conn.receive(data(5)).unwrap();
        assert!(
            !sent(&mut conn)
                .iter()
                .any(|f| matches!(f, Frame::RstStream { .. })),
            "ignored"
        );
        conn.receive(data(3)).unwrap();
        let closed = Frame::RstStream {
            stream_id: 3,
            code: ErrorCode::STREAM_CLOSED,
        };
        assert!(sent(&mut conn).contains(&closed));
        let Err(error) = conn.receive(data(1)) else {
            panic!("DATA after both END_STREAMs accepted");
        };
        assert_eq!(
            (error.code, error.stream_id),
            (ErrorCode::STREAM_CLOSED, None)
        );
    }

    #[test]
    fn headers_on_a_lower_stream_never_opened_end_the_connection() {
        let mut conn = connection();
        assert!(request(&mut conn, 7, "POST", false).is_some());
        let lower = Frame::Headers {
            stream_id: 5,
            fragment: Bytes::from_static(&[0x82, 0x86, 0x84]),
            end_stream: true,
            end_headers: true,
        };
        let Err(error) = conn.receive(lower) else {
            panic!("HEADERS on a lower stream accepted");
        };
        assert_eq!(error.code, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn only_the_last_closed_streams_are_remembered() {
        let mut conn = connection();
        for i in 0..=CLOSED_STREAMS_KEPT as u32 {
            let id = 1 + 2 * i;
            assert!(request(&mut conn, id, "POST", false).is_some());
            conn.reset(id, ErrorCode::CANCEL);
            conn.release_ref(id);
        }
        sent(&mut conn);
        // The newest is remembered as reset by the server: ignored.
        conn.receive(data(1 + 2 * CLOSED_STREAMS_KEPT as u32))
            .unwrap();
        assert!(
            !sent(&mut conn)
                .iter()
                .any(|f| matches!(f, Frame::RstStream { .. })),
            "ignored"
        );
        // The oldest is forgotten: DATA on it gets STREAM_CLOSED.
        conn.receive(data(1)).unwrap();
        let closed = Frame::RstStream {
            stream_id: 1,
            code: ErrorCode::STREAM_CLOSED,
        };
        assert!(sent(&mut conn).contains(&closed));
    }

    #[test]
    fn announces_the_configured_limits() {
        let (settings, update) = opening_frames(Http2Config::default());
        assert_eq!(settings.max_concurrent_streams, Some(256));
        assert_eq!(settings.initial_window_size, Some(1 << 20));
        assert_eq!(settings.max_frame_size, Some(64 << 10));
        assert_eq!(settings.enable_connect_protocol, Some(true));
        assert_eq!(update, Some((4 << 20) - 65_535));

        let config = Http2Config::default()
            .max_concurrent_streams(8)
            .stream_window(100_000)
            .connection_window(65_535)
            .max_frame_size(1);
        let (settings, update) = opening_frames(config);
        assert_eq!(settings.max_concurrent_streams, Some(8));
        assert_eq!(settings.initial_window_size, Some(100_000));
        // Brought within RFC 9113's range.
        assert_eq!(settings.max_frame_size, Some(16 << 10));
        assert_eq!(
            update, None,
            "the default connection window needs no update"
        );
    }
}
