//! Request smuggling (RFC 9112 sections 2.2, 3.2, 5, 6 and 7): requests
//! whose framing a lenient reader could take another way than a strict
//! one, each sent over raw TCP with a second request pipelined after it.
//!
//! Every case asserts one of two outcomes: the request is served exactly
//! as a strict parser reads it, and the pipelined `GET /after` is then
//! answered as the next request; or it is refused (`400`, `501` for an
//! unknown transfer coding, `505` for another major version) with
//! `Connection: close` and the connection closes, the pipelined request
//! never answered. Bodies of refused requests hide a `GET /smuggled`,
//! which must never reach the service.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{Request, Response};
use hyper::service::service_fn;
use pushwire::{Body, RequestBody};

use crate::common::http1::Read;
use crate::common::{app, TestServer};

/// The request pipelined after every case.
const AFTER: &str = "GET /after HTTP/1.1\r\nHost: x\r\n\r\n";
/// A request hidden in bodies, which a second reading would serve.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

/// What the server must do with a case.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// A `200` with this body, and the connection goes on.
    Served(&'static str),
    /// This status with `Connection: close`, then the close.
    Refused(u16),
}
use Outcome::{Refused, Served};

/// Requests the service saw, by path.
#[derive(Default)]
struct Hits {
    after: AtomicUsize,
    smuggled: AtomicUsize,
}

/// `/after` and `/smuggled` are counted; `/mirror` answers with the body
/// read whole (`400` if it fails) and `/echo` is a WebSocket echo (the
/// test application's); anything else is `ok`.
async fn route(req: Request<RequestBody>, hits: Arc<Hits>) -> Result<Response<Body>, Infallible> {
    let text = match req.uri().path() {
        "/mirror" | "/echo" => return app::route(req).await,
        "/after" => {
            hits.after.fetch_add(1, Ordering::SeqCst);
            "after"
        }
        "/smuggled" => {
            hits.smuggled.fetch_add(1, Ordering::SeqCst);
            "smuggled"
        }
        _ => "ok",
    };
    Ok(Response::new(Body::from(text)))
}

async fn start() -> TestServer<Arc<Hits>> {
    let hits = Arc::new(Hits::default());
    let shared = hits.clone();
    let service = service_fn(move |req| route(req, shared.clone()));
    TestServer::serve(|s| s, hits, service).await
}

/// A POST to `/mirror` with these header lines (each ending in CRLF) and
/// this body.
fn post(fields: &str, body: &str) -> String {
    format!("POST /mirror HTTP/1.1\r\nHost: x\r\n{fields}\r\n{body}")
}

/// A chunked POST to `/mirror` whose body is `chunks`.
fn chunked(chunks: &str) -> String {
    post("Transfer-Encoding: chunked\r\n", chunks)
}

/// A GET with this request line and these header lines.
fn head(line: &str, fields: &str) -> String {
    format!("{line}\r\n{fields}\r\n")
}

/// A WebSocket handshake to `/echo` with these extra header lines; the
/// body a masked text frame `hello, frames`.
fn handshake(fields: &str, body: &str) -> String {
    format!(
        "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: chat\r\n{fields}\r\n{body}"
    )
}

/// A masked text frame `hi` (mask 0) as a body, its first two bytes
/// (0x81 0x82) sent as UTF-8.
const FRAME: &str = "\u{81}\u{82}\0\0\0\0hi";

