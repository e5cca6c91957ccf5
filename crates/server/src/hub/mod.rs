//! The hub: channels, history with recovery, presence and the server API,
//! speaking Centrifugo's client protocol, so that its SDKs (centrifuge-js,
//! centrifuge-python) and its API clients (`cent`) work unmodified.
//!
//! The protocol and the hub's state live in the sans-IO
//! [`pushwire_hub`] crate; this module runs them: one task owns the hub
//! (`driver`), the transports (`websocket`, `stream`) and the server API
//! (`api`) talk to it by message, and each connection takes what it is
//! to send from its `outlet`.
//!
//! | endpoint | what |
//! |---|---|
//! | `/connection/websocket` | bidirectional WebSocket, over HTTP/1.1 or HTTP/2 (RFC 8441) |
//! | `/connection/uni_websocket` | unidirectional WebSocket: connect request first, then pushes |
//! | `/connection/uni_sse` | unidirectional Server-Sent Events (`?cf_connect=` or a POST body) |
//! | `/connection/uni_http_stream` | unidirectional newline-delimited JSON (POST body) |
//! | `POST /api/<method>` | the server API (`X-API-Key`) |
//!
//! ```no_run
//! use std::convert::Infallible;
//! use hyper::{service::service_fn, Response};
//! use pushwire::{hub, Body, Server};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config: hub::Config = serde_json::from_str(r#"{
//!     "http_api": {"key": "api-secret"},
//!     "client": {"token": {"hmac_secret_key": "token-secret"}},
//!     "channel": {"without_namespace": {"allow_subscribe_for_client": true}}
//! }"#)?;
//! let hub = hub::Hub::start(config)?;
//! // In-process publishing, as the server API would.
//! hub.api("publish", r#"{"channel":"news","data":{"text":"hi"}}"#.into()).await;
//! let service = service_fn(move |req| {
//!     let hub = hub.clone();
//!     async move {
//!         Ok::<_, Infallible>(match hub.route(req).await {
//!             Ok(response) => response,
//!             Err(_not_a_hub_path) => Response::new(Body::from("the app's own page")),
//!         })
//!     }
//! });
//! Server::bind("127.0.0.1:8000").await?.serve(service).await?;
//! # Ok(()) }
//! ```

mod api;
mod config;
mod driver;
mod metrics;
mod outlet;
mod prometheus;
mod stream;
mod websocket;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use pushwire_hub::api::ApiResponse;
use pushwire_hub::config::ConfigError;
use pushwire_hub::{ConnId, Stats, Transport};
use tokio::sync::{mpsc, oneshot};

pub use config::{Config, HttpApiConfig, WebSocketSettings};
use driver::Command;
use outlet::Outlet;
use stream::{Framing, StreamBody};

use crate::http::body::Body;
use crate::http::request_body::RequestBody;
use crate::upgrade::{OriginPolicy, Upgrade};
use crate::ws::WebSocketConfig;
use pushwire_proto::deflate::DeflateConfig;

/// Commands that may wait for the driver at once; beyond, transports
/// wait (and so do their clients).
const COMMAND_QUEUE: usize = 4096;

/// The largest connect request a unidirectional transport reads.
const MAX_CONNECT_BODY: usize = 64 << 10;

