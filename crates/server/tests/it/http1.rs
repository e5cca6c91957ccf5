//! The server over HTTP/1.1: WebSocket upgrades with accept and require
//! semantics, rejections with their status, keep-alive, and the limits
//! against slow or oversized request heads.

use std::time::Duration;

use pushwire::{ClientBuilder, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::http1::{raw_request, read_head};
use crate::common::ws::round_trip;
use crate::common::{TestServer, LIMIT};

const UPGRADE: &str =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

#[tokio::test]
async fn websocket_echo_over_http1_upgrade() {
    let server = TestServer::start(|s| s).await;
    let url = format!("ws://{}/echo", server.addr);
    let mut ws = ClientBuilder::new(&url)
        .protocol("chat")
        .connect()
        .await
        .unwrap();
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.negotiated().deflate.is_some(), "deflate negotiated");
    round_trip(&mut ws, "h1").await;
    let mut second = pushwire::connect(&url).await.unwrap();
    assert_eq!(second.protocol(), None);
    round_trip(&mut second, "h1 without subprotocol").await;
    ws.close(None).await.unwrap();
    second.close(None).await.unwrap();
    let stats = server.stats.snapshot();
    assert_eq!((stats.h1_upgrades, stats.extended_connects), (2, 0));
    server
        .wait_for("WebSockets to close", |s| s.open_websockets == 0)
        .await;
}

#[tokio::test]
async fn require_answers_a_plain_request_426() {
    let server = TestServer::start(|s| s).await;
    let head = raw_request(
        server.addr,
        "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{head}");
    assert!(
        lower.contains("\r\nsec-websocket-version: 13\r\n"),
        "{head}"
    );
    assert_eq!(server.stats.snapshot().h1_upgrades, 0);

    // The 426 leaves a keep-alive connection usable.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 426 "), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    tcp.read_exact(&mut body).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
}

#[tokio::test]
async fn malformed_upgrades_get_their_status() {
    let server = TestServer::start(|s| s).await;
    let cases = [
        (
            format!("GET /echo HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 8\r\n\r\n"),
            "426",
        ),
        (
            format!("GET /echo HTTP/1.1\r\nHost: x\r\n{UPGRADE}\r\n"),
            "426",
        ),
        (
            format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n\r\n"),
            "405",
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".to_string(),
            "400",
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n".to_string(),
            "400",
        ),
        (
            format!("GET /accept HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; =\r\n\r\n"),
            "400",
        ),
    ];
    for (raw, status) in cases {
        let head = raw_request(server.addr, &raw).await;
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{raw}\n=> {head}"
        );
        if status == "426" {
            assert!(head
                .to_ascii_lowercase()
                .contains("sec-websocket-version: 13\r\n"));
        }
        if status == "405" {
            assert!(head.to_ascii_lowercase().contains("allow: get\r\n"));
        }
    }
    assert_eq!(server.stats.snapshot().h1_upgrades, 0);
}

#[tokio::test]
async fn accept_serves_a_page_and_a_websocket_on_one_path() {
    let server = TestServer::start(|s| s).await;
    // Two plain requests on one keep-alive connection, then an upgrade on
    // the same connection.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..2 {
        tcp.write_all(b"GET /accept HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let head = read_head(&mut tcp).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-length: 12\r\n"), "{head}");
        let mut body = [0u8; 12];
        tcp.read_exact(&mut body).await.unwrap();
        assert_eq!(&body, b"a plain page");
    }
    tcp.write_all(
        format!("GET /accept HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let head = read_head(&mut tcp).await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head
        .to_ascii_lowercase()
        .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"));
    let mut ws = pushwire::WebSocket::from_upgraded(
        tcp,
        pushwire::proto::Role::Client,
        &Default::default(),
        Default::default(),
        Default::default(),
    );
    ws.send(Message::text("same connection")).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert_eq!(echoed.unwrap().unwrap(), Message::text("same connection"));
    let stats = server.stats.snapshot();
    assert_eq!((stats.h1_requests, stats.h1_upgrades), (3, 1));
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let server = TestServer::start(|s| s).await;
    let head = raw_request(server.addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
}

#[tokio::test]
async fn slow_and_silent_clients_are_disconnected() {
    let server = TestServer::start(|s| s.header_read_timeout(Duration::from_millis(300))).await;
    // Silent: never sends a byte.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // Slowloris: starts a head and never finishes it.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Silent after the HTTP/2 preface's first half.
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    for tcp in [&mut silent, &mut slow, &mut half] {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "connection left open");
    }
    server
        .wait_for("connections to close", |s| s.open_connections == 0)
        .await;
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let server = TestServer::start(|s| s.max_header_bytes(8 << 10)).await;
    let big = "a".repeat(16 << 10);
    let head = raw_request(
        server.addr,
        &format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
    let small = raw_request(server.addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(small.starts_with("HTTP/1.1 200 "), "{small}");
}
