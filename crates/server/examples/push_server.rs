//! The library's push endpoints without the hub's protocol around them:
//! pushwire's `longpoll` and `sse` modules on a [`pushwire::Server`]. The
//! benchmark harness's long-poll and SSE scenarios run it (`bench/`).
//!
//! ```text
//! cargo run --release --example push_server -- [--listen 127.0.0.1:0]
//! ```
//!
//! - `POST /publish`: appends the body (UTF-8, at most 64 KiB, else 413)
//!   to one shared [`History`]; answers `202 {"cursor":M}`.
//! - `GET /poll?cursor=N&timeout_ms=T`: a long poll on it
//!   ([`History::poll`]; T defaults to 25 s, at most 60 s):
//!   `200 {"cursor":M,"messages":[…]}` (see [`pushwire::longpoll`]).
//! - `GET /events`: the messages published from now on (or after
//!   `Last-Event-ID`) as an event stream, `id:` each one's cursor.
//!
//! It prints `listening ADDR` once bound and serves until a shutdown
//! signal.

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::service::service_fn;
use pushwire::longpoll::{self, History};
use pushwire::proto::sse::Event;
use pushwire::sse::{last_event_id, Sse};
use pushwire::{Body, ConnectionInfo, RequestBody, Server};

/// The largest body `/publish` takes.
const MAX_PUBLISH_BYTES: usize = 64 << 10;
/// How many messages the history retains.
const CAPACITY: usize = 1000;
/// The longest `/poll` may be held.
const MAX_POLL: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut listen = String::from("127.0.0.1:0");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or_default(),
            // The harness passes its server flags to every peer.
            "--no-deflate" => {}
            other => {
                eprintln!(
                    "push_server: unknown argument {other}\nusage: push_server [--listen ADDR]"
                );
                std::process::exit(2);
            }
        }
    }
    let server = Server::bind(listen.as_str()).await?;
    println!("listening {}", server.local_addr()?);
    io::stdout().flush()?;
    let history = Arc::new(History::new(CAPACITY));
    let service = service_fn(move |req| route(req, history.clone()));
    server
        .serve_with_shutdown(service, pushwire::server::shutdown_signal())
        .await
}

async fn route(
    req: Request<RequestBody>,
    history: Arc<History<String>>,
) -> Result<Response<Body>, Infallible> {
    let info = req.extensions().get::<ConnectionInfo>().cloned();
    Ok(match (req.method(), req.uri().path()) {
        (&Method::POST, "/publish") => publish(req, &history).await,
        (&Method::GET, "/poll") => poll(&req, &history, info.as_ref()).await,
        (&Method::GET, "/events") => events(&req, history, info.as_ref()),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    })
}

/// `POST /publish`.
async fn publish(req: Request<RequestBody>, history: &History<String>) -> Response<Body> {
    let body: Bytes = match Limited::new(req.into_body(), MAX_PUBLISH_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "over 64 KiB\n"),
    };
    let Ok(message) = String::from_utf8(body.into()) else {
        return text(StatusCode::BAD_REQUEST, "the body must be UTF-8 text\n");
    };
    let cursor = history.publish(message);
    let mut response = json(format!("{{\"cursor\":{cursor}}}"));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// `GET /poll`: held until a message comes after the cursor, the timeout,
/// or the server shutting down.
async fn poll(
    req: &Request<RequestBody>,
    history: &History<String>,
    info: Option<&ConnectionInfo>,
) -> Response<Body> {
    let (Ok(cursor), Ok(timeout)) = (number(req, "cursor"), number(req, "timeout_ms")) else {
        return text(StatusCode::BAD_REQUEST, "bad cursor or timeout_ms\n");
    };
    let cursor = cursor.unwrap_or(0);
    let timeout = timeout.map_or(longpoll::DEFAULT_TIMEOUT, Duration::from_millis);
    let wait = history.poll(cursor, timeout.min(MAX_POLL));
    let batch = match info {
        Some(info) => tokio::select! {
            batch = wait => batch,
            () = info.shutting_down() => history.read(cursor),
        },
        None => wait.await,
    };
    json(batch.to_json())
}

/// `GET /events`: what is published after the client's cursor, as it
/// comes.
fn events(
    req: &Request<RequestBody>,
    history: Arc<History<String>>,
    info: Option<&ConnectionInfo>,
) -> Response<Body> {
    let from = last_event_id(req).and_then(|id| id.trim().parse::<u64>().ok());
    let mut cursor = from.unwrap_or_else(|| history.cursor());
    let (tx, sse) = Sse::channel(16);
    tokio::spawn(async move {
        loop {
            let batch = tokio::select! {
                batch = history.poll(cursor, MAX_POLL) => batch,
                () = tx.closed() => return,
            };
            let first = batch.cursor + 1 - batch.messages.len() as u64;
            for (seq, message) in (first..).zip(batch.messages) {
                if tx
                    .send(Event::new().id(seq.to_string()).data(message))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            cursor = batch.cursor;
        }
    });
    match info {
        Some(info) => sse.until(info.shutting_down()),
        None => sse,
    }
    .into_response()
}

/// A query parameter as a number: `Ok(None)` when absent.
fn number<B>(req: &Request<B>, name: &str) -> Result<Option<u64>, std::num::ParseIntError> {
    let value = req.uri().query().and_then(|query| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find_map(|(key, value)| (key == name).then_some(value))
    });
    value.map(str::parse).transpose()
}

fn json(body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
}
