//! The WebSocket connection against real peers over loopback TCP and TLS.

use std::sync::Arc;
use std::time::Duration;

use pushwire::proto::{CloseCode, CloseFrame, Limits};
use pushwire::{accept, connect, ClientBuilder, Message, WebSocket, WebSocketConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::common::http1::read_head;
use crate::common::ws::echo;
use crate::common::LIMIT;

/// Starts a server that runs `handler` on each accepted WebSocket.
async fn serve<F, Fut>(config: WebSocketConfig, handler: F) -> String
where
    F: Fn(WebSocket<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (config, handler) = (config.clone(), handler.clone());
            tokio::spawn(async move {
                if let Ok((ws, _)) = accept(tcp, &config, &["chat"]).await {
                    handler(ws).await;
                }
            });
        }
    });
    format!("ws://{addr}")
}

/// Opens a TCP connection and completes the handshake by hand, for tests
/// that must write bytes no well-behaved client would.
async fn raw_client(url: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    tcp
}

/// Reads the server's close frame (unmasked) and returns its code, then
/// checks that the server closed the TCP connection.
async fn expect_close(tcp: &mut TcpStream) -> u16 {
    let mut rest = Vec::new();
    timeout(LIMIT, tcp.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest[0], 0x88, "expected a close frame: {rest:x?}");
    u16::from_be_bytes([rest[2], rest[3]])
}

/// A masked client frame.
fn masked(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [1, 2, 3, 4];
    let mut out = vec![first_byte, 0x80 | payload.len() as u8];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

#[tokio::test]
async fn echoes_text_and_binary_with_deflate() {
    let url = serve(WebSocketConfig::default(), echo).await;
    let mut ws = ClientBuilder::new(&url)
        .protocol("chat")
        .connect()
        .await
        .unwrap();
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(
        ws.negotiated().deflate.is_some(),
        "deflate is offered and accepted by default"
    );
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    for message in [
        Message::text("hello"),
        Message::binary(big),
        Message::text(""),
        Message::text("κόσμε"),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(
            timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap(),
            message
        );
    }
}

#[tokio::test]
async fn echoes_without_deflate() {
    let url = serve(WebSocketConfig::default(), echo).await;
    let config = WebSocketConfig::default().deflate(None);
    let mut ws = ClientBuilder::new(&url)
        .config(config)
        .connect()
        .await
        .unwrap();
    assert!(ws.negotiated().deflate.is_none());
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("plain"));
}

#[tokio::test]
async fn answers_pings_and_completes_the_close_handshake() {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let done_tx = std::sync::Mutex::new(Some(done_tx));
    let url = serve(WebSocketConfig::default(), move |mut ws| {
        let done = done_tx.lock().unwrap().take();
        async move {
            let mut seen = Vec::new();
            while let Some(message) = ws.recv().await {
                seen.push(message.unwrap());
            }
            let _ = done.unwrap().send(seen);
        }
    })
    .await;
    let mut ws = connect(&url).await.unwrap();
    ws.send(Message::Ping("are you there".into()))
        .await
        .unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Pong("are you there".into())
    );
    ws.close(Some(CloseFrame::new(CloseCode(4000), "bye")))
        .await
        .unwrap();
    assert!(ws.recv().await.is_none());
    let seen = timeout(LIMIT, done_rx).await.unwrap().unwrap();
    assert_eq!(
        seen,
        vec![
            Message::Ping("are you there".into()),
            Message::Close(Some(CloseFrame::new(CloseCode(4000), "bye")))
        ]
    );
}

