//! HTTP/2 frames (RFC 9113 sections 4 and 6): the 9-byte header, the
//! checks each frame type's layout must pass, and writing frames.

use bytes::{Buf, BufMut, Bytes};

use super::settings::Settings;
use super::ErrorCode;

/// The length of a frame header.
pub const HEADER_LEN: usize = 9;

/// The client connection preface (RFC 9113 section 3.4): what every
/// HTTP/2 client sends first, before its SETTINGS.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The largest frame payload every endpoint accepts, and the initial
/// `SETTINGS_MAX_FRAME_SIZE`.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;

/// The largest `SETTINGS_MAX_FRAME_SIZE` there can be.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// The largest flow-control window there can be.
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// A 31-bit field (a stream identifier, a window increment): the
/// reserved bit before it is dropped, as section 4.1 requires.
fn u31(word: u32) -> u32 {
    word & ((1 << 31) - 1)
}

/// Frame types.
pub mod kind {
    /// Stream data.
    pub const DATA: u8 = 0x0;
    /// Opens a stream, with the first part of a field block.
    pub const HEADERS: u8 = 0x1;
    /// Stream priority: deprecated, read and ignored.
    pub const PRIORITY: u8 = 0x2;
    /// Ends a stream at once.
    pub const RST_STREAM: u8 = 0x3;
    /// Connection settings, or their acknowledgement.
    pub const SETTINGS: u8 = 0x4;
    /// A server's push: never sent to a server.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// A round trip, or its answer.
    pub const PING: u8 = 0x6;
    /// Ends the connection, saying which streams were processed.
    pub const GOAWAY: u8 = 0x7;
    /// Grows a flow-control window.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// The rest of a field block.
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub mod flag {
    /// DATA, HEADERS: the sender's last frame on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, CONTINUATION: the field block ends here.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS: the payload is padded.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: a priority comes before the field block.
    pub const PRIORITY: u8 = 0x20;
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The payload's length.
    pub len: u32,
    /// The frame type (see [`kind`]).
    pub kind: u8,
    /// The flags (see [`flag`]).
    pub flags: u8,
    /// The stream, 0 for the connection.
    pub stream_id: u32,
}

impl FrameHeader {
    /// Reads a header; the reserved bit of the stream identifier is
    /// ignored.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Self {
        FrameHeader {
            len: u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]),
            kind: bytes[3],
            flags: bytes[4],
            stream_id: u31(u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]])),
        }
    }

    /// The header as it goes on the wire.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let len = self.len.to_be_bytes();
        let id = self.stream_id.to_be_bytes();
        [
            len[1], len[2], len[3], self.kind, self.flags, id[0], id[1], id[2], id[3],
        ]
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A frame that broke the protocol, and how the connection answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The code to answer with.
    pub code: ErrorCode,
    /// `Some(stream)` for an error of that stream alone (RST_STREAM);
    /// `None` for an error of the connection (GOAWAY).
    pub stream_id: Option<u32>,
    /// What was wrong, for the log and GOAWAY's debug data.
    pub reason: &'static str,
}

impl FrameError {
    /// An error that ends the connection.
    pub fn connection(code: ErrorCode, reason: &'static str) -> Self {
        FrameError {
            code,
            stream_id: None,
            reason,
        }
    }

    /// An error that ends one stream.
    pub fn stream(stream_id: u32, code: ErrorCode, reason: &'static str) -> Self {
        FrameError {
            code,
            stream_id: Some(stream_id),
            reason,
        }
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.stream_id {
            Some(id) => write!(f, "{} on stream {id}: {}", self.code, self.reason),
            None => write!(f, "{}: {}", self.code, self.reason),
        }
    }
}

