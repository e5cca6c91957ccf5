//! HTTP/1.1 on the wire (RFC 9112), byte by byte: keep-alive, pipelining,
//! request bodies by length and chunked, `Expect: 100-continue`,
//! HTTP/1.0, `Connection: close`, HEAD, streamed responses, malformed
//! requests, `Date`, bodiless statuses, failing services and unread
//! bodies. The client (`common::http1::Conn`) is a raw TCP socket and a
//! small response parser, so these tests hold for any HTTP/1.1
//! implementation behind `Server`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::service::service_fn;
use pushwire::server::BoxError;
use pushwire::{Body, RequestBody};
use tokio::sync::mpsc;

use crate::common::http1::{get, post, Chunk, Conn, Framing, Read};
use crate::common::TestServer;

// ---------------------------------------------------------------------
// The application under test.
// ---------------------------------------------------------------------

/// A response body of unknown length, fed by a channel.
struct ChannelBody(mpsc::Receiver<Result<Bytes, BoxError>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|chunk| chunk.map(Frame::data)))
    }
}

/// A streamed body of these chunks, then its end (or `error`).
fn stream_of(chunks: &[&'static str], error: Option<&'static str>) -> Body {
    let (tx, rx) = mpsc::channel(chunks.len() + 1);
    for chunk in chunks {
        tx.try_send(Ok(Bytes::from_static(chunk.as_bytes())))
            .unwrap();
    }
    if let Some(error) = error {
        tx.try_send(Err(error.into())).unwrap();
    }
    Body::new(ChannelBody(rx))
}

/// What the service shares with its test.
#[derive(Default)]
struct State {
    /// Requests the service was called with.
    calls: AtomicUsize,
    /// The body `/channel` answers with, fed by the test.
    channel: Mutex<Option<mpsc::Receiver<Result<Bytes, BoxError>>>>,
}

fn status(code: u16, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(code).unwrap();
    response
}

/// The routes:
/// - `/hello`: `hello world` (a known length);
/// - `/say/<word>`: `<word>` followed by the query, if any;
/// - `/slow/<ms>/<word>`: `<word>` after `<ms>` milliseconds;
/// - `/echo`: the request body, read whole; its trailers, if the server
///   passed any on, in `x-trailers` as `name=value` pairs joined by `&`;
/// - `/echo-ready`: the request body if it can be read whole at once,
///   without waiting for the connection to feed it; else `not ready`;
/// - `/ignore`: `ignored`, the body left unread;
/// - `/status/<code>`: that status, an empty body of known length;
/// - `/status-stream/<code>`: that status, an empty body of unknown length;
/// - `/stream`: `alpha-beta-gamma` in three chunks of unknown length;
/// - `/stream-error`: `partial`, then the body fails;
/// - `/channel`: the chunks the test sends;
/// - `/header/<name>`: the value of that request header, 404 without it;
/// - `/fail`: the service returns an error.
async fn route(req: Request<RequestBody>, state: Arc<State>) -> Result<Response<Body>, BoxError> {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let response = match segments.as_slice() {
        ["hello"] => Response::new(Body::from("hello world")),
        ["say", word] => {
            let query = req
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            Response::new(Body::from(format!("{word}{query}")))
        }
        ["slow", ms, word] => {
            tokio::time::sleep(Duration::from_millis(ms.parse()?)).await;
            Response::new(Body::from(word.to_string()))
        }
        ["echo"] => match req.into_body().collect().await {
            Ok(collected) => {
                let trailers = collected.trailers().map(|trailers| {
                    trailers
                        .iter()
                        .map(|(name, value)| format!("{name}={}", value.to_str().unwrap_or("?")))
                        .collect::<Vec<_>>()
                        .join("&")
                });
                let mut response = Response::new(Body::from(collected.to_bytes()));
                if let Some(trailers) = trailers {
                    response
                        .headers_mut()
                        .insert("x-trailers", HeaderValue::from_str(&trailers)?);
                }
                response
            }
            Err(e) => status(400, Body::from(format!("bad body: {e}"))),
        },
        ["echo-ready"] => {
            let mut collect = std::pin::pin!(req.into_body().collect());
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            match collect.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(collected)) => Response::new(Body::from(collected.to_bytes())),
                Poll::Ready(Err(e)) => status(400, Body::from(format!("bad body: {e}"))),
                Poll::Pending => Response::new(Body::from("not ready")),
            }
        }
        ["ignore"] => Response::new(Body::from("ignored")),
        ["status", code] => status(code.parse()?, Body::empty()),
        ["status-stream", code] => status(code.parse()?, stream_of(&[], None)),
        ["stream"] => Response::new(stream_of(&["alpha-", "beta-", "gamma"], None)),
        ["stream-error"] => Response::new(stream_of(&["partial"], Some("body failed"))),
        ["channel"] => {
            let rx = state.channel.lock().unwrap().take().expect("one /channel");
            Response::new(Body::new(ChannelBody(rx)))
        }
        ["header", name] => match req.headers().get(*name) {
            Some(value) => Response::new(Body::from(value.as_bytes().to_vec())),
            None => status(404, Body::from("no such header")),
        },
        ["fail"] => return Err("the service failed".into()),
        _ => status(404, Body::from("not found")),
    };
    Ok(response)
}

