//! WebSocket over HTTP/2 (RFC 8441) on a cleartext connection opened by
//! prior knowledge: the server's SETTINGS, extended CONNECT,
//! several WebSockets multiplexed on one connection, RST_STREAM ending
//! one stream only; and plain requests: bodies beyond the flow-control
//! windows both ways, HEAD, a failing service, a reset while answering.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::service::service_fn;
use pushwire::{Body, Message, RequestBody, Upgrade};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::app;
use crate::common::http2::{
    h2_body, h2_client, h2_connect, h2_get, h2_handshake, h2_response, h2_websocket,
    websocket_headers,
};
use crate::common::http2_frames::{next_frame_of, raw_h2_client, read_frame};
use crate::common::ws::round_trip;
use crate::common::{TestServer, LIMIT};

#[tokio::test]
async fn server_advertises_extended_connect_and_serves_plain_requests() {
    let server = TestServer::start(|s| s).await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    assert!(client.is_extended_connect_protocol_enabled());
    assert_eq!(
        h2_get(&mut client, "/info").await,
        (200, "HTTP/2.0 None".to_string())
    );
    assert_eq!(
        h2_get(&mut client, "/accept").await,
        (200, "a plain page".to_string())
    );
    assert_eq!(h2_get(&mut client, "/nope").await.0, 404);
    assert_eq!(server.stats.snapshot().h2_requests, 4);
}

/// The server's first frame, read off the wire: its SETTINGS.
#[tokio::test]
async fn server_settings_on_the_wire() {
    let server = TestServer::start(|s| s).await;
    let mut tcp = raw_h2_client(server.addr).await;
    let (kind, flags, payload) = read_frame(&mut tcp).await;
    assert_eq!((kind, flags), (0x4, 0), "a SETTINGS frame, no ACK");
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|s| {
            let id = u16::from_be_bytes([s[0], s[1]]);
            (id, u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
        })
        .collect();
    // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441), and DATA frames up to
    // 64 KiB: a client's 16 KiB WebSocket message fits in one.
    assert!(settings.contains(&(0x8, 1)), "{settings:?}");
    assert!(settings.contains(&(0x5, 64 << 10)), "{settings:?}");
}

#[tokio::test]
async fn websocket_echo_over_extended_connect() {
    let server = TestServer::start(|s| s).await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    let mut ws = h2_websocket(&mut client, "/echo").await;
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(
        ws.negotiated().deflate.is_some(),
        "deflate negotiated over h2"
    );
    round_trip(&mut ws, "h2").await;
    ws.close(None).await.unwrap();
    let stats = server.stats.snapshot();
    assert_eq!((stats.extended_connects, stats.h1_upgrades), (1, 0));
    server
        .wait_for("the WebSocket to close", |s| s.open_websockets == 0)
        .await;
    // The connection outlives the WebSocket.
    assert_eq!(h2_get(&mut client, "/healthz").await.0, 200);
}

#[tokio::test]
async fn require_rejects_plain_and_faulty_requests_over_h2() {
    let server = TestServer::start(|s| s).await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    // A plain GET to a WebSocket-only route.
    let request = http::Request::get("http://localhost/echo")
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = h2_response(response).await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(
        response.headers().get("upgrade").is_none(),
        "no connection headers in h2"
    );
    // Extended CONNECT with a wrong or missing version.
    for headers in [&[("sec-websocket-version", "8")][..], &[]] {
        let (parts, ..) = h2_connect(&mut client, "/echo", headers).await;
        assert_eq!(parts.status, 426, "{headers:?}");
        assert_eq!(parts.headers["sec-websocket-version"], "13");
    }
    assert_eq!(server.stats.snapshot().extended_connects, 0);
    assert!(client.is_extended_connect_protocol_enabled());
}

