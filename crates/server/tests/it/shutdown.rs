//! Graceful shutdown: the listener closes, WebSocket handlers that listen
//! are told and close with 1001, and those that do not are dropped at
//! the deadline.

use std::time::{Duration, Instant};

use pushwire::{CloseCode, Message, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::http1::read_head;
use crate::common::http2::{h2_client, h2_websocket};
use crate::common::ws::round_trip;
use crate::common::{TestServer, LIMIT};

#[tokio::test]
async fn websockets_are_closed_with_1001_and_the_server_returns() {
    let mut server = TestServer::start(|s| s.shutdown_timeout(Duration::from_secs(5))).await;
    let mut h1 = pushwire::connect(&format!("ws://{}/echo", server.addr))
        .await
        .unwrap();
    round_trip(&mut h1, "h1").await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    let mut h2 = h2_websocket(&mut client, "/echo").await;
    round_trip(&mut h2, "h2").await;

    // An idle keep-alive connection, after one request.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head(&mut idle).await.starts_with("HTTP/1.1 200 "));

    let started = Instant::now();
    server.stop();
    let mut rest = Vec::new();
    tokio::time::timeout(LIMIT, idle.read_to_end(&mut rest))
        .await
        .expect("the idle connection is closed")
        .unwrap();
    assert_eq!(rest, b"ok", "only the rest of the body, then the close");
    for code in [next_close(&mut h1).await, next_close(&mut h2).await] {
        assert_eq!(code, CloseCode::GOING_AWAY);
    }
    // Both clients answered the close: nothing is left, the server returns
    // well before its deadline.
    tokio::time::timeout(LIMIT, &mut server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "listener closed"
    );
}

async fn next_close<S>(ws: &mut pushwire::WebSocket<S>) -> CloseCode
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(LIMIT, ws.recv()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn handlers_that_ignore_shutdown_are_dropped_at_the_deadline() {
    let deadline = Duration::from_millis(300);
    let mut server = TestServer::start(|s| s.shutdown_timeout(deadline)).await;
    let mut ws = pushwire::connect(&format!("ws://{}/stubborn", server.addr))
        .await
        .unwrap();
    round_trip(&mut ws, "stubborn").await;
    // An idle keep-alive connection does not hold the shutdown up.
    let _idle = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    server.stop();
    tokio::time::timeout(LIMIT, &mut server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= deadline, "{:?}", started.elapsed());
    // The WebSocket's task was dropped: the client sees the stream end.
    let ended = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert!(matches!(ended, Some(Err(_)) | None), "{ended:?}");
    assert_eq!(server.stats.snapshot().open_websockets, 0);
}

#[tokio::test]
async fn a_restart_closes_websockets_with_1012() {
    let mut server = TestServer::start(|s| s).await;
    let mut h1 = pushwire::connect(&format!("ws://{}/echo", server.addr))
        .await
        .unwrap();
    round_trip(&mut h1, "h1").await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    let mut h2 = h2_websocket(&mut client, "/echo").await;
    round_trip(&mut h2, "h2").await;
    server.shut_down(Shutdown::Restart);
    for code in [next_close(&mut h1).await, next_close(&mut h2).await] {
        assert_eq!(code, CloseCode::SERVICE_RESTART);
    }
    tokio::time::timeout(LIMIT, &mut server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_request_begun_as_draining_starts_is_answered_with_connection_close() {
    let mut server = TestServer::start(|s| s.shutdown_timeout(Duration::from_secs(5))).await;
    let mut tcp = keep_alive_after_one_request(server.addr).await;
    // The next request's first line is in when the server begins to drain.
    tcp.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tcp.write_all(b"Host: x\r\n\r\n").await.unwrap();
    answered_with_close_then_closed(&mut tcp).await;
}

#[tokio::test]
async fn a_restart_spreads_the_closes_over_the_restart_spread() {
    let spread = Duration::from_millis(1_000);
    let mut server = TestServer::start(|s| s.restart_spread(spread)).await;
    let mut sockets = Vec::new();
    for _ in 0..16 {
        let mut ws = pushwire::connect(&format!("ws://{}/echo", server.addr))
            .await
            .unwrap();
        round_trip(&mut ws, "spread").await;
        sockets.push(ws);
    }
    let started = Instant::now();
    server.shut_down(Shutdown::Restart);
    let mut closed_at = Vec::new();
    for ws in &mut sockets {
        assert_eq!(next_close(ws).await, CloseCode::SERVICE_RESTART);
        closed_at.push(started.elapsed());
    }
    let first = *closed_at.iter().min().unwrap();
    let last = *closed_at.iter().max().unwrap();
    // 16 connections take 16 consecutive turns of the 64, in the order
    // they were accepted: a quarter of the spread between the first and
    // the last close.
    assert!(
        last - first >= spread / 8,
        "closed between {first:?} and {last:?}: not spread"
    );
    assert!(last < spread + LIMIT, "{last:?}");
    tokio::time::timeout(LIMIT, &mut server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn at_a_restart_an_idle_keep_alive_connection_still_takes_a_request_on_its_way() {
    let mut server = TestServer::start(|s| s.shutdown_timeout(Duration::from_secs(5))).await;
    let mut tcp = keep_alive_after_one_request(server.addr).await;
    server.shut_down(Shutdown::Restart);
    // Sent after the restart began, before the client could know.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    answered_with_close_then_closed(&mut tcp).await;
}

/// A keep-alive connection that has had one `/healthz` answered.
async fn keep_alive_after_one_request(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head(&mut tcp).await.starts_with("HTTP/1.1 200 "));
    let mut body = [0; 2];
    tcp.read_exact(&mut body).await.unwrap();
    tcp
}

/// Reads to the end: one `/healthz` answer with `Connection: close`,
/// then the server's close.
async fn answered_with_close_then_closed(tcp: &mut TcpStream) {
    let mut rest = Vec::new();
    tokio::time::timeout(LIMIT, tcp.read_to_end(&mut rest))
        .await
        .expect("answered, then closed")
        .unwrap();
    let rest = String::from_utf8_lossy(&rest).to_ascii_lowercase();
    assert!(rest.starts_with("http/1.1 200 "), "{rest}");
    assert!(rest.contains("\r\nconnection: close\r\n"), "{rest}");
    assert!(rest.ends_with("\r\n\r\nok"), "{rest}");
}
