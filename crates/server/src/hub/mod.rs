//! The hub: channels, history with recovery, presence and the server API,
//! speaking Centrifugo's client protocol, so that its SDKs (centrifuge-js,
//! centrifuge-python) and its API clients (`cent`) work unmodified.
//!
//! The protocol and the hub's state live in the sans-IO
//! [`pushwire_hub`] crate; this module runs them: one task owns the hub
//! (`driver`) and polls every hub WebSocket itself (`sockets`: no task
//! per WebSocket); the streaming transports (`stream`, `emulation`,
//! `long_poll`) and the server API (`api`) talk to it by message, and
//! each stream takes what it is to send from its `outlet`.
//!
//! | endpoint | what |
//! |---|---|
//! | `/connection/websocket` | bidirectional WebSocket, over HTTP/1.1 or HTTP/2 (RFC 8441) |
//! | `/connection/http_stream` | bidirectional emulation: POST the connect command, read newline-delimited replies and pushes |
//! | `/connection/sse` | bidirectional emulation over Server-Sent Events (`?cf_connect=` or a POST body) |
//! | `/connection/long_poll` | bidirectional emulation over held requests: POST the connect command, then poll `?session=…&ack=…` for numbered batches (see below) |
//! | `POST /emulation` | the later commands of an emulation session (`{"session","node","data"}`), answered on its stream (or its polls) |
//! | `/connection/uni_websocket` | unidirectional WebSocket: connect request first, then pushes |
//! | `/connection/uni_sse` | unidirectional Server-Sent Events (`?cf_connect=` or a POST body) |
//! | `/connection/uni_http_stream` | unidirectional newline-delimited JSON (POST body) |
//! | `POST /api/<method>` | the server API (`X-API-Key`) |
//!
//! Long polling is pushwire's own (Centrifugo has none), for networks
//! that buffer even streaming responses. Each poll's answer is complete:
//! a poll line `{"poll":{"seq":N}}` then newline-delimited messages, or
//! an empty body when the hold (25 s) ran out. The session keeps its last
//! batch until the next poll confirms it (`ack=N`), so a response lost on
//! the way is sent again and nothing is lost or duplicated; a session
//! with no poll for the session timeout (50 s, [`LongPollConfig`]) is
//! closed, and a poll for it gets a 3010 disconnect push (the client
//! reconnects and recovers). The full wire format is in `long_poll.rs`.
//!
//! ```text
//! POST /connection/long_poll            {"id":1,"connect":{}}
//!   200  {"poll":{"seq":1,"session":"9f…"}}
//!        {"id":1,"connect":{"client":"…","session":"9f…","pong":true,…}}
//! POST /emulation                        {"session":"9f…","data":"{\"id\":2,\"subscribe\":{\"channel\":\"news\"}}"}
//!   204
//! POST /connection/long_poll?session=9f…&ack=1
//!   200  {"poll":{"seq":2}}
//!        {"id":2,"subscribe":{}}
//! POST /connection/long_poll?session=9f…&ack=2     (held until a publication)
//!   200  {"poll":{"seq":3}}
//!        {"push":{"channel":"news","pub":{"data":{"n":1},"offset":1}}}
//! ```
//!
//! The HTTP transports (the emulation ones, `/emulation` and the
//! unidirectional streams) answer cross-origin requests from the origins
//! of `client.allowed_origins` (`cors`) and refuse others with `403`,
//! as WebSockets from them are refused.
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
pub mod client;
mod config;
#[cfg(feature = "config-file")]
pub mod config_file;
mod cors;
mod deadline;
mod driver;
mod emulation;
mod engine;
mod handle;
mod latency;
mod long_poll;
mod metrics;
mod outlet;
mod prometheus;
mod proxy;
mod routes;
mod sockets;
mod stream;
mod websocket;

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use pushwire_hub::api::ApiResponse;
use pushwire_hub::config::ConfigError;
use pushwire_hub::{Stats, Transport};
use tokio::sync::{mpsc, oneshot};

pub use client::Client;
pub use config::{
    Addresses, Config, EngineConfig, EngineKind, HttpApiConfig, RedisSettings, WebSocketSettings,
};
use driver::Command;
use handle::{HubHandle, Settings};
use long_poll::LongPoll;
pub use long_poll::LongPollConfig;
use routes::{stream_route, websocket_route};
use stream::Framing;

use crate::http::body::Body;
use crate::http::request_body::RequestBody;
use crate::ws::WebSocketConfig;
use pushwire_proto::ws::deflate::DeflateConfig;

/// Commands that may wait for the driver at once; beyond, transports
/// wait (and so do their clients).
const COMMAND_QUEUE: usize = 4096;