/// A running hub: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Hub {
    handle: HubHandle,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// Checks `config` and starts the hub's task on the current tokio
    /// runtime. The hub runs until the last clone of it is dropped.
    ///
    /// Its WebSockets take permessage-deflate without context takeover
    /// on either side (no compressor kept per connection) and send
    /// messages under 64 bytes uncompressed; [`Hub::start_with`] sets
    /// other WebSocket settings.
    pub fn start(config: Config) -> Result<Hub, ConfigError> {
        let deflate = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .min_compress_size(64);
        Hub::start_with(config, WebSocketConfig::default().deflate(Some(deflate)))
    }

    /// [`Hub::start`] with these settings for the hub's WebSockets; their
    /// message size limit is `websocket.message_size_limit` of `config`,
    /// and their write buffer at most 64 KiB (a slow client's backlog
    /// waits in the hub, where its namespace's policy applies).
    pub fn start_with(config: Config, websocket: WebSocketConfig) -> Result<Hub, ConfigError> {
        let seed: [u8; 32] = rand::random();
        let hub = pushwire_hub::Hub::new(config.hub.clone(), seed, driver::now())?;
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let metrics = Arc::new(metrics::Metrics::default());
        tokio::spawn(driver::run(hub, receiver, metrics.clone()));
        let settings = Settings::new(&config, websocket);
        Ok(Hub {
            handle: HubHandle {
                commands,
                settings: Arc::new(settings),
                metrics,
            },
        })
    }

    /// Serves `req` if its path is one of the hub's (see the module
    /// doc); gives it back otherwise, for the rest of the application.
    pub async fn route(
        &self,
        mut req: Request<RequestBody>,
    ) -> Result<Response<Body>, Request<RequestBody>> {
        let path = req.uri().path();
        let hub = self.handle.clone();
        if let Some(method) = path.strip_prefix("/api/") {
            let method = method.to_string();
            return Ok(api::serve(&hub, &method, req).await);
        }
        let response = match path {
            "/connection/websocket" => websocket_route(&mut req, hub, Transport::websocket()),
            "/connection/uni_websocket" => {
                websocket_route(&mut req, hub, Transport::uni_websocket())
            }
            "/connection/uni_sse" => stream_route(req, hub, Framing::Sse).await,
            "/connection/uni_http_stream" => stream_route(req, hub, Framing::Lines).await,
            _ => return Err(req),
        };
        Ok(response)
    }

    /// Calls the server API in process, as `POST /api/<method>` would
    /// without the key: `publish`, `broadcast`, `presence`, `history`…
    pub async fn api(&self, method: &str, body: Bytes) -> ApiResponse {
        self.handle.api(method, body).await.unwrap_or(ApiResponse {
            status: 503,
            body: Bytes::from_static(b"the hub is stopping"),
        })
    }

    /// The hub's counters: connections, subscriptions, publications…
    pub async fn stats(&self) -> Option<Stats> {
        let (answer, stats) = oneshot::channel();
        self.handle.send(Command::Stats { answer }).await;
        stats.await.ok()
    }
}

/// What the transports need besides the driver.
struct Settings {
    api_key: String,
    insecure_api: bool,
    origins: OriginPolicy,
    websocket: WebSocketConfig,
}

impl Settings {
    fn new(config: &Config, websocket: WebSocketConfig) -> Self {
        let allowed = &config.hub.client.allowed_origins;
        let origins = if allowed.iter().any(|origin| origin == "*") {
            OriginPolicy::Any
        } else {
            OriginPolicy::allow(allowed.iter().cloned())
        };
        let limits = websocket
            .limits
            .max_message_size(config.websocket.message_size_limit)
            .max_frame_size(config.websocket.message_size_limit);
        // What a connection has taken from its outlet waits in the
        // WebSocket's buffer until written: no more than the outlet
        // holds, so the backlog of a slow client stays in the hub, under
        // its namespace's policy.
        let max_write_buffer = websocket.max_write_buffer.min(outlet::OUTLET_BUDGET);
        Settings {
            api_key: config.http_api.key.clone(),
            insecure_api: config.http_api.insecure,
            origins,
            websocket: websocket.limits(limits).max_write_buffer(max_write_buffer),
        }
    }

