//! Drives an HTTP/2 server connection (`http2::connection::Connection`)
//! with arbitrary client frames, as the server's driver does: the bytes
//! after the preface are split into frames (`FrameHeader::parse`, a
//! frame longer than `SETTINGS_MAX_FRAME_SIZE` fails the connection),
//! decoded (`Frame::decode`; a decode error goes to
//! `handle_decode_error`) and handled (`handle_frame`; a connection
//! error fails it). Between frames the streams' handles act as a
//! service would: read bodies (`poll_data`), answer (`send_head`,
//! `send_data` once `poll_room` is ready, trailers), reset, clone and
//! drop handles; the driver writes the output out (`output_drained`),
//! pings, shuts down gracefully, and runs the body clock with instants
//! it makes up.
//!
//! Checks, besides "no panic":
//! - the output is whole frames that decode, none longer than the
//!   client's `SETTINGS_MAX_FRAME_SIZE`;
//! - the server sends no HEADERS or DATA on a stream after its
//!   END_STREAM or RST_STREAM there, and no more DATA than the client's
//!   connection window allowed;
//! - the response heads decode with the client's HPACK decoder (while
//!   the client keeps the default table size);
//! - what the connection buffers stays bounded: the streams hold no more
//!   than the receive windows and one send each; the output of one step
//!   no more than what the streams held plus a little per input byte;
//! - events only name streams whose handles wait, and never twice for
//!   one wait.
//!
//! Input layout: byte 0 picks the configuration (bits 0-1: default,
//! tiny limits, small windows, one stream); byte 1 is the number of
//! action bytes that follow, used one per frame, round; the rest is the
//! client's bytes after the preface.
#![no_main]

use std::collections::HashSet;
use std::task::Poll;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use pushwire_proto::bytes::{Bytes, BytesMut};
use pushwire_proto::http2::connection::{http, Connection, ConnectionConfig, Event};
use pushwire_proto::http2::frame::{
    Frame, FrameError, FrameHeader, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN,
};
use pushwire_proto::http2::hpack::Decoder;
use pushwire_proto::http2::ErrorCode;

/// The most one `send_data` of the fuzzed service queues.
const MAX_SEND: usize = 40_000;

fn config(pick: u8) -> ConnectionConfig {
    let default = ConnectionConfig::default();
    match pick & 3 {
        0 => default,
        1 => ConnectionConfig {
            max_concurrent_streams: 4,
            stream_window: 100,
            connection_window: 65_535,
            max_frame_size: 16 << 10,
            max_header_list_size: 200,
            output_limit: 2_000,
            max_continuations: 2,
            reset_allowance: 3,
        },
        2 => ConnectionConfig {
            stream_window: 1_000,
            connection_window: 70_000,
            output_limit: 30_000,
            ..default
        },
        _ => ConnectionConfig {
            max_concurrent_streams: 1,
            ..default
        },
    }
}

/// What the client has seen of the server's output.
struct Client {
    /// The client's SETTINGS_MAX_FRAME_SIZE, as the server last took it.
    max_frame_size: u32,
    /// Streams the server ended (END_STREAM) or reset.
    finished: HashSet<u32>,
    /// The client's connection window: what the server may still send.
    window: i64,
    /// The response heads' decoder, while the client keeps the default
    /// table size.
    decoder: Option<Decoder>,
    /// A field block the server began and has not finished.
    block: Option<(u32, BytesMut, bool)>,
}

impl Client {
    /// Takes everything the connection queued and checks it.
    fn read_output(&mut self, conn: &mut Connection, max_frame_size: u32) {
        let mut bytes = BytesMut::new();
        while let Some(buf) = conn.output().pop_front() {
            bytes.extend_from_slice(&buf);
        }
        conn.output().release();
        assert!(
            conn.output().holds_no_memory(),
            "an empty output holds memory"
        );
        while !bytes.is_empty() {
            assert!(bytes.len() >= HEADER_LEN, "output ends within a header");
            let header = FrameHeader::parse(bytes[..HEADER_LEN].try_into().unwrap());
            assert!(
                header.len <= max_frame_size,
                "a frame of {} bytes beyond the client's {max_frame_size}",
                header.len
            );
            let len = HEADER_LEN + header.len as usize;
            assert!(bytes.len() >= len, "output ends within a frame");
            let mut whole = bytes.split_to(len).freeze();
            let payload = whole.split_off(HEADER_LEN);
            let frame = Frame::decode(header, payload).expect("the server's frames decode");
            self.check(frame);
        }
    }

