//! What a connection sends for its streams: response heads, DATA as
//! the windows allow, trailers, resets, window updates as the readers
//! consume, and the removal of streams that are done with.

use bytes::Bytes;
use http::HeaderMap;

use super::super::frame;
use super::super::ErrorCode;
use super::closed::ClosedBy;
use super::{Connection, StreamError};

impl Connection {
    /// Resets stream `stream_id` from this side.
    pub fn reset(&mut self, stream_id: u32, code: ErrorCode) {
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            self.put_reset(stream_id, code);
            return;
        };
        if stream.reset.is_some() {
            return;
        }
        stream.mark_reset(code, stream_id, &mut self.events);
        frame::put_rst_stream(self.out.cork(), stream_id, code);
        self.output_ready = true;
        self.settle(stream_id);
    }

    /// Returns `len` consumed bytes of a stream to both windows.
    pub(crate) fn release(&mut self, stream_id: u32, len: u32) {
        self.release_connection_window(len);
        if let Some(stream) = self.streams.get_mut(&stream_id) {
            if let Some(increment) = stream.recv_window.release(len) {
                if !stream.recv_ended && stream.reset.is_none() {
                    frame::put_window_update(self.out.cork(), stream_id, increment);
                    self.output_ready = true;
                }
            }
        }
    }

    pub(super) fn release_connection_window(&mut self, len: u32) {
        if let Some(increment) = self.recv_window.release(len) {
            frame::put_window_update(self.out.cork(), 0, increment);
            self.output_ready = true;
        }
    }

    /// Queues the response head of stream `stream_id`; `end_stream`
    /// when it has no body. Dropped if the stream was reset or ended
    /// already, or the connection ended.
    pub fn send_head(
        &mut self,
        stream_id: u32,
        status: http::StatusCode,
        headers: &HeaderMap,
        end_stream: bool,
    ) {
        // A head after the stream's end (or its reset) would break the
        // protocol: it is dropped.
        let open = self
            .streams
            .get(&stream_id)
            .is_some_and(|s| s.reset.is_none() && !s.send_ended && !s.end_requested);
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
        self.output_ready = true;
        if end_stream {
            if let Some(stream) = self.streams.get_mut(&stream_id) {
                stream.send_ended = true;
            }
            self.settle(stream_id);
        }
    }

    /// Queues `data` on stream `stream_id`, then its end (with
    /// `trailers`, if any) if `end`: it goes out as the peer's windows
    /// allow.
    pub fn send_data(
        &mut self,
        stream_id: u32,
        data: Bytes,
        end: bool,
        trailers: Option<HeaderMap>,
    ) -> Result<(), StreamError> {
        if let Some(why) = self.ended {
            return Err(StreamError::ConnectionEnded(why));
        }
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return Err(StreamError::Reset(ErrorCode::CANCEL));
        };
        if let Some(code) = stream.reset {
            return Err(StreamError::Reset(code));
        }
        if stream.end_requested {
            return Err(StreamError::SendEnded);
        }
        stream.queue_send(data);
        stream.end_requested = end;
        stream.trailers_out = trailers;
        self.pump(stream_id);
        Ok(())
    }

    /// Writes what a stream has queued as DATA frames, as far as both
    /// windows allow; then its end, if it asked for one and all is sent.
    pub(super) fn pump(&mut self, stream_id: u32) {
        let max_frame = self.peer_max_frame_size as usize;
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return;
        };
        if stream.reset.is_some() || stream.send_ended {
            return;
        }
        while stream.queued() > 0 {
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
            let len = window.min(max_frame).min(stream.queued());
            let end =
                len == stream.queued() && stream.end_requested && stream.trailers_out.is_none();
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
                let Some(chunk) = stream.take_send(left) else {
                    break;
                };
                left -= chunk.len();
                self.out.push_parts(header, chunk);
                header = &[];
            }
            // Both windows had `len` available: taking it cannot fail.
            let _ = stream.send_window.take(len as u32);
            let _ = self.send_window.take(len as u32);
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
        stream.wake_writer(stream_id, &mut self.events);
        self.output_ready = true;
        self.settle(stream_id);
    }

    /// Removes a stream that has no handles left once it is done with:
    /// a stream still sending what was queued stays until it is sent;
    /// one dropped before its response was done is reset.
    pub(super) fn settle(&mut self, stream_id: u32) {
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
                self.output_ready = true;
            } else {
                self.finished_streams += 1;
            }
        }
        let Some(stream) = self.streams.remove(&stream_id) else {
            return;
        };
        let by = match stream.reset {
            Some(_) if stream.reset_by_peer => ClosedBy::ClientReset,
            Some(_) => ClosedBy::ServerReset,
            None if stream.recv_ended && stream.send_ended => ClosedBy::BothEnded,
            None => ClosedBy::ServerReset,
        };
        self.remember_closed(stream_id, by);
        if stream.unread() > 0 {
            self.release_connection_window(stream.unread() as u32);
        }
    }
}