#[tokio::test]
async fn protocol_errors_close_with_their_code() {
    let limits = Limits::default().max_message_size(64);
    let config = WebSocketConfig::default().limits(limits).deflate(None);
    let url = serve(config, echo).await;
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (vec![0x81, 0x02, b'h', b'i'], 1002), // unmasked
        (masked(0x83, b""), 1002),            // reserved opcode
        (masked(0xc1, b"x"), 1002),           // RSV1 without deflate
        (masked(0x81, &[0xff, 0xfe]), 1007),  // invalid UTF-8
        (masked(0x82, &[0; 100]), 1009),      // over max_message_size
        (masked(0x80, b"x"), 1002),           // continuation without a message
        (masked(0x88, &[0x03]), 1002),        // one-byte close payload
    ];
    for (frame, code) in cases {
        let mut tcp = raw_client(&url).await;
        tcp.write_all(&frame).await.unwrap();
        assert_eq!(expect_close(&mut tcp).await, code, "{frame:x?}");
    }
}

#[tokio::test]
async fn a_hostile_peer_does_not_affect_others() {
    let url = serve(WebSocketConfig::default(), echo).await;
    let mut good = connect(&url).await.unwrap();
    let mut bad = raw_client(&url).await;
    bad.write_all(&[0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert_eq!(expect_close(&mut bad).await, 1002);
    good.send(Message::text("still here")).await.unwrap();
    assert_eq!(
        good.recv().await.unwrap().unwrap(),
        Message::text("still here")
    );
}

#[tokio::test]
async fn plain_http_gets_426_with_the_version() {
    let url = serve(WebSocketConfig::default(), echo).await;
    let mut tcp = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    tcp.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut tcp).await;
    assert!(
        head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{head}"
    );
    assert!(head.contains("Sec-WebSocket-Version: 13\r\n"));
    assert!(head.contains("Upgrade: websocket\r\n"));
}

#[tokio::test]
async fn oversized_handshake_gets_431() {
    let url = serve(WebSocketConfig::default(), echo).await;
    let mut tcp = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    let junk = format!("GET / HTTP/1.1\r\nX-Junk: {}\r\n\r\n", "a".repeat(64 << 10));
    // The server may stop reading and answer before all of it is written.
    let _ = tcp.write_all(junk.as_bytes()).await;
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
}

#[tokio::test]
async fn split_halves_work_from_two_tasks() {
    let url = serve(WebSocketConfig::default(), echo).await;
    let (mut reader, mut writer) = connect(&url).await.unwrap().split();
    const COUNT: usize = 2000;
    let sender = tokio::spawn(async move {
        for i in 0..COUNT {
            writer
                .send(Message::text(format!("message {i}")))
                .await
                .unwrap();
        }
        writer
    });
    for i in 0..COUNT {
        let message = timeout(LIMIT, reader.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(message, Message::text(format!("message {i}")));
    }
    let mut writer = sender.await.unwrap();
    writer.close(None).await.unwrap();
    assert_eq!(
        timeout(LIMIT, reader.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
    );
    assert!(reader.recv().await.is_none());
}

#[tokio::test]
async fn keepalive_drops_a_silent_peer() {
    let (result_tx, result_rx) = tokio::sync::oneshot::channel();
    let result_tx = std::sync::Mutex::new(Some(result_tx));
    let config = WebSocketConfig::default()
        .ping_interval(Some(Duration::from_millis(100)))
        .pong_timeout(Duration::from_millis(200));
    let url = serve(config, move |mut ws| {
        let tx = result_tx.lock().unwrap().take();
        async move {
            let mut pings_sent_then = None;
            while let Some(message) = ws.recv().await {
                if let Err(e) = message {
                    pings_sent_then = Some(e.is_timeout());
                    break;
                }
            }
            let _ = tx.unwrap().send(pings_sent_then);
        }
    })
    .await;
    let mut silent = raw_client(&url).await;
    // The peer stays connected but never answers: the server must give up.
    assert_eq!(
        timeout(LIMIT, result_rx).await.unwrap().unwrap(),
        Some(true)
    );
    let mut received = vec![0u8; 64];
    let n = silent.read(&mut received).await.unwrap();
    assert_eq!(
        &received[..2],
        &[0x89, 0x00],
        "the server pinged first: {:x?}",
        &received[..n]
    );
}

#[tokio::test]
async fn keepalive_keeps_a_live_peer() {
    let config = WebSocketConfig::default()
        .ping_interval(Some(Duration::from_millis(50)))
        .pong_timeout(Duration::from_millis(100));
    let url = serve(config, echo).await;
    let mut ws = connect(&url).await.unwrap();
    // Reading answers the server's pings; the connection outlives many intervals.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(600);
    let mut pings = 0;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, ws.recv()).await {
        if matches!(message.unwrap(), Message::Ping(_)) {
            pings += 1;
        }
    }
    assert!(pings >= 2, "expected pings, got {pings}");
    ws.send(Message::text("alive")).await.unwrap();
    loop {
        match ws.recv().await.unwrap().unwrap() {
            Message::Ping(_) => continue,
            message => break assert_eq!(message, Message::text("alive")),
        }
    }
}

#[tokio::test]
async fn write_buffer_is_bounded_for_a_peer_that_does_not_read() {
    let (amount_tx, amount_rx) = tokio::sync::oneshot::channel();
    let amount_tx = std::sync::Mutex::new(Some(amount_tx));
    let config = WebSocketConfig::default()
        .max_write_buffer(64 << 10)
        .deflate(None);
    let url = serve(config, move |mut ws| {
        let tx = amount_tx.lock().unwrap().take();
        async move {
            let chunk = Message::binary(vec![7u8; 16 << 10]);
            let mut max_seen = 0;
            // The peer never reads: feeding must stop, not grow without bound.
            let _ = timeout(Duration::from_millis(500), async {
                loop {
                    ws.feed(chunk.clone()).await.unwrap();
                    max_seen = max_seen.max(ws.buffered_amount());
                }
            })
            .await;
            let _ = tx.unwrap().send(max_seen);
        }
    })
    .await;
    let _idle = raw_client(&url).await;
    let max_seen = timeout(LIMIT, amount_rx).await.unwrap().unwrap();
    assert!(max_seen >= 64 << 10, "the buffer filled: {max_seen}");
    assert!(
        max_seen <= (64 << 10) + (16 << 10) + 14,
        "bounded by max_write_buffer plus one message: {max_seen}"
    );
}

#[tokio::test]
async fn buffered_amount_drains_to_zero() {
    let url = serve(WebSocketConfig::default(), echo).await;
    let mut ws = connect(&url).await.unwrap();
    ws.feed(Message::text("one")).await.unwrap();
    ws.feed(Message::text("two")).await.unwrap();
    assert!(ws.buffered_amount() > 0);
    ws.flush().await.unwrap();
    assert_eq!(ws.buffered_amount(), 0);
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("one"));
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("two"));
}

