//! The server's HTTP/2 on the wire (RFC 9113): a client made of
//! `pushwire_proto::http2`'s frame codec and HPACK sends what a client
//! may (Huffman strings, field blocks in CONTINUATION frames, small
//! flow-control windows) and what it must not (malformed requests,
//! frames on idle streams, floods), and reads the server's answers:
//! the stream reset, or the connection ended with the GOAWAY code the
//! RFC calls for. (Independent peers, the h2 crate, curl and Chromium,
//! are in the other tests.)

use pushwire_proto::http2::frame::{self, Frame, HEADER_LEN};
use pushwire_proto::http2::{ErrorCode, Settings};
use tokio::io::AsyncWriteExt;

use crate::common::http2_frames::{next_reset, request, value, CodecClient};
use crate::common::TestServer;

/// Requests encoded by pushwire's HPACK are understood, one stream after
/// another on one connection, and the responses decode.
#[tokio::test]
async fn requests_and_responses_cross_between_the_two_stacks() {
    let server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(server.addr).await;
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
/// whole.
#[tokio::test]
async fn a_field_block_in_continuation_frames_is_understood() {
    let server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(server.addr).await;
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

/// A malformed request resets its stream alone (section 8.1.1); the
/// connection serves the next.
#[tokio::test]
async fn malformed_requests_reset_their_stream_only() {
    let server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(server.addr).await;
    let malformed: [&[(&str, &str)]; 4] = [
        &[(":method", "GET"), (":path", "/healthz")],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            ("Upper-Case", "x"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            ("connection", "keep-alive"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            ("content-length", "5"),
        ],
    ];
    for (i, fields) in malformed.iter().enumerate() {
        let stream_id = 1 + 2 * i as u32;
        client.headers(stream_id, fields, true).await;
        assert_eq!(
            next_reset(&mut client).await,
            (stream_id, ErrorCode::PROTOCOL_ERROR),
            "{fields:?}"
        );
    }
    let (fields, body) = client.get(9, &request("GET", "/healthz"), 16_384).await;
    assert_eq!(
        (value(&fields, ":status"), body.as_str()),
        (Some("200"), "ok")
    );
    assert_eq!(server.stats.snapshot().h2_requests, 1);
}

/// A header list over the server's limit is answered `431`.
#[tokio::test]
async fn a_header_list_over_the_limit_gets_431() {
    let server = TestServer::start(|s| s.max_header_bytes(1024)).await;
    let mut client = CodecClient::connect(server.addr).await;
    let big = "y".repeat(2000);
    let mut fields = request("GET", "/healthz");
    fields.push(("x-big", &big));
    let (fields, body) = client.get(1, &fields, 16_384).await;
    assert_eq!(
        (value(&fields, ":status"), body.as_str()),
        (Some("431"), "")
    );
    let (fields, _) = client.get(3, &request("GET", "/healthz"), 16_384).await;
    assert_eq!(value(&fields, ":status"), Some("200"));
}

/// Connection errors end the connection with a GOAWAY that names them.
#[tokio::test]
async fn protocol_violations_end_the_connection_with_their_goaway_code() {
    let server = TestServer::start(|s| s).await;
    let data_on_idle_stream = {
        let mut wire = Vec::new();
        frame::put_header(&mut wire, frame::kind::DATA, 0, 7, 2);
        wire.extend_from_slice(b"hi");
        wire
    };
    let continuation_alone = {
        let mut wire = Vec::new();
        frame::put_header(
            &mut wire,
            frame::kind::CONTINUATION,
            frame::flag::END_HEADERS,
            1,
            0,
        );
        wire
    };
    let oversized_frame = {
        let mut wire = Vec::new();
        frame::put_header(&mut wire, 0xfa, 0, 0, 100 << 10);
        wire.resize(wire.len() + (100 << 10), 0);
        wire
    };
    let window_overflow = {
        let mut wire = Vec::new();
        frame::put_window_update(&mut wire, 0, (1 << 31) - 1);
        wire
    };
    let garbage_block = {
        let mut wire = Vec::new();
        frame::put_headers(&mut wire, 1, &[0xff, 0xff, 0xff, 0xff, 0x7f], true, 16_384);
        wire
    };
    let cases = [
        (data_on_idle_stream, ErrorCode::PROTOCOL_ERROR),
        (continuation_alone, ErrorCode::PROTOCOL_ERROR),
        (oversized_frame, ErrorCode::FRAME_SIZE_ERROR),
        (window_overflow, ErrorCode::FLOW_CONTROL_ERROR),
        (garbage_block, ErrorCode::COMPRESSION_ERROR),
    ];
    for (wire, expected) in cases {
        let mut client = CodecClient::connect(server.addr).await;
        client.send(&wire).await;
        assert_eq!(client.goaway().await, expected);
    }
    // A field block cut into very many CONTINUATION frames is a flood.
    let mut client = CodecClient::connect(server.addr).await;
    let long = "z".repeat(4000);
    let mut fields = request("GET", "/healthz");
    fields.push(("x-long", &long));
    let block = client.block(&fields);
    let mut wire = Vec::new();
    frame::put_headers(&mut wire, 1, &block, true, 64);
    client.send(&wire).await;
    assert_eq!(client.goaway().await, ErrorCode::ENHANCE_YOUR_CALM);
}

/// The response body goes out as the client's window allows, and waits
/// for its WINDOW_UPDATE (section 6.9).
#[tokio::test]
async fn a_response_waits_for_the_clients_window() {
    let server = TestServer::start(|s| s).await;
    let settings = Settings {
        initial_window_size: Some(100),
        ..Settings::default()
    };
    let mut client = CodecClient::with_settings(server.addr, settings).await;
    client.headers(1, &request("POST", "/mirror"), false).await;
    let mut wire = Vec::new();
    frame::put_header(
        &mut wire,
        frame::kind::DATA,
        frame::flag::END_STREAM,
        1,
        1000,
    );
    wire.resize(wire.len() + 1000, b'm');
    client.send(&wire).await;
    let mut received = 0;
    while received < 100 {
        match client.next_answer().await {
            Frame::Headers { .. } => {}
            Frame::Data { data, .. } => received += data.len(),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, 100, "no more than the window");
    // Nothing more comes until the window grows: a PING's answer
    // overtakes any DATA.
    let mut ping = Vec::new();
    frame::put_ping(&mut ping, false, *b"overtake");
    client.send(&ping).await;
    loop {
        match client.next_frame().await {
            Frame::Ping { ack: true, .. } => break,
            Frame::Data { .. } => panic!("DATA beyond the window"),
            _ => {}
        }
    }
    let mut update = Vec::new();
    frame::put_window_update(&mut update, 1, 900);
    client.send(&update).await;
    loop {
        if let Frame::Data {
            data, end_stream, ..
        } = client.next_answer().await
        {
            received += data.len();
            if end_stream {
                break;
            }
        }
    }
    assert_eq!(received, 1000);
}

/// Streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused, and may
/// be retried once others end.
#[tokio::test]
async fn streams_over_the_concurrency_limit_are_refused() {
    let server = TestServer::start(|s| s.max_concurrent_streams(1)).await;
    let mut client = CodecClient::connect(server.addr).await;
    // Stream 1 stays open: the service waits for its body.
    client.headers(1, &request("POST", "/mirror"), false).await;
    client.headers(3, &request("GET", "/healthz"), true).await;
    assert_eq!(
        next_reset(&mut client).await,
        (3, ErrorCode::REFUSED_STREAM)
    );
    let mut wire = Vec::new();
    frame::put_header(&mut wire, frame::kind::DATA, frame::flag::END_STREAM, 1, 0);
    client.send(&wire).await;
    // The empty mirror ends with its head.
    loop {
        if let Frame::Headers {
            stream_id: 1,
            end_stream: true,
            ..
        } = client.next_answer().await
        {
            break;
        }
    }
    let (fields, _) = client.get(5, &request("GET", "/healthz"), 16_384).await;
    assert_eq!(value(&fields, ":status"), Some("200"));
}

/// A client that opens and resets streams without end (CVE-2023-44487)
/// is sent away.
#[tokio::test]
async fn rapid_resets_end_the_connection() {
    let server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(server.addr).await;
    let mut wire = Vec::new();
    for i in 0..400 {
        let stream_id = 1 + 2 * i;
        let block = client.block(&request("POST", "/mirror"));
        frame::put_headers(&mut wire, stream_id, &block, false, 16_384);
        frame::put_rst_stream(&mut wire, stream_id, ErrorCode::CANCEL);
    }
    client.send(&wire).await;
    assert_eq!(client.goaway().await, ErrorCode::ENHANCE_YOUR_CALM);
}

/// A graceful shutdown: a GOAWAY that still admits streams, a PING,
/// then, once it is answered, the GOAWAY naming the last stream served
/// (section 6.8); the stream in flight is answered.
#[tokio::test]
async fn shutdown_sends_two_goaways_around_a_ping() {
    let mut server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(server.addr).await;
    // Served once: the server holds the connection.
    let (fields, _) = client.get(1, &request("GET", "/healthz"), 16_384).await;
    assert_eq!(value(&fields, ":status"), Some("200"));
    client.headers(3, &request("POST", "/mirror"), false).await;
    server.stop();
    let first = loop {
        if let Frame::GoAway {
            last_stream_id,
            code,
            ..
        } = client.next_frame().await
        {
            break (last_stream_id, code);
        }
    };
    assert_eq!(first, ((1 << 31) - 1, ErrorCode::NO_ERROR));
    let payload = loop {
        if let Frame::Ping {
            ack: false,
            payload,
        } = client.next_frame().await
        {
            break payload;
        }
    };
    let mut wire = Vec::new();
    frame::put_ping(&mut wire, true, payload);
    client.send(&wire).await;
    let last = loop {
        if let Frame::GoAway { last_stream_id, .. } = client.next_frame().await {
            break last_stream_id;
        }
    };
    assert_eq!(last, 3);
    let mut wire = Vec::new();
    frame::put_header(&mut wire, frame::kind::DATA, frame::flag::END_STREAM, 3, 4);
    wire.extend_from_slice(b"last");
    client.send(&wire).await;
    let mut body = Vec::new();
    loop {
        if let Frame::Data {
            data, end_stream, ..
        } = client.next_answer().await
        {
            body.extend_from_slice(&data);
            if end_stream {
                break;
            }
        }
    }
    assert_eq!(body, b"last");
}

/// A client that sends without reading what it is answered stops being
/// read once the server's answers back up: the server's buffers stay
/// bounded, so its writes soon block.
#[tokio::test]
async fn a_client_that_does_not_read_is_not_read_either() {
    let server = TestServer::start(|s| s).await;
    let mut client = CodecClient::connect(server.addr).await;
    // Each PING asks for a PING back: 16 KiB of them per write.
    let mut pings = Vec::new();
    while pings.len() < 16 << 10 {
        frame::put_ping(&mut pings, false, *b"floodme!");
    }
    const PING_LEN: usize = HEADER_LEN + 8;
    let mut written = 0usize;
    let flood = async {
        loop {
            written += client
                .tcp
                .write(&pings[written % pings.len()..])
                .await
                .unwrap();
        }
    };
    let stalled = tokio::time::timeout(std::time::Duration::from_secs(2), flood).await;
    assert!(stalled.is_err());
    // Without the bound, the server reads hundreds of MiB in that time;
    // with it, the socket buffers of both sides hold what was written.
    assert!(written < 64 << 20, "{} MiB written", written >> 20);
    // Once the client reads again, every whole PING is answered; then the
    // one cut short is finished, and the connection serves requests.
    for _ in 0..written / PING_LEN {
        while !matches!(client.next_frame().await, Frame::Ping { ack: true, .. }) {}
    }
    client.send(&pings[written % PING_LEN..PING_LEN]).await;
    let (fields, _) = client.get(1, &request("GET", "/healthz"), 16_384).await;
    assert_eq!(value(&fields, ":status"), Some("200"));
}
