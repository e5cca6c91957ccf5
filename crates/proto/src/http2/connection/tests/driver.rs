//! The deterministic driver: the server's read loop without the socket
//! (frames split, decoded, handled; a connection error fails the
//! connection), and the client's side of the wire as builders.

use bytes::{Bytes, BytesMut};

use super::super::super::frame::{self, kind, Frame, FrameHeader, HEADER_LEN};
use super::super::super::hpack::{Encoder, Field};
use super::super::super::{ErrorCode, Settings};
use super::super::{Connection, ConnectionConfig, Event, Opened};

/// A connection and what it did, as the server's driver sees it.
pub(super) struct Driver {
    pub(super) conn: Connection,
    /// The events drained so far (what the driver would have woken).
    pub(super) events: Vec<Event>,
    /// How often output was queued from a handle's side.
    pub(super) output_readied: usize,
}

impl Driver {
    /// A connection with `config`, its opening frames taken.
    pub(super) fn new(config: ConnectionConfig) -> Self {
        let mut driver = Driver::fresh(config);
        driver.sent();
        driver
    }

    /// A connection with `config`, its opening frames still queued.
    pub(super) fn fresh(config: ConnectionConfig) -> Self {
        Driver {
            conn: Connection::new(config),
            events: Vec::new(),
            output_readied: 0,
        }
    }

    /// A connection with the default configuration.
    pub(super) fn default_config() -> Self {
        Driver::new(ConnectionConfig::default())
    }

    /// Feeds `wire` (whole frames) as the server's read loop does; the
    /// requests opened are returned. Stops at the connection's end.
    pub(super) fn feed(&mut self, wire: &[u8]) -> Vec<Opened> {
        let mut opened = Vec::new();
        let mut buf = Bytes::copy_from_slice(wire);
        while buf.len() >= HEADER_LEN && self.conn.ended().is_none() {
            let header = FrameHeader::parse(buf[..HEADER_LEN].try_into().expect("9 bytes"));
            if header.len > self.conn.config().max_frame_size {
                self.conn.fail(&frame::FrameError::connection(
                    ErrorCode::FRAME_SIZE_ERROR,
                    "frame longer than SETTINGS_MAX_FRAME_SIZE",
                ));
                break;
            }
            let len = HEADER_LEN + header.len as usize;
            assert!(buf.len() >= len, "the tests feed whole frames");
            let mut whole = buf.split_to(len);
            let payload = whole.split_off(HEADER_LEN);
            let handled = match Frame::decode(header, payload) {
                Ok(frame) => self.conn.handle_frame(frame).map(|new| opened.extend(new)),
                Err(e) => self.conn.handle_decode_error(header.kind, e),
            };
            if let Err(e) = handled {
                self.conn.fail(&e);
            }
        }
        self.drain();
        opened
    }

    /// Feeds one request whose stream is expected to open.
    pub(super) fn open(&mut self, wire: &[u8]) -> Opened {
        let mut opened = self.feed(wire);
        assert_eq!(opened.len(), 1, "one request opened");
        opened.remove(0)
    }

    /// Drains the connection's events and output-ready flag, as the
    /// driver does when it lets go of the lock.
    pub(super) fn drain(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            self.events.push(event);
        }
        if self.conn.take_output_ready() {
            self.output_readied += 1;
        }
    }

    /// The events drained since this was last called.
    pub(super) fn take_events(&mut self) -> Vec<Event> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    /// The frames the connection queued since this was last called,
    /// each checked against the peer's frame size.
    pub(super) fn sent(&mut self) -> Vec<Frame> {
        self.drain();
        let max = self.conn.peer_max_frame_size();
        let mut bytes = BytesMut::new();
        while let Some(buf) = self.conn.output().pop_front() {
            bytes.extend_from_slice(&buf);
        }
        decode_all(&mut bytes, max)
    }

    /// The RST_STREAM frames among what was sent.
    pub(super) fn resets(&mut self) -> Vec<(u32, ErrorCode)> {
        self.sent()
            .into_iter()
            .filter_map(|f| match f {
                Frame::RstStream { stream_id, code } => Some((stream_id, code)),
                _ => None,
            })
            .collect()
    }

    /// The GOAWAY sent, if one was: its last stream and code.
    pub(super) fn goaway(&mut self) -> Option<(u32, ErrorCode)> {
        self.sent().into_iter().find_map(|f| match f {
            Frame::GoAway {
                last_stream_id,
                code,
                ..
            } => Some((last_stream_id, code)),
            _ => None,
        })
    }
}

/// Decodes whole frames from `bytes`, none larger than `max`.
pub(super) fn decode_all(bytes: &mut BytesMut, max: u32) -> Vec<Frame> {
    let mut frames = Vec::new();
    while bytes.len() >= HEADER_LEN {
        let header = FrameHeader::parse(bytes[..HEADER_LEN].try_into().expect("9 bytes"));
        assert!(header.len <= max, "a frame beyond the peer's maximum");
        let mut whole = bytes.split_to(HEADER_LEN + header.len as usize).freeze();
        let payload = whole.split_off(HEADER_LEN);
        let frame = Frame::decode(header, payload).expect("the server's frames decode");
        frames.push(frame);
    }
    assert!(bytes.is_empty(), "output ends with a whole frame");
    frames
}

/// A field block of literals (no dynamic table): each block stands alone.
pub(super) fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    Encoder::new().encode(
        fields.iter().map(|(name, value)| Field {
            name: name.as_bytes(),
            value: value.as_bytes(),
            never_indexed: true,
        }),
        &mut block,
    );
    block
}

/// A request's HEADERS frame: `method` on `/`, with `extra` fields.
pub(super) fn request(id: u32, method: &str, extra: &[(&str, &str)], end_stream: bool) -> Vec<u8> {
    let mut fields = vec![
        (":method", method),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "localhost"),
    ];
    fields.extend_from_slice(extra);
    let mut wire = Vec::new();
    frame::put_headers(&mut wire, id, &block(&fields), end_stream, 1 << 14);
    wire
}

/// A GET, which ends its stream.
pub(super) fn get(id: u32) -> Vec<u8> {
    request(id, "GET", &[], true)
}

/// A POST whose body is to come.
pub(super) fn post(id: u32) -> Vec<u8> {
    request(id, "POST", &[], false)
}

/// A DATA frame.
pub(super) fn data(id: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    let flags = if end_stream {
        frame::flag::END_STREAM
    } else {
        0
    };
    frame::put_header(&mut wire, kind::DATA, flags, id, payload.len());
    wire.extend_from_slice(payload);
    wire
}

/// A RST_STREAM frame.
pub(super) fn rst(id: u32, code: ErrorCode) -> Vec<u8> {
    let mut wire = Vec::new();
    frame::put_rst_stream(&mut wire, id, code);
    wire
}

/// A WINDOW_UPDATE frame.
pub(super) fn window_update(id: u32, increment: u32) -> Vec<u8> {
    let mut wire = Vec::new();
    frame::put_window_update(&mut wire, id, increment);
    wire
}

/// A SETTINGS frame.
pub(super) fn settings(settings: Settings) -> Vec<u8> {
    let mut wire = Vec::new();
    settings.put(&mut wire);
    wire
}

/// A HEADERS or CONTINUATION frame carrying `fragment`.
pub(super) fn fragment(kind: u8, id: u32, fragment: &[u8], flags: u8) -> Vec<u8> {
    let mut wire = Vec::new();
    frame::put_header(&mut wire, kind, flags, id, fragment.len());
    wire.extend_from_slice(fragment);
    wire
}
