//! Reads arbitrary bytes as a sequence of HTTP/2 frames, as a
//! connection's reader does: a 9-byte header (`FrameHeader::parse`), a
//! payload of its length if that is within `SETTINGS_MAX_FRAME_SIZE`,
//! then `Frame::decode`.
//!
//! Checks, besides "no panic":
//! - a header encodes back to the same 9 bytes (the reserved bit aside);
//! - a decoded frame belongs to the header's stream and never holds more
//!   bytes than its payload (DATA's `flow_len` is the whole payload);
//! - every decoded frame written back with the crate's writers
//!   (`put_header`, `put_ping`, `put_goaway`, `put_rst_stream`,
//!   `put_window_update`, `Settings::put`, `put_settings_ack`) decodes to
//!   the same frame;
//! - a HEADERS fragment split by `put_headers` into HEADERS and
//!   CONTINUATION frames of a small maximum size decodes back to the same
//!   block, with END_HEADERS on the last frame only.
//!
//! Input layout: byte 0 picks `SETTINGS_MAX_FRAME_SIZE` (bit 0: 16,384
//! or 2^24-1) and the size `put_headers` splits at (bits 1-7, plus one);
//! the rest is the bytes as they come off the wire, preface excluded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire_proto::bytes::{Bytes, BytesMut};
use pushwire_proto::http2::frame::{
    self, flag, kind, Frame, FrameError, FrameHeader, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN,
    MAX_MAX_FRAME_SIZE,
};

/// Reads one frame off the front of `wire`.
fn read(wire: &[u8]) -> Option<(FrameHeader, Result<Frame, FrameError>, usize)> {
    let header = FrameHeader::parse(wire.get(..HEADER_LEN)?.try_into().unwrap());
    let end = HEADER_LEN + header.len as usize;
    let payload = Bytes::copy_from_slice(wire.get(HEADER_LEN..end)?);
    Some((header, Frame::decode(header, payload), end))
}

/// Decodes frames written by the crate's writers: exactly one frame.
fn read_written(written: &[u8]) -> Frame {
    let (_, frame, end) = read(written).expect("a whole frame was written");
    assert_eq!(end, written.len(), "more than one frame written");
    frame.expect("a written frame decodes")
}

fn check_round_trip(frame: &Frame, split_at: u32) {
    let mut out = BytesMut::new();
    let again = match frame {
        Frame::Data {
            stream_id,
            data,
            end_stream,
            ..
        } => {
            let flags = if *end_stream { flag::END_STREAM } else { 0 };
            frame::put_header(&mut out, kind::DATA, flags, *stream_id, data.len());
            out.extend_from_slice(data);
            let again = read_written(&out);
            let Frame::Data { flow_len, .. } = again else {
                panic!("DATA written back as {again:?}");
            };
            assert_eq!(flow_len as usize, data.len());
            return assert_eq!(
                again,
                Frame::Data {
                    stream_id: *stream_id,
                    data: data.clone(),
                    end_stream: *end_stream,
                    flow_len
                },
            );
        }
        Frame::Headers {
            stream_id,
            fragment,
            end_stream,
            end_headers,
        } => {
            let mut flags = if *end_stream { flag::END_STREAM } else { 0 };
            if *end_headers {
                flags |= flag::END_HEADERS;
            }
            frame::put_header(&mut out, kind::HEADERS, flags, *stream_id, fragment.len());
            out.extend_from_slice(fragment);
            check_split_block(*stream_id, fragment, *end_stream, split_at);
            read_written(&out)
        }
        Frame::Continuation {
            stream_id,
            fragment,
            end_headers,
        } => {
            let flags = if *end_headers { flag::END_HEADERS } else { 0 };
            frame::put_header(
                &mut out,
                kind::CONTINUATION,
                flags,
                *stream_id,
                fragment.len(),
            );
            out.extend_from_slice(fragment);
            read_written(&out)
        }
        Frame::RstStream { stream_id, code } => {
            frame::put_rst_stream(&mut out, *stream_id, *code);
            read_written(&out)
        }
        Frame::Settings(settings) => {
            settings.put(&mut out);
            read_written(&out)
        }
        Frame::SettingsAck => {
            frame::put_settings_ack(&mut out);
            read_written(&out)
        }
        Frame::Ping { ack, payload } => {
            frame::put_ping(&mut out, *ack, *payload);
            read_written(&out)
        }
        Frame::GoAway {
            last_stream_id,
            code,
            debug,
        } => {
            frame::put_goaway(&mut out, *last_stream_id, *code, debug);
            read_written(&out)
        }
        Frame::WindowUpdate {
            stream_id,
            increment,
        } => {
            frame::put_window_update(&mut out, *stream_id, *increment);
            read_written(&out)
        }
        // Only checked, never written by this side.
        Frame::Priority { .. } | Frame::PushPromise { .. } | Frame::Unknown { .. } => return,
    };
    assert_eq!(&again, frame, "written back and decoded again");
}

