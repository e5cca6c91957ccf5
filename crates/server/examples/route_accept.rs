//! *accept*: one route serves a page to a browser and a WebSocket to the
//! page's script (dwebsocket's `accept_websocket`).
//!
//! `cargo run -p pushwire --example route_accept`, then open
//! <http://127.0.0.1:8080/>.

use std::convert::Infallible;

use hyper::{service::service_fn, Request, Response};
use pushwire::{Body, Message, RequestBody, Server, Upgrade};

const PAGE: &str = r#"<!doctype html><title>accept</title><pre id=log></pre><script>
const ws = new WebSocket(location.href.replace(/^http/, "ws"));
ws.onopen = () => ws.send("hello over the same URL");
ws.onmessage = (e) => (log.textContent += e.data + "\n");
</script>"#;

async fn route(mut req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    Ok(match Upgrade::from_request(&mut req) {
        // A WebSocket request: echo, prefixed.
        Ok(Some(upgrade)) => upgrade.on_upgrade(|mut ws| async move {
            while let Some(Ok(message)) = ws.recv().await {
                if let Some(text) = message.as_text() {
                    let reply = Message::text(format!("echo: {text}"));
                    if ws.send(reply).await.is_err() {
                        break;
                    }
                }
            }
        }),
        // A plain request: the page.
        Ok(None) => {
            let mut response = Response::new(Body::from(PAGE));
            response
                .headers_mut()
                .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
            response
        }
        // A faulty upgrade: 400, 405 or 426.
        Err(rejection) => rejection.into_response(),
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind("127.0.0.1:8080").await?;
    println!("http://{}/ (page and WebSocket)", server.local_addr()?);
    server
        .serve_with_shutdown(service_fn(route), pushwire::server::shutdown_signal())
        .await
}