    /// Whether the request may call the server API.
    fn api_key_matches<B>(&self, req: &Request<B>) -> bool {
        if self.insecure_api {
            return true;
        }
        !self.api_key.is_empty()
            && api::request_key(req).is_some_and(|key| constant_time_eq(key, &self.api_key))
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

/// The transports' way to the driver.
#[derive(Clone)]
pub(crate) struct HubHandle {
    commands: mpsc::Sender<Command>,
    settings: Arc<Settings>,
    metrics: Arc<metrics::Metrics>,
}

impl HubHandle {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn send(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// Sends from where nothing can wait (a drop, a poll).
    fn send_soon(&self, command: Command) {
        if let Err(mpsc::error::TrySendError::Full(command)) = self.commands.try_send(command) {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                let _ = commands.send(command).await;
            });
        }
    }

    /// Opens a connection: its handle and its outlet.
    async fn open(&self, transport: Transport) -> Option<(ConnId, Arc<Outlet>)> {
        let outlet = Arc::new(Outlet::default());
        let (opened, conn) = oneshot::channel();
        let command = Command::Open {
            transport,
            outlet: outlet.clone(),
            opened,
        };
        if !self.send(command).await {
            return None;
        }
        Some((conn.await.ok()?, outlet))
    }

    async fn frame(&self, conn: ConnId, frame: Bytes) {
        self.send(Command::Frame { conn, frame }).await;
    }

    async fn uni_connect(&self, conn: ConnId, request: Bytes) {
        self.send(Command::UniConnect { conn, request }).await;
    }

    async fn refill(&self, conn: ConnId) {
        self.send(Command::Refill(conn)).await;
    }

    fn refill_soon(&self, conn: ConnId) {
        self.send_soon(Command::Refill(conn));
    }

    fn closed(&self, conn: ConnId) {
        self.send_soon(Command::Closed(conn));
    }

    async fn api(&self, method: &str, body: Bytes) -> Option<ApiResponse> {
        let (answer, response) = oneshot::channel();
        let command = Command::Api {
            method: method.to_string(),
            body,
            answer,
        };
        if !self.send(command).await {
            return None;
        }
        response.await.ok()
    }
}

/// `/connection/websocket` and `/connection/uni_websocket`: WebSocket
/// only (a plain request gets 426).
fn websocket_route(
    req: &mut Request<RequestBody>,
    hub: HubHandle,
    transport: Transport,
) -> Response<Body> {
    match Upgrade::require(req) {
        Ok(upgrade) => {
            let settings = hub.settings();
            let info = upgrade.connection_info().cloned();
            upgrade
                .config(settings.websocket.clone())
                .origins(settings.origins.clone())
                .on_upgrade(move |ws| websocket::serve(ws, hub, transport, info))
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// `/connection/uni_sse` (GET with `cf_connect`, or POST) and
/// `/connection/uni_http_stream` (POST): the connect request, then a
/// response that streams the pushes.
async fn stream_route(
    req: Request<RequestBody>,
    hub: HubHandle,
    framing: Framing,
) -> Response<Body> {
    let request = match (req.method(), framing) {
        (&Method::GET, Framing::Sse) => match query_param(req.uri().query(), "cf_connect") {
            Some(request) => Bytes::from(request),
            None => Bytes::new(),
        },
        (&Method::POST, _) => match Limited::new(req.into_body(), MAX_CONNECT_BODY)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "connect request over 64 KiB\n",
                )
            }
        },
        (&Method::OPTIONS, _) => return plain(StatusCode::NO_CONTENT, ""),
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
    };
    let transport = match framing {
        Framing::Sse => Transport::uni_sse(),
        Framing::Lines => Transport::uni_http_stream(),
    };
    let Some((conn, outlet)) = hub.open(transport).await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "the hub is stopping\n");
    };
    hub.uni_connect(conn, request).await;
    let body = StreamBody::new(hub, conn, outlet, framing);
    let mut response = Response::new(Body::new(body));
    let headers = response.headers_mut();
    let kind = match framing {
        Framing::Sse => "text/event-stream; charset=utf-8",
        Framing::Lines => "application/json",
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate, max-age=0"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A query parameter, percent-decoded (`+` as space).
fn query_param(query: Option<&str>, name: &str) -> Option<Vec<u8>> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

fn plain(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        let query = Some("a=1&cf_connect=%7B%22token%22%3A%22x+y%22%7D&b");
        assert_eq!(
            query_param(query, "cf_connect").as_deref(),
            Some(&br#"{"token":"x y"}"#[..])
        );
        assert_eq!(query_param(query, "b").as_deref(), Some(&b""[..]));
        assert_eq!(query_param(query, "c"), None);
        // A stray or short escape stays as it is.
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
    }

    #[test]
    fn api_keys_are_read_from_either_header() {
        let config = Config {
            http_api: HttpApiConfig {
                key: "k1".into(),
                insecure: false,
            },
            ..Config::default()
        };
        let settings = Settings::new(&config, WebSocketConfig::default());
        let with =
            |name: &str, value: &str| Request::builder().header(name, value).body(()).unwrap();
        assert!(settings.api_key_matches(&with("x-api-key", "k1")));
        assert!(settings.api_key_matches(&with("authorization", "ApiKey k1")));
        assert!(!settings.api_key_matches(&with("x-api-key", "k2")));
        assert!(!settings.api_key_matches(&with("authorization", "Bearer k1")));
        assert!(!settings.api_key_matches(&Request::new(())));
    }
}