/// A running hub: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Hub {
    handle: HubHandle,
    long_poll: Arc<LongPoll>,
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
        if config.engine.kind == EngineKind::Redis {
            return Err(ConfigError {
                key: "engine.type".into(),
                reason: "the Redis engine connects first: start the hub with Hub::connect".into(),
            });
        }
        let seed: [u8; 32] = rand::random();
        let hub = pushwire_hub::Hub::new(config.hub.clone(), seed, driver::now())?;
        Hub::spawn(hub, config, websocket, None)
    }

    /// Starts the hub on the engine `config` names: [`Hub::start_with`]
    /// for the in-memory engine; for Redis, connects first (an unreachable
    /// Redis is an error naming `engine.redis.address`), and the node then
    /// reconnects by itself whenever Redis goes away.
    pub async fn connect(config: Config, websocket: WebSocketConfig) -> Result<Hub, ConfigError> {
        if config.engine.kind != EngineKind::Redis {
            return Hub::start_with(config, websocket);
        }
        let seed: [u8; 32] = rand::random();
        let hub = pushwire_hub::Hub::with_remote_engine(config.hub.clone(), seed, driver::now())?;
        let settings = &config.engine.redis;
        let (redis, events) =
            pushwire_redis::RedisEngine::connect(engine::redis_config(settings), hub.node_id())
                .await
                .map_err(|e| ConfigError {
                    key: if settings.cluster_address.is_empty() {
                        "engine.redis.address".into()
                    } else {
                        "engine.redis.cluster_address".into()
                    },
                    reason: e.to_string(),
                })?;
        let engine = engine::EngineIo::start(redis, events);
        Hub::spawn(hub, config, websocket, Some(engine))
    }

    fn spawn(
        hub: pushwire_hub::Hub,
        config: Config,
        websocket: WebSocketConfig,
        engine: Option<(engine::EngineIo, engine::EngineInbox)>,
    ) -> Result<Hub, ConfigError> {
        let proxy = proxy::ProxyClient::new(&config.hub)?;
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let metrics = Arc::new(metrics::Metrics::default());
        // On a hub of many nodes, long polls can reach any node.
        let node = engine.as_ref().map(|_| hub.node_id().to_owned());
        let (poll_server, forwarded_polls) = match engine {
            Some(_) => {
                let (server, polls) = mpsc::unbounded_channel();
                (Some(server), Some(polls))
            }
            None => (None, None),
        };
        // Unconstrained: the driver does the I/O of every hub WebSocket,
        // far more than the runtime's budget for one task's poll; it
        // yields between its rounds instead.
        tokio::spawn(tokio::task::unconstrained(driver::run(
            hub,
            receiver,
            metrics.clone(),
            engine,
            proxy,
            poll_server,
        )));
        let settings = Settings::new(&config, websocket);
        let handle = HubHandle {
            commands,
            settings: Arc::new(settings),
            metrics,
        };
        let long_poll = LongPoll::new(handle.clone(), config.long_poll, node);
        if let Some(polls) = forwarded_polls {
            tokio::spawn(long_poll::serve_forwarded_polls(
                Arc::downgrade(&long_poll),
                polls,
            ));
        }
        Ok(Hub { long_poll, handle })
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
            return Ok(api::serve(&hub, method, req).await);
        }
        // The streaming and polling transports' futures are boxed: the
        // future of every request, a server API call's included, is as
        // large as the largest route's, and a connection's task allocates
        // and copies it for each request.
        let response = match path {
            "/connection/websocket" => websocket_route(&mut req, hub, Transport::websocket()),
            "/connection/uni_websocket" => {
                websocket_route(&mut req, hub, Transport::uni_websocket())
            }
            "/connection/http_stream" => {
                Box::pin(stream_route(
                    req,
                    hub,
                    Framing::Lines,
                    Transport::emulation(),
                ))
                .await
            }
            "/connection/sse" => {
                Box::pin(stream_route(req, hub, Framing::Sse, Transport::emulation())).await
            }
            "/emulation" => Box::pin(emulation::serve(req, hub)).await,
            "/connection/long_poll" => Box::pin(self.long_poll.serve(req)).await,
            "/connection/uni_sse" => {
                Box::pin(stream_route(req, hub, Framing::Sse, Transport::uni_sse())).await
            }
            "/connection/uni_http_stream" => {
                Box::pin(stream_route(
                    req,
                    hub,
                    Framing::Lines,
                    Transport::uni_http_stream(),
                ))
                .await
            }
            _ => return Err(req),
        };
        Ok(response)
    }

    /// Calls the server API in process, as `POST /api/<method>` would
    /// without the key: `publish`, `broadcast`, `presence`, `history`…
    pub async fn api(&self, method: &str, body: Bytes) -> ApiResponse {
        let method = method.to_owned();
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

    /// Tells the other nodes (Redis engine) that this one stops, so that
    /// the server API's `info` drops it and `channels` stops waiting for
    /// it at once; call it when the node stops serving. Resolves once
    /// Redis took the message, or after [`LEAVE_TIMEOUT`] (a Redis that
    /// does not answer delays the stop no longer); at once on the
    /// in-memory engine.
    pub async fn leave(&self) {
        let (done, left) = oneshot::channel();
        let told = async {
            if self.handle.send(Command::Leave { done }).await {
                let _ = left.await;
            }
        };
        if tokio::time::timeout(LEAVE_TIMEOUT, told).await.is_err() {
            tracing::debug!(
                "the other nodes were not told this one stops within {LEAVE_TIMEOUT:?}"
            );
        }
    }
}

/// The longest [`Hub::leave`] waits for Redis.
pub const LEAVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
