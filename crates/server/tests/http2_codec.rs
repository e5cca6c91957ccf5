//! `pushwire_proto::http2` against another implementation: a client
//! made of pushwire's frame codec and HPACK talks to the server over
//! cleartext HTTP/2, whose stack (the h2 crate) decodes what it sends
//! (Huffman strings, field blocks in CONTINUATION frames) and encodes
//! what it reads.

mod common;

use bytes::{Bytes, BytesMut};
use common::TestServer;
use pushwire_proto::http2::frame::{self, Frame, FrameHeader, HEADER_LEN};
use pushwire_proto::http2::hpack::{Decoder, Encoder, Field};
use pushwire_proto::http2::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client speaking HTTP/2 through pushwire's codec alone.
struct CodecClient {
    tcp: TcpStream,
    read: BytesMut,
    encoder: Encoder,
    decoder: Decoder,
}

impl CodecClient {
    async fn connect(server: &TestServer) -> Self {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        Settings::default().put(&mut opening);
        tcp.write_all(&opening).await.unwrap();
        CodecClient {
            tcp,
            read: BytesMut::new(),
            encoder: Encoder::new(),
            decoder: Decoder::new(4096),
        }
    }

    async fn next_frame(&mut self) -> Frame {
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
            let n = self.tcp.read_buf(&mut self.read).await.unwrap();
            assert!(n > 0, "the server closed the connection");
        }
    }

    /// Sends a GET on `stream_id`, its field block cut into frames of
    /// `max_frame_size`, and returns the response's fields and body.
    async fn get(
        &mut self,
        stream_id: u32,
        fields: &[(&str, &str)],
        max_frame_size: u32,
    ) -> (Vec<(String, String)>, String) {
        let mut block = Vec::new();
        self.encoder.encode(
            fields.iter().map(|(name, value)| Field {
                name: name.as_bytes(),
                value: value.as_bytes(),
                never_indexed: false,
            }),
            &mut block,
        );
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

    fn decode(&mut self, block: &Bytes) -> Vec<(String, String)> {
        let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
        let fields = self.decoder.decode(block, 64 << 10).unwrap();
        fields
            .iter()
            .map(|f| (text(&f.name), text(&f.value)))
            .collect()
    }
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Requests encoded by pushwire's HPACK are understood, one stream after
/// another on one connection, and the responses decode.
#[tokio::test]
async fn requests_and_responses_cross_between_the_two_stacks() {
    let server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(&server).await;
    let request = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/info"),
        (":authority", "localhost"),
        (
            "user-agent",
            "pushwire-codec-test/1.0 (a value long enough to Huffman-code)",
        ),
    ];
    for stream_id in [1, 3, 5] {
        let (fields, body) = client.get(stream_id, &request, 16_384).await;
        assert_eq!(value(&fields, ":status"), Some("200"), "{fields:?}");
        assert_eq!(value(&fields, "content-length"), Some("13"), "{fields:?}");
        assert_eq!(body, "HTTP/2.0 None");
    }
    assert_eq!(server.stats.snapshot().h2_requests, 3);
}

/// A field block split across HEADERS and CONTINUATION frames arrives
/// whole. (h2 refuses a block in very many frames, as a flood.)
#[tokio::test]
async fn a_field_block_in_continuation_frames_is_understood() {
    let server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(&server).await;
    let long = "x".repeat(300);
    let request = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/healthz"),
        (":authority", "localhost"),
        ("x-long", long.as_str()),
    ];
    let (fields, body) = client.get(1, &request, 128).await;
    assert_eq!(value(&fields, ":status"), Some("200"));
    assert_eq!(body, "ok");
}
