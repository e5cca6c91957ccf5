//! The suite's raw client: a [`Script`] of frames written ahead, and a
//! [`Peer`] that plays it on a connection and reads the server's
//! reaction, checking every frame it reads.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pushwire_proto::http2::frame::{self, Frame, FrameHeader, HEADER_LEN, PREFACE};
use pushwire_proto::http2::hpack::{Decoder, Encoder, Field};
use pushwire_proto::http2::{ErrorCode, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Expect;
use crate::common::LIMIT;

/// One step of a script.
enum Action {
    /// Bytes for the socket.
    Send(Vec<u8>),
    /// Waits until the server ends its side of a stream.
    AwaitEnd(u32),
    /// Waits until the server resets a stream with a code.
    AwaitReset(u32, ErrorCode),
    /// Waits this long.
    Sleep(Duration),
}

/// The frames a case sends, written before the connection exists; the
/// HPACK encoder goes on to encode the requests sent after them.
pub struct Script {
    encoder: Encoder,
    actions: Vec<Action>,
    highest_stream: u32,
    /// The client's SETTINGS, sent after the preface.
    pub settings: Settings,
    /// When set, sent instead of the preface and SETTINGS.
    pub opening: Option<Vec<u8>>,
    /// Whether the server's SETTINGS are acknowledged.
    pub ack_settings: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            encoder: Encoder::new(),
            actions: Vec::new(),
            highest_stream: 0,
            settings: Settings::default(),
            opening: None,
            ack_settings: true,
        }
    }
}

/// The pseudo-header fields of a request.
pub fn pseudo<'a>(method: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (":method", method),
        (":scheme", "http"),
        (":path", path),
        (":authority", "localhost"),
    ]
}

impl Script {
    /// A field block of `fields`, in order, as pushwire's encoder writes
    /// it.
    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.encode(
            fields.iter().map(|(name, value)| Field {
                name: name.as_bytes(),
                value: value.as_bytes(),
                never_indexed: false,
            }),
            &mut block,
        );
        block
    }

    /// Sends raw bytes: in one write with the bytes sent just before,
    /// so that the server reads them together.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        match self.actions.last_mut() {
            Some(Action::Send(wire)) => wire.extend_from_slice(bytes),
            _ => self.actions.push(Action::Send(bytes.to_vec())),
        }
        self
    }

    /// Sends a frame of `kind` with `flags` and `payload` on `stream_id`.
    pub fn frame(&mut self, kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> &mut Self {
        if stream_id % 2 == 1 {
            self.highest_stream = self.highest_stream.max(stream_id);
        }
        let mut wire = Vec::new();
        frame::put_header(&mut wire, kind, flags, stream_id, payload.len());
        wire.extend_from_slice(payload);
        self.raw(&wire)
    }

    /// Sends a HEADERS frame with `block` and END_HEADERS (plus `flags`).
    pub fn headers_block(&mut self, stream_id: u32, block: &[u8], flags: u8) -> &mut Self {
        self.frame(
            frame::kind::HEADERS,
            frame::flag::END_HEADERS | flags,
            stream_id,
            block,
        )
    }

    /// Sends a request of `fields` in one HEADERS frame.
    pub fn request(
        &mut self,
        stream_id: u32,
        fields: &[(&str, &str)],
        end_stream: bool,
    ) -> &mut Self {
        let block = self.block(fields);
        let flags = if end_stream {
            frame::flag::END_STREAM
        } else {
            0
        };
        self.headers_block(stream_id, &block, flags)
    }

    /// Sends `GET /healthz`, which ends the stream.
    pub fn get(&mut self, stream_id: u32) -> &mut Self {
        self.request(stream_id, &pseudo("GET", "/healthz"), true)
    }

    /// Sends the head of `POST /mirror`: the stream stays open for its
    /// body, which the response echoes.
    pub fn post(&mut self, stream_id: u32) -> &mut Self {
        self.request(stream_id, &pseudo("POST", "/mirror"), false)
    }

    /// Sends a DATA frame.
    pub fn data(&mut self, stream_id: u32, payload: &[u8], end_stream: bool) -> &mut Self {
        let flags = if end_stream {
            frame::flag::END_STREAM
        } else {
            0
        };
        self.frame(frame::kind::DATA, flags, stream_id, payload)
    }

    /// Sends RST_STREAM with `code`.
    pub fn reset(&mut self, stream_id: u32, code: ErrorCode) -> &mut Self {
        self.frame(frame::kind::RST_STREAM, 0, stream_id, &code.0.to_be_bytes())
    }

    /// Waits until the server has ended its side of `stream_id`.
    pub fn await_end(&mut self, stream_id: u32) -> &mut Self {
        self.actions.push(Action::AwaitEnd(stream_id));
        self
    }

    /// Waits until the server resets `stream_id` with `code`.
    pub fn await_reset(&mut self, stream_id: u32, code: ErrorCode) -> &mut Self {
        self.actions.push(Action::AwaitReset(stream_id, code));
        self
    }

    /// Waits for `duration`.
    pub fn sleep(&mut self, duration: Duration) -> &mut Self {
        self.actions.push(Action::Sleep(duration));
        self
    }

    /// A client stream identifier above every one the script used, if
    /// there is one left.
    pub fn next_stream_id(&self) -> Option<u32> {
        match self.highest_stream {
            0 => Some(1),
            id if id < (1 << 31) - 2 => Some(id + 2),
            _ => None,
        }
    }
}