/// A running server; stops when dropped.
/// Serves [`route`] with its state.
async fn start() -> TestServer<Arc<State>> {
    let state = Arc::new(State::default());
    let shared = state.clone();
    let service = service_fn(move |req| route(req, shared.clone()));
    TestServer::serve(|s| s, state, service).await
}

impl TestServer<Arc<State>> {
    fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// The server still runs and serves a new connection.
    async fn assert_still_serving(&self) {
        assert!(!self.task.is_finished(), "the server stopped");
        let mut conn = self.http1().await;
        conn.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let response = conn.response().await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"hello world");
    }
}

// ---------------------------------------------------------------------
// Helpers of the tests.
// ---------------------------------------------------------------------

/// Seconds since the Unix epoch of an IMF-fixdate (RFC 9110 section
/// 5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, its weekday checked.
fn imf_fixdate(date: &str) -> Option<i64> {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = date.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = date.get(range)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let weekday = DAYS.iter().position(|d| *d == &date[..3])? as i64;
    let day = number(5..7)?;
    let month = MONTHS.iter().position(|m| *m == &date[8..11])? as i64 + 1;
    let year = number(12..16)?;
    let (hour, minute, second) = (number(17..19)?, number(20..22)?, number(23..25)?);
    if [b[7], b[11], b[16], b[19], b[22]] != [b' ', b' ', b' ', b':', b':']
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    // 1970-01-01 was a Thursday.
    if (days + 4).rem_euclid(7) != weekday {
        return None;
    }
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

fn unix_now() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_secs()).unwrap()
}

/// A recognisable body of `len` bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + (i % 23) as u8 + (i / 4099 % 3) as u8)
        .collect()
}

/// Sends a `/echo` request in writes of `piece` bytes; asserts `body`
/// comes back, and that the connection then serves the next request.
async fn assert_echoed_in_pieces(conn: &mut Conn, request: &[u8], piece: usize, body: &[u8]) {
    for piece in request.chunks(piece) {
        conn.send(piece).await;
        tokio::task::yield_now().await;
    }
    let echoed = conn.response().await;
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.body.len(), body.len());
    assert!(echoed.body == body, "the echoed body differs");
    conn.exchange(get("/hello")).await.assert_ok("hello world");
}

/// `body` as a chunked body, in chunks of these sizes (cycled).
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------

#[tokio::test]
async fn keep_alive_serves_requests_one_after_another() {
    let server = start().await;
    let mut conn = server.http1().await;
    conn.exchange(get("/say/one")).await.assert_ok("one");
    let second = conn.exchange(get("/hello")).await;
    second.assert_ok("hello world");
    assert_eq!(second.version, "HTTP/1.1");
    // Pushwire's choice: Content-Length for a body of known length.
    assert_eq!(second.framing, Framing::ContentLength);
    assert!(!second.has_token("connection", "close"), "{second:?}");
    // An idle keep-alive connection stays open.
    conn.assert_quiet(Duration::from_millis(200)).await;
    conn.exchange(get("/say/three?x=1"))
        .await
        .assert_ok("three?x=1");
    assert_eq!(server.calls(), 3);
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = start().await;
    let mut conn = server.http1().await;
    // The first is the slowest to answer, and a POST body sits between.
    let requests = [
        get("/slow/300/first"),
        post("/echo", "second"),
        get("/say/third"),
    ];
    conn.send(requests.concat()).await;
    conn.response().await.assert_ok("first");
    conn.response().await.assert_ok("second");
    conn.response().await.assert_ok("third");
    // Three more in one write, then the connection is still usable.
    conn.send([get("/say/a"), get("/say/b"), get("/say/c")].concat())
        .await;
    for word in ["a", "b", "c"] {
        conn.response().await.assert_ok(word);
    }
    conn.exchange(get("/hello")).await.assert_ok("hello world");
}

