//! *everywhere*: `WebSocketLayer` over a plain service, served by
//! `Server`, upgrading any route over HTTP/1.1 and HTTP/2 and passing
//! plain requests through.

use std::convert::Infallible;

use http::{Request, Response};
use hyper::service::service_fn;
use pushwire::RequestBody;
use pushwire::{Body, Message, WebSocketLayer};
use tokio::net::TcpStream;
use tower_layer::Layer;

use crate::common::http1::raw_request;
use crate::common::http2::{h2_client, h2_get, h2_websocket};
use crate::common::{TestServer, LIMIT};

async fn page(req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/healthz" {
        return Ok(Response::new(Body::from("ok")));
    }
    Ok(Response::new(Body::from(format!(
        "page {}",
        req.uri().path()
    ))))
}

/// Serves the layer over `page`: each WebSocket is greeted with its path
/// and a header of the request, then echoes.
async fn start() -> TestServer {
    let layer = WebSocketLayer::new(|mut ws, req: Request<()>| async move {
        let agent = req
            .headers()
            .get("x-who")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nobody")
            .to_string();
        let greeting = format!(
            "{} {} {}",
            req.uri().path(),
            agent,
            req.version() == http::Version::HTTP_2
        );
        if ws.send(Message::text(greeting)).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = ws.recv().await {
            if message.is_data() && ws.send(message).await.is_err() {
                break;
            }
        }
    })
    .protocols(["chat"]);
    TestServer::serve(|s| s, (), layer.layer(service_fn(page))).await
}

async fn recv_text<S>(ws: &mut pushwire::WebSocket<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let message = tokio::time::timeout(LIMIT, ws.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    message.as_text().unwrap().to_string()
}

#[tokio::test]
async fn any_route_upgrades_over_http1_and_plain_requests_pass_through() {
    let server = start().await;
    let addr = server.addr;
    for path in ["/", "/rooms/42"] {
        let mut ws = pushwire::ClientBuilder::new(format!("ws://{addr}{path}"))
            .protocol("chat")
            .header("x-who", "alice")
            .connect()
            .await
            .unwrap();
        assert_eq!(ws.protocol(), Some("chat"));
        assert!(ws.negotiated().deflate.is_some(), "deflate negotiated");
        assert_eq!(recv_text(&mut ws).await, format!("{path} alice false"));
        ws.send(Message::text("ping")).await.unwrap();
        assert_eq!(recv_text(&mut ws).await, "ping");
        ws.close(None).await.unwrap();
    }
    let head = raw_request(
        addr,
        "GET /about HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // A faulty upgrade is answered by the layer, not the inner service.
    let head = raw_request(
        addr,
        "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
}

#[tokio::test]
async fn any_route_upgrades_over_http2() {
    let server = start().await;
    let addr = server.addr;
    let mut client = h2_client(TcpStream::connect(addr).await.unwrap()).await;
    assert_eq!(
        h2_get(&mut client, "/about").await,
        (200, "page /about".into())
    );
    let mut ws = h2_websocket(&mut client, "/deep/path").await;
    assert!(ws.negotiated().deflate.is_some(), "deflate over h2");
    assert_eq!(recv_text(&mut ws).await, "/deep/path nobody true");
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let echoed = tokio::time::timeout(LIMIT, ws.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echoed, Message::binary(vec![1u8, 2, 3]));
    // The connection still serves plain requests.
    assert_eq!(h2_get(&mut client, "/").await, (200, "page /".into()));
}

#[tokio::test]
async fn the_layer_wraps_tower_services_too() {
    use tower::ServiceExt;
    let inner = tower::service_fn(|req: Request<String>| async move {
        Ok::<_, Infallible>(Response::new(Body::from(req.into_body())))
    });
    let service = WebSocketLayer::new(|_ws, _req: Request<()>| async {}).layer(inner);
    let response = service
        .oneshot(Request::post("/").body("hi".to_string()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