/// What the server sent, as the cases look at it.
#[derive(Debug)]
pub enum Event {
    /// A response head (or trailers) on a stream, its field block
    /// decoded.
    Head {
        stream_id: u32,
        fields: Vec<(String, String)>,
        end_stream: bool,
    },
    Data {
        stream_id: u32,
        end_stream: bool,
    },
    Reset {
        stream_id: u32,
        code: ErrorCode,
    },
    GoAway {
        code: ErrorCode,
        last_stream_id: u32,
    },
    PingAck([u8; 8]),
    /// SETTINGS, a PING to answer, WINDOW_UPDATE.
    Other,
    /// The server closed the connection.
    Closed,
}

/// A connection that plays a [`Script`].
pub struct Peer {
    pub tcp: TcpStream,
    read: BytesMut,
    decoder: Decoder,
    /// The client's `SETTINGS_MAX_FRAME_SIZE`: no frame may be longer.
    max_frame_size: u32,
    ack_settings: bool,
    /// A field block that CONTINUATION frames are adding to.
    partial: Option<(u32, BytesMut, bool)>,
}

/// The payload of the PING that [`Expect::Ignored`] sends.
const PROBE: [u8; 8] = *b"h2spec!!";

impl Peer {
    /// Opens a connection and sends the script's opening.
    pub async fn connect(addr: SocketAddr, script: &Script) -> Peer {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let opening = script.opening.clone().unwrap_or_else(|| {
            let mut opening = PREFACE.to_vec();
            script.settings.put(&mut opening);
            opening
        });
        tcp.write_all(&opening).await.unwrap();
        Peer {
            tcp,
            read: BytesMut::new(),
            decoder: Decoder::new(4096),
            max_frame_size: script
                .settings
                .max_frame_size
                .unwrap_or(frame::DEFAULT_MAX_FRAME_SIZE),
            ack_settings: script.ack_settings,
            partial: None,
        }
    }

    /// Writes bytes; a server that closed already makes no error here
    /// (the reaction is read afterwards).
    pub async fn send(&mut self, bytes: &[u8]) {
        let _ = self.tcp.write_all(bytes).await;
    }

