//! `/connection/long_poll`: the hub's protocol over held requests, for
//! networks where even a streaming response is buffered until it ends.
//! Centrifugo has no such transport; pushwire's client uses it last.
//!
//! A session is an emulation connection (`Transport::emulation`, the
//! connect result names its `session`) whose output is fetched by polls
//! instead of read from one stream. Commands after the connect go to
//! `POST /emulation` with that session, as for `http_stream` and `sse`.
//!
//! # Wire format
//!
//! Every response is `200`, `application/json` and not cacheable, and
//! holds one complete answer; its body is newline-delimited JSON. An
//! answer ready when the request arrives has a length; a poll that is
//! held gets its head at once and its body when the wait ends, so on
//! HTTP/1.1 that response is chunked (one chunk, or none when empty).
//! A client reads each response to its end, as it would any other. The
//! bodies:
//!
//! * **empty**: nothing new (the hold timed out, or a newer poll took
//!   over). Poll again with the same `ack`.
//! * **a batch**: a poll line `{"poll":{"seq":N}}`, then the protocol's
//!   messages (replies, pushes, pings), one a line, as on `http_stream`.
//!   Batches are numbered 1, 2, 3… per session. A batch with `seq` at or
//!   below what the client has is a duplicate and is skipped whole.
//! * **final** (no poll line): messages that end the session, usually a
//!   single disconnect push. The client does not poll it again.
//!
//! The requests:
//!
//! * **Open**: `POST /connection/long_poll`, the connect command as the
//!   body (at most 64 KiB). The answer is batch 1, whose poll line also
//!   names the session — `{"poll":{"seq":1,"session":"…"}}` — followed by
//!   the connect reply (and whatever else is ready). A refused connect
//!   gets a final body (its error reply, a disconnect push) and no
//!   session.
//! * **Poll**: `POST /connection/long_poll?session=<id>&ack=<n>` (empty
//!   body, so no CORS preflight), `n` the last batch the client
//!   processed. The session keeps its last batch until a poll confirms
//!   it: a poll with the previous `ack` (the response was lost on the
//!   way) gets the same batch again, so nothing is lost or duplicated
//!   between two polls. Once up to date, the poll is held until
//!   something is queued, or for the hold timeout (25 s), then answered
//!   empty (its head goes at once, see above). One poll is held per
//!   session: a newer one replaces it, and the replaced one answers
//!   empty. An `ack` older than one already
//!   seen (a late request) is answered empty and changes nothing.
//! * **Close**: `POST /connection/long_poll?session=<id>&close`: the
//!   client leaves; the session ends at once (`204`).
//!
//! A session between two polls expires after the session timeout (50 s,
//! twice the hold): its hub connection is closed, which frees its
//! subscriptions and presence. A poll for an unknown or expired session,
//! or one whose `ack` names a batch never sent, gets a final body
//! `{"push":{"disconnect":{"code":3010,"reason":"…"}}}` (insufficient
//! state: the client reconnects and recovers from its offsets). When the
//! server shuts down, a held poll ends the session with a 3001 push.
//!
//! | answer | when |
//! |---|---|
//! | `200` | a batch, a final body, or empty (see above) |
//! | `204` | a close, or a preflight (`OPTIONS`) |
//! | `400` | an open with an empty body; `session` without a numeric `ack` (nor `close`) |
//! | `413` | an open body over 64 KiB |
//! | `405` | not `POST` (nor `OPTIONS`) |
//! | `403` | a page on an origin `client.allowed_origins` does not allow |
//! | `503` | the hub is stopping |
//!
//! On a hub of many nodes (the Redis engine) any node takes any request:
//! a session's id names the node that holds it (`<node>.<id>`), and a
//! poll or close that reaches another node is forwarded there through
//! Redis and answered with what that node answered (see `forward.rs`);
//! `/emulation` posts are forwarded likewise. No sticky sessions.
//!
//! What a session holds while idle: its hub connection and outlet (as a
//! WebSocket does), a small state, and its last batch until confirmed (at
//! most one outlet budget, 64 KiB); the backlog beyond waits in the hub,
//! under the namespace's slow-consumer policy. A held poll adds its
//! HTTP connection, which waits as under an event stream: the request
//! that was answered is gone, and the body to come holds the session,
//! a timer and the server's shutdown signal (`held.rs`).