/// The cases, by class: name, request, outcome.
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, &'static str, String, Outcome)> {
    let s = SMUGGLED;
    let smuggled_chunks = format!("0\r\n\r\n{s}");
    let hidden = smuggled_chunks.len();
    let frame = FRAME.len();
    vec![
        // Content-Length and Transfer-Encoding (RFC 9112 section 6).
        ("cl-te", "CL then TE", post(&format!("Content-Length: {hidden}\r\nTransfer-Encoding: chunked\r\n"), &smuggled_chunks), Refused(400)),
        ("cl-te", "TE then CL", post(&format!("Transfer-Encoding: chunked\r\nContent-Length: {hidden}\r\n"), &smuggled_chunks), Refused(400)),
        ("cl-te", "CL 0 and TE", post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", &smuggled_chunks), Refused(400)),
        ("cl-te", "TE in HTTP/1.0", format!("POST /mirror HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{smuggled_chunks}"), Refused(400)),
        ("content-length", "twice, same value", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), Served("hello")),
        ("content-length", "a list of the same value", post("Content-Length: 5, 5\r\n", "hello"), Served("hello")),
        ("content-length", "leading zeros", post("Content-Length: 005\r\n", "hello"), Served("hello")),
        ("content-length", "twice, different values", post("Content-Length: 5\r\nContent-Length: 41\r\n", &format!("hello{s}")), Refused(400)),
        ("content-length", "a list of different values", post("Content-Length: 5, 41\r\n", &format!("hello{s}")), Refused(400)),
        ("content-length", "plus sign", post("Content-Length: +5\r\n", "hello"), Refused(400)),
        ("content-length", "negative", post("Content-Length: -5\r\n", "hello"), Refused(400)),
        ("content-length", "hexadecimal", post("Content-Length: 0x5\r\n", "hello"), Refused(400)),
        ("content-length", "two numbers", post("Content-Length: 5 5\r\n", "hello"), Refused(400)),
        ("content-length", "empty", post("Content-Length: \r\n", "hello"), Refused(400)),
        ("content-length", "overflowing u64", post("Content-Length: 18446744073709551621\r\n", "hello"), Refused(400)),
        ("transfer-encoding", "chunked, any case", post("Transfer-Encoding: ChUnKeD\r\n", "5\r\nhello\r\n0\r\n\r\n"), Served("hello")),
        ("transfer-encoding", "tab before the value", post("Transfer-Encoding:\tchunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), Served("hello")),
        ("transfer-encoding", "chunked not last", post("Transfer-Encoding: chunked, identity\r\n", &smuggled_chunks), Refused(400)),
        ("transfer-encoding", "chunked not last, two fields", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", &smuggled_chunks), Refused(400)),
        ("transfer-encoding", "chunked, chunked", post("Transfer-Encoding: chunked, chunked\r\n", &smuggled_chunks), Refused(400)),
        ("transfer-encoding", "chunked in two fields", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", &smuggled_chunks), Refused(400)),
        ("transfer-encoding", "unknown coding alone", post("Transfer-Encoding: gzip\r\n", &smuggled_chunks), Refused(400)),
        ("transfer-encoding", "unknown coding, then chunked", post("Transfer-Encoding: gzip, chunked\r\n", &smuggled_chunks), Refused(501)),
        ("transfer-encoding", "chunked with a parameter", post("Transfer-Encoding: chunked;q=1\r\n", &smuggled_chunks), Refused(400)),
        ("transfer-encoding", "empty", post("Transfer-Encoding: \r\n", &smuggled_chunks), Refused(400)),
        ("transfer-encoding", "vertical tab before chunked", post("Transfer-Encoding: \u{b}chunked\r\n", &smuggled_chunks), Refused(400)),
        // Field syntax (RFC 9112 section 5).
        ("field syntax", "space before the colon", post("Transfer-Encoding : chunked\r\n", &smuggled_chunks), Refused(400)),
        ("field syntax", "tab before the colon", post("Content-Length\t: 5\r\n", "hello"), Refused(400)),
        ("field syntax", "obs-fold", head("GET / HTTP/1.1", "Host: x\r\nX-Folded: a\r\n b\r\n"), Refused(400)),
        ("field syntax", "obs-fold of Transfer-Encoding", post("Transfer-Encoding: identity\r\n chunked\r\n", &smuggled_chunks), Refused(400)),
        ("field syntax", "a field line starting with a space", head("GET / HTTP/1.1", " Host: x\r\nHost: x\r\n"), Refused(400)),
        ("field syntax", "no colon", head("GET / HTTP/1.1", "Host: x\r\nTransfer-Encoding chunked\r\n"), Refused(400)),
        ("field syntax", "NUL in a value", head("GET / HTTP/1.1", "Host: x\r\nX: a\0b\r\n"), Refused(400)),
        ("field syntax", "DEL in a name", head("GET / HTTP/1.1", "Host: x\r\nX\u{7f}: a\r\n"), Refused(400)),
        // Line endings (RFC 9112 section 2.2).
        ("line endings", "request line ends in bare LF", "GET / HTTP/1.1\nHost: x\r\n\r\n".to_string(), Refused(400)),
        ("line endings", "field line ends in bare LF", head("GET / HTTP/1.1", "Host: x\n"), Refused(400)),
        ("line endings", "bare LF hides a field", post("X: a\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", "hello"), Refused(400)),
        ("line endings", "empty line is a bare LF", "GET / HTTP/1.1\r\nHost: x\r\n\n".to_string(), Refused(400)),
        ("line endings", "bare CR in a value", head("GET / HTTP/1.1", "Host: x\r\nX: a\rb\r\n"), Refused(400)),
        ("line endings", "CR CR LF", head("GET / HTTP/1.1", "Host: x\r\r\n"), Refused(400)),
        ("line endings", "bare CR in the request line", head("GET /\r HTTP/1.1", "Host: x\r\n"), Refused(400)),
        // The chunk-size line (RFC 9112 section 7.1).
        ("chunk size", "upper-case hex and leading zeros", chunked("000A\r\n0123456789\r\n0\r\n\r\n"), Served("0123456789")),
        ("chunk size", "trailing space", chunked(&format!("5 \r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "trailing tab", chunked(&format!("5\t\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "leading space", chunked(&format!(" 5\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "0x prefix", chunked(&format!("0x5\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "negative", chunked(&format!("-5\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "empty", chunked(&format!("\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "overflowing u64 (17 digits)", chunked(&format!("10000000000000005\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "overflowing u64 (many zeros)", chunked(&format!("{}5\r\nhello\r\n{smuggled_chunks}", "0".repeat(40))), Refused(400)),
        ("chunk size", "line ends in bare LF", chunked(&format!("5\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "data longer than the size", chunked(&format!("3\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "data ends in bare LF", chunked(&format!("5\r\nhello\n{smuggled_chunks}")), Refused(400)),
        ("chunk size", "last chunk missing its CRLF", chunked(&format!("0\r\n{s}")), Refused(400)),
        // Chunk extensions (RFC 9112 section 7.1.1): "funky chunks".
        ("chunk extension", "name", chunked("5;a\r\nhello\r\n0\r\n\r\n"), Served("hello")),
        ("chunk extension", "token value", chunked("5;a=b\r\nhello\r\n0\r\n\r\n"), Served("hello")),
        ("chunk extension", "quoted value", chunked("5;a=\"b; c\"\r\nhello\r\n0\r\n\r\n"), Served("hello")),
        ("chunk extension", "BWS around ; and =", chunked("5 ; a = b\r\nhello\r\n0 ;z\r\n\r\n"), Served("hello")),
        ("chunk extension", "on the last chunk", chunked("5\r\nhello\r\n0;a=b\r\n\r\n"), Served("hello")),
        ("chunk extension", "bare LF", chunked(&format!("5;a\nb\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "bare LF hiding a size", chunked(&format!("2;\n5\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "bare CR", chunked(&format!("5;a\rb\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "NUL", chunked(&format!("5;a\0\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "control byte in a value", chunked(&format!("5;a=\u{1}\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "DEL in a quoted value", chunked(&format!("5;a=\"\u{7f}\"\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "unterminated quote", chunked(&format!("5;a=\"b\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "no name", chunked(&format!("5;=b\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "empty", chunked(&format!("5;\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "space inside", chunked(&format!("5;a b\r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        ("chunk extension", "trailing space", chunked(&format!("5;a \r\nhello\r\n{smuggled_chunks}")), Refused(400)),
        // Trailer sections (RFC 9112 section 7.1.2, RFC 9110 section 6.5.1).
        ("trailers", "an ordinary field", chunked("5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"), Served("hello")),
        ("trailers", "Content-Length", chunked(&format!("5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n{s}")), Refused(400)),
        ("trailers", "Transfer-Encoding", chunked(&format!("5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n{s}")), Refused(400)),
        ("trailers", "Host", chunked(&format!("5\r\nhello\r\n0\r\nHost: evil\r\n\r\n{s}")), Refused(400)),
        ("trailers", "Connection", chunked(&format!("5\r\nhello\r\n0\r\nConnection: close\r\n\r\n{s}")), Refused(400)),
        ("trailers", "obs-fold", chunked(&format!("5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n{s}")), Refused(400)),
        ("trailers", "bare LF", chunked(&format!("5\r\nhello\r\n0\r\nX: a\n\r\n{s}")), Refused(400)),
        ("trailers", "space before the colon", chunked(&format!("5\r\nhello\r\n0\r\nX : a\r\n\r\n{s}")), Refused(400)),
        // Host (RFC 9112 section 3.2).
        ("host", "missing in HTTP/1.1", head("GET / HTTP/1.1", ""), Refused(400)),
        ("host", "missing in HTTP/1.0", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_string(), Served("ok")),
        ("host", "twice", head("GET / HTTP/1.1", "Host: x\r\nHost: y\r\n"), Refused(400)),
        ("host", "twice, same value", head("GET / HTTP/1.1", "Host: x\r\nHost: x\r\n"), Refused(400)),
        ("host", "a list", head("GET / HTTP/1.1", "Host: a, b\r\n"), Refused(400)),
        ("host", "a space", head("GET / HTTP/1.1", "Host: a b\r\n"), Refused(400)),
        ("host", "userinfo", head("GET / HTTP/1.1", "Host: u@a\r\n"), Refused(400)),
        ("host", "a port that is not a number", head("GET / HTTP/1.1", "Host: a:xyz\r\n"), Refused(400)),
        ("host", "a port over 65535", head("GET / HTTP/1.1", "Host: a:65536\r\n"), Refused(400)),
        ("host", "path and query", head("GET / HTTP/1.1", "Host: a/b?c\r\n"), Refused(400)),
        ("host", "unclosed IPv6 literal", head("GET / HTTP/1.1", "Host: [::1\r\n"), Refused(400)),
        ("host", "IPv6 literal and port", head("GET / HTTP/1.1", "Host: [::1]:8080\r\n"), Served("ok")),
        ("host", "empty", head("GET / HTTP/1.1", "Host:\r\n"), Served("ok")),
        // Request targets and versions (RFC 9112 sections 2.3 and 3).
        ("target", "no leading slash", head("GET mirror HTTP/1.1", "Host: x\r\n"), Refused(400)),
        ("target", "authority-form for GET", head("GET x:80 HTTP/1.1", "Host: x\r\n"), Refused(400)),
        ("target", "* for GET", head("GET * HTTP/1.1", "Host: x\r\n"), Refused(400)),
        ("target", "* for OPTIONS", head("OPTIONS * HTTP/1.1", "Host: x\r\n"), Served("ok")),
        ("target", "absolute-form", head("GET http://x/ HTTP/1.1", "Host: x\r\n"), Served("ok")),
        ("target", "absolute-form with userinfo", head("GET http://u@x/ HTTP/1.1", "Host: x\r\n"), Refused(400)),
        ("target", "absolute-form of another scheme", head("GET ftp://x/ HTTP/1.1", "Host: x\r\n"), Refused(400)),
        ("target", "a space inside", head("GET /a b HTTP/1.1", "Host: x\r\n"), Refused(400)),
        ("target", "two spaces before it", head("GET  / HTTP/1.1", "Host: x\r\n"), Refused(400)),
        ("version", "lower case", head("GET / http/1.1", "Host: x\r\n"), Refused(400)),
        ("version", "two digits", head("GET / HTTP/1.10", "Host: x\r\n"), Refused(400)),
        ("version", "no minor", head("GET / HTTP/1", "Host: x\r\n"), Refused(400)),
        ("version", "HTTP/2.0 in an HTTP/1 line", head("GET / HTTP/2.0", "Host: x\r\n"), Refused(505)),
        ("version", "HTTP/1.2, served as 1.1", head("GET / HTTP/1.2", "Host: x\r\n"), Served("ok")),
        // An upgrade request that carries a body (RFC 9112 section 6.3).
        ("upgrade", "Content-Length and a frame", handshake(&format!("Content-Length: {frame}\r\n"), FRAME), Refused(400)),
        ("upgrade", "chunked, a frame inside", handshake("Transfer-Encoding: chunked\r\n", &format!("{frame:x}\r\n{FRAME}\r\n0\r\n\r\n")), Refused(400)),
        ("upgrade", "chunked and empty", handshake("Transfer-Encoding: chunked\r\n", "0\r\n\r\n"), Refused(400)),
    ]
}

/// Sends `request` with [`AFTER`] pipelined: what went wrong, if
/// anything.
async fn check(
    server: &TestServer<Arc<Hits>>,
    request: &str,
    outcome: Outcome,
) -> Result<(), String> {
    let hits = &server.state.after;
    let before = hits.load(Ordering::SeqCst);
    let mut conn = server.http1().await;
    conn.send([request, AFTER].concat()).await;
    let response = match conn.read("POST").await {
        Read::Response(response) => response,
        other => return Err(format!("no response: {other:?}")),
    };
    let summary = format!(
        "{} {:?}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    match outcome {
        Served(body) => {
            if (response.status, response.body.as_slice()) != (200, body.as_bytes()) {
                return Err(format!("expected 200 {body:?}, got {summary}"));
            }
            let after = conn.response().await;
            if (after.status, after.body.as_slice()) != (200, &b"after"[..]) {
                return Err(format!("the pipelined request got {after:?}"));
            }
            if hits.load(Ordering::SeqCst) != before + 1 {
                return Err("the pipelined request was not served once".into());
            }
        }
        Refused(status) => {
            if response.status != status {
                return Err(format!("expected {status} and the close, got {summary}"));
            }
            if !response.has_token("connection", "close") {
                return Err(format!("{status} without Connection: close"));
            }
            conn.assert_closed().await;
            if hits.load(Ordering::SeqCst) != before {
                return Err("the pipelined request was served".into());
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_case_is_served_strictly_or_refused_and_closed() {
    let server = start().await;
    let cases = cases();
    let mut failures = Vec::new();
    for (class, name, request, outcome) in &cases {
        if let Err(why) = check(&server, request, *outcome).await {
            failures.push(format!("{class}: {name} ({request:?}): {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        server.state.smuggled.load(Ordering::SeqCst),
        0,
        "a hidden request was served"
    );
    assert!(cases.len() >= 100, "{} cases", cases.len());
    // The server still serves.
    let mut conn = server.http1().await;
    conn.exchange(AFTER).await.assert_ok("after");
}

#[tokio::test]
async fn cases_arriving_a_byte_at_a_time_end_the_same() {
    let server = start().await;
    // The head and body split at every byte: no reading depends on where
    // a read ends.
    for (class, name, request, outcome) in cases()
        .into_iter()
        .filter(|(class, ..)| ["chunk extension", "line endings", "cl-te"].contains(class))
    {
        let before = server.state.after.load(Ordering::SeqCst);
        let mut conn = server.http1().await;
        let bytes = [request.as_str(), AFTER].concat();
        let sent = async {
            for byte in bytes.as_bytes().chunks(1) {
                if !conn.try_send(byte).await {
                    break;
                }
                tokio::task::yield_now().await;
            }
        };
        sent.await;
        let response = conn.response_to("POST").await;
        match outcome {
            Served(body) => {
                response.assert_ok(body);
                conn.response().await.assert_ok("after");
            }
            Refused(status) => {
                assert_eq!(response.status, status, "{class}: {name}: {response:?}");
                conn.assert_closed().await;
                assert_eq!(server.state.after.load(Ordering::SeqCst), before);
            }
        }
    }
    assert_eq!(server.state.smuggled.load(Ordering::SeqCst), 0);
}
