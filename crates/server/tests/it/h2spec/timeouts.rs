//! The clocks of an HTTP/2 connection, each set short: a connection
//! without streams is closed with GOAWAY (`NO_ERROR`), a request body
//! that stalls or drips resets its stream (`CANCEL`), SETTINGS never
//! acknowledged end the connection (`SETTINGS_TIMEOUT`, section 6.5.3),
//! and a peer that stops answering PING is sent a GOAWAY before it is
//! dropped. WebSockets over HTTP/2 and long responses are open streams:
//! neither the idle nor the body clock cuts them.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use pushwire::server::Http2Config;
use pushwire::{Body, RequestBody};
use pushwire_proto::http2::ErrorCode as E;

use super::peer::{Peer, Script};
use super::Expect;
use crate::common::http2::{h2_body, h2_client, h2_response, h2_websocket};
use crate::common::ws::round_trip;
use crate::common::{app, TestServer};

/// The clocks of these tests.
const SHORT: Duration = Duration::from_millis(300);

/// A server whose HTTP/2 connections have `config`, serving the test
/// application, `/ticks`: eight chunks 100 ms apart, and `/give-up`:
/// waits 50 ms for a request body's first piece, drops the body, and
/// answers as `/ticks`.
async fn server(config: Http2Config) -> TestServer {
    let service = service_fn(|req: Request<RequestBody>| async move {
        match req.uri().path() {
            "/ticks" => {}
            "/give-up" => {
                let mut body = req.into_body();
                let wait = tokio::time::sleep(Duration::from_millis(50));
                tokio::select! {
                    _ = body.frame() => {}
                    _ = wait => {}
                }
            }
            _ => return app::route(req).await,
        }
        let ticks = futures_util::stream::unfold(0u32, |n| async move {
            if n == 8 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((
                Ok::<_, Infallible>(Frame::data(Bytes::from("tick\n"))),
                n + 1,
            ))
        });
        Ok::<_, Infallible>(Response::new(Body::new(StreamBody::new(ticks))))
    });
    TestServer::serve(|s| s.http2(config), (), service).await
}

/// A connection that played `script` (its SETTINGS acknowledged unless
/// the script says otherwise).
async fn connect(server: &TestServer, script: &Script) -> Peer {
    let mut peer = Peer::connect(server.addr, script).await;
    peer.play(script).await.unwrap();
    peer
}