#[tokio::test]
async fn an_answer_held_for_the_next_pipelined_one_goes_out_when_that_one_waits() {
    let server = start().await;
    let mut conn = server.http1().await;
    let soon = Duration::from_millis(500);
    // The answer to the first could go out with the second's, but the
    // second takes two seconds: the first is not kept that long.
    conn.send([get("/say/first"), get("/slow/2000/second")].concat())
        .await;
    let first = tokio::time::timeout(soon, conn.response()).await;
    first
        .expect("the first answer waited for the slow one")
        .assert_ok("first");
    conn.response().await.assert_ok("second");
    // The next head is here, its body not yet: the first answer is not
    // kept until the client sends it.
    let head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n";
    conn.send([get("/say/third"), head.to_owned()].concat())
        .await;
    let third = tokio::time::timeout(soon, conn.response()).await;
    third
        .expect("the answer waited for the next body")
        .assert_ok("third");
    conn.send("body").await;
    conn.response().await.assert_ok("body");
}

#[tokio::test]
async fn content_length_bodies_are_echoed() {
    let server = start().await;
    let mut conn = server.http1().await;
    let echoed = conn.exchange(post("/echo", "a request body")).await;
    echoed.assert_ok("a request body");
    // Pushwire's choice: a body of known length goes with Content-Length
    // (RFC 9112 would allow chunked too).
    assert_eq!(echoed.header("content-length"), Some("14"));
    conn.exchange(post("/echo", "")).await.assert_ok("");
    // The head in one write, the body in another.
    conn.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.send("later").await;
    conn.response().await.assert_ok("later");
}

#[tokio::test]
async fn a_body_sent_with_its_head_is_ready_when_the_service_is_called() {
    let server = start().await;
    let mut conn = server.http1().await;
    // Head and body in one write: the service reads the body at once.
    conn.exchange(post("/echo-ready", "all here"))
        .await
        .assert_ok("all here");
    // Pipelined behind another request, the same.
    conn.send([post("/echo-ready", "one"), post("/echo-ready", "two")].concat())
        .await;
    conn.response().await.assert_ok("one");
    conn.response().await.assert_ok("two");
    conn.exchange(get("/hello")).await.assert_ok("hello world");
}

#[tokio::test]
async fn a_body_over_a_mebibyte_sent_in_pieces_is_echoed() {
    let server = start().await;
    let mut conn = server.http1().await;
    let body = pattern((3 << 19) + 7);
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    assert_echoed_in_pieces(&mut conn, &request, 64 << 10, &body).await;
}

#[tokio::test]
async fn chunked_bodies_with_extensions_and_trailers_are_echoed() {
    let server = start().await;
    let mut conn = server.http1().await;
    conn.send(concat!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "5;ext=1\r\nhello\r\n",
        "1\r\n \r\n",
        "00A;name=\"quoted value\";flag\r\n0123456789\r\n",
        "3\r\n\r\n.\r\n",
        "0\r\nX-Checksum: abc\r\nX-Other: 2\r\n\r\n",
    ))
    .await;
    let echoed = conn.response().await;
    echoed.assert_ok("hello 0123456789\r\n.");
    // A server may pass trailers on or discard them (RFC 9110 section 6.5.1).
    if let Some(trailers) = echoed.header("x-trailers") {
        assert_eq!(trailers, "x-checksum=abc&x-other=2");
    }
    // Transfer coding names are case-insensitive (RFC 9112 section 7).
    conn.send(concat!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
        "3\r\nabc\r\n0\r\n\r\n",
    ))
    .await;
    conn.response().await.assert_ok("abc");
    // A chunked body of no chunks.
    conn.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .await;
    conn.response().await.assert_ok("");
    conn.exchange(get("/hello")).await.assert_ok("hello world");
}