mod cursor;
mod forward;
mod held;
mod session;

pub(crate) use forward::{serve_forwarded_polls, ForwardedPoll};

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, EXPIRES, PRAGMA};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use pushwire_hub::Transport;
use serde::Deserialize;

use self::cursor::{disconnect_push, final_body};
use self::held::Deferred;
use self::session::{Held, Polled, Session, SHUTDOWN_PUSH};
use super::cors::Cors;
use super::metrics::TransportKind;
use super::routes::{plain, query_param, read_body};
use super::HubHandle;
use crate::http::body::Body;
use crate::http::connection::ConnectionInfo;
use crate::http::request_body::RequestBody;
use crate::task::lock;

/// The largest open request read (the connect command), as for
/// `http_stream`.
const MAX_OPEN_BODY: usize = 64 << 10;

/// What `/connection/long_poll` allows.
const METHODS: &str = "POST, OPTIONS";

/// The disconnect code for a session the hub cannot serve (unknown,
/// expired, out of step): insufficient state, so the client reconnects
/// and recovers.
const LOST_STATE: u16 = 3010;

/// The disconnect code when the hub did not answer a connect within the
/// hold time (internal server error: the client reconnects).
const NO_CONNECT_REPLY: u16 = 3004;

/// `long_poll.*`: the long-polling transport's timeouts (Centrifugo has
/// no such transport; the keys are pushwire's own). Durations are written
/// like `"25s"` or as milliseconds.
///
/// ```
/// use std::time::Duration;
/// let config: pushwire::hub::Config =
///     serde_json::from_str(r#"{"long_poll": {"hold": "20s", "session_timeout": 40000}}"#).unwrap();
/// assert_eq!(config.long_poll.hold, Duration::from_secs(20));
/// assert_eq!(config.long_poll.session_timeout, Duration::from_secs(40));
/// ```
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LongPollConfig {
    /// How long a poll waits for something before it answers empty
    /// (default 25 s; keep it under the idle timeouts of proxies).
    #[serde(with = "pushwire_hub::config::duration")]
    pub hold: Duration,
    /// How long a session lives with no poll held before its connection
    /// is closed (default 50 s).
    #[serde(with = "pushwire_hub::config::duration")]
    pub session_timeout: Duration,
}

impl Default for LongPollConfig {
    /// Polls held 25 s; sessions expire 50 s after their last poll.
    fn default() -> Self {
        LongPollConfig {
            hold: Duration::from_secs(25),
            session_timeout: Duration::from_secs(50),
        }
    }
}

impl LongPollConfig {
    /// How often idle sessions are checked for expiry: a session ends
    /// between its timeout and a quarter of it later.
    fn sweep_interval(&self) -> Duration {
        (self.session_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(5))
    }
}

/// The long-poll sessions of one hub.
pub(crate) struct LongPoll {
    hub: HubHandle,
    config: LongPollConfig,
    sessions: Mutex<HashMap<Box<str>, Arc<Session>>>,
    /// The expiry sweep runs (started with the first session).
    sweeping: std::sync::atomic::AtomicBool,
    /// This node's id, on a hub of many nodes.
    node: Option<String>,
}

impl LongPoll {
    /// The sessions of a hub; `node` is this node's id on a hub of many
    /// nodes (polls for sessions of other nodes are then forwarded).
    pub(crate) fn new(hub: HubHandle, config: LongPollConfig, node: Option<String>) -> Arc<Self> {
        Arc::new(LongPoll {
            hub,
            config,
            node,
            sessions: Mutex::new(HashMap::new()),
            sweeping: Default::default(),
        })
    }

