//! The push demo routes of `pushwire serve`, a contract the browser tests
//! rely on:
//!
//! - `GET /sse`: an event stream. First `retry: 1000`, then every 250 ms
//!   an event `id: n`, `event: tick`, `data: {"n":n}` for n = 1, 2, 3…;
//!   a reconnecting client (`Last-Event-ID: k`, or `?lastEventId=k`)
//!   resumes at n = k + 1. A heartbeat comment after 15 s without events.
//! - `POST /publish`: appends the body (UTF-8 text, at most 64 KiB, else
//!   413) to the demo log; `202 {"cursor":M}`.
//! - `GET /events`: the same log as an event stream: each message
//!   published after the cursor (`Last-Event-ID: N`, or `?cursor=N`;
//!   default: from now on) as `id: <its cursor>`, `data: <message>`; an
//!   event `reset` first when messages between were lost. A heartbeat
//!   comment after 15 s without events.
//! - `GET /poll?cursor=N&timeout_ms=T`: long poll on that log (N default
//!   0, T default 25000, at most 60000): `200 {"cursor":M,"messages":[…]}`,
//!   empty on timeout, `"reset":true` added when N is outside the log's
//!   retained window (see [`pushwire::longpoll`]).
//!
//! Cross-origin rule, for these three routes, the server's
//! [`OriginPolicy`] (as for WebSockets): a request without `Origin` is
//! served; one whose `Origin` the policy permits (by default only the
//! server's own: same scheme, and the same host and port as its `Host`
//! header or HTTP/2 `:authority`; more with `--allow-origin`) is served
//! with `Access-Control-Allow-Origin` set to it and `Vary: Origin`; any
//! other `Origin` gets `403`. `OPTIONS` is answered as a CORS preflight
//! under the same rule (`204` or `403`).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ALLOW, CACHE_CONTROL, CONTENT_LENGTH,
    ORIGIN, VARY,
};
use hyper::{Method, Request, Response, StatusCode};
use pushwire::longpoll::{self, History};
use pushwire::proto::sse::Event;
use pushwire::sse::{last_event_id, Sse};
use pushwire::RequestBody;
use pushwire::{Body, ConnectionInfo, OriginPolicy};

use super::{log_rejection, text, with_type};

/// The largest body `/publish` takes.
pub const MAX_PUBLISH_BYTES: usize = 64 * 1024;
/// How many messages the demo log retains.
const LOG_CAPACITY: usize = 1000;
/// The longest `/poll` may be held.
const MAX_POLL: Duration = Duration::from_secs(60);
/// The interval between `/sse` ticks.
const TICK: Duration = Duration::from_millis(250);

/// The state of the push routes.
pub struct Push {
    log: Arc<History<String>>,
}

impl Default for Push {
    fn default() -> Self {
        Push {
            log: Arc::new(History::new(LOG_CAPACITY)),
        }
    }
}

/// Serves the push routes; gives back any other request.
pub async fn route(
    push: &Push,
    origins: &OriginPolicy,
    req: Request<RequestBody>,
    info: Option<&ConnectionInfo>,
) -> Result<Response<Body>, Request<RequestBody>> {
    let allowed: &'static str = match req.uri().path() {
        "/sse" | "/events" => "GET, HEAD, OPTIONS",
        "/poll" => "GET, HEAD, OPTIONS",
        "/publish" => "POST, OPTIONS",
        _ => return Err(req),
    };
    if !origins.permits_request(&req) {
        log_rejection(&req, info, "403 cross-origin request");
        return Ok(text(
            StatusCode::FORBIDDEN,
            "cross-origin request refused\n",
        ));
    }
    let origin = req.headers().get(ORIGIN).cloned();
    let method = req.method().clone();
    let mut response = match (req.uri().path(), &method) {
        (_, &Method::OPTIONS) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            let headers = response.headers_mut();
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(allowed),
            );
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type, last-event-id"),
            );
            headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            response
        }
        ("/sse", &Method::GET | &Method::HEAD) => ticks(&req, info),
        ("/events", &Method::GET | &Method::HEAD) => events(push, &req, info),
        ("/poll", &Method::GET | &Method::HEAD) => poll(push, &req, info).await,
        ("/publish", &Method::POST) => publish(push, req, info).await,
        _ => {
            log_rejection(&req, info, "405 method not allowed");
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allowed));
            response
        }
    };
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(VARY, HeaderValue::from_static("origin"));
    }
    Ok(response)
}

/// The value of query parameter `name` (no percent-decoding: the demo's
/// parameters are numbers).
fn query<'a, B>(req: &'a Request<B>, name: &str) -> Option<&'a str> {
    req.uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// A query parameter as a number: `Ok(None)` when absent, `Err` when not
