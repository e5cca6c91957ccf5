//! The push routes of `pushwire serve`, as the browser page uses them:
//! `/sse` ticks with resume, `/publish` + `/poll` losing and duplicating
//! nothing, poll timeout, body limit, and the cross-origin rule with
//! and without `--allow-origin`.

mod common;

use std::process::Command;
use std::time::Duration;

use pushwire::proto::sse::{Parser, Received};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{serve, Running};

const LIMIT: Duration = Duration::from_secs(10);

/// Starts `pushwire serve` on a free port.
fn start() -> Running {
    serve(&[])
}

/// One request on a fresh connection (`Connection: close`): status line
/// and headers (lower-cased), and body.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (String, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before taking all of a large body.
    let _ = tcp.write_all(body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(LIMIT, tcp.read_to_end(&mut response))
        .await
        .expect("a response in time");
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

async fn publish(addr: &str, text: &str) {
    let (head, body) = request(addr, "POST", "/publish", "", text.as_bytes()).await;
    assert!(head.starts_with("http/1.1 202"), "{head}");
    assert!(body.starts_with("{\"cursor\":"), "{body}");
}

/// Polls; returns the cursor and the messages (the test's messages hold
/// no characters JSON escapes).
async fn poll(addr: &str, cursor: u64, timeout_ms: u64) -> (u64, Vec<String>) {
    let path = format!("/poll?cursor={cursor}&timeout_ms={timeout_ms}");
    let (head, body) = request(addr, "GET", &path, "", b"").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let rest = body.strip_prefix("{\"cursor\":").expect(&body);
    let (cursor, rest) = rest.split_once(",\"messages\":[").expect(&body);
    let list = rest.strip_suffix("]}").expect("no reset");
    let messages = if list.is_empty() {
        Vec::new()
    } else {
        list.split(',')
            .map(|m| m.trim_matches('"').to_owned())
            .collect()
    };
    (cursor.parse().unwrap(), messages)
}

#[tokio::test]
async fn sse_ticks_and_resumes_after_last_event_id() {
    let serve = start();
    for (path, headers) in [("/sse", "Last-Event-ID: 7\r\n"), ("/sse?lastEventId=7", "")] {
        let mut tcp = TcpStream::connect(&serve.addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.0\r\nHost: x\r\n{headers}\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut parser = Parser::new();
        let mut raw = Vec::new();
        let mut items = Vec::new();
        while items
            .iter()
            .filter(|i| matches!(i, Received::Message(_)))
            .count()
            < 3
        {
            let mut buf = [0u8; 1024];
            let n = tokio::time::timeout(LIMIT, tcp.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            if raw.len() < 4 || !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                raw.extend_from_slice(&buf[..n]);
                if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
                    assert!(head.contains("content-type: text/event-stream"), "{head}");
                    parser
                        .feed(&raw[at + 4..])
                        .expect("events within the limit");
                }
            } else {
                parser.feed(&buf[..n]).expect("events within the limit");
            }
            items.extend(parser.by_ref());
        }
        assert_eq!(items[0], Received::Retry(1000));
        let messages: Vec<_> = items
            .into_iter()
            .filter_map(|i| match i {
                Received::Message(m) => Some(m),
                _ => None,
            })
            .collect();
        for (k, m) in messages.iter().enumerate() {
            let n = 8 + k;
            assert_eq!((m.id.clone(), m.event.as_str()), (n.to_string(), "tick"));
            assert_eq!(m.data, format!("{{\"n\":{n}}}"));
        }
    }
}

#[tokio::test]
async fn long_poll_loses_and_duplicates_nothing() {
    let serve = start();
    let addr = serve.addr.clone();
    const N: usize = 60;
    let publisher = tokio::spawn(async move {
        for i in 0..N {
            publish(&addr, &format!("m{i}")).await;
            // Bursts and pauses, so messages land both during and
            // between polls.
            if i % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
    });
    let mut cursor = 0;
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while received.len() < N {
        assert!(tokio::time::Instant::now() < deadline, "got {received:?}");
        let (next, messages) = poll(&serve.addr, cursor, 2000).await;
        assert_eq!(next, cursor + messages.len() as u64);
        cursor = next;
        received.extend(messages);
    }
    publisher.await.unwrap();
    let expected: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert_eq!(received, expected);
    // Caught up: a poll times out empty, keeping the cursor.
    let started = std::time::Instant::now();
    assert_eq!(poll(&serve.addr, cursor, 300).await, (cursor, vec![]));
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_held_poll_returns_when_a_message_is_published() {
    let serve = start();
    let addr = serve.addr.clone();
    let held = tokio::spawn(async move { poll(&addr, 0, 20_000).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished());
    publish(&serve.addr, "wake").await;
    let got = tokio::time::timeout(LIMIT, held).await.unwrap().unwrap();
    assert_eq!(got, (1, vec!["wake".to_string()]));
}

#[tokio::test]
async fn oversized_publish_gets_413() {
    let serve = start();
    let big = vec![b'a'; 64 * 1024 + 1];
    let (head, _) = request(&serve.addr, "POST", "/publish", "", &big).await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    let exact = vec![b'a'; 64 * 1024];
    let (head, _) = request(&serve.addr, "POST", "/publish", "", &exact).await;
    assert!(head.starts_with("http/1.1 202"), "{head}");
    let (head, _) = request(&serve.addr, "GET", "/publish", "", b"").await;
    assert!(head.starts_with("http/1.1 405"), "{head}");
}

#[tokio::test]
async fn cross_origin_rule() {
    let serve = start();
    let own = format!("Origin: http://{}\r\n", serve.addr);
    // Same origin: served, with the origin allowed back.
    let (head, _) = request(&serve.addr, "GET", "/poll?timeout_ms=1", &own, b"").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains(&format!(
            "access-control-allow-origin: http://{}",
            serve.addr
        )),
        "{head}"
    );
    // No Origin: served, no CORS headers.
    let (head, _) = request(&serve.addr, "GET", "/poll?timeout_ms=1", "", b"").await;
    assert!(
        head.starts_with("http/1.1 200") && !head.contains("access-control"),
        "{head}"
    );
    // Another origin (or scheme): refused everywhere.
    for origin in [
        "http://evil.example",
        &format!("https://{}", serve.addr),
        "null",
    ] {
        let header = format!("Origin: {origin}\r\n");
        for (method, path) in [
            ("GET", "/sse"),
            ("GET", "/poll"),
            ("POST", "/publish"),
            ("OPTIONS", "/publish"),
        ] {
            let (head, _) = request(&serve.addr, method, path, &header, b"").await;
            assert!(
                head.starts_with("http/1.1 403"),
                "{origin} {method} {path}: {head}"
            );
            assert!(!head.contains("access-control-allow-origin"), "{head}");
        }
    }
    // Preflight from the own origin.
    for path in ["/publish", "/poll"] {
        let preflight = format!("{own}Access-Control-Request-Method: POST\r\n");
        let (head, _) = request(&serve.addr, "OPTIONS", path, &preflight, b"").await;
        assert!(head.starts_with("http/1.1 204"), "{head}");
        assert!(head.contains("access-control-allow-methods:"), "{head}");
        assert!(head.contains("access-control-allow-origin:"), "{head}");
    }
}

#[tokio::test]
async fn allow_origin_admits_that_origin_to_websockets_and_cors() {
    const APP: &str = "http://app.example:8000";
    let serve = serve(&["--allow-origin", APP]);
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for (origin, allowed) in [(APP, true), ("http://evil.example", false)] {
        let header = format!("Origin: {origin}\r\n");
        let (head, _) = request(&serve.addr, "GET", "/poll?timeout_ms=1", &header, b"").await;
        if allowed {
            assert!(head.starts_with("http/1.1 200"), "{head}");
            let allow = format!("access-control-allow-origin: {origin}");
            assert!(head.contains(&allow), "{head}");
        } else {
            assert!(head.starts_with("http/1.1 403"), "{head}");
        }
        // The WebSocket handshake: 101 is the first line, whatever follows.
        let mut tcp = TcpStream::connect(&serve.addr).await.unwrap();
        let handshake = format!(
            "GET /echo HTTP/1.1\r\nHost: {}\r\n{header}{upgrade}\r\n",
            serve.addr
        );
        tcp.write_all(handshake.as_bytes()).await.unwrap();
        let mut first = [0u8; 12];
        tokio::time::timeout(LIMIT, tcp.read_exact(&mut first))
            .await
            .unwrap()
            .unwrap();
        let expected: &[u8] = if allowed {
            b"HTTP/1.1 101"
        } else {
            b"HTTP/1.1 403"
        };
        assert_eq!(&first, expected, "{origin}");
    }
    // The server's own origin stays allowed.
    let own = format!("Origin: http://{}\r\n", serve.addr);
    let (head, _) = request(&serve.addr, "GET", "/poll?timeout_ms=1", &own, b"").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
}

#[test]
fn a_malformed_allow_origin_is_refused_with_a_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args(["serve", "--allow-origin", "app.example/path"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--allow-origin"), "{stderr}");
    assert!(stderr.contains("http:// or https://"), "{stderr}");
}

/// An event stream opened with HTTP/1.0 (no chunking): the connection
/// and a parser fed with what followed the response head.
async fn open_events(addr: &str, path: &str, headers: &str) -> (TcpStream, Parser) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.0\r\nHost: x\r\n{headers}\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut parser = Parser::new();
    loop {
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(LIMIT, tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the stream ended before its head");
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
            assert!(head.contains("content-type: text/event-stream"), "{head}");
            parser
                .feed(&raw[at + 4..])
                .expect("events within the limit");
            return (tcp, parser);
        }
    }
}

/// The next `count` events: (id, event type, data).
async fn next_events(
    tcp: &mut TcpStream,
    parser: &mut Parser,
    count: usize,
) -> Vec<(String, String, String)> {
    let mut events = Vec::new();
    loop {
        for item in parser.by_ref() {
            if let Received::Message(m) = item {
                events.push((m.id, m.event, m.data));
            }
        }
        if events.len() >= count {
            return events;
        }
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(LIMIT, tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the stream ended");
        parser.feed(&buf[..n]).expect("events within the limit");
    }
}

#[tokio::test]
async fn events_streams_published_messages_and_resumes_after_last_event_id() {
    let serve = start();
    publish(&serve.addr, "before").await;
    // Without a cursor the stream starts at what is published next.
    let (mut tcp, mut parser) = open_events(&serve.addr, "/events", "").await;
    publish(&serve.addr, "one").await;
    publish(&serve.addr, "two\nlines").await;
    let events = next_events(&mut tcp, &mut parser, 2).await;
    let message = |id: &str, data: &str| (id.to_string(), "message".to_string(), data.to_string());
    assert_eq!(events, [message("2", "one"), message("3", "two\nlines")]);

    // A reconnect with Last-Event-ID gets what came after it; ?cursor= too.
    for (path, headers) in [
        ("/events", "Last-Event-ID: 1\r\n"),
        ("/events?cursor=1", ""),
    ] {
        let (mut tcp, mut parser) = open_events(&serve.addr, path, headers).await;
        let events = next_events(&mut tcp, &mut parser, 2).await;
        assert_eq!(events, [message("2", "one"), message("3", "two\nlines")]);
    }
    // A cursor the log never reached: a reset, then the messages to come.
    let (mut tcp, mut parser) = open_events(&serve.addr, "/events?cursor=99", "").await;
    let events = next_events(&mut tcp, &mut parser, 2).await;
    assert_eq!(events[0].1, "reset");
}