#[tokio::test]
async fn rst_stream_ends_one_websocket_only() {
    let server = TestServer::start(|s| s).await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    let mut sockets = Vec::new();
    for i in 0..3 {
        let mut ws = h2_websocket(&mut client, "/echo").await;
        round_trip(&mut ws, &format!("stream {i}")).await;
        sockets.push(ws);
    }
    // One more, kept as a bare stream to reset.
    let (parts, mut reset, _recv) = h2_connect(&mut client, "/echo", &websocket_headers("")).await;
    assert_eq!(parts.status, 200);
    server
        .wait_for("four WebSockets", |s| s.open_websockets == 4)
        .await;

    // Reset one stream explicitly, and drop another (h2 then sends
    // RST_STREAM CANCEL for it).
    reset.send_reset(h2::Reason::CANCEL);
    server
        .wait_for("the reset WebSocket to end", |s| s.open_websockets == 3)
        .await;
    drop(sockets.remove(1));
    server
        .wait_for("the dropped WebSocket to end", |s| s.open_websockets == 2)
        .await;

    // The others, and the connection, live on.
    for (i, ws) in sockets.iter_mut().enumerate() {
        round_trip(ws, &format!("survivor {i}")).await;
    }
    let mut fresh = h2_websocket(&mut client, "/echo").await;
    round_trip(&mut fresh, "after the reset").await;
    assert_eq!(h2_get(&mut client, "/healthz").await.0, 200);
    let stats = server.stats.snapshot();
    assert_eq!(stats.extended_connects, 5);
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.open_connections, 1);

    for ws in sockets.iter_mut().chain([&mut fresh]) {
        ws.send(Message::text("bye")).await.unwrap();
        ws.close(None).await.unwrap();
    }
    server
        .wait_for("every WebSocket to end", |s| s.open_websockets == 0)
        .await;
}

#[tokio::test]
async fn bodies_larger_than_the_flow_control_windows_go_both_ways() {
    let server = TestServer::start(|s| s).await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    // 3 MiB: more than the server's 1 MiB receive window (which opens
    // again only as the service reads) and than the client's 64 KiB one
    // (which paces the response).
    let sent: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
    let request = http::Request::post("http://localhost/mirror")
        .body(())
        .unwrap();
    let (response, mut body_tx) = client.send_request(request, false).unwrap();
    body_tx
        .send_data(bytes::Bytes::from(sent.clone()), true)
        .unwrap();
    let response = h2_response(response).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"],
        sent.len().to_string().as_str()
    );
    let received = h2_body(response.into_body()).await;
    assert!(received == sent, "{} bytes came back", received.len());
}

