//! `GET /metrics` of `pushwire serve`: after a client connects and
//! subscribes and the server API publishes, the scrape shows it, in the
//! Prometheus text format.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use pushwire::{ClientBuilder, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

/// One HTTP/1.1 request on its own connection: the whole response.
async fn request(addr: &str, head: &str, body: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(LIMIT, tcp.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

async fn recv_json(ws: &mut pushwire::WebSocket<pushwire::ws::ClientStream>) -> serde_json::Value {
    let message = tokio::time::timeout(LIMIT, ws.recv())
        .await
        .expect("a message in time")
        .expect("a message")
        .unwrap();
    let Message::Text(text) = message else {
        panic!("expected text, got {message:?}");
    };
    serde_json::from_str(text.as_str().lines().next().unwrap()).unwrap()
}

/// Checks the exposition format: `# HELP`/`# TYPE` comments, and
/// `name{labels} value` samples with a `pushwire_` name. Gives the
/// samples by `name{labels}`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP pushwire_") || comment.starts_with("TYPE pushwire_"),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, Some(labels)),
            None => (series, None),
        };
        assert!(name.starts_with("pushwire_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = labels {
            let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
            for label in labels.split(',') {
                let (key, quoted) = label.split_once('=').unwrap_or_else(|| panic!("{line}"));
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(
                    quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'),
                    "{line}"
                );
            }
        }
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            value => value.parse().unwrap_or_else(|_| panic!("{line}")),
        };
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "twice: {line}"
        );
    }
    samples
}

#[tokio::test]
async fn metrics_show_the_hub_moving() {
    let dir = std::env::temp_dir().join(format!("pushwire-metrics-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("hub.json");
    std::fs::write(
        &config,
        r#"{
            "client": {"allow_anonymous_connect_without_token": true},
            "channel": {"without_namespace": {"allow_subscribe_for_anonymous": true,
                                              "allow_subscribe_for_client": true}},
            "http_api": {"key": "metrics-api-key"}
        }"#,
    )
    .unwrap();
    let serve = common::serve(&["--config", config.to_str().unwrap()]);
    let addr = serve.addr.as_str();

    let mut ws = ClientBuilder::new(format!("ws://{addr}/connection/websocket"))
        .connect()
        .await
        .unwrap();
    ws.send(Message::text(
        "{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"news\"}}",
    ))
    .await
    .unwrap();
    let connected = recv_json(&mut ws).await;
    assert!(connected["connect"]["client"].is_string(), "{connected}");

    let published = request(
        addr,
        "POST /api/publish HTTP/1.1\r\nX-API-Key: metrics-api-key\r\nContent-Type: application/json",
        r#"{"channel":"news","data":{"text":"hi"}}"#,
    )
    .await;
    assert!(published.starts_with("HTTP/1.1 200 "), "{published}");
    // The publication reaches the subscriber (after the subscribe reply,
    // which may share its frame with the connect reply).
    loop {
        let message = recv_json(&mut ws).await;
        if message["push"]["pub"].is_object() {
            break;
        }
    }

    let scraped = request(addr, "GET /metrics HTTP/1.1", "").await;
    let (head, text) = scraped.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let samples = parse(text);
    let get = |name: &str| {
        *samples
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert_eq!(get("pushwire_connections"), 1.0, "{text}");
    assert_eq!(
        get(r#"pushwire_transport_connections{transport="websocket"}"#),
        1.0
    );
    assert_eq!(
        get(r#"pushwire_transport_connections{transport="uni_sse"}"#),
        0.0
    );
    assert_eq!(get("pushwire_subscriptions"), 1.0);
    assert_eq!(get("pushwire_channels"), 1.0);
    assert!(get("pushwire_publications_total") >= 1.0, "{text}");
    assert!(get("pushwire_deliveries_total") >= 1.0, "{text}");
    assert!(get("pushwire_connects_total") >= 1.0, "{text}");
    assert!(
        get("pushwire_hub_round_duration_seconds_count") >= 1.0,
        "{text}"
    );
    assert!(
        get(r#"pushwire_http_requests_total{protocol="http1"}"#) >= 2.0,
        "{text}"
    );
    assert_eq!(
        get(r#"pushwire_websocket_handshakes_total{protocol="http1"}"#),
        1.0
    );
    assert_eq!(get("pushwire_open_websockets"), 1.0);

    // The client leaves: the gauges go back.
    ws.close(None).await.unwrap();
    drop(ws);
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let scraped = request(addr, "GET /metrics HTTP/1.1", "").await;
        let samples = parse(scraped.split_once("\r\n\r\n").unwrap().1);
        let websockets = samples[r#"pushwire_transport_connections{transport="websocket"}"#];
        if samples["pushwire_connections"] == 0.0 && websockets == 0.0 {
            assert_eq!(samples["pushwire_subscriptions"], 0.0);
            assert_eq!(
                samples[r#"pushwire_transport_connections_opened_total{transport="websocket"}"#],
                1.0
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still open:\n{scraped}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(serve);
    std::fs::remove_dir_all(dir).unwrap();
}