#[tokio::test]
async fn a_connection_without_streams_is_closed_with_goaway() {
    let config = Http2Config::default().idle_timeout(Some(SHORT));
    let server = server(config).await;
    let mut script = Script::default();
    script.get(1).await_end(1);
    let start = Instant::now();
    let mut peer = connect(&server, &script).await;
    peer.expect(Expect::GoAway(E::NO_ERROR)).await.unwrap();
    assert!(
        start.elapsed() >= SHORT,
        "closed after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_connection_that_never_opens_a_stream_is_closed() {
    let config = Http2Config::default().idle_timeout(Some(SHORT));
    let server = server(config).await;
    let mut peer = connect(&server, &Script::default()).await;
    peer.expect(Expect::GoAway(E::NO_ERROR)).await.unwrap();
}

#[tokio::test]
async fn an_open_stream_keeps_the_connection_and_the_clock_starts_after_it() {
    let config = Http2Config::default()
        .idle_timeout(Some(SHORT))
        .body_read_timeout(None);
    let server = server(config).await;
    let mut script = Script::default();
    // The request's body waits, then comes: the stream was open all
    // along, three idle periods.
    script.post(1).sleep(SHORT * 3).data(1, b"late", true);
    let mut peer = connect(&server, &script).await;
    peer.expect(Expect::Status(1, 200)).await.unwrap();
    peer.expect(Expect::GoAway(E::NO_ERROR)).await.unwrap();
}

#[tokio::test]
async fn a_long_response_is_not_cut_by_the_idle_or_body_clock() {
    let config = Http2Config::default()
        .idle_timeout(Some(Duration::from_millis(200)))
        .body_read_timeout(Some(Duration::from_millis(200)));
    let server = server(config).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut client = h2_client(tcp).await;
    let request = Request::get("http://localhost/ticks").body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = h2_response(response).await;
    let body = h2_body(response.into_body()).await;
    assert_eq!(body, b"tick\n".repeat(8), "800 ms of ticks, uncut");
}

#[tokio::test]
async fn a_websocket_over_http2_is_not_cut_by_the_idle_or_body_clock() {
    let config = Http2Config::default()
        .idle_timeout(Some(SHORT))
        .body_read_timeout(Some(SHORT));
    let server = server(config).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut client = h2_client(tcp).await;
    let mut ws = h2_websocket(&mut client, "/echo").await;
    round_trip(&mut ws, "before the quiet").await;
    tokio::time::sleep(SHORT * 4).await;
    round_trip(&mut ws, "after four quiet periods").await;
}

#[tokio::test]
async fn a_body_the_service_gave_up_on_is_not_timed() {
    let config = Http2Config::default().body_read_timeout(Some(Duration::from_millis(200)));
    let server = server(config).await;
    let mut script = Script::default();
    // The body never comes; the service stops waiting for it and
    // answers for 800 ms, which the body clock must not cut. The rest
    // of the request is then declined (NO_ERROR).
    script
        .request(1, &super::peer::pseudo("POST", "/give-up"), false)
        .await_end(1)
        .await_reset(1, E::NO_ERROR);
    let mut peer = connect(&server, &script).await;
    peer.expect_served(&mut script, 3).await.unwrap();
}

#[tokio::test]
async fn a_request_body_that_stalls_resets_its_stream() {
    let config = Http2Config::default().body_read_timeout(Some(SHORT));
    let server = server(config).await;
    let mut script = Script::default();
    script.post(1).data(1, b"the start, then nothing", false);
    let start = Instant::now();
    let mut peer = connect(&server, &script).await;
    peer.expect(Expect::Reset(1, E::CANCEL)).await.unwrap();
    assert!(
        start.elapsed() >= SHORT,
        "reset after {:?}",
        start.elapsed()
    );
    // The connection serves on.
    peer.expect_served(&mut script, 3).await.unwrap();
}

#[tokio::test]
async fn a_request_body_that_drips_resets_its_stream() {
    let config = Http2Config::default().body_read_timeout(Some(SHORT));
    let server = server(config).await;
    let mut script = Script::default();
    script.post(1);
    // 10 bytes every 50 ms: 60 bytes per period, far from 1 KiB.
    for _ in 0..40 {
        script
            .data(1, b"drip, drip", false)
            .sleep(Duration::from_millis(50));
    }
    // The reset comes while the drip goes on; the server ignores the
    // DATA after it.
    let mut peer = connect(&server, &script).await;
    peer.expect(Expect::Reset(1, E::CANCEL)).await.unwrap();
}

#[tokio::test]
async fn a_request_body_that_flows_is_not_cut() {
    let config = Http2Config::default().body_read_timeout(Some(SHORT));
    let server = server(config).await;
    let mut script = Script::default();
    script.post(1);
    // 2 KiB every 100 ms, for four periods.
    for _ in 0..12 {
        script
            .data(1, &[b'f'; 2048], false)
            .sleep(Duration::from_millis(100));
    }
    script.data(1, b"end", true);
    let mut peer = connect(&server, &script).await;
    peer.expect(Expect::Status(1, 200)).await.unwrap();
}

#[tokio::test]
async fn settings_never_acknowledged_end_the_connection() {
    let config = Http2Config::default().settings_timeout(SHORT);
    let server = server(config).await;
    let mut script = Script::default();
    script.ack_settings = false;
    let mut peer = connect(&server, &script).await;
    peer.expect(Expect::GoAway(E::SETTINGS_TIMEOUT))
        .await
        .unwrap();
}

#[tokio::test]
async fn settings_acknowledged_in_time_keep_the_connection() {
    let config = Http2Config::default().settings_timeout(SHORT);
    let server = server(config).await;
    let mut script = Script::default();
    script.get(1).await_end(1).sleep(SHORT * 2);
    let mut peer = connect(&server, &script).await;
    peer.expect_served(&mut script, 3).await.unwrap();
}

#[tokio::test]
async fn a_peer_that_stops_answering_ping_is_sent_goaway_and_dropped() {
    let config = Http2Config::default()
        .keep_alive_interval(Some(Duration::from_millis(200)))
        .keep_alive_timeout(Duration::from_millis(200))
        .idle_timeout(None);
    let server = server(config).await;
    // The peer reads, but never answers a PING.
    let mut peer = connect(&server, &Script::default()).await;
    peer.expect(Expect::GoAway(E::NO_ERROR)).await.unwrap();
}