    /// Plays the script's steps.
    pub async fn play(&mut self, script: &Script) -> Result<(), String> {
        for action in &script.actions {
            match action {
                Action::Send(bytes) => self.send(bytes).await,
                Action::Sleep(duration) => tokio::time::sleep(*duration).await,
                Action::AwaitReset(id, code) => {
                    self.expect(Expect::Reset(*id, *code)).await?;
                }
                Action::AwaitEnd(id) => loop {
                    match self.event().await? {
                        Event::Head {
                            stream_id,
                            end_stream: true,
                            ..
                        }
                        | Event::Data {
                            stream_id,
                            end_stream: true,
                            ..
                        } if stream_id == *id => break,
                        event @ (Event::Reset { .. } | Event::GoAway { .. } | Event::Closed) => {
                            return Err(format!("{event:?} while awaiting the end of stream {id}"))
                        }
                        _ => {}
                    }
                },
            }
        }
        Ok(())
    }

    /// Reads the server's reaction and compares it with `expect`.
    pub async fn expect(&mut self, expect: Expect) -> Result<(), String> {
        if expect == Expect::Ignored {
            let mut ping = Vec::new();
            frame::put_ping(&mut ping, false, PROBE);
            self.send(&ping).await;
        }
        loop {
            let event = self.event().await?;
            let seen = format!("{event:?}");
            match (expect, event) {
                (
                    Expect::GoAway(want),
                    Event::GoAway {
                        code,
                        last_stream_id,
                    },
                ) => {
                    if code != want {
                        return Err(format!("GOAWAY {code} where {want} was due"));
                    }
                    if last_stream_id != 0 && last_stream_id % 2 == 0 {
                        return Err(format!(
                            "GOAWAY names stream {last_stream_id}, not the client's"
                        ));
                    }
                    return self.expect_close().await;
                }
                (Expect::Reset(id, want), Event::Reset { stream_id, code }) => {
                    if (stream_id, code) != (id, want) {
                        return Err(format!(
                            "RST_STREAM {code} on stream {stream_id} where {want} on {id} was due"
                        ));
                    }
                    return Ok(());
                }
                (
                    Expect::Status(id, want),
                    Event::Head {
                        stream_id, fields, ..
                    },
                ) if stream_id == id => {
                    let status = fields
                        .iter()
                        .find(|(name, _)| name == ":status")
                        .map(|(_, value)| value.clone());
                    if status.as_deref() != Some(want.to_string().as_str()) {
                        return Err(format!("status {status:?} where {want} was due"));
                    }
                    return Ok(());
                }
                (
                    Expect::Reset(..) | Expect::GoAway(_),
                    Event::Head {
                        stream_id, fields, ..
                    },
                ) if !matches!(expect, Expect::Reset(id, _) if id != stream_id) => {
                    return Err(format!(
                        "answered {fields:?} on stream {stream_id} where {expect:?} was due"
                    ));
                }
                (Expect::Ignored, Event::PingAck(PROBE)) => return Ok(()),
                (Expect::Closed, Event::Closed) => return Ok(()),
                (
                    Expect::Closed,
                    Event::GoAway {
                        code: ErrorCode::NO_ERROR,
                        ..
                    },
                ) => return self.expect_close().await,
                (Expect::Pong(want), Event::PingAck(payload)) => {
                    if payload != want {
                        return Err(format!("PING answered with {payload:?}, not {want:?}"));
                    }
                    return Ok(());
                }
                (_, Event::Reset { .. } | Event::GoAway { .. } | Event::Closed) => {
                    return Err(format!("{seen} where {expect:?} was due"));
                }
                _ => {}
            }
        }
    }

    /// Reads on until the server closes the connection.
    pub async fn expect_close(&mut self) -> Result<(), String> {
        loop {
            match self.event().await? {
                Event::Closed => return Ok(()),
                Event::Reset { .. } | Event::Head { .. } | Event::Data { .. } => {}
                event @ Event::GoAway { .. } => {
                    return Err(format!("{event:?} after the connection's GOAWAY"))
                }
                _ => {}
            }
        }
    }

    /// Sends `GET /healthz` on `stream_id` and expects `200`: the
    /// connection still serves.
    pub async fn expect_served(
        &mut self,
        script: &mut Script,
        stream_id: u32,
    ) -> Result<(), String> {
        let block = script.block(&pseudo("GET", "/healthz"));
        let mut wire = Vec::new();
        frame::put_headers(&mut wire, stream_id, &block, true, 16_384);
        self.send(&wire).await;
        self.expect(Expect::Status(stream_id, 200))
            .await
            .map_err(|e| format!("the connection no longer serves: {e}"))
    }

