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