#[tokio::test]
async fn close_gives_up_on_a_peer_that_never_replies() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tcp.read(&mut buf).await.unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).to_string();
        let key = request
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let accept = pushwire::proto::ws::handshake::accept_key(key.trim().as_bytes());
        let response = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
        tcp.write_all(response.as_bytes()).await.unwrap();
        // Read everything, answer nothing.
        while tcp.read(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let config = WebSocketConfig::default().close_timeout(Duration::from_millis(200));
    let mut ws = ClientBuilder::new(&url)
        .config(config)
        .connect()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let result = timeout(LIMIT, ws.close(None)).await.unwrap();
    assert!(result.is_err_and(|e| e.is_timeout()));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn wss_with_a_trusted_ca_file() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("pushwire-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // A client that does not trust the certificate aborts the TLS handshake.
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let (mut ws, _) = accept(tls, &WebSocketConfig::default(), &[]).await.unwrap();
            while let Some(Ok(message)) = ws.recv().await {
                if message.is_data() {
                    ws.send(message).await.unwrap();
                }
            }
        }
    });
    let url = format!("wss://localhost:{port}/secure");
    // Without the CA the certificate is not trusted.
    assert!(connect(&url).await.is_err());
    let mut ws = ClientBuilder::new(&url)
        .ca_file(&ca)
        .connect()
        .await
        .unwrap();
    ws.send(Message::text("over TLS")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over TLS"));
    ws.close(None).await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
