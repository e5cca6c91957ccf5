//! A raw HTTP/2 client, frame by frame: bytes on a TCP connection read
//! back as frames (type, flags, payload), and [`CodecClient`], which
//! speaks through `pushwire_proto::http2`'s frame codec and HPACK alone,
//! so that tests can send what a client may and what it must not.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use pushwire_proto::http2::frame::{self, Frame, FrameHeader, HEADER_LEN};
use pushwire_proto::http2::hpack::{Decoder, Encoder, Field};
use pushwire_proto::http2::{ErrorCode, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::LIMIT;

/// A raw client's opening: the connection preface and an empty SETTINGS.
pub const PREFACE_AND_SETTINGS: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// A raw client that sent its opening.
pub async fn raw_h2_client(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(PREFACE_AND_SETTINGS).await.unwrap();
    tcp
}

/// The next frame off `tcp`: its type, flags and payload.
pub async fn read_frame(tcp: &mut TcpStream) -> (u8, u8, Vec<u8>) {
    let mut head = [0u8; 9];
    tcp.read_exact(&mut head).await.unwrap();
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.unwrap();
    (head[3], head[4], payload)
}

/// Reads frames off `tcp` until one of type `kind` arrives; returns its
/// flags and payload.
pub async fn next_frame_of(tcp: &mut TcpStream, kind: u8) -> (u8, Vec<u8>) {
    loop {
        let (this_kind, flags, payload) = read_frame(tcp).await;
        if this_kind == kind {
            return (flags, payload);
        }
    }
}

/// A client speaking HTTP/2 through pushwire's codec alone.
pub struct CodecClient {
    pub tcp: TcpStream,
    read: BytesMut,
    encoder: Encoder,
    decoder: Decoder,
}

impl CodecClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::with_settings(addr, Settings::default()).await
    }

    pub async fn with_settings(addr: SocketAddr, settings: Settings) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        settings.put(&mut opening);
        tcp.write_all(&opening).await.unwrap();
        CodecClient {
            tcp,
            read: BytesMut::new(),
            encoder: Encoder::new(),
            decoder: Decoder::new(4096),
        }
    }

    pub async fn send(&mut self, wire: &[u8]) {
        self.tcp.write_all(wire).await.unwrap();
    }

    /// Sends a request's field block on `stream_id` as one HEADERS frame.
    pub async fn headers(&mut self, stream_id: u32, fields: &[(&str, &str)], end_stream: bool) {
        let block = self.block(fields);
        let mut wire = Vec::new();
        frame::put_headers(&mut wire, stream_id, &block, end_stream, 16_384);
        self.send(&wire).await;
    }

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

    /// The next frame that is not SETTINGS, PING or WINDOW_UPDATE.
    pub async fn next_answer(&mut self) -> Frame {
        loop {
            match self.next_frame().await {
                Frame::Settings(_)
                | Frame::SettingsAck
                | Frame::Ping { .. }
                | Frame::WindowUpdate { .. } => {}
                frame => return frame,
            }
        }
    }

    /// Reads until the server's GOAWAY, then its close; returns the code.
    pub async fn goaway(&mut self) -> ErrorCode {
        let code = loop {
            if let Frame::GoAway { code, .. } = self.next_answer().await {
                break code;
            }
        };
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(LIMIT, self.tcp.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the server closes the connection");
        code
    }

    pub async fn next_frame(&mut self) -> Frame {
        loop {
            if self.read.len() >= HEADER_LEN {
                let header = FrameHeader::parse(self.read[..HEADER_LEN].try_into().unwrap());
                let end = HEADER_LEN + header.len as usize;
                if self.read.len() >= end {
                    let mut bytes = self.read.split_to(end).freeze();
                    let payload = bytes.split_off(HEADER_LEN);
                    return Frame::decode(header, payload).unwrap();
                }
            }
            let read = self.tcp.read_buf(&mut self.read);
            let n = tokio::time::timeout(LIMIT, read)
                .await
                .expect("a frame in time")
                .unwrap();
            assert!(n > 0, "the server closed the connection");
        }
    }

    /// Sends a GET on `stream_id`, its field block cut into frames of
    /// `max_frame_size`, and returns the response's fields and body.
    pub async fn get(
        &mut self,
        stream_id: u32,
        fields: &[(&str, &str)],
        max_frame_size: u32,
    ) -> (Vec<(String, String)>, String) {
        let block = self.block(fields);
        let mut wire = Vec::new();
        frame::put_headers(&mut wire, stream_id, &block, true, max_frame_size);
        self.tcp.write_all(&wire).await.unwrap();
        let mut fields = Vec::new();
        let mut body = Vec::new();
        loop {
            match self.next_frame().await {
                Frame::Settings(_) => {
                    let mut ack = Vec::new();
                    frame::put_settings_ack(&mut ack);
                    self.tcp.write_all(&ack).await.unwrap();
                }
                Frame::Headers {
                    stream_id: id,
                    fragment,
                    end_stream,
                    end_headers,
                } if id == stream_id => {
                    assert!(end_headers, "the response's fields fit in one frame");
                    fields = self.decode(&fragment);
                    if end_stream {
                        break;
                    }
                }
                Frame::Data {
                    stream_id: id,
                    data,
                    end_stream,
                    ..
                } if id == stream_id => {
                    body.extend_from_slice(&data);
                    if end_stream {
                        break;
                    }
                }
                _ => {}
            }
        }
        (fields, String::from_utf8(body).unwrap())
    }

    pub fn decode(&mut self, block: &Bytes) -> Vec<(String, String)> {
        let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
        let fields = self.decoder.decode(block, 64 << 10).unwrap();
        fields
            .iter()
            .map(|f| (text(&f.name), text(&f.value)))
            .collect()
    }
}

/// The value of the decoded field `name`, if any.
pub fn value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The pseudo-header fields of a request for `path` by `method`.
pub fn request<'a>(method: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (":method", method),
        (":scheme", "http"),
        (":path", path),
        (":authority", "localhost"),
    ]
}

/// The next RST_STREAM's stream and code.
pub async fn next_reset(client: &mut CodecClient) -> (u32, ErrorCode) {
    loop {
        if let Frame::RstStream { stream_id, code } = client.next_answer().await {
            return (stream_id, code);
        }
    }
}
