//! What a connection does with the frames the client sends: requests
//! opened, bodies received, streams reset, SETTINGS, PINGs, GOAWAY and
//! window updates, and the errors each may be (RFC 9113 sections 5 and
//! 6).

use bytes::Bytes;
use http::HeaderMap;

use super::super::frame::{self, Frame, FrameError};
use super::super::hpack::HpackError;
use super::super::{ErrorCode, Settings};
use super::closed::ClosedBy;
use super::field_block::PartialBlock;
use super::request::{request_from_fields, trailers_from_fields};
use super::stream::Stream;
use super::{Connection, Opened, DRAIN_PING, KEEP_ALIVE_PING};

impl Connection {
    /// Handles one frame from the client. A request stream it opens is
    /// returned (held by one handle: [`Connection::release_ref`] when
    /// it is dropped); a connection error is returned for the caller to
    /// [`fail`](Connection::fail) the connection with.
    pub fn handle_frame(&mut self, frame: Frame) -> Result<Option<Opened>, FrameError> {
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
                self.partial = Some(PartialBlock::new(stream_id, &fragment, end_stream));
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

    /// A stream error found while decoding a frame of type `kind`: the
    /// stream is reset. Field blocks are the exception: the dynamic
    /// table would go out of step, so the connection fails (returned
    /// for the caller to [`fail`](Connection::fail) it with).
    pub fn handle_decode_error(&mut self, kind: u8, error: FrameError) -> Result<(), FrameError> {
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
        let max_block = (self.config.max_header_list_size as usize).max(16 << 10) + (16 << 10);
        let Some(partial) = self.partial.as_mut().filter(|p| p.stream_id == stream_id) else {
            return Err(FrameError::connection(
                ErrorCode::PROTOCOL_ERROR,
                "CONTINUATION without HEADERS before it",
            ));
        };
        partial.add(&fragment, self.config.max_continuations, max_block)?;
        if !end_headers {
            return Ok(None);
        }
        let Some(partial) = self.partial.take() else {
            return Ok(None);
        };
        let end_stream = partial.end_stream;
        self.on_field_block(stream_id, partial.finish(), end_stream)
    }

    /// A whole field block: a new request, or a request's trailers.
    fn on_field_block(
        &mut self,
        stream_id: u32,
        block: Bytes,
        end_stream: bool,
    ) -> Result<Option<Opened>, FrameError> {
        let max_list = self.config.max_header_list_size as usize;
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
                Ok(fields) if end_stream && stream.content_complete() => {
                    trailers_from_fields(fields)
                }
                _ => Err("HEADERS that are not the request's trailers"),
            };
            match trailers {
                Ok(trailers) => {
                    stream.trailers = Some(trailers);
                    stream.recv_ended = true;
                    stream.wake_reader(stream_id, &mut self.events);
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
        if self.closed.by(stream_id).is_some() {
            // Reset while idle (a malformed PRIORITY frame): the client
            // learns of it from the RST_STREAM; the request is not
            // served on a stream the server already closed.
            return Ok(None);
        }
        let Ok(fields) = fields else {
            self.refuse_too_large(stream_id, end_stream);
            return Ok(None);
        };
        if self.active_streams() >= self.config.max_concurrent_streams as usize {
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
            self.config.stream_window,
            self.peer_initial_window,
            end_stream,
            head.content_length,
        );
        stream.tunnel = head.request.method() == http::Method::CONNECT;
        self.streams.insert(stream_id, stream);
        Ok(Some(Opened {
            id: stream_id,
            request: head.request,
            protocol: head.protocol,
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
    pub(super) fn put_reset(&mut self, stream_id: u32, code: ErrorCode) {
        frame::put_rst_stream(self.out.cork(), stream_id, code);
        self.output_ready = true;
        if code != ErrorCode::STREAM_CLOSED {
            self.remember_closed(stream_id, ClosedBy::ServerReset);
        }
    }

    /// A DATA or HEADERS frame (`kind`) on a stream the client opened
    /// before and the connection no longer holds (section 5.1).
    fn on_closed_stream(&mut self, stream_id: u32, kind: u8) -> Result<(), FrameError> {
        if stream_id > self.last_served_id {
            // Refused by the final GOAWAY: ignored.
            return Ok(());
        }
        let by = self.closed.by(stream_id);
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
            stream.push_recv(data);
        }
        stream.recv_ended = end_stream;
        stream.wake_reader(stream_id, &mut self.events);
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
                if self.peer_resets > self.config.reset_allowance + self.finished_streams {
                    return Err(FrameError::connection(
                        ErrorCode::ENHANCE_YOUR_CALM,
                        "too many streams reset",
                    ));
                }
            }
            stream.mark_reset(code, stream_id, &mut self.events);
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
}