impl std::error::Error for FrameError {}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// DATA.
    Data {
        /// The stream.
        stream_id: u32,
        /// The data, padding removed.
        data: Bytes,
        /// The sender's last frame on the stream.
        end_stream: bool,
        /// The whole payload's length, padding included: what the
        /// frame takes of the flow-control windows.
        flow_len: u32,
    },
    /// HEADERS; its priority, if any, is checked and dropped.
    Headers {
        /// The stream.
        stream_id: u32,
        /// The first part of the field block, padding removed.
        fragment: Bytes,
        /// The sender's last frame on the stream.
        end_stream: bool,
        /// The field block is whole; CONTINUATION frames follow if not.
        end_headers: bool,
    },
    /// PRIORITY: checked, otherwise ignored.
    Priority {
        /// The stream.
        stream_id: u32,
    },
    /// RST_STREAM.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why.
        code: ErrorCode,
    },
    /// SETTINGS with values.
    Settings(Settings),
    /// SETTINGS acknowledging the receiver's.
    SettingsAck,
    /// PUSH_PROMISE (which only a server may send).
    PushPromise {
        /// The stream it came on.
        stream_id: u32,
    },
    /// PING.
    Ping {
        /// An answer to a PING.
        ack: bool,
        /// The opaque data, echoed in the answer.
        payload: [u8; 8],
    },
    /// GOAWAY.
    GoAway {
        /// The last stream the sender processed or may yet process.
        last_stream_id: u32,
        /// Why.
        code: ErrorCode,
        /// Debug data.
        debug: Bytes,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// The stream, 0 for the connection's window.
        stream_id: u32,
        /// How much the window grows, 1 or more.
        increment: u32,
    },
    /// CONTINUATION.
    Continuation {
        /// The stream.
        stream_id: u32,
        /// The next part of the field block.
        fragment: Bytes,
        /// The field block is whole.
        end_headers: bool,
    },
    /// A frame of an unknown type, to be ignored (section 4.1).
    Unknown {
        /// Its type.
        kind: u8,
    },
}

impl Frame {
    /// Decodes the frame that `header` begins, its payload being
    /// `payload` (`header.len` bytes). The payload's size has been
    /// checked against `SETTINGS_MAX_FRAME_SIZE` already, as it was
    /// read.
    pub fn decode(header: FrameHeader, mut payload: Bytes) -> Result<Frame, FrameError> {
        use ErrorCode as E;
        debug_assert_eq!(payload.len(), header.len as usize);
        let id = header.stream_id;
        let on_stream = |what| {
            if id == 0 {
                Err(FrameError::connection(E::PROTOCOL_ERROR, what))
            } else {
                Ok(())
            }
        };
        let on_connection = |what| {
            if id != 0 {
                Err(FrameError::connection(E::PROTOCOL_ERROR, what))
            } else {
                Ok(())
            }
        };
        let sized = |len: usize, what| {
            if payload.len() != len {
                Err(FrameError::connection(E::FRAME_SIZE_ERROR, what))
            } else {
                Ok(())
            }
        };
        Ok(match header.kind {
            kind::DATA => {
                on_stream("DATA on stream 0")?;
                let flow_len = header.len;
                unpad(&header, &mut payload)?;
                Frame::Data {
                    stream_id: id,
                    data: payload,
                    end_stream: header.has(flag::END_STREAM),
                    flow_len,
                }
            }
            kind::HEADERS => {
                on_stream("HEADERS on stream 0")?;
                unpad(&header, &mut payload)?;
                if header.has(flag::PRIORITY) {
                    if payload.len() < 5 {
                        return Err(FrameError::connection(
                            E::FRAME_SIZE_ERROR,
                            "HEADERS too short for its priority",
                        ));
                    }
                    check_dependency(id, &payload)?;
                    payload.advance(5);
                }
                Frame::Headers {
                    stream_id: id,
                    fragment: payload,
                    end_stream: header.has(flag::END_STREAM),
                    end_headers: header.has(flag::END_HEADERS),
                }
            }
            kind::PRIORITY => {
                on_stream("PRIORITY on stream 0")?;
                if payload.len() != 5 {
                    return Err(FrameError::stream(
                        id,
                        E::FRAME_SIZE_ERROR,
                        "PRIORITY of a length other than 5",
                    ));
                }
                check_dependency(id, &payload)?;
                Frame::Priority { stream_id: id }
            }
            kind::RST_STREAM => {
                on_stream("RST_STREAM on stream 0")?;
                sized(4, "RST_STREAM of a length other than 4")?;
                Frame::RstStream {
                    stream_id: id,
                    code: ErrorCode(payload.get_u32()),
                }
            }
            kind::SETTINGS => {
                on_connection("SETTINGS on a stream")?;
                if header.has(flag::ACK) {
                    sized(0, "SETTINGS acknowledgement with a payload")?;
                    Frame::SettingsAck
                } else {
                    Frame::Settings(Settings::parse(&payload)?)
                }
            }
            kind::PUSH_PROMISE => {
                on_stream("PUSH_PROMISE on stream 0")?;
                Frame::PushPromise { stream_id: id }
            }
            kind::PING => {
                on_connection("PING on a stream")?;
                sized(8, "PING of a length other than 8")?;
                let mut data = [0; 8];
                payload.copy_to_slice(&mut data);
                Frame::Ping {
                    ack: header.has(flag::ACK),
                    payload: data,
                }
            }
            kind::GOAWAY => {
                on_connection("GOAWAY on a stream")?;
                if payload.len() < 8 {
                    return Err(FrameError::connection(
                        E::FRAME_SIZE_ERROR,
                        "GOAWAY shorter than 8",
                    ));
                }
                Frame::GoAway {
                    last_stream_id: u31(payload.get_u32()),
                    code: ErrorCode(payload.get_u32()),
                    debug: payload,
                }
            }
            kind::WINDOW_UPDATE => {
                sized(4, "WINDOW_UPDATE of a length other than 4")?;
                let increment = u31(payload.get_u32());
                if increment == 0 {
                    let what = "WINDOW_UPDATE of 0";
                    return Err(match id {
                        0 => FrameError::connection(E::PROTOCOL_ERROR, what),
                        _ => FrameError::stream(id, E::PROTOCOL_ERROR, what),
                    });
                }
                Frame::WindowUpdate {
                    stream_id: id,
                    increment,
                }
            }
            kind::CONTINUATION => {
                on_stream("CONTINUATION on stream 0")?;
                Frame::Continuation {
                    stream_id: id,
                    fragment: payload,
                    end_headers: header.has(flag::END_HEADERS),
                }
            }
            kind => Frame::Unknown { kind },
        })
    }
}

