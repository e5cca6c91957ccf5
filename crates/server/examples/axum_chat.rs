//! A chat room in axum with pushwire's extractor, both forms:
//! `/` is *accept* (`Option<WebSocketUpgrade>`: the page, or the chat),
//! `/ws` is *require* (`WebSocketUpgrade`: 426 for a plain request).
//! Works over HTTP/1.1 and HTTP/2; mount WebSocket routes with `any`.
//!
//! `cargo run -p pushwire --features axum --example axum_chat`, then open
//! <http://127.0.0.1:8080/> in two tabs.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::{routing::any, Router};
use pushwire::upgrade::UpgradedStream;
use pushwire::{axum::WebSocketUpgrade, Message, Server, WebSocket};
use tokio::sync::broadcast;
use tower::ServiceExt;

const PAGE: &str = r#"<!doctype html><title>chat</title><input id=say><pre id=log></pre><script>
const ws = new WebSocket(location.href.replace(/^http/, "ws"));
ws.onmessage = (e) => (log.textContent += e.data + "\n");
say.onchange = () => { ws.send(say.value); say.value = ""; };
</script>"#;

type Room = broadcast::Sender<String>;

async fn chat(ws: WebSocket<UpgradedStream>, room: Room) {
    let (mut reader, mut writer) = ws.split();
    let mut heard = room.subscribe();
    let forward = tokio::spawn(async move {
        while let Ok(line) = heard.recv().await {
            if writer.send(Message::text(line)).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = reader.recv().await {
        if let Some(text) = message.as_text() {
            let _ = room.send(text.to_string());
        }
    }
    forward.abort();
}

async fn page_or_chat(State(room): State<Room>, up: Option<WebSocketUpgrade>) -> Response {
    match up {
        Some(up) => up.on_upgrade(|ws| chat(ws, room)),
        None => Html(PAGE).into_response(),
    }
}

async fn chat_only(State(room): State<Room>, up: WebSocketUpgrade) -> Response {
    up.on_upgrade(|ws| chat(ws, room))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new()
        .route("/", any(page_or_chat))
        .route("/ws", any(chat_only))
        .with_state(broadcast::channel::<String>(64).0);
    let server = Server::bind("127.0.0.1:8080").await?;
    println!("http://{}/", server.local_addr()?);
    let service = hyper::service::service_fn(move |req| app.clone().oneshot(req));
    server
        .serve_with_shutdown(service, pushwire::server::shutdown_signal())
        .await
}
