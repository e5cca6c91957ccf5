//! *everywhere*: `WebSocketLayer` over an existing service makes every
//! route upgradable (dwebsocket's middleware with
//! `WEBSOCKET_ACCEPT_ALL`); plain requests reach the service untouched.
//!
//! `cargo run -p pushwire --example route_everywhere`, then
//! `curl http://127.0.0.1:8080/rooms/1` (the service) or
//! `cargo run -- connect ws://127.0.0.1:8080/rooms/1` (the layer).

use std::convert::Infallible;

use hyper::{service::service_fn, Request, Response};
use pushwire::{Body, Message, RequestBody, Server, WebSocketLayer};
use tower_layer::Layer;

/// The existing application, which knows nothing of WebSockets.
async fn pages(req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    let text = format!("the page at {}\n", req.uri().path());
    Ok(Response::new(Body::from(text)))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Every WebSocket, whatever its path, lands here with the request's
    // head, so the handler can route on path and headers.
    let layer = WebSocketLayer::new(|mut ws, req: Request<()>| async move {
        let room = req.uri().path().to_string();
        if ws
            .send(Message::text(format!("joined {room}")))
            .await
            .is_err()
        {
            return;
        }
        while let Some(Ok(message)) = ws.recv().await {
            if let Some(text) = message.as_text() {
                let reply = Message::text(format!("{room}: {text}"));
                if ws.send(reply).await.is_err() {
                    break;
                }
            }
        }
    });
    let app = layer.layer(service_fn(pages));
    let server = Server::bind("127.0.0.1:8080").await?;
    println!(
        "http://{}/ (every path: page or WebSocket)",
        server.local_addr()?
    );
    server
        .serve_with_shutdown(app, pushwire::server::shutdown_signal())
        .await
}
