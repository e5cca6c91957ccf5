//! `pushwire subscribe --transport sse` and `--http2` against `pushwire
//! serve`: the subscriber prints, as JSON lines, what the server API
//! published, and after the hub drops it with a reconnect code it
//! recovers what was published meanwhile, once each and in order, over
//! the same transport.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{serve, Running};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(10);

/// The development API key `pushwire serve` printed at start.
fn api_key(serve: &Running) -> String {
    serve
        .log
        .iter()
        .find_map(|line| line.split("X-API-Key: ").nth(1))
        .map(|rest| rest.trim_end_matches(')').trim().to_owned())
        .expect("the development key in the log")
}

/// Waits for `child` to exit by itself, within the limit.
fn wait_with_output(mut child: Child) -> Output {
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pushwire did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `POST /api/batch` with `commands`, on a fresh connection.
fn batch(addr: &str, key: &str, commands: Vec<Value>) {
    let body = json!({ "commands": commands }).to_string();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        tcp,
        "POST /api/batch HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {key}\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(!response.contains("\"error\""), "{response}");
}

/// `GET /metrics`: its sample lines.
fn metrics(addr: &str) -> Vec<String> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        tcp,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    response.lines().map(str::to_owned).collect()
}

fn publish(channel: &str, n: u64) -> Value {
    json!({"publish": {"channel": channel, "data": {"n": n}}})
}

/// `pushwire subscribe URL CHANNEL --count 5 TRANSPORT_ARGS`: two
/// publications live, then a disconnect (3011) and three more before it
/// is back; all five are printed once each, in order. The server's
/// metrics then hold each of `samples` (`name{labels} value`): the
/// transport the two connections took.
fn subscribe_prints_and_recovers(channel: &str, transport_args: &[&str], samples: &[&str]) {
    let serve = serve(&[]);
    let key = api_key(&serve);
    let url = format!("http://{}", serve.addr);
    let mut subscriber = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args(["subscribe", &url, channel, "--count", "5"])
        .args(transport_args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pushwire binary runs");
    let (status_lines, status) = mpsc::channel();
    let stderr = subscriber.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let _ = status_lines.send(line.unwrap());
        }
    });
    let line = status.recv_timeout(LIMIT).expect("a status line");
    assert_eq!(line, format!("pushwire: subscribed to {channel}"));

    batch(
        &serve.addr,
        &key,
        vec![publish(channel, 1), publish(channel, 2)],
    );
    let mut commands =
        vec![json!({"disconnect": {"user": "", "disconnect": {"code": 3011, "reason": "test"}}})];
    commands.extend((3..=5).map(|n| publish(channel, n)));
    batch(&serve.addr, &key, commands);

    let output = wait_with_output(subscriber);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: Vec<String> = (1..=5)
        .map(|n| format!(r#"{{"channel":"{channel}","offset":{n},"data":{{"n":{n}}}}}"#))
        .collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
    let line = status.recv_timeout(LIMIT).expect("a status line");
    assert_eq!(
        line,
        format!("pushwire: {channel}: reconnected, missed publications recovered")
    );
    let scraped = metrics(&serve.addr);
    for sample in samples {
        assert!(
            scraped.iter().any(|line| line == sample),
            "no {sample} in\n{}",
            scraped.join("\n")
        );
    }
}

#[test]
fn subscribe_over_sse_prints_publications_and_recovers() {
    subscribe_prints_and_recovers(
        "chat:sse",
        &["--transport", "sse"],
        &[
            r#"pushwire_transport_connections_opened_total{transport="sse"} 2"#,
            r#"pushwire_transport_connections_opened_total{transport="websocket"} 0"#,
            r#"pushwire_http_requests_total{protocol="http2"} 0"#,
        ],
    );
}

#[test]
fn subscribe_over_an_http2_websocket_prints_publications_and_recovers() {
    subscribe_prints_and_recovers(
        "chat:h2",
        &["--http2"],
        &[
            r#"pushwire_websocket_handshakes_total{protocol="http2"} 2"#,
            r#"pushwire_websocket_handshakes_total{protocol="http1"} 0"#,
        ],
    );
}

#[test]
fn subscribe_over_sse_and_http2_with_a_fallback_order() {
    subscribe_prints_and_recovers(
        "chat:both",
        &["--transport", "sse,websocket", "--http2"],
        &[
            r#"pushwire_transport_connections_opened_total{transport="sse"} 2"#,
            r#"pushwire_transport_connections_opened_total{transport="websocket"} 0"#,
            // The test's two batches and this scrape: the client's
            // streams and POSTs were all HTTP/2.
            r#"pushwire_http_requests_total{protocol="http1"} 3"#,
        ],
    );
}

#[test]
fn an_unknown_transport_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args([
            "subscribe",
            "http://127.0.0.1:9",
            "chat:x",
            "--transport",
            "carrier-pigeon",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown transport"), "{stderr}");
}