    /// The next thing the server did, within [`LIMIT`].
    pub async fn event(&mut self) -> Result<Event, String> {
        loop {
            let Some(frame) = self.next_frame().await? else {
                return Ok(Event::Closed);
            };
            match frame {
                Frame::Settings(_) if self.ack_settings => {
                    let mut ack = Vec::new();
                    frame::put_settings_ack(&mut ack);
                    self.send(&ack).await;
                }
                Frame::Headers {
                    stream_id,
                    fragment,
                    end_stream,
                    end_headers,
                } => {
                    if end_headers {
                        return self.head(stream_id, &fragment, end_stream);
                    }
                    self.partial = Some((stream_id, BytesMut::from(&fragment[..]), end_stream));
                }
                Frame::Continuation {
                    stream_id,
                    fragment,
                    end_headers,
                } => {
                    let Some((id, block, end_stream)) = self.partial.as_mut() else {
                        return Err("CONTINUATION from the server without HEADERS".into());
                    };
                    if *id != stream_id {
                        return Err("CONTINUATION from the server on another stream".into());
                    }
                    block.extend_from_slice(&fragment);
                    if end_headers {
                        let (_, block, end_stream) = self.partial.take().unwrap();
                        return self.head(stream_id, &block.freeze(), end_stream);
                    }
                    let _ = end_stream;
                }
                Frame::Data {
                    stream_id,
                    data,
                    end_stream,
                    ..
                } => {
                    let _ = data;
                    return Ok(Event::Data {
                        stream_id,
                        end_stream,
                    });
                }
                Frame::RstStream { stream_id, code } => {
                    return Ok(Event::Reset { stream_id, code })
                }
                Frame::GoAway {
                    last_stream_id,
                    code,
                    ..
                } => {
                    return Ok(Event::GoAway {
                        code,
                        last_stream_id,
                    })
                }
                Frame::Ping { ack: true, payload } => return Ok(Event::PingAck(payload)),
                _ => return Ok(Event::Other),
            }
        }
    }

    fn head(&mut self, stream_id: u32, block: &Bytes, end_stream: bool) -> Result<Event, String> {
        let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
        let fields = self
            .decoder
            .decode(block, 1 << 20)
            .map_err(|e| format!("the server's field block does not decode: {e}"))?;
        Ok(Event::Head {
            stream_id,
            fields: fields
                .iter()
                .map(|f| (text(&f.name), text(&f.value)))
                .collect(),
            end_stream,
        })
    }

    /// The next frame, checked: no longer than the client allows, and
    /// decodable. `None` once the server closed the connection.
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        loop {
            if self.read.len() >= HEADER_LEN {
                let header = FrameHeader::parse(self.read[..HEADER_LEN].try_into().unwrap());
                if header.len > self.max_frame_size {
                    return Err(format!(
                        "a frame of {} bytes, over the client's SETTINGS_MAX_FRAME_SIZE of {}",
                        header.len, self.max_frame_size
                    ));
                }
                let end = HEADER_LEN + header.len as usize;
                if self.read.len() >= end {
                    let mut bytes = self.read.split_to(end).freeze();
                    let payload = bytes.split_off(HEADER_LEN);
                    return Frame::decode(header, payload)
                        .map(Some)
                        .map_err(|e| format!("the server sent a bad frame: {e}"));
                }
            }
            let read = self.tcp.read_buf(&mut self.read);
            match tokio::time::timeout(LIMIT, read).await {
                Err(_) => return Err(format!("nothing from the server within {LIMIT:?}")),
                Ok(Ok(0)) => return Ok(None),
                Ok(Ok(_)) => {}
                // A close with the client's bytes unread is a reset.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Ok(Err(e)) => return Err(format!("reading failed: {e}")),
            }
        }
    }
}
