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

/// A process started by the one under test, killed when dropped.
struct Successor(u32);

impl Drop for Successor {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn sighup_with_handover_keeps_serving_and_spreads_the_closes() {
    let mut serve = common::serve(&["--handover", "--restart-spread", "2"]);
    let addr = serve.addr.clone();
    let mut sockets = Vec::new();
    for _ in 0..32 {
        sockets.push(
            pushwire::connect(&format!("ws://{addr}/echo"))
                .await
                .unwrap(),
        );
    }
    signal(serve.child.id(), "HUP");
    let line = common::wait_for_line(&serve, "serves now", LIMIT);
    let pid: u32 = line
        .split("restart: process ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no process id in {line:?}"));
    let successor = Successor(pid);
    let started = std::time::Instant::now();
    // The listening socket is the new process's now: a request made
    // while the old one still closes its connections is served.
    let health = get(&addr, "/healthz").await;
    assert!(health.ends_with("\r\n\r\nok"), "{health}");
    let mut closed_at = Vec::new();
    for ws in &mut sockets {
        match tokio::time::timeout(LIMIT, ws.recv()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, pushwire::CloseCode::SERVICE_RESTART)
            }
            other => panic!("expected close 1012, got {other:?}"),
        }
        closed_at.push(started.elapsed());
    }
    let spread = *closed_at.iter().max().unwrap() - *closed_at.iter().min().unwrap();
    assert!(
        spread >= Duration::from_millis(300),
        "32 connections closed within {spread:?} of each other, not spread"
    );
    let status = common::exit_status(&mut serve.child, LIMIT).await;
    assert!(status.success(), "{status:?}");
    // The new process serves on, WebSockets included, and stops as usual.
    let mut ws = pushwire::connect(&format!("ws://{addr}/echo"))
        .await
        .unwrap();
    ws.send(Message::text("still here")).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert_eq!(echoed.unwrap().unwrap(), Message::text("still here"));
    signal(successor.0, "TERM");
    match tokio::time::timeout(LIMIT, ws.recv()).await.unwrap() {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, pushwire::CloseCode::GOING_AWAY)
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
}

#[tokio::test]
async fn sighup_with_handover_and_a_broken_config_keeps_the_old_process() {
    let dir = std::env::temp_dir().join(format!("pushwire-handover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    std::fs::write(&config, r#"{"http_api": {"key": "secret"}}"#).unwrap();
    let serve = common::serve(&["--handover", "--config", config.to_str().unwrap()]);
    let addr = serve.addr.clone();
    let mut ws = pushwire::connect(&format!("ws://{addr}/echo"))
        .await
        .unwrap();
    std::fs::write(&config, r#"{"http_api": {"key": 7}}"#).unwrap();
    signal(serve.child.id(), "HUP");
    let line = common::wait_for_line(&serve, "restart refused", LIMIT);
    assert!(line.contains("exited"), "{line}");
    // Nothing was closed, and the old process still accepts.
    ws.send(Message::text("hello")).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert_eq!(echoed.unwrap().unwrap(), Message::text("hello"));
    let health = get(&addr, "/healthz").await;
    assert!(health.ends_with("\r\n\r\nok"), "{health}");
    std::fs::remove_dir_all(&dir).unwrap();
}
