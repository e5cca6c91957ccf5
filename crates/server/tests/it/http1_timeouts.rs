//! HTTP/1.1 timeouts and the answers of a connection that closes: a
//! request body that stalls or drips (also after `100 Continue`) gets
//! `408` and the close, a head left unfinished at the header timeout gets
//! `408`, a slow service is not the client's fault, and a response after
//! which the rest of the request body will not be read says
//! `Connection: close` (a `413`, say).

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::service::service_fn;
use pushwire::{Body, RequestBody, Server};

use crate::common::http1::{get, Conn, Resp};
use crate::common::TestServer;

/// The body-read timeout of these tests.
const BODY_TIMEOUT: Duration = Duration::from_millis(300);

/// `/mirror`: the body read whole (`400` if it fails); `/slow-mirror`:
/// the same after 3 body-read timeouts; `/limited`: `413` for a body over
/// 16 bytes; anything else `ok`.
async fn route(req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    if path == "/slow-mirror" {
        tokio::time::sleep(BODY_TIMEOUT * 3).await;
    }
    let response = match path.as_str() {
        "/mirror" | "/slow-mirror" => match req.into_body().collect().await {
            Ok(body) => Response::new(Body::from(body.to_bytes())),
            Err(e) => status(StatusCode::BAD_REQUEST, e.to_string()),
        },
        "/limited" => match Limited::new(req.into_body(), 16).collect().await {
            Ok(body) => Response::new(Body::from(body.to_bytes())),
            Err(_) => status(StatusCode::PAYLOAD_TOO_LARGE, "over 16 bytes".into()),
        },
        _ => Response::new(Body::from("ok")),
    };
    Ok(response)
}

fn status(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}

async fn start(configure: impl FnOnce(Server) -> Server) -> TestServer {
    TestServer::serve(configure, (), service_fn(route)).await
}

/// A `408` that closes the connection, and the close.
async fn assert_timed_out(conn: &mut Conn) -> Resp {
    let response = conn.response().await;
    assert_eq!(response.status, 408, "{response:?}");
    assert!(response.has_token("connection", "close"), "{response:?}");
    conn.assert_closed().await;
    response
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_the_close() {
    let server = start(|s| s.body_read_timeout(BODY_TIMEOUT)).await;
    let mut conn = server.http1().await;
    conn.send("POST /mirror HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    assert_timed_out(&mut conn).await;
    // A chunked body that stops after a chunk.
    let mut conn = server.http1().await;
    conn.send("POST /mirror HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .await;
    assert_timed_out(&mut conn).await;
}

#[tokio::test]
async fn a_body_that_never_follows_100_continue_gets_408() {
    let server = start(|s| s.body_read_timeout(BODY_TIMEOUT)).await;
    let mut conn = server.http1().await;
    conn.send(
        "POST /mirror HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await;
    let continued = conn.response().await;
    assert_eq!(continued.status, 100, "{continued:?}");
    assert_timed_out(&mut conn).await;
}

#[tokio::test]
async fn a_dripping_body_gets_408() {
    let server = start(|s| s.body_read_timeout(BODY_TIMEOUT)).await;
    let mut conn = server.http1().await;
    conn.send("POST /mirror HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .await;
    // 10 bytes every 20 ms: bytes keep coming, far under 1 KiB per timeout.
    let drip = async {
        for _ in 0..1000 {
            if !conn.try_send([b'x'; 10]).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let started = tokio::time::Instant::now();
    tokio::time::timeout(BODY_TIMEOUT * 10, drip).await.ok();
    assert!(
        started.elapsed() < BODY_TIMEOUT * 10,
        "still reading after 10 timeouts"
    );
    assert_timed_out(&mut conn).await;
}

#[tokio::test]
async fn a_slow_service_is_not_the_clients_fault() {
    let server = start(|s| s.body_read_timeout(BODY_TIMEOUT)).await;
    let mut conn = server.http1().await;
    // The service waits 3 timeouts before it reads the body: the client,
    // which sent it all, is not late.
    conn.exchange("POST /slow-mirror HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .assert_ok("hello");
    // A body sent in pieces of 1 KiB, one every half timeout, is read
    // whole.
    conn.send("POST /mirror HTTP/1.1\r\nHost: x\r\nContent-Length: 3072\r\n\r\n")
        .await;
    for _ in 0..3 {
        tokio::time::sleep(BODY_TIMEOUT / 2).await;
        conn.send([b'y'; 1024]).await;
    }
    conn.response().await.assert_ok(&"y".repeat(3072));
    conn.exchange(get("/")).await.assert_ok("ok");
}

#[tokio::test]
async fn an_unfinished_head_at_the_header_timeout_gets_408() {
    let server = start(|s| s.header_read_timeout(BODY_TIMEOUT)).await;
    let mut conn = server.http1().await;
    conn.send("GET / HTTP/1.1\r\nHost: x\r\n").await;
    assert_timed_out(&mut conn).await;
    // An idle keep-alive connection closes without a word.
    let mut conn = server.http1().await;
    conn.exchange(get("/")).await.assert_ok("ok");
    conn.assert_closed().await;
}

#[tokio::test]
async fn a_response_that_leaves_the_body_unread_says_it_closes() {
    let server = start(|s| s).await;
    // Over the server's drain limit (256 KiB): the rest of the body is
    // not read, the 413 says Connection: close, and the connection closes.
    let mut conn = server.http1().await;
    conn.send("POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        .await;
    conn.send([b'z'; 100]).await;
    let response = conn.response().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.has_token("connection", "close"), "{response:?}");
    conn.assert_closed().await;
    // A chunked body of unknown length: the same.
    let mut conn = server.http1().await;
    conn.send("POST /limited HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n")
        .await;
    conn.send([b'z'; 32]).await;
    let response = conn.response().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.has_token("connection", "close"), "{response:?}");
    conn.assert_closed().await;
    // A short body of known length is read and dropped: the connection
    // stays, and says nothing of closing.
    let mut conn = server.http1().await;
    let body = "z".repeat(100);
    conn.send(format!(
        "POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{body}"
    ))
    .await;
    let response = conn.response().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(response.header("connection").is_none(), "{response:?}");
    conn.exchange(get("/")).await.assert_ok("ok");
}