/// `put_headers` splits a block at `max` bytes a frame; reading the
/// frames back gives the block.
fn check_split_block(stream_id: u32, block: &[u8], end_stream: bool, max: u32) {
    let mut out = BytesMut::new();
    frame::put_headers(&mut out, stream_id, block, end_stream, max);
    let mut rest = &out[..];
    let mut joined = Vec::new();
    let mut first = true;
    loop {
        let (header, decoded, end) = read(rest).expect("whole frames written");
        assert!(
            header.len <= max,
            "a frame of {} over the {max} asked",
            header.len
        );
        let (fragment, end_headers) = match decoded.expect("a written frame decodes") {
            Frame::Headers {
                stream_id: id,
                fragment,
                end_stream: es,
                end_headers,
            } if first => {
                assert_eq!((id, es), (stream_id, end_stream));
                (fragment, end_headers)
            }
            Frame::Continuation {
                stream_id: id,
                fragment,
                end_headers,
            } if !first => {
                assert_eq!(id, stream_id);
                (fragment, end_headers)
            }
            other => panic!("unexpected frame in a split block: {other:?}"),
        };
        joined.extend_from_slice(&fragment);
        rest = &rest[end..];
        first = false;
        if end_headers {
            assert!(rest.is_empty(), "END_HEADERS before the last frame");
            break;
        }
    }
    assert_eq!(joined, block, "a split block reads back otherwise");
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, mut wire)) = data.split_first() else {
        return;
    };
    let max_frame_size = if config & 1 == 0 {
        DEFAULT_MAX_FRAME_SIZE
    } else {
        MAX_MAX_FRAME_SIZE
    };
    let split_at = u32::from(config >> 1) + 1;
    while let Some((header, decoded, end)) = read(wire) {
        let raw: [u8; HEADER_LEN] = wire[..HEADER_LEN].try_into().unwrap();
        let mut expected = raw;
        expected[5] &= 0x7f; // the reserved bit is dropped
        assert_eq!(header.encode(), expected, "a header encodes otherwise");
        if header.len > max_frame_size {
            // The reader refuses it with FRAME_SIZE_ERROR before reading it.
            return;
        }
        match decoded {
            Ok(decoded) => {
                let stream_id = match &decoded {
                    Frame::Data {
                        stream_id,
                        data,
                        flow_len,
                        ..
                    } => {
                        assert_eq!(*flow_len, header.len);
                        assert!(data.len() <= header.len as usize);
                        Some(*stream_id)
                    }
                    Frame::Headers {
                        stream_id,
                        fragment,
                        ..
                    }
                    | Frame::Continuation {
                        stream_id,
                        fragment,
                        ..
                    } => {
                        assert!(fragment.len() <= header.len as usize);
                        Some(*stream_id)
                    }
                    Frame::GoAway { debug, .. } => {
                        assert_eq!(debug.len() + 8, header.len as usize);
                        Some(0)
                    }
                    Frame::Priority { stream_id }
                    | Frame::RstStream { stream_id, .. }
                    | Frame::PushPromise { stream_id }
                    | Frame::WindowUpdate { stream_id, .. } => Some(*stream_id),
                    Frame::Settings(_) | Frame::SettingsAck | Frame::Ping { .. } => Some(0),
                    Frame::Unknown { kind } => {
                        assert_eq!(*kind, header.kind);
                        None
                    }
                };
                if let Some(id) = stream_id {
                    assert_eq!(id, header.stream_id, "a frame moved to another stream");
                }
                check_round_trip(&decoded, split_at);
            }
            Err(error) => {
                if let Some(id) = error.stream_id {
                    assert_eq!(id, header.stream_id, "a stream error of another stream");
                    assert_ne!(id, 0, "a stream error on stream 0");
                }
            }
        }
        wire = &wire[end..];
    }
});
