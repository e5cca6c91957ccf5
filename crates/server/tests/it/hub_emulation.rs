//! The hub's emulation transports served in process, from the wire: a
//! session's commands posted to `/emulation` are answered on its
//! `http_stream` response, over HTTP/1.1 and HTTP/2 alike; a stream the
//! client drops (a closed connection, an HTTP/2 reset) frees its hub
//! connection; a server shutdown ends every stream with a 3001
//! disconnect push, so clients reconnect rather than wait out the
//! shutdown timeout.

use std::time::Duration;

use bytes::Bytes;
use h2::RecvStream;
use http::{Request, StatusCode};
use pushwire::hub::{Config, Hub};
use tokio::net::TcpStream;

use crate::common::http1::{Chunk, Conn};
use crate::common::http2::{h2_handshake, h2_response};
use crate::common::hub::serve;
use crate::common::server::TestServer;
use crate::common::LIMIT;

const CONFIG: &str = r#"{
    "client": {"allow_anonymous_connect_without_token": true},
    "http_api": {"insecure": true},
    "channel": {"without_namespace": {
        "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true
    }}
}"#;

const CONNECT: &str = r#"{"id":1,"connect":{}}"#;

fn start_hub() -> Hub {
    let config: Config = serde_json::from_str(CONFIG).unwrap();
    Hub::start(config).unwrap()
}

/// Waits until the hub counts `want` connections.
async fn connections(hub: &Hub, want: u64) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let now = hub.stats().await.unwrap().connections;
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{now} hub connections, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The session named in a connect reply line.
fn session_of(line: &str) -> String {
    let reply: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(reply["id"], 1, "{line}");
    reply["connect"]["session"].as_str().unwrap().to_string()
}

/// The body of an `/emulation` request carrying `commands`.
fn emulation_body(session: &str, commands: &str) -> String {
    serde_json::json!({"session": session, "node": "", "data": commands}).to_string()
}

/// An HTTP/1.1 `http_stream` (or `uni_http_stream`) response: its head
/// read, the chunked body to come.
async fn open_stream(server: &TestServer<()>, path: &str, body: &str) -> Conn {
    let mut conn = server.http1().await;
    conn.send(format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .await;
    let head = conn.head().await.expect("a response");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    conn
}

/// The next complete line of a chunked newline-delimited body; `None`
/// at its end.
async fn next_line(conn: &mut Conn, pending: &mut String) -> Option<String> {
    loop {
        if let Some(at) = pending.find('\n') {
            let line = pending[..at].to_string();
            pending.drain(..=at);
            return Some(line);
        }
        match conn.chunk().await? {
            Chunk::Data(data) => pending.push_str(std::str::from_utf8(&data).unwrap()),
            Chunk::End(_) => return None,
        }
    }
}

#[tokio::test]
async fn commands_posted_to_emulation_are_answered_on_the_stream() {
    let hub = start_hub();
    let server = serve(&hub).await;
    let mut stream = open_stream(&server, "/connection/http_stream", CONNECT).await;
    let mut pending = String::new();
    let session = session_of(&next_line(&mut stream, &mut pending).await.unwrap());

    let subscribe = r#"{"id":2,"subscribe":{"channel":"news"}}"#;
    let mut poster = server.http1().await;
    let body = emulation_body(&session, subscribe);
    let answer = poster
        .exchange(format!(
            "POST /emulation HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
    assert_eq!(answer.status, 204);
    assert_eq!(
        next_line(&mut stream, &mut pending).await.unwrap(),
        r#"{"id":2,"subscribe":{}}"#
    );
    let published = hub
        .api("publish", r#"{"channel":"news","data":{"n":1}}"#.into())
        .await;
    assert_eq!(published.status, 200);
    assert_eq!(
        next_line(&mut stream, &mut pending).await.unwrap(),
        r#"{"push":{"channel":"news","pub":{"data":{"n":1}}}}"#
    );

    // The client goes away: its hub connection is freed, and the session
    // is gone (a later post is still 204: its stream has ended).
    connections(&hub, 1).await;
    drop(stream);
    connections(&hub, 0).await;
    let answer = poster
        .exchange(format!(
            "POST /emulation HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
    assert_eq!(answer.status, 204);
}

/// One HTTP/2 request: its response head and body stream.
async fn h2_post(
    client: &h2::client::SendRequest<Bytes>,
    path: &str,
    body: String,
) -> (StatusCode, RecvStream) {
    let mut client = tokio::time::timeout(LIMIT, client.clone().ready())
        .await
        .unwrap()
        .unwrap();
    let request = Request::post(format!("http://localhost{path}"))
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(Bytes::from(body), true).unwrap();
    let response = h2_response(response).await;
    let status = response.status();
    (status, response.into_body())
}

/// The next line of an HTTP/2 newline-delimited body.
async fn h2_line(body: &mut RecvStream, pending: &mut String) -> String {
    loop {
        if let Some(at) = pending.find('\n') {
            let line = pending[..at].to_string();
            pending.drain(..=at);
            return line;
        }
        let chunk = tokio::time::timeout(LIMIT, body.data())
            .await
            .unwrap()
            .expect("the stream goes on")
            .unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        pending.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn http_stream_over_http2_and_its_reset() {
    let hub = start_hub();
    let server = serve(&hub).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let client = h2_handshake(tcp).await;
    let (status, mut stream) = h2_post(&client, "/connection/http_stream", CONNECT.into()).await;
    assert_eq!(status, 200);
    let mut pending = String::new();
    let session = session_of(&h2_line(&mut stream, &mut pending).await);
    // The emulation request on the same connection, another stream.
    let subscribe = r#"{"id":2,"subscribe":{"channel":"h2"}}"#;
    let (status, _) = h2_post(&client, "/emulation", emulation_body(&session, subscribe)).await;
    assert_eq!(status, 204);
    assert_eq!(
        h2_line(&mut stream, &mut pending).await,
        r#"{"id":2,"subscribe":{}}"#
    );
    connections(&hub, 1).await;
    // Dropping the receiving half resets the stream (RST_STREAM): the
    // response body is dropped and the hub connection with it.
    drop(stream);
    connections(&hub, 0).await;
}

#[tokio::test]
async fn a_shutdown_ends_the_streams_with_a_3001_disconnect_push() {
    let hub = start_hub();
    let mut server = serve(&hub).await;
    let mut bidi = open_stream(&server, "/connection/http_stream", CONNECT).await;
    let mut uni = open_stream(&server, "/connection/uni_http_stream", "{}").await;
    let (mut bidi_lines, mut uni_lines) = (String::new(), String::new());
    session_of(&next_line(&mut bidi, &mut bidi_lines).await.unwrap());
    let connected = next_line(&mut uni, &mut uni_lines).await.unwrap();
    assert!(connected.starts_with(r#"{"connect":{"#), "{connected}");
    connections(&hub, 2).await;

    server.stop();
    assert_eq!(
        next_line(&mut bidi, &mut bidi_lines).await.unwrap(),
        r#"{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}"#
    );
    assert_eq!(next_line(&mut bidi, &mut bidi_lines).await, None, "the end");
    assert_eq!(
        next_line(&mut uni, &mut uni_lines).await.unwrap(),
        r#"{"disconnect":{"code":3001,"reason":"shutdown"}}"#
    );
    assert_eq!(next_line(&mut uni, &mut uni_lines).await, None, "the end");
    // The server stops at once, not at its shutdown timeout.
    tokio::time::timeout(LIMIT, server.task)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    connections(&hub, 0).await;
}