    fn check(&mut self, frame: Frame) {
        if let Some((id, _, _)) = &self.block {
            assert!(
                matches!(frame, Frame::Continuation { stream_id, .. } if stream_id == *id),
                "the server interrupted its own field block"
            );
        }
        match frame {
            Frame::Data {
                stream_id,
                end_stream,
                flow_len,
                ..
            } => {
                assert!(stream_id != 0 && stream_id % 2 == 1);
                assert!(
                    !self.finished.contains(&stream_id),
                    "DATA after the stream's end"
                );
                self.window -= i64::from(flow_len);
                assert!(self.window >= 0, "DATA beyond the connection window");
                if end_stream {
                    self.finished.insert(stream_id);
                }
            }
            Frame::Headers {
                stream_id,
                fragment,
                end_stream,
                end_headers,
            } => {
                assert!(
                    !self.finished.contains(&stream_id),
                    "HEADERS after the stream's end"
                );
                let block = BytesMut::from(&fragment[..]);
                if end_headers {
                    self.field_block(stream_id, block.freeze(), end_stream);
                } else {
                    self.block = Some((stream_id, block, end_stream));
                }
            }
            Frame::Continuation {
                stream_id,
                fragment,
                end_headers,
            } => {
                let (id, mut block, end_stream) =
                    self.block.take().expect("CONTINUATION without HEADERS");
                assert_eq!(id, stream_id);
                block.extend_from_slice(&fragment);
                if end_headers {
                    self.field_block(stream_id, block.freeze(), end_stream);
                } else {
                    self.block = Some((id, block, end_stream));
                }
            }
            Frame::RstStream { stream_id, .. } => {
                assert_ne!(stream_id, 0);
                self.finished.insert(stream_id);
            }
            Frame::PushPromise { .. } | Frame::Priority { .. } | Frame::Unknown { .. } => {
                panic!("the server sent {frame:?}")
            }
            Frame::Settings(_)
            | Frame::SettingsAck
            | Frame::Ping { .. }
            | Frame::GoAway { .. }
            | Frame::WindowUpdate { .. } => {}
        }
    }

    fn field_block(&mut self, stream_id: u32, block: Bytes, end_stream: bool) {
        if let Some(decoder) = &mut self.decoder {
            let fields = decoder
                .decode(&block, usize::MAX)
                .expect("the server's field blocks decode");
            assert!(
                fields.iter().any(|f| &f.name[..] == b":status") || end_stream,
                "a head without :status"
            );
        }
        if end_stream {
            self.finished.insert(stream_id);
        }
    }
}

/// The service's side: the handles it holds, by stream.
#[derive(Default)]
struct Service {
    /// Stream, handles held.
    handles: Vec<(u32, usize)>,
    /// Streams whose reader or writer waits (an event may name them).
    readers: HashSet<u32>,
    writers: HashSet<u32>,
    headed: HashSet<u32>,
}

impl Service {
    fn act(&mut self, conn: &mut Connection, op: u8, clock: &mut Instant) {
        match op & 0x0f {
            // Driver actions.
            0 => {}
            1 => conn.ping(),
            2 => conn.begin_shutdown(),
            3 if conn.drain_answered() => conn.finish_shutdown(),
            4 => {
                *clock += Duration::from_secs(u64::from(op >> 4) * 8);
                conn.expire_stalled_bodies(*clock, Duration::from_secs(30));
            }
            5 if op >> 4 == 0xf => conn.close_idle(),
            _ => {
                // A stream action on the handle `op >> 4` picks.
                if self.handles.is_empty() {
                    return;
                }
                let at = usize::from(op >> 4) % self.handles.len();
                let id = self.handles[at].0;
                self.on_stream(conn, at, id, op);
            }
        }
    }

    fn on_stream(&mut self, conn: &mut Connection, at: usize, id: u32, op: u8) {
        match op & 0x0f {
            6 | 7 => match conn.poll_data(id) {
                Poll::Pending => {
                    self.readers.insert(id);
                }
                Poll::Ready(None) => {
                    let _ = conn.take_trailers(id);
                    let _ = conn.is_end_stream(id);
                }
                Poll::Ready(Some(_)) => {}
            },
            8 => {
                if self.headed.insert(id) {
                    let mut headers = http::HeaderMap::new();
                    headers.insert("x-op", http::HeaderValue::from(u16::from(op)));
                    conn.send_head(id, http::StatusCode::OK, &headers, op & 0x10 != 0);
                }
            }
            // A body only after its head, as a service's response.
            9..=11 if !self.headed.contains(&id) => {}
            9 | 10 => match conn.poll_room(id) {
                Poll::Ready(Ok(())) => {
                    let len = (usize::from(op) * 997) % MAX_SEND;
                    let end = op & 0x20 != 0;
                    let _ = conn.send_data(id, Bytes::from(vec![b'd'; len]), end, None);
                }
                Poll::Ready(Err(_)) => {}
                Poll::Pending => {
                    self.writers.insert(id);
                }
            },
            11 => {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                let _ = conn.send_data(id, Bytes::new(), true, Some(trailers));
            }
            12 => conn.reset(id, ErrorCode::CANCEL),
            13 => {
                conn.add_ref(id);
                self.handles[at].1 += 1;
            }
            14 => {
                if conn.poll_reset(id).is_pending() {
                    self.writers.insert(id);
                }
            }
            _ => {
                conn.release_ref(id);
                self.handles[at].1 -= 1;
                if self.handles[at].1 == 0 {
                    self.handles.swap_remove(at);
                }
            }
        }
    }

