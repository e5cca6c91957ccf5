//! The hub served in process: a consumer that stops reading is handled by
//! its namespace's policy while the others keep receiving, and a server
//! shutdown closes hub WebSockets with 3001 so clients reconnect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pushwire::hub::{Config, Hub};
use pushwire::proto::{Role, Sender};
use pushwire::ws::ClientStream;
use pushwire::{ClientBuilder, Message, WebSocket};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::common::http1::read_head;
use crate::common::hub::serve;
use crate::common::server::TestServer;
use crate::common::LIMIT;

fn hub(config: &str) -> Hub {
    let config: Config = serde_json::from_str(config).unwrap();
    Hub::start(config).unwrap()
}

/// A client connected anonymously and subscribed to `channel`.
async fn subscriber(server: &TestServer<()>, channel: &str) -> WebSocket<ClientStream> {
    let url = format!("ws://{}/connection/websocket", server.addr);
    let mut ws = ClientBuilder::new(&url).connect().await.unwrap();
    let commands = format!(
        "{{\"id\":1,\"connect\":{{}}}}\n{{\"id\":2,\"subscribe\":{{\"channel\":\"{channel}\"}}}}"
    );
    ws.send(Message::text(commands)).await.unwrap();
    let mut replies = 0;
    while replies < 2 {
        let message = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
        let text = message.unwrap().unwrap();
        let text = text.as_text().unwrap();
        assert!(!text.contains("\"error\""), "{text}");
        replies += text.lines().filter(|l| l.contains("\"id\":")).count();
    }
    ws
}

/// A client that subscribes to `channel` and then reads nothing, with a
/// small receive buffer so that what the server writes backs up soon.
async fn stalled_subscriber(server: &TestServer<()>, channel: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(server.addr).await.unwrap();
    let request = format!(
        "GET /connection/websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let commands = format!(
        "{{\"id\":1,\"connect\":{{}}}}\n{{\"id\":2,\"subscribe\":{{\"channel\":\"{channel}\"}}}}"
    );
    let frame = Sender::new(Role::Client, None, 0).encode(&Message::text(commands), [1, 2, 3, 4]);
    tcp.write_all(frame.header()).await.unwrap();
    tcp.write_all(&frame.payload).await.unwrap();
    tcp
}

async fn presence_clients(hub: &Hub, channel: &str) -> u64 {
    let body = format!("{{\"channel\":\"{channel}\"}}");
    let answer = hub.api("presence_stats", Bytes::from(body)).await;
    assert_eq!(answer.status, 200);
    let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    value["result"]["num_clients"].as_u64().unwrap()
}

const TICKER: &str = r#"{
    "client": {"allow_anonymous_connect_without_token": true},
    "channel": {"namespaces": [{
        "name": "ticker", "presence": true, "history_size": 10, "history_ttl": "60s",
        "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true,
        "queue_max_size": 262144, "slow_consumer_policy": "disconnect"
    }]}
}"#;

/// A subscriber that never reads fills its socket, then its queue in the
/// hub, and is disconnected (3008 slow) once that queue passes the
/// namespace's bound, while a subscriber that reads gets every
/// publication, in order, all along.
#[tokio::test]
async fn a_consumer_that_stops_reading_is_cut_and_the_others_carry_on() {
    let hub = hub(TICKER);
    let server = serve(&hub).await;
    let stalled = stalled_subscriber(&server, "ticker:1").await;
    let mut reader = subscriber(&server, "ticker:1").await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while presence_clients(&hub, "ticker:1").await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both subscribed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let received = Arc::new(AtomicU64::new(0));
    let counted = received.clone();
    let reading = tokio::spawn(async move {
        let mut next_offset = 1;
        while let Some(Ok(message)) = reader.recv().await {
            for line in message.as_text().unwrap_or_default().lines() {
                let push: serde_json::Value = serde_json::from_str(line).unwrap();
                if let Some(offset) = push["push"]["pub"]["offset"].as_u64() {
                    assert_eq!(offset, next_offset, "publications in order, none missing");
                    next_offset += 1;
                    counted.store(offset, Ordering::Release);
                }
            }
        }
    });

    // 12 MiB in all: more than the socket buffers (the server's send
    // buffer grows to 4 MiB at most) and the 64 KiB the connection takes
    // from the hub at a time, so the stalled subscriber's backlog reaches
    // the hub. The publisher keeps within 256 publications of the reader.
    let payload = format!("\"{}\"", "x".repeat(1000));
    let body = format!("{{\"channel\":\"ticker:1\",\"data\":{payload}}}");
    let total = 12 * 1024;
    let mut cut_after = None;
    for n in 1..=total {
        let answer = hub.api("publish", Bytes::from(body.clone())).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let deadline = tokio::time::Instant::now() + LIMIT;
        while received.load(Ordering::Acquire) + 256 < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the reader stalled at {n}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if cut_after.is_none() && n % 512 == 0 && presence_clients(&hub, "ticker:1").await == 1 {
            cut_after = Some(n);
        }
    }
    let cut_after = cut_after.expect("the stalled subscriber was never cut");
    assert!(cut_after < total, "cut after {cut_after} publications");
    let stats = hub.stats().await.unwrap();
    assert_eq!(stats.slow_disconnects_total, 1);
    assert_eq!(stats.connections, 1, "only the reader is left");
    let deadline = tokio::time::Instant::now() + LIMIT;
    while received.load(Ordering::Acquire) < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader got every publication"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(stalled);
    reading.abort();
}

/// A server shutdown closes hub WebSockets with 3001: the SDKs reconnect.
#[tokio::test]
async fn shutdown_closes_hub_websockets_with_3001() {
    let hub = hub(TICKER);
    let mut server = serve(&hub).await;
    let mut ws = subscriber(&server, "ticker:2").await;
    server.stop();
    assert_eq!(close_code(&mut ws).await, Some(3001));
}

/// Reads until a close frame arrives; returns its code.
async fn close_code(ws: &mut WebSocket<ClientStream>) -> Option<u16> {
    tokio::time::timeout(LIMIT, async {
        loop {
            match ws.recv().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.0),
                Some(Ok(_)) => continue,
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .unwrap()
}

/// One hub served by several servers, one after another and at once:
/// each server's shutdown closes its own hub WebSockets, and only those.
#[tokio::test]
async fn each_server_of_a_shared_hub_closes_its_own_websockets() {
    let hub = hub(TICKER);
    // The second pair comes after the first is stopped and dropped.
    for _ in 0..2 {
        let mut stopping = serve(&hub).await;
        let mut staying = serve(&hub).await;
        let mut gone = subscriber(&stopping, "ticker:1").await;
        let mut kept = subscriber(&staying, "ticker:1").await;
        stopping.stop();
        assert_eq!(close_code(&mut gone).await, Some(3001));
        let body = r#"{"channel":"ticker:1","data":{"n":1}}"#;
        let answer = hub
            .api("publish", Bytes::from_static(body.as_bytes()))
            .await;
        assert_eq!(answer.status, 200);
        let publication = tokio::time::timeout(LIMIT, kept.recv()).await.unwrap();
        let publication = publication.unwrap().unwrap();
        assert!(
            publication.as_text().unwrap().contains("{\"n\":1}"),
            "{publication:?}"
        );
        staying.stop();
        assert_eq!(close_code(&mut kept).await, Some(3001));
    }
}