#[tokio::test]
async fn a_chunked_body_over_a_mebibyte_is_echoed() {
    let server = start().await;
    let mut conn = server.http1().await;
    let body = pattern((5 << 18) + 3);
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend(chunked(&body, &[1, 17, 4096, 65_536, 100_000, 2]));
    assert_echoed_in_pieces(&mut conn, &request, 50_000, &body).await;
}

#[tokio::test]
async fn requests_arriving_a_few_bytes_at_a_time_are_parsed() {
    let server = start().await;
    let mut conn = server.http1().await;
    // Every boundary falls somewhere: in the request line, a field name,
    // the CRLFs, a chunk-size line, chunk data and the trailer section.
    let mut request =
        b"POST /echo?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(b"4;e=v\r\nwire\r\n6\r\n-bytes\r\n0\r\nX-T: 1\r\n\r\n");
    request.extend_from_slice(post("/echo", "by length").as_bytes());
    conn.send_slowly(&request, 1).await;
    conn.response().await.assert_ok("wire-bytes");
    conn.response().await.assert_ok("by length");
    conn.send_slowly(get("/say/three-at-a-time").as_bytes(), 3)
        .await;
    conn.response().await.assert_ok("three-at-a-time");
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let server = start().await;
    let mut conn = server.http1().await;
    conn.send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n",
    )
    .await;
    let interim = conn.response().await;
    assert_eq!(
        (interim.version.as_str(), interim.status),
        ("HTTP/1.1", 100)
    );
    assert_eq!(interim.framing, Framing::Bodiless);
    conn.send("the content").await;
    conn.response().await.assert_ok("the content");
    // Again on the same connection, with a chunked body.
    conn.send(concat!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nexpect: 100-Continue\r\n",
        "Transfer-Encoding: chunked\r\n\r\n",
    ))
    .await;
    assert_eq!(conn.response().await.status, 100);
    conn.send("7\r\nchunked\r\n0\r\n\r\n").await;
    conn.response().await.assert_ok("chunked");
    conn.exchange(get("/hello")).await.assert_ok("hello world");
}