    /// Drains the events: each names a stream whose handle waited.
    fn events(&mut self, conn: &mut Connection) {
        while let Some(event) = conn.poll_event() {
            match event {
                Event::StreamReadable(id) => {
                    assert!(self.readers.remove(&id), "a reader woken that did not wait")
                }
                Event::StreamWritable(id) => {
                    assert!(self.writers.remove(&id), "a writer woken that did not wait")
                }
            }
        }
        let _ = conn.take_output_ready();
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, op_count, rest @ ..] = data else {
        return;
    };
    let (ops, wire) = rest.split_at(usize::from(*op_count).min(rest.len()));
    let config = config(*pick);
    let mut conn = Connection::new(config);
    let config = *conn.config();
    let mut client = Client {
        max_frame_size: DEFAULT_MAX_FRAME_SIZE,
        finished: HashSet::new(),
        window: 65_535,
        decoder: Some(Decoder::new(4096)),
        block: None,
    };
    let mut service = Service::default();
    let mut clock = Instant::now();
    client.read_output(&mut conn, DEFAULT_MAX_FRAME_SIZE);
    let mut wire = Bytes::copy_from_slice(wire);
    let mut step = 0usize;
    // Every stream opened: none opens twice.
    let mut opened_total = HashSet::new();
    while wire.len() >= HEADER_LEN && conn.ended().is_none() {
        let header = FrameHeader::parse(wire[..HEADER_LEN].try_into().unwrap());
        let before_max = client.max_frame_size;
        let held_before = conn.stream_buffered();
        if header.len > config.max_frame_size {
            conn.fail(&FrameError::connection(
                ErrorCode::FRAME_SIZE_ERROR,
                "frame longer than SETTINGS_MAX_FRAME_SIZE",
            ));
            client.read_output(&mut conn, before_max);
            break;
        }
        let len = HEADER_LEN + header.len as usize;
        if wire.len() < len {
            break;
        }
        let mut whole = wire.split_to(len);
        let payload = whole.split_off(HEADER_LEN);
        let handled = match Frame::decode(header, payload) {
            Ok(decoded) => {
                match &decoded {
                    Frame::WindowUpdate {
                        stream_id: 0,
                        increment,
                    } => client.window += i64::from(*increment),
                    Frame::Settings(settings) => {
                        if settings.header_table_size.is_some() {
                            client.decoder = None;
                        }
                    }
                    _ => {}
                }
                conn.handle_frame(decoded).map(|opened| {
                    if let Some(opened) = opened {
                        assert!(opened_total.insert(opened.id), "opened twice");
                        service.handles.push((opened.id, 1));
                    }
                })
            }
            Err(e) => conn.handle_decode_error(header.kind, e),
        };
        if let Err(e) = handled {
            conn.fail(&e);
        }
        let after_max = conn.peer_max_frame_size();
        client.max_frame_size = after_max;
        service.events(&mut conn);
        let output = conn.output().buffered();
        assert!(
            output <= held_before + 16_384 + 32 * len,
            "{output} bytes of output from a {len}-byte frame"
        );
        client.read_output(&mut conn, before_max.max(after_max));
        conn.output_drained();
        service.events(&mut conn);
        if !ops.is_empty() {
            let op = ops[step % ops.len()];
            step += 1;
            service.act(&mut conn, op, &mut clock);
            service.events(&mut conn);
            client.read_output(&mut conn, after_max);
        }
        let held = conn.stream_buffered();
        let bound = config.connection_window as usize + conn.stream_count() * MAX_SEND;
        assert!(held <= bound, "streams hold {held} bytes, beyond {bound}");
    }
    // The service lets go of every handle; the driver writes what is left.
    for (id, count) in std::mem::take(&mut service.handles) {
        for _ in 0..count {
            conn.release_ref(id);
        }
    }
    service.events(&mut conn);
    let max = client.max_frame_size;
    client.read_output(&mut conn, max);
});