/// Strips the padding of a PADDED frame (section 6.1).
fn unpad(header: &FrameHeader, payload: &mut Bytes) -> Result<(), FrameError> {
    if !header.has(flag::PADDED) {
        return Ok(());
    }
    let too_long =
        || FrameError::connection(ErrorCode::PROTOCOL_ERROR, "padding as long as the payload");
    let pad = *payload.first().ok_or_else(too_long)? as usize;
    if pad >= payload.len() {
        return Err(too_long());
    }
    payload.advance(1);
    payload.truncate(payload.len() - pad);
    Ok(())
}

/// A stream may not depend on itself (section 5.3.1).
fn check_dependency(stream_id: u32, mut priority: &[u8]) -> Result<(), FrameError> {
    let dependency = u31(priority.get_u32());
    if dependency == stream_id {
        return Err(FrameError::stream(
            stream_id,
            ErrorCode::PROTOCOL_ERROR,
            "stream depends on itself",
        ));
    }
    Ok(())
}

/// Appends a frame header to `dst`.
pub fn put_header(dst: &mut impl BufMut, kind: u8, flags: u8, stream_id: u32, len: usize) {
    let header = FrameHeader {
        len: len as u32,
        kind,
        flags,
        stream_id,
    };
    dst.put_slice(&header.encode());
}

/// Appends a field block as one HEADERS frame and as many CONTINUATION
/// frames as `max_frame_size` makes it need.
pub fn put_headers(
    dst: &mut impl BufMut,
    stream_id: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) {
    let mut chunks = block.chunks(max_frame_size as usize).peekable();
    let first = chunks.next().unwrap_or_default();
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if chunks.peek().is_none() {
        flags |= flag::END_HEADERS;
    }
    put_header(dst, kind::HEADERS, flags, stream_id, first.len());
    dst.put_slice(first);
    while let Some(chunk) = chunks.next() {
        let flags = if chunks.peek().is_none() {
            flag::END_HEADERS
        } else {
            0
        };
        put_header(dst, kind::CONTINUATION, flags, stream_id, chunk.len());
        dst.put_slice(chunk);
    }
}

/// Appends an RST_STREAM frame.
pub fn put_rst_stream(dst: &mut impl BufMut, stream_id: u32, code: ErrorCode) {
    put_header(dst, kind::RST_STREAM, 0, stream_id, 4);
    dst.put_slice(&code.0.to_be_bytes());
}