#[tokio::test]
async fn expect_100_continue_may_get_the_final_status_without_the_body() {
    let server = start().await;
    let mut conn = server.http1().await;
    // `/ignore` never reads the body: its response must come without the
    // client sending it (a 100 first is allowed too).
    conn.send(
        "POST /ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .await;
    let mut response = conn.response().await;
    if response.status == 100 {
        conn.send("xxxxx").await;
        response = conn.response().await;
    }
    response.assert_ok("ignored");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn an_http10_client_gets_no_100_continue() {
    let server = start().await;
    let mut conn = server.http1().await;
    // RFC 9110 section 15.2: a server must not send a 1xx to an HTTP/1.0
    // client.
    conn.send("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody")
        .await;
    let response = conn.response().await;
    response.assert_ok("body");
    conn.assert_closed().await;
}

#[tokio::test]
async fn http10_without_keep_alive_closes_after_the_response() {
    let server = start().await;
    let mut conn = server.http1().await;
    let response = conn.exchange("GET /hello HTTP/1.0\r\n\r\n").await;
    response.assert_ok("hello world");
    assert!(response.version.starts_with("HTTP/1."), "{response:?}");
    assert!(response.all("transfer-encoding").is_empty(), "{response:?}");
    conn.assert_closed().await;
    // A request with a body too.
    let mut conn = server.http1().await;
    conn.exchange("POST /echo HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .assert_ok("abc");
    conn.assert_closed().await;
}

#[tokio::test]
async fn http10_keep_alive_with_a_known_length_keeps_the_connection() {
    let server = start().await;
    let mut conn = server.http1().await;
    for word in ["one", "two"] {
        let response = conn
            .exchange(format!(
                "GET /say/{word} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            ))
            .await;
        response.assert_ok(word);
        assert_eq!(response.framing, Framing::ContentLength);
        // An HTTP/1.0 client keeps the connection only when the response
        // says keep-alive (RFC 9112 appendix C.2.2).
        assert!(
            response.has_token("connection", "keep-alive"),
            "{response:?}"
        );
    }
    // Without keep-alive, the connection ends after the response.
    conn.exchange("GET /say/three HTTP/1.0\r\n\r\n")
        .await
        .assert_ok("three");
    conn.assert_closed().await;
}

#[tokio::test]
async fn connection_close_ends_the_connection_after_the_response() {
    let server = start().await;
    let mut conn = server.http1().await;
    let response = conn
        .exchange("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    response.assert_ok("hello world");
    assert!(response.has_token("connection", "close"), "{response:?}");
    conn.assert_closed().await;

    // A request pipelined after the one with `close` is not processed
    // (RFC 9112 section 9.6).
    let mut conn = server.http1().await;
    let requests = [
        "GET /say/first HTTP/1.1\r\nHost: x\r\nconnection: Close\r\n\r\n".to_owned(),
        get("/say/second"),
    ];
    conn.send(requests.concat()).await;
    let response = conn.response().await;
    response.assert_ok("first");
    assert!(response.has_token("connection", "close"), "{response:?}");
    conn.assert_closed().await;
    assert_eq!(server.calls(), 2, "the request after `close` was served");
}

#[tokio::test]
async fn head_gets_the_get_headers_and_no_body() {
    let server = start().await;
    let mut conn = server.http1().await;
    conn.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let head = conn.response_to("HEAD").await;
    assert_eq!(head.status, 200);
    // Pushwire sends the length a GET would have; RFC 9110 section 8.6
    // allows omitting it, but never a different value.
    assert_eq!(head.header("content-length"), Some("11"), "{head:?}");
    // The next response starts right after the head: no stray body bytes.
    conn.exchange(get("/say/after")).await.assert_ok("after");

    // Pipelined, and a body of unknown length: still no body bytes.
    let requests = [
        "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        get("/say/last"),
    ];
    conn.send(requests.concat()).await;
    let streamed = conn.response_to("HEAD").await;
    assert_eq!(streamed.status, 200);
    if let Some(length) = streamed.header("content-length") {
        assert_eq!(length, "16", "{streamed:?}");
    }
    assert_eq!(conn.response_to("HEAD").await.status, 200);
    conn.response().await.assert_ok("last");
    conn.assert_quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_streamed_body_is_chunked_for_http11() {
    let server = start().await;
    let mut conn = server.http1().await;
    let response = conn.exchange(get("/stream")).await;
    response.assert_ok("alpha-beta-gamma");
    assert_eq!(response.framing, Framing::Chunked);
    assert!(response.trailers.is_empty(), "{response:?}");
    // An empty body of unknown length.
    let empty = conn.exchange(get("/status-stream/200")).await;
    empty.assert_ok("");
    assert_ne!(empty.framing, Framing::Close);
    conn.exchange(get("/hello")).await.assert_ok("hello world");
}

#[tokio::test]
async fn streamed_chunks_are_sent_as_they_are_produced() {
    let server = start().await;
    let (tx, rx) = mpsc::channel(1);
    *server.state.channel.lock().unwrap() = Some(rx);
    let mut conn = server.http1().await;
    conn.send(get("/channel")).await;
    tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
    let head = conn.head().await.expect("a response head");
    assert_eq!(head.status, 200);
    assert!(head.has_token("transfer-encoding", "chunked"), "{head:?}");
    // Each chunk arrives while the body is still open.
    assert_eq!(conn.chunk().await, Some(Chunk::Data(b"first".to_vec())));
    tx.send(Ok(Bytes::from_static(b"second"))).await.unwrap();
    assert_eq!(conn.chunk().await, Some(Chunk::Data(b"second".to_vec())));
    drop(tx);
    assert_eq!(conn.chunk().await, Some(Chunk::End(Vec::new())));
    conn.exchange(get("/hello")).await.assert_ok("hello world");
}

#[tokio::test]
async fn a_client_closing_ends_a_waiting_body_at_once() {
    let server = start().await;
    let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(1);
    *server.state.channel.lock().unwrap() = Some(rx);
    let mut conn = server.http1().await;
    conn.send(get("/channel")).await;
    let head = conn.head().await.expect("a response head");
    assert_eq!(head.status, 200);
    // Nothing is written to the connection after this: only its closing
    // tells the server that the client is gone, and the body is dropped.
    drop(conn);
    tokio::time::timeout(Duration::from_secs(5), tx.closed())
        .await
        .expect("the body was dropped when the client closed");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_streamed_body_is_delimited_by_close_for_http10() {
    let server = start().await;
    for extra in ["", "Connection: keep-alive\r\n"] {
        let mut conn = server.http1().await;
        let response = conn
            .exchange(format!("GET /stream HTTP/1.0\r\n{extra}\r\n"))
            .await;
        // RFC 9112 section 6.1: no transfer coding for an HTTP/1.0 request.
        assert!(response.all("transfer-encoding").is_empty(), "{response:?}");
        response.assert_ok("alpha-beta-gamma");
        if extra.is_empty() {
            assert_eq!(response.framing, Framing::Close);
        }
        if response.framing == Framing::ContentLength {
            conn.assert_closed().await;
        }
    }
}

#[tokio::test]
async fn a_failing_body_never_looks_complete() {
    let server = start().await;
    // The body fails at once: no response, or a truncated one.
    let mut conn = server.http1().await;
    conn.send(get("/stream-error")).await;
    match conn.read("GET").await {
        Read::Closed | Read::Truncated { .. } => {}
        Read::Response(resp) => panic!("a failed body looked complete: {resp:?}"),
    }
    // The body fails after its head and a chunk went out: the connection
    // closes without the last chunk.
    let (tx, rx) = mpsc::channel(1);
    *server.state.channel.lock().unwrap() = Some(rx);
    let mut conn = server.http1().await;
    conn.send(get("/channel")).await;
    tx.send(Ok(Bytes::from_static(b"partial"))).await.unwrap();
    let head = conn.head().await.expect("a response head");
    assert!(head.has_token("transfer-encoding", "chunked"), "{head:?}");
    assert_eq!(conn.chunk().await, Some(Chunk::Data(b"partial".to_vec())));
    tx.send(Err("the body failed".into())).await.unwrap();
    assert_eq!(conn.chunk().await, None, "the body did not end in a close");
    server.assert_still_serving().await;
}

/// Sends `raw` on a new connection and expects `400 Bad Request` and then
/// the close.
async fn assert_rejected(server: &TestServer<Arc<State>>, raw: &[u8]) {
    let mut conn = server.http1().await;
    conn.send(raw).await;
    let response = conn.response().await;
    assert_eq!(
        response.status,
        400,
        "{:?} => {response:?}",
        String::from_utf8_lossy(raw)
    );
    conn.assert_closed().await;
}

#[tokio::test]
async fn malformed_requests_get_400_and_the_connection_closes() {
    let server = start().await;
    let cases: [&[u8]; 6] = [
        b"GARBAGE\r\n\r\n",
        b"\x01\x02\x03 junk\r\n\r\n",
        b"GET /hello\r\nHost: x\r\n\r\n",
        // RFC 9112 section 5.1: whitespace before the colon must get a 400.
        b"GET /hello HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nHost x\r\n\r\n",
        // RFC 9112 section 6.3: chunked not last must get a 400 and close.
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    ];
    for raw in cases {
        assert_rejected(&server, raw).await;
    }
    assert_eq!(server.calls(), 0);
    server.assert_still_serving().await;
}

#[tokio::test]
async fn invalid_content_lengths_get_400_and_the_connection_closes() {
    let server = start().await;
    // RFC 9112 section 6.3: an invalid Content-Length in a request must
    // get a 400 and then the close.
    for value in ["abc", "+3", "-1", "3 3", "0x3", "", "3, 4"] {
        let raw = format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nabc");
        assert_rejected(&server, raw.as_bytes()).await;
    }
    let raw =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    assert_rejected(&server, raw).await;
    assert_eq!(server.calls(), 0);

    // Too large to represent: rejected (400, or 413 for too large), closed.
    let mut conn = server.http1().await;
    conn.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n")
        .await;
    let response = conn.response().await;
    assert!([400, 413].contains(&response.status), "{response:?}");
    conn.assert_closed().await;

    // Identical values, repeated: RFC 9110 section 8.6 allows taking them
    // as one or rejecting them.
    for fields in [
        "Content-Length: 3\r\nContent-Length: 3\r\n",
        "Content-Length: 3, 3\r\n",
    ] {
        let mut conn = server.http1().await;
        conn.send(format!("POST /echo HTTP/1.1\r\nHost: x\r\n{fields}\r\nabc"))
            .await;
        let response = conn.response().await;
        match response.status {
            200 => {
                response.assert_ok("abc");
                conn.exchange(get("/hello")).await.assert_ok("hello world");
            }
            400 => conn.assert_closed().await,
            _ => panic!("{fields:?} => {response:?}"),
        }
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn content_length_with_chunked_is_framed_by_chunked_and_closed() {
    let server = start().await;
    let mut conn = server.http1().await;
    // RFC 9112 section 6.1: reject, or frame by Transfer-Encoding alone;
    // either way close the connection after responding (what follows must
    // not be taken for a request).
    conn.send(concat!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n",
        "Transfer-Encoding: chunked\r\n\r\n",
        "3\r\nabc\r\n0\r\n\r\n",
        "GET /say/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    ))
    .await;
    let response = conn.response().await;
    match response.status {
        200 => response.assert_ok("abc"),
        400 => {}
        _ => panic!("{response:?}"),
    }
    conn.assert_closed().await;
    assert!(server.calls() <= 1, "the smuggled request was served");

    // An HTTP/1.0 request with Transfer-Encoding: its framing is faulty
    // (RFC 9112 section 6.1), and the connection closes.
    let mut conn = server.http1().await;
    conn.send(concat!(
        "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
        "3\r\nabc\r\n0\r\n\r\n",
        "GET /say/smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ))
    .await;
    let response = conn.response().await;
    assert_ne!(response.body, b"smuggled");
    conn.assert_closed().await;
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_malformed_chunked_body_is_not_accepted() {
    let server = start().await;
    let bodies = [
        "zz\r\nabc\r\n0\r\n\r\n",
        "3\r\nabcX\r\n0\r\n\r\n",
        "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        "-3\r\nabc\r\n0\r\n\r\n",
    ];
    for body in bodies {
        let mut conn = server.http1().await;
        conn.send(format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}{}",
            get("/say/smuggled")
        ))
        .await;
        // A 4xx (from the server or from the service seeing the body
        // fail), or just the close; then the connection must close.
        match conn.read("POST").await {
            Read::Closed => {}
            Read::Response(response) => {
                assert!(
                    (400..500).contains(&response.status),
                    "{body:?} => {response:?}"
                );
                conn.assert_closed().await;
            }
            Read::Truncated { head, why } => panic!("{body:?} => {head:?}: {why}"),
        }
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn obsolete_line_folding_and_nul_are_rejected_or_replaced() {
    let server = start().await;
    // RFC 9112 section 5.2 and RFC 9110 section 5.5: reject with 400, or
    // replace with spaces.
    for raw in [
        "GET /header/x-fold HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n",
        "GET /header/x-nul HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n",
    ] {
        let mut conn = server.http1().await;
        conn.send(raw).await;
        let response = conn.response().await;
        match response.status {
            400 => conn.assert_closed().await,
            200 => {
                let value = response.text();
                let spaces = &value[1..value.len().max(2) - 1];
                assert!(
                    value.starts_with('a')
                        && value.ends_with('b')
                        && !spaces.is_empty()
                        && spaces.bytes().all(|c| c == b' '),
                    "{raw:?} => {response:?}"
                );
            }
            _ => panic!("{raw:?} => {response:?}"),
        }
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn request_targets_and_field_values_reach_the_service() {
    let server = start().await;
    let mut conn = server.http1().await;
    // RFC 9112 section 3.2.2: absolute-form must be accepted.
    conn.exchange("GET http://x/say/absolute?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .assert_ok("absolute?q=1");
    // Field names are case-insensitive, and the whitespace around a value
    // is not part of it (RFC 9112 section 5).
    conn.exchange(
        "GET /header/x-thing HTTP/1.1\r\nHost: x\r\nX-THING: \t spaced  value \t\r\n\r\n",
    )
    .await
    .assert_ok("spaced  value");
    conn.exchange("GET /header/x-empty HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n")
        .await
        .assert_ok("");
}

#[tokio::test]
async fn responses_carry_a_current_date() {
    let server = start().await;
    let mut conn = server.http1().await;
    let before = unix_now();
    let mut responses = Vec::new();
    for path in ["/hello", "/nope", "/status/204", "/status/304", "/stream"] {
        responses.push(conn.exchange(get(path)).await);
    }
    let mut bad = server.http1().await;
    bad.send("GARBAGE\r\n\r\n").await;
    responses.push(bad.response().await);
    let after = unix_now();
    // RFC 9110 section 6.6.1: an origin server with a clock must send
    // Date in 2xx, 3xx and 4xx responses, as an IMF-fixdate.
    for response in responses {
        let date = response
            .header("date")
            .unwrap_or_else(|| panic!("no date: {response:?}"));
        let at = imf_fixdate(date).unwrap_or_else(|| panic!("bad date {date:?}"));
        assert!(
            (before - 2..=after + 2).contains(&at),
            "date {date:?} is not now ({before}..{after})"
        );
    }
}

#[tokio::test]
async fn bodiless_statuses_have_no_body_and_no_transfer_encoding() {
    let server = start().await;
    let mut conn = server.http1().await;
    for path in [
        "/status/204",
        "/status/304",
        "/status-stream/204",
        "/status-stream/304",
    ] {
        let response = conn.exchange(get(path)).await;
        assert!(
            response.all("transfer-encoding").is_empty(),
            "{path}: {response:?}"
        );
        // RFC 9110 section 8.6: never Content-Length in a 204; in a 304,
        // only the length the 200 would have, which the server cannot know.
        assert!(
            response.all("content-length").is_empty(),
            "{path}: {response:?}"
        );
        // The next response must start right after the head.
        conn.exchange(get("/say/next")).await.assert_ok("next");
    }
    // All of them pipelined, for good measure.
    let requests = [
        get("/status/204"),
        get("/status-stream/204"),
        get("/status-stream/304"),
        get("/say/end"),
    ];
    conn.send(requests.concat()).await;
    for status in [204, 204, 304] {
        assert_eq!(conn.response().await.status, status);
    }
    conn.response().await.assert_ok("end");
    conn.assert_quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_failing_service_gets_a_500_or_a_close() {
    let server = start().await;
    let mut conn = server.http1().await;
    conn.exchange(get("/say/before")).await.assert_ok("before");
    conn.send([get("/fail"), get("/say/after")].concat()).await;
    // Either is a legitimate answer; what matters is no hang.
    match conn.read("GET").await {
        Read::Closed => {}
        Read::Response(response) => {
            assert_eq!(response.status, 500, "{response:?}");
            match conn.read("GET").await {
                Read::Closed => {}
                Read::Response(response) => response.assert_ok("after"),
                Read::Truncated { head, why } => panic!("{head:?}: {why}"),
            }
        }
        Read::Truncated { head, why } => panic!("{head:?}: {why}"),
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn an_unread_body_does_not_desync_the_connection() {
    let server = start().await;
    let body = String::from_utf8(pattern(10 << 10)).unwrap();
    let chunked_body = String::from_utf8(chunked(body.as_bytes(), &[4000])).unwrap();
    let cases = [
        // The body and the next request in one write.
        [post("/ignore", &body), get("/say/next")].concat(),
        [
            "POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            &chunked_body,
            &get("/say/next"),
        ]
        .concat(),
    ];
    for raw in cases {
        let mut conn = server.http1().await;
        conn.send(&raw).await;
        conn.response().await.assert_ok("ignored");
        // The server skips the body and answers the next request, or
        // closes; it never reads the body as a request.
        match conn.read("GET").await {
            Read::Closed => {}
            Read::Response(response) => {
                response.assert_ok("next");
                conn.exchange(get("/hello")).await.assert_ok("hello world");
            }
            Read::Truncated { head, why } => panic!("{head:?}: {why}"),
        }
    }

    // The body sent only after the response arrived.
    let mut conn = server.http1().await;
    conn.send(format!(
        "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ))
    .await;
    conn.response().await.assert_ok("ignored");
    if conn
        .try_send([body.as_str(), &get("/say/next")].concat())
        .await
    {
        match conn.read("GET").await {
            Read::Closed => {}
            Read::Response(response) => response.assert_ok("next"),
            Read::Truncated { head, why } => panic!("{head:?}: {why}"),
        }
    }
    server.assert_still_serving().await;
}
