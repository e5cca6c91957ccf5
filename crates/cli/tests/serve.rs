//! `pushwire serve` as a user runs it: the routes, then SIGTERM.

mod common;

use std::process::Command;
use std::time::Duration;

use pushwire::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

async fn get(addr: &str, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(LIMIT, tcp.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

#[tokio::test]
async fn serve_routes_then_stops_on_sigterm() {
    let mut serve = common::serve(&[]);
    let addr = serve.addr.clone();
    let health = get(&addr, "/healthz").await;
    assert!(
        health.starts_with("HTTP/1.1 200 OK\r\n") && health.ends_with("\r\n\r\nok"),
        "{health}"
    );
    let page = get(&addr, "/").await;
    assert!(
        page.contains("text/html") && page.contains("<title>pushwire</title>"),
        "{page}"
    );
    let plain = get(&addr, "/echo").await.to_ascii_lowercase();
    assert!(
        plain.starts_with("http/1.1 426 upgrade required\r\n"),
        "{plain}"
    );
    assert!(plain.contains("\r\nupgrade: websocket\r\n"), "{plain}");
    assert!(
        plain.contains("\r\nsec-websocket-version: 13\r\n"),
        "{plain}"
    );
    assert!(get(&addr, "/missing").await.starts_with("HTTP/1.1 404 "));

    let mut ws = pushwire::connect(&format!("ws://{addr}/echo"))
        .await
        .unwrap();
    assert!(ws.negotiated().deflate.is_some());
    ws.send(Message::text("hello")).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert_eq!(echoed.unwrap().unwrap(), Message::text("hello"));

    let stats = get(&addr, "/stats").await;
    assert!(stats.contains("application/json"), "{stats}");
    assert!(stats.contains("\"h1_upgrades\":1"), "{stats}");
    assert!(stats.contains("\"extended_connects\":0"), "{stats}");

    // SIGTERM: the open WebSocket is closed with 1001, the process exits 0.
    let killed = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let close = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    match close {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, pushwire::CloseCode::GOING_AWAY)
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
    let status = common::exit_status(&mut serve.child, LIMIT).await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn sighup_closes_websockets_with_1012_and_exits() {
    let mut serve = common::serve(&[]);
    let addr = serve.addr.clone();
    let mut ws = pushwire::connect(&format!("ws://{addr}/echo"))
        .await
        .unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert_eq!(echoed.unwrap().unwrap(), Message::text("hello"));
    // A hub connection learns of the restart the same way.
    let mut hub = pushwire::connect(&format!("ws://{addr}/connection/websocket"))
        .await
        .unwrap();
    let killed = Command::new("kill")
        .args(["-HUP", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for ws in [&mut ws, &mut hub] {
        match tokio::time::timeout(LIMIT, ws.recv()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, pushwire::CloseCode::SERVICE_RESTART);
                assert_eq!(frame.reason.as_str(), "server restarting");
            }
            other => panic!("expected close 1012, got {other:?}"),
        }
    }
    let status = common::exit_status(&mut serve.child, LIMIT).await;
    assert!(status.success(), "{status:?}");
}
