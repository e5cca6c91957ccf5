//! `pushwire echo --broadcast`: what one client sends reaches every
//! client, and a subscriber that stops reading is disconnected without
//! holding up the others.

mod common;

use std::time::Duration;

use common::Running;
use pushwire::ws::ClientStream;
use pushwire::{Message, WebSocket};

const LIMIT: Duration = Duration::from_secs(20);
/// How long the endpoint lets a subscriber's write stay pending
/// (`SEND_DEADLINE` in crates/cli/src/broadcast.rs).
const SEND_DEADLINE: Duration = Duration::from_secs(5);

fn start() -> Running {
    common::start(
        &[
            "echo",
            "--broadcast",
            "--no-deflate",
            "--listen",
            "127.0.0.1:0",
        ],
        "listening on ws://",
    )
}

async fn next(ws: &mut WebSocket<ClientStream>) -> Message {
    tokio::time::timeout(LIMIT, ws.recv())
        .await
        .expect("a message in time")
        .expect("the connection is open")
        .expect("no error")
}

#[tokio::test]
async fn every_client_receives_every_publication() {
    let echo = start();
    let url = format!("ws://{}/", echo.addr);
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(pushwire::connect(&url).await.unwrap());
    }
    // Every client is subscribed once its first own message comes back.
    for (n, client) in clients.iter_mut().enumerate() {
        let hello = Message::text(format!("hello from {n}"));
        client.send(hello.clone()).await.unwrap();
        while next(client).await != hello {}
    }
    clients[1]
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    for client in &mut clients {
        // Past the later clients' hellos, the publication.
        let mut message = next(client).await;
        while message.as_text().is_some() {
            message = next(client).await;
        }
        assert_eq!(message, Message::binary(vec![1u8, 2, 3]));
    }
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_dropped_and_the_others_get_everything() {
    let echo = start();
    let url = format!("ws://{}/", echo.addr);
    let mut publisher = pushwire::connect(&url).await.unwrap();
    let mut stalled = pushwire::connect(&url).await.unwrap();
    for ws in [&mut publisher, &mut stalled] {
        ws.send(Message::text("ready")).await.unwrap();
    }
    for _ in 0..2 {
        assert_eq!(next(&mut publisher).await, Message::text("ready"));
    }
    // `stalled` reads nothing more; the publisher sends from one half and
    // reads everything back on the other.
    const COUNT: usize = 3000;
    let payload = vec![7u8; 16 << 10];
    let (mut reader, mut writer) = publisher.split();
    let read = async {
        for _ in 0..COUNT {
            let message = reader.recv().await.expect("open").expect("no error");
            assert_eq!(message.len(), payload.len());
        }
    };
    let write = async {
        for _ in 0..COUNT {
            writer.send(Message::binary(payload.clone())).await.unwrap();
        }
    };
    tokio::time::timeout(LIMIT, async { tokio::join!(write, read) })
        .await
        .expect("the reading subscriber got every publication in time");
    // 3000 × 16 KiB is more than the write buffer and the kernel's
    // socket buffers hold, so the stalled one's writes stopped; once the
    // send deadline is over it is cut off, and what it reads ends before
    // all 3000 publications, with a close or an error.
    tokio::time::sleep(SEND_DEADLINE + Duration::from_secs(1)).await;
    let mut received = 0;
    let ended = loop {
        match tokio::time::timeout(LIMIT, stalled.recv()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break format!("close {frame:?}"),
            Some(Ok(_)) => received += 1,
            Some(Err(e)) => break format!("error {e}"),
            None => break "end".to_string(),
        }
    };
    assert!(received < COUNT, "received {received}, then {ended}");
}
