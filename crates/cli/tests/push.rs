//! Publishing to `pushwire serve` takes credentials: the old open demo
//! routes (`POST /publish`, `GET /poll`, `/sse`, `/events`) are gone, so
//! no client without the API key can fill a backlog that one small
//! request then turns into a huge response; the hub's server API answers
//! only with its key.

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::serve;

const LIMIT: Duration = Duration::from_secs(10);

/// One request on a fresh connection (`Connection: close`): the status
/// line and headers, lower-cased, and the body.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (String, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(LIMIT, tcp.read_to_end(&mut response))
        .await
        .expect("a response in time")
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn the_open_demo_routes_are_gone() {
    let serve = serve(&[]);
    for (method, path, body) in [
        ("POST", "/publish", "hello"),
        ("GET", "/poll?cursor=0", ""),
        ("GET", "/sse", ""),
        ("GET", "/events", ""),
    ] {
        let (head, _) = request(&serve.addr, method, path, "", body).await;
        assert!(head.starts_with("http/1.1 404 "), "{method} {path}: {head}");
    }
}

#[tokio::test]
async fn publishing_takes_the_api_key() {
    let serve = serve(&[]);
    let key = serve
        .log
        .iter()
        .find_map(|line| line.split("X-API-Key: ").nth(1))
        .map(|rest| rest.trim_end_matches(')').trim().to_owned())
        .expect("the development key in the log");
    // The development defaults print the key at start; a client without it
    // is refused.
    let publish = r#"{"channel":"chat:index","data":{"text":"hi"}}"#;
    let (head, _) = request(&serve.addr, "POST", "/api/publish", "", publish).await;
    assert!(head.starts_with("http/1.1 401 "), "{head}");
    let wrong = "X-API-Key: wrong\r\n";
    let (head, _) = request(&serve.addr, "POST", "/api/publish", wrong, publish).await;
    assert!(head.starts_with("http/1.1 401 "), "{head}");
    let with_key = format!("X-API-Key: {key}\r\n");
    let (head, body) = request(&serve.addr, "POST", "/api/publish", &with_key, publish).await;
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert!(body.contains("\"result\""), "{body}");
}
