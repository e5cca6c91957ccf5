//! The axum extractor (feature `axum`): an axum `Router` served by
//! `Server`, WebSockets over HTTP/1.1 and HTTP/2 with deflate, *require*
//! (426 for a plain request) and *accept* (`Option<WebSocketUpgrade>`).
#![cfg(feature = "axum")]

use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use hyper::service::service_fn;
use pushwire::axum::WebSocketUpgrade;
use pushwire::Message;
use pushwire::RequestBody;
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::common::http1::raw_request;
use crate::common::http2::{h2_client, h2_get, h2_websocket};
use crate::common::ws::{echo, round_trip};
use crate::common::{TestServer, LIMIT};

async fn require(upgrade: WebSocketUpgrade) -> Response {
    upgrade.protocols(["chat"]).on_upgrade(echo)
}

async fn accept(upgrade: Option<WebSocketUpgrade>) -> Response {
    match upgrade {
        Some(upgrade) => upgrade.on_upgrade(echo),
        None => "a plain page".into_response(),
    }
}

async fn start() -> TestServer {
    let app: Router = Router::new()
        .route("/echo", any(require))
        .route("/accept", any(accept))
        .route("/healthz", any(|| async { "ok" }));
    let service = service_fn(move |req: hyper::Request<RequestBody>| app.clone().oneshot(req));
    TestServer::serve(|s| s, (), service).await
}

#[tokio::test]
async fn extractor_over_http1() {
    let server = start().await;
    let addr = server.addr;
    let mut ws = pushwire::ClientBuilder::new(format!("ws://{addr}/echo"))
        .protocol("chat")
        .connect()
        .await
        .unwrap();
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.negotiated().deflate.is_some(), "deflate negotiated");
    round_trip(&mut ws, "axum h1").await;
    ws.close(None).await.unwrap();

    let mut ws = pushwire::connect(&format!("ws://{addr}/accept"))
        .await
        .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    let back = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert_eq!(back.unwrap().unwrap(), Message::text("hi"));

    let head = raw_request(
        addr,
        "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("sec-websocket-version: 13"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");

    let head = raw_request(
        addr,
        "GET /accept HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn extractor_over_http2() {
    let server = start().await;
    let addr = server.addr;
    let mut client = h2_client(TcpStream::connect(addr).await.unwrap()).await;
    let mut ws = h2_websocket(&mut client, "/echo").await;
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.negotiated().deflate.is_some(), "deflate over h2");
    round_trip(&mut ws, "axum h2").await;
    let mut accepted = h2_websocket(&mut client, "/accept").await;
    round_trip(&mut accepted, "axum h2 accept").await;
    assert_eq!(
        h2_get(&mut client, "/accept").await,
        (200, "a plain page".into())
    );
    let (status, _) = h2_get(&mut client, "/echo").await;
    assert_eq!(status, 426);
}