#[tokio::test]
async fn head_gets_the_headers_without_the_body() {
    let server = TestServer::start(|s| s).await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    let request = http::Request::head("http://localhost/healthz")
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = h2_response(response).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "2");
    assert!(response.body().is_end_stream());
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_failed_service_resets_its_stream_and_a_reset_stream_drops_its_service() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    // `/fail` fails; anything else never answers, holding a DropFlag.
    let service = service_fn(move |req: Request<RequestBody>| {
        let flag = flag.clone();
        async move {
            if req.uri().path() == "/fail" {
                return Err("the service failed");
            }
            let _flag = DropFlag(flag);
            std::future::pending::<()>().await;
            Ok(Response::new(Body::empty()))
        }
    });
    let server = TestServer::serve(|s| s, (), service).await;
    let addr = server.addr;
    let mut client = h2_handshake(TcpStream::connect(addr).await.unwrap()).await;

    let get = |path: &str| {
        Request::get(format!("http://localhost{path}"))
            .body(())
            .unwrap()
    };
    let (failed, _) = client.send_request(get("/fail"), true).unwrap();
    let error = tokio::time::timeout(LIMIT, failed)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.reason(), Some(h2::Reason::INTERNAL_ERROR));

    let mut client = client.ready().await.unwrap();
    let (pending, mut stream) = client.send_request(get("/wait"), true).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!dropped.load(Ordering::SeqCst), "the service still runs");
    stream.send_reset(h2::Reason::CANCEL);
    drop(pending);
    tokio::time::timeout(LIMIT, async {
        while !dropped.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the service's future is dropped once its stream is reset");
}

/// A connection's streams run in its task: one that panics, answering a
/// request or running a WebSocket, ends alone.
#[tokio::test]
async fn a_panicking_stream_ends_alone() {
    let service = service_fn(|mut req: Request<RequestBody>| async move {
        match req.uri().path() {
            "/panic" => panic!("a service that panics"),
            "/panic-ws" => {
                Ok(Upgrade::require(&mut req)
                    .unwrap()
                    .on_upgrade(|mut ws| async move {
                        let _ = ws.recv().await;
                        panic!("a WebSocket handler that panics");
                    }))
            }
            _ => app::route(req).await,
        }
    });
    let server = TestServer::serve(|s| s, (), service).await;
    let addr = server.addr;
    let mut client = h2_client(TcpStream::connect(addr).await.unwrap()).await;
    let mut echo = h2_websocket(&mut client, "/echo").await;
    round_trip(&mut echo, "before").await;

    let request = Request::get("http://localhost/panic").body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let reset = tokio::time::timeout(LIMIT, response).await.unwrap();
    assert!(reset.is_err(), "the panicking request's stream is reset");

    let mut doomed = h2_websocket(&mut client, "/panic-ws").await;
    doomed.send(Message::text("panic now")).await.unwrap();
    let ended = tokio::time::timeout(LIMIT, doomed.recv()).await.unwrap();
    assert!(
        !matches!(ended, Some(Ok(_))),
        "the panicking WebSocket's stream ends: {ended:?}"
    );

    round_trip(&mut echo, "after").await;
    assert_eq!(h2_get(&mut client, "/healthz").await.0, 200);
}

/// Keep-alive pings go out at their interval on an idle connection, and
/// go on once one is answered.
#[tokio::test]
async fn keep_alive_pings_an_idle_connection() {
    const PING: u8 = 0x6;
    let server = TestServer::start(|s| s.http2_keep_alive(Some(Duration::from_millis(100)))).await;
    let mut tcp = raw_h2_client(server.addr).await;
    for _ in 0..2 {
        let (flags, opaque) =
            tokio::time::timeout(Duration::from_secs(5), next_frame_of(&mut tcp, PING))
                .await
                .expect("a keep-alive ping");
        assert_eq!((flags, opaque.len()), (0, 8), "a PING, not an ACK");
        let mut ack = vec![0, 0, 8, PING, 0x1, 0, 0, 0, 0];
        ack.extend_from_slice(&opaque);
        tcp.write_all(&ack).await.unwrap();
    }
}

/// Trailers cross both ways: the request's after its body, the
/// response's after its own.
#[tokio::test]
async fn trailers_cross_both_ways() {
    use http_body_util::{BodyExt, StreamBody};

    let service = service_fn(|req: Request<RequestBody>| async move {
        if req.uri().path() == "/healthz" {
            return Ok(Response::new(Body::from("ok")));
        }
        let collected = req.into_body().collect().await?;
        let checksum = collected
            .trailers()
            .and_then(|trailers| trailers.get("x-checksum"))
            .cloned();
        let body = collected.to_bytes();
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-length", body.len().into());
        if let Some(checksum) = checksum {
            trailers.insert("x-echoed-checksum", checksum);
        }
        let frames = [
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(body)),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let body = StreamBody::new(futures_util::stream::iter(frames));
        Ok::<_, pushwire::server::BoxError>(Response::new(Body::new(body)))
    });
    let server = TestServer::serve(|s| s, (), service).await;
    let addr = server.addr;
    let mut client = h2_client(TcpStream::connect(addr).await.unwrap()).await;

    let request = Request::post("http://localhost/sum").body(()).unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(bytes::Bytes::from_static(b"payload"), false)
        .unwrap();
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
    send.send_trailers(trailers).unwrap();

    let mut body = h2_response(response).await.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = tokio::time::timeout(LIMIT, body.data()).await.unwrap() {
        data.extend_from_slice(&chunk.unwrap());
    }
    let trailers = tokio::time::timeout(LIMIT, body.trailers())
        .await
        .unwrap()
        .unwrap()
        .expect("the response's trailers");
    assert_eq!(data, b"payload");
    assert_eq!(trailers["x-length"], "7");
    assert_eq!(trailers["x-echoed-checksum"], "abc");
}