    /// Answers one `/connection/long_poll` request.
    pub(crate) async fn serve(self: &Arc<Self>, req: Request<RequestBody>) -> Response<Body> {
        let cors = match Cors::admit(&req, &self.hub.settings().origins) {
            Ok(cors) => cors,
            Err(refused) => return *refused,
        };
        cors.apply(self.answer(req, &cors).await)
    }

    async fn answer(self: &Arc<Self>, req: Request<RequestBody>, cors: &Cors) -> Response<Body> {
        match *req.method() {
            Method::POST => {}
            Method::OPTIONS => return cors.preflight(METHODS),
            _ => {
                let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(METHODS));
                return response;
            }
        }
        let query = req.uri().query();
        let Some(session) = query_param(query, "session") else {
            return self.open(req).await;
        };
        let session = String::from_utf8_lossy(&session).into_owned();
        if query_param(query, "close").is_some() {
            if let Some(node) = self.elsewhere(&session) {
                return self.forward_close(node, &session).await;
            }
            self.remove(&session);
            return plain(StatusCode::NO_CONTENT, "");
        }
        let ack = query_param(query, "ack")
            .and_then(|ack| std::str::from_utf8(&ack).ok()?.parse::<u64>().ok());
        let Some(ack) = ack else {
            return plain(
                StatusCode::BAD_REQUEST,
                "a poll needs ack=<the last batch received> (or close)\n",
            );
        };
        if let Some(node) = self.elsewhere(&session) {
            return self.forward_poll(node, &session, ack);
        }
        let info = req.extensions().get::<ConnectionInfo>();
        self.poll(&session, ack, info)
    }

    /// Opens a session with the connect command in the body.
    async fn open(self: &Arc<Self>, req: Request<RequestBody>) -> Response<Body> {
        let info = req.extensions().get::<ConnectionInfo>().cloned();
        let meta = (self.hub.settings().proxy_headers).capture("long_poll", req.headers());
        let request = match read_body(req.into_body(), MAX_OPEN_BODY).await {
            Ok(body) => body,
            Err(response) => return *response,
        };
        if request.iter().all(u8::is_ascii_whitespace) {
            return plain(
                StatusCode::BAD_REQUEST,
                "the body is the connect command; a poll needs ?session=…&ack=…\n",
            );
        }
        let Some((conn, outlet)) = self.hub.open(Transport::emulation(), meta).await else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "the hub is stopping\n");
        };
        self.hub.frame(conn, request).await;
        let mut messages = Vec::new();
        let take = std::future::poll_fn(|cx| outlet.poll_take(cx, &mut messages));
        let taken = tokio::select! {
            taken = tokio::time::timeout(self.config.hold, take) => taken.map_err(|_| {
                disconnect_push(NO_CONNECT_REPLY, "no connect reply")
            }),
            () = shut_down(info.as_ref()) => Err(SHUTDOWN_PUSH.to_vec()),
        };
        let taken = match taken {
            Ok(taken) => taken,
            Err(push) => {
                self.hub.closed(conn);
                return batch_response(final_body(&[], Some(&push)));
            }
        };
        let closed = taken.close.is_some() || taken.ended;
        let session = messages.first().and_then(|m| cursor::connect_session(m));
        let Some(session) = session.filter(|_| !closed).map(str::to_owned) else {
            // Refused (or gone at once): say so, and keep nothing.
            self.hub.closed(conn);
            let last = taken.ended.then_some(SHUTDOWN_PUSH);
            return batch_response(final_body(&messages, last));
        };
        let body = cursor::batch(1, Some(&session), &messages, None);
        let entry = Arc::new(Session::new(conn, outlet, body.clone(), taken.refill));
        lock(&self.sessions).insert(session.into(), entry);
        self.hub.metrics.opened(TransportKind::LongPoll);
        self.start_sweeping();
        batch_response(body)
    }

    /// A poll of `session` that has batch `ack`. Answered at once; a poll
    /// that has to wait gets its head now and its body (the batch, or
    /// nothing) when the wait ends (see `held.rs`).
    fn poll(self: &Arc<Self>, id: &str, ack: u64, info: Option<&ConnectionInfo>) -> Response<Body> {
        let session = lock(&self.sessions).get(id).cloned();
        let Some(session) = session else {
            return lost_state("long poll session expired or unknown");
        };
        let (polled, refill) = session.poll(ack);
        if refill {
            self.hub.refill_soon(session.conn);
        }
        match polled {
            Polled::Now(body) => batch_response(body),
            Polled::Stale => batch_response(Bytes::new()),
            Polled::Over => {
                self.remove(id);
                lost_state("long poll session ended")
            }
            Polled::Ahead => {
                self.remove(id);
                lost_state("long poll ack ahead of the batches sent")
            }
            Polled::Hold(turn) => {
                let shutdown = info.map(ConnectionInfo::shutting_down);
                let held = self.clone().held(id.into(), session, turn, shutdown);
                batch_response(Deferred::new(held))
            }
        }
    }

    /// What poll `turn` of session `id` answers once its wait ends: the
    /// next batch; the session's final body; nothing when the hold timed
    /// out or a newer poll took over; a 3001 push when the server shuts
    /// down. (A function returning an `async move` block, so that its
    /// arguments are kept once.)
    #[allow(clippy::manual_async_fn)] // an `async fn` doubles the future
    fn held(
        self: Arc<Self>,
        id: Box<str>,
        session: Arc<Session>,
        turn: u64,
        shutdown: Option<impl Future<Output = ()> + Send + 'static>,
    ) -> impl Future<Output = Bytes> + Send + 'static {
        async move {
            let shutdown = async {
                match shutdown {
                    Some(shutdown) => shutdown.await,
                    None => std::future::pending().await,
                }
            };
            let held = tokio::select! {
                held = tokio::time::timeout(self.config.hold, session.hold(turn)) => held,
                () = shutdown => {
                    self.remove(&id);
                    return final_body(&[], Some(SHUTDOWN_PUSH));
                }
            };
            match held {
                Ok(Held::Batch(body)) => body,
                Ok(Held::Over(body)) => {
                    self.remove(&id);
                    body
                }
                Ok(Held::Replaced) | Err(_) => Bytes::new(),
            }
        }
    }

    /// Ends session `id` (if it is still there) and its hub connection.
    fn remove(&self, id: &str) {
        let removed = lock(&self.sessions).remove(id);
        if let Some(session) = removed {
            self.hub.closed(session.conn);
            self.hub.metrics.closed(TransportKind::LongPoll);
        }
    }

    /// Starts the task that ends expired sessions, once.
    fn start_sweeping(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let interval = self.config.sweep_interval();
        tokio::spawn(sweep(Arc::downgrade(self), interval));
    }

    /// Ends the sessions idle for longer than the session timeout.
    fn expire(&self) {
        let now = tokio::time::Instant::now();
        let timeout = self.config.session_timeout;
        let expired: Vec<Box<str>> = lock(&self.sessions)
            .iter()
            .filter(|(_, session)| session.expired(now, timeout))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::debug!(session = &*id, "long poll session expired");
            self.remove(&id);
        }
    }
}

/// Ends expired sessions every `interval` while the hub lives.
async fn sweep(long_poll: Weak<LongPoll>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(long_poll) = long_poll.upgrade() else {
            return;
        };
        long_poll.expire();
    }
}

/// Resolves when the server that delivered the request shuts down;
/// never without one.
async fn shut_down(info: Option<&ConnectionInfo>) {
    match info {
        Some(info) => info.shutting_down().await,
        None => std::future::pending().await,
    }
}

/// The final answer for a session the hub cannot serve.
fn lost_state(reason: &str) -> Response<Body> {
    batch_response(lost_state_body(reason))
}

/// The final body for a session the hub cannot serve.
fn lost_state_body(reason: &str) -> Bytes {
    final_body(&[], Some(&disconnect_push(LOST_STATE, reason)))
}

/// A `200` carrying `body` (a batch, a final body, or nothing; or one
/// of them to come, [`Deferred`]).
fn batch_response(body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate, max-age=0"),
    );
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(EXPIRES, HeaderValue::from_static("0"));
    response
}