/// Appends a PING frame.
pub fn put_ping(dst: &mut impl BufMut, ack: bool, payload: [u8; 8]) {
    put_header(dst, kind::PING, if ack { flag::ACK } else { 0 }, 0, 8);
    dst.put_slice(&payload);
}

/// Appends a GOAWAY frame.
pub fn put_goaway(dst: &mut impl BufMut, last_stream_id: u32, code: ErrorCode, debug: &[u8]) {
    put_header(dst, kind::GOAWAY, 0, 0, 8 + debug.len());
    dst.put_slice(&last_stream_id.to_be_bytes());
    dst.put_slice(&code.0.to_be_bytes());
    dst.put_slice(debug);
}

/// Appends a WINDOW_UPDATE frame.
pub fn put_window_update(dst: &mut impl BufMut, stream_id: u32, increment: u32) {
    put_header(dst, kind::WINDOW_UPDATE, 0, stream_id, 4);
    dst.put_slice(&increment.to_be_bytes());
}

/// Appends a SETTINGS acknowledgement.
pub fn put_settings_ack(dst: &mut impl BufMut) {
    put_header(dst, kind::SETTINGS, flag::ACK, 0, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(wire: &[u8]) -> Result<Frame, FrameError> {
        let header = FrameHeader::parse(wire[..HEADER_LEN].try_into().unwrap());
        Frame::decode(header, Bytes::copy_from_slice(&wire[HEADER_LEN..]))
    }

    fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        put_header(&mut wire, kind, flags, stream_id, payload.len());
        wire.extend_from_slice(payload);
        wire
    }

    #[test]
    fn headers_round_trip_and_the_reserved_bit_is_ignored() {
        let header = FrameHeader {
            len: 0x12_3456,
            kind: kind::DATA,
            flags: flag::END_STREAM,
            stream_id: 0x7fff_fff1,
        };
        let mut wire = header.encode();
        assert_eq!(wire, [0x12, 0x34, 0x56, 0, 1, 0x7f, 0xff, 0xff, 0xf1]);
        assert_eq!(FrameHeader::parse(&wire), header);
        wire[5] |= 0x80;
        assert_eq!(FrameHeader::parse(&wire), header);
    }

    #[test]
    fn padded_data_counts_its_padding_for_flow_control() {
        let wire = frame(
            kind::DATA,
            flag::PADDED | flag::END_STREAM,
            3,
            b"\x02hi\0\0",
        );
        assert_eq!(
            decode(&wire),
            Ok(Frame::Data {
                stream_id: 3,
                data: Bytes::from_static(b"hi"),
                end_stream: true,
                flow_len: 5
            })
        );
        let too_much = frame(kind::DATA, flag::PADDED, 3, b"\x05hi\0\0");
        assert_eq!(
            decode(&too_much).unwrap_err().code,
            ErrorCode::PROTOCOL_ERROR
        );
        assert_eq!(
            decode(&frame(kind::DATA, flag::PADDED, 3, b""))
                .unwrap_err()
                .code,
            ErrorCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn headers_lose_their_priority_and_padding() {
        let payload = b"\x01\x00\x00\x00\x05\x10\x82\x00";
        let wire = frame(
            kind::HEADERS,
            flag::PADDED | flag::PRIORITY | flag::END_HEADERS,
            1,
            payload,
        );
        assert_eq!(
            decode(&wire),
            Ok(Frame::Headers {
                stream_id: 1,
                fragment: Bytes::from_static(b"\x82"),
                end_stream: false,
                end_headers: true
            })
        );
        let on_itself = frame(
            kind::HEADERS,
            flag::PRIORITY,
            5,
            b"\x00\x00\x00\x05\x10\x82",
        );
        assert_eq!(
            decode(&on_itself).unwrap_err(),
            FrameError::stream(5, ErrorCode::PROTOCOL_ERROR, "stream depends on itself")
        );
    }

    #[test]
    fn control_frames_decode() {
        assert_eq!(
            decode(&frame(kind::RST_STREAM, 0, 7, &8u32.to_be_bytes())),
            Ok(Frame::RstStream {
                stream_id: 7,
                code: ErrorCode::CANCEL
            })
        );
        assert_eq!(
            decode(&frame(kind::PING, flag::ACK, 0, b"12345678")),
            Ok(Frame::Ping {
                ack: true,
                payload: *b"12345678"
            })
        );
        assert_eq!(
            decode(&frame(
                kind::GOAWAY,
                0,
                0,
                b"\x80\x00\x00\x09\x00\x00\x00\x0bcalm"
            )),
            Ok(Frame::GoAway {
                last_stream_id: 9,
                code: ErrorCode::ENHANCE_YOUR_CALM,
                debug: Bytes::from_static(b"calm")
            })
        );
        assert_eq!(
            decode(&frame(kind::WINDOW_UPDATE, 0, 0, &1000u32.to_be_bytes())),
            Ok(Frame::WindowUpdate {
                stream_id: 0,
                increment: 1000
            })
        );
        assert_eq!(
            decode(&frame(kind::SETTINGS, flag::ACK, 0, b"")),
            Ok(Frame::SettingsAck)
        );
        assert_eq!(
            decode(&frame(0xfa, 0xff, 3, b"anything")),
            Ok(Frame::Unknown { kind: 0xfa })
        );
    }

    #[test]
    fn misplaced_and_missized_frames_are_refused() {
        use ErrorCode as E;
        let cases: [(Vec<u8>, ErrorCode, Option<u32>); 12] = [
            (frame(kind::DATA, 0, 0, b"x"), E::PROTOCOL_ERROR, None),
            (frame(kind::HEADERS, 0, 0, b"\x82"), E::PROTOCOL_ERROR, None),
            (
                frame(kind::PRIORITY, 0, 3, b"\0\0\0\x01"),
                E::FRAME_SIZE_ERROR,
                Some(3),
            ),
            (
                frame(kind::RST_STREAM, 0, 0, b"\0\0\0\0"),
                E::PROTOCOL_ERROR,
                None,
            ),
            (
                frame(kind::RST_STREAM, 0, 1, b"\0\0\0"),
                E::FRAME_SIZE_ERROR,
                None,
            ),
            (frame(kind::SETTINGS, 0, 1, b""), E::PROTOCOL_ERROR, None),
            (
                frame(kind::SETTINGS, flag::ACK, 0, b"\0\x01\0\0\0\0"),
                E::FRAME_SIZE_ERROR,
                None,
            ),
            (
                frame(kind::PING, 0, 0, b"1234567"),
                E::FRAME_SIZE_ERROR,
                None,
            ),
            (
                frame(kind::PING, 0, 1, b"12345678"),
                E::PROTOCOL_ERROR,
                None,
            ),
            (
                frame(kind::GOAWAY, 0, 0, b"\0\0\0\x01"),
                E::FRAME_SIZE_ERROR,
                None,
            ),
            (
                frame(kind::WINDOW_UPDATE, 0, 5, b"\0\0\0\0"),
                E::PROTOCOL_ERROR,
                Some(5),
            ),
            (
                frame(kind::CONTINUATION, 0, 0, b""),
                E::PROTOCOL_ERROR,
                None,
            ),
        ];
        for (wire, code, stream_id) in cases {
            let error = decode(&wire).unwrap_err();
            assert_eq!((error.code, error.stream_id), (code, stream_id), "{wire:?}");
        }
    }

    #[test]
    fn a_long_field_block_continues_in_continuation_frames() {
        let block: Vec<u8> = (0..25).collect();
        let mut wire = Vec::new();
        put_headers(&mut wire, 1, &block, true, 10);
        let mut rest = &wire[..];
        let mut got = Vec::new();
        let mut headers = Vec::new();
        while !rest.is_empty() {
            let header = FrameHeader::parse(rest[..HEADER_LEN].try_into().unwrap());
            let end = HEADER_LEN + header.len as usize;
            got.extend_from_slice(&rest[HEADER_LEN..end]);
            headers.push((header.kind, header.flags));
            rest = &rest[end..];
        }
        assert_eq!(got, block);
        assert_eq!(
            headers,
            [
                (kind::HEADERS, flag::END_STREAM),
                (kind::CONTINUATION, 0),
                (kind::CONTINUATION, flag::END_HEADERS)
            ]
        );
    }

    proptest::proptest! {
        /// Any header and payload decode or are refused: never a panic.
        #[test]
        fn arbitrary_frames_never_panic(
            kind in 0u8..12,
            flags in proptest::prelude::any::<u8>(),
            stream_id in 0u32..4,
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
        ) {
            let _ = decode(&frame(kind, flags, stream_id, &payload));
        }
    }
}
