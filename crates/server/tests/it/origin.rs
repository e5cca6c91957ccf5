//! The Origin check: same-origin by default, an allow-list, over HTTP/1.1
//! and HTTP/2; a refused upgrade is answered 403 and never opened.

use std::convert::Infallible;

use http::{Request, Response};
use hyper::service::service_fn;
use pushwire::RequestBody;
use pushwire::{Body, OriginPolicy, WebSocketLayer};
use tokio::net::TcpStream;
use tower_layer::Layer;

use crate::common::http1::raw_request;
use crate::common::http2::{h2_client, h2_connect};
use crate::common::TestServer;

fn upgrade_request(path: &str, host: &str, origin: Option<&str>) -> String {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    )
}

#[tokio::test]
async fn same_origin_by_default_over_http1() {
    let server = TestServer::start(|s| s).await;
    let host = server.addr.to_string();
    let cases = [
        (None, "101"),
        (Some(format!("http://{host}")), "101"),
        (Some("http://evil.example".to_string()), "403"),
        (Some("null".to_string()), "403"),
    ];
    for (origin, status) in cases {
        let head = raw_request(
            server.addr,
            &upgrade_request("/echo", &host, origin.as_deref()),
        )
        .await;
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{origin:?}: {head}"
        );
    }
    let stats = server.stats.snapshot();
    assert_eq!(stats.h1_upgrades, 2, "refused upgrades are not counted");
}

#[tokio::test]
async fn same_origin_over_http2_uses_the_authority() {
    let server = TestServer::start(|s| s).await;
    let mut client = h2_client(TcpStream::connect(server.addr).await.unwrap()).await;
    // h2_connect sends `:authority` localhost.
    let (parts, ..) = h2_connect(
        &mut client,
        "/echo",
        &[
            ("sec-websocket-version", "13"),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(parts.status, 403);
    let (parts, ..) = h2_connect(
        &mut client,
        "/echo",
        &[
            ("sec-websocket-version", "13"),
            ("origin", "http://localhost"),
        ],
    )
    .await;
    assert_eq!(parts.status, 200);
}

#[tokio::test]
async fn the_layer_takes_an_allow_list() {
    let pages = service_fn(|_req: Request<RequestBody>| async {
        Ok::<_, Infallible>(Response::new(Body::from("page")))
    });
    let layer = WebSocketLayer::new(|_ws, _req: Request<()>| async {})
        .origins(OriginPolicy::allow(["https://app.example"]));
    let server = TestServer::serve(|s| s, (), layer.layer(pages)).await;
    let addr = server.addr;
    let host = addr.to_string();
    for (origin, status) in [
        ("https://app.example", "101"),
        ("https://other.example", "403"),
    ] {
        let head = raw_request(addr, &upgrade_request("/any", &host, Some(origin))).await;
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{origin}: {head}"
        );
    }
}
