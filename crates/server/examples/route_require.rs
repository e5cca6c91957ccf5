//! *require*: a WebSocket-only route; a plain request gets
//! `426 Upgrade Required` with `Upgrade: websocket` and
//! `Sec-WebSocket-Version: 13` (dwebsocket's `require_websocket`).
//!
//! `cargo run -p pushwire --example route_require`, then
//! `curl -i http://127.0.0.1:8080/echo` (426) or
//! `cargo run -- connect ws://127.0.0.1:8080/echo`.

use std::convert::Infallible;

use hyper::{service::service_fn, Request, Response, StatusCode};
use pushwire::{Body, RequestBody, Server, Upgrade};

async fn route(mut req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() != "/echo" {
        let mut response = Response::new(Body::from("try /echo\n"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    Ok(match Upgrade::require(&mut req) {
        Ok(upgrade) => upgrade.on_upgrade(|mut ws| async move {
            let _ = ws.echo().await;
        }),
        // A plain request: 426; a faulty upgrade: 400, 405 or 426.
        Err(rejection) => {
            eprintln!("{} {}: {rejection}", req.method(), req.uri());
            rejection.into_response()
        }
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind("127.0.0.1:8080").await?;
    println!("ws://{}/echo (WebSocket only)", server.local_addr()?);
    server
        .serve_with_shutdown(service_fn(route), pushwire::server::shutdown_signal())
        .await
}