/// a number.
fn number<B>(req: &Request<B>, name: &str) -> Result<Option<u64>, std::num::ParseIntError> {
    query(req, name).map(str::parse).transpose()
}

/// `GET /sse`: ticks every 250 ms, resuming after `Last-Event-ID`.
fn ticks(req: &Request<RequestBody>, info: Option<&ConnectionInfo>) -> Response<Body> {
    let last = last_event_id(req)
        .or_else(|| query(req, "lastEventId"))
        .and_then(|id| id.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let (tx, sse) = Sse::channel(4);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = Some(Event::new().retry(1000));
        for n in last + 1.. {
            interval.tick().await;
            let event = Event::new()
                .id(n.to_string())
                .event("tick")
                .data(format!("{{\"n\":{n}}}"));
            if let Some(retry) = first.take() {
                if tx.send(retry).await.is_err() {
                    return;
                }
            }
            if tx.send(event).await.is_err() {
                // The client went away or the server is shutting down.
                return;
            }
        }
    });
    stream_until_shutdown(sse, info)
}

/// `GET /events`: the published messages after the client's cursor, as
/// they come.
fn events(
    push: &Push,
    req: &Request<RequestBody>,
    info: Option<&ConnectionInfo>,
) -> Response<Body> {
    let cursor = last_event_id(req)
        .or_else(|| query(req, "cursor"))
        .and_then(|id| id.trim().parse::<u64>().ok());
    let mut cursor = cursor.unwrap_or_else(|| push.log.cursor());
    let log = push.log.clone();
    let (tx, sse) = Sse::channel(16);
    tokio::spawn(async move {
        loop {
            let batch = tokio::select! {
                batch = log.poll(cursor, MAX_POLL) => batch,
                () = tx.closed() => return,
            };
            if batch.reset && tx.send(Event::new().event("reset").data("")).await.is_err() {
                return;
            }
            let first = batch.cursor + 1 - batch.messages.len() as u64;
            for (seq, message) in (first..).zip(batch.messages) {
                let event = Event::new().id(seq.to_string()).data(message);
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            cursor = batch.cursor;
        }
    });
    stream_until_shutdown(sse, info)
}

/// The event stream's response, ended cleanly when the server shuts down.
fn stream_until_shutdown(sse: Sse, info: Option<&ConnectionInfo>) -> Response<Body> {
    match info {
        Some(info) => sse.until(info.shutting_down()),
        None => sse,
    }
    .into_response()
}

/// `POST /publish`: appends the text body to the log.
async fn publish(
    push: &Push,
    req: Request<RequestBody>,
    info: Option<&ConnectionInfo>,
) -> Response<Body> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PUBLISH_BYTES as u64) {
        log_rejection(&req, info, "413 body too large");
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_PUBLISH_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            log_rejection(&Request::from_parts(parts, ()), info, "413 body too large");
            return too_large();
        }
        Err(e) => {
            tracing::debug!("/publish: reading the body: {e}");
            return text(StatusCode::BAD_REQUEST, "could not read the body\n");
        }
    };
    let Ok(message) = String::from_utf8(bytes.into()) else {
        return text(StatusCode::BAD_REQUEST, "the body must be UTF-8 text\n");
    };
    let cursor = push.log.publish(message);
    let mut response = json(format!("{{\"cursor\":{cursor}}}"));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

fn too_large() -> Response<Body> {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the body is larger than 64 KiB\n",
    )
}

/// `GET /poll`: held until a message is published after the cursor, or
/// the timeout, or the server shutting down.
async fn poll(
    push: &Push,
    req: &Request<RequestBody>,
    info: Option<&ConnectionInfo>,
) -> Response<Body> {
    let (cursor, timeout) = match (number(req, "cursor"), number(req, "timeout_ms")) {
        (Ok(cursor), Ok(timeout)) => (cursor.unwrap_or(0), timeout),
        _ => return text(StatusCode::BAD_REQUEST, "bad cursor or timeout_ms\n"),
    };
    let timeout = timeout.map_or(longpoll::DEFAULT_TIMEOUT, Duration::from_millis);
    let wait = push.log.poll(cursor, timeout.min(MAX_POLL));
    let batch = match info {
        Some(info) => {
            tokio::select! {
                batch = wait => batch,
                () = info.shutting_down() => push.log.read(cursor),
            }
        }
        None => wait.await,
    };
    json(batch.to_json())
}

fn json(body: String) -> Response<Body> {
    let mut response = with_type(Response::new(Body::from(body)), "application/json");
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
