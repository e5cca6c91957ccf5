//! A Rust client of the hub, with the semantics of the JavaScript
//! clients (centrifuge-js, `pushwire.js`): [`Client`] speaks the hub
//! protocol over a WebSocket — over HTTP/1.1 (`ws://`, `wss://`) or, with
//! [`ClientOptions::http2`], over HTTP/2 (RFC 8441 extended CONNECT; ALPN
//! `h2` for `wss://`, prior knowledge in clear text) — or over the SSE
//! emulation ([`Transport::Sse`]: `GET /connection/sse` for the stream,
//! `POST /emulation` for the commands), or tries them in an order
//! ([`ClientOptions::transports`]) and keeps the first that connects.
//! On every transport it answers the hub's pings, and when the
//! connection is lost it reconnects with full-jitter exponential backoff
//! ([`Backoff`]) — unless the disconnect code says not to (3500–3999,
//! 4500–4999) — and recovers each subscription from its last offset and
//! epoch. A subscription learns of every reconnect by a
//! [`SubscriptionEvent::Subscribed`] event whose `recovered` flag says
//! whether the missed publications follow (they do, once each and in
//! order) or some were lost (the application should reload its state):
//! never a silent gap.
//!
//! [`ApiClient`] calls the server API (`POST /api/<method>` with the API
//! key), as a backend publishes.
//!
//! ```no_run
//! use pushwire::hub::client::{Client, ClientOptions, SubscriptionEvent, Transport};
//!
//! # async fn demo() -> Result<(), pushwire::hub::client::ClientError> {
//! // A WebSocket, or SSE where a proxy blocks WebSockets.
//! let options = ClientOptions::new().transports([Transport::WebSocket, Transport::Sse]);
//! let client = Client::connect("http://127.0.0.1:8000", options).await?;
//! let mut news = client.subscribe("news").await?;
//! client.publish("news", serde_json::json!({"text": "hi"})).await?;
//! while let Some(event) = news.next().await {
//!     match event {
//!         SubscriptionEvent::Publication(p) => println!("{} {}", p.offset.unwrap_or(0), p.data),
//!         SubscriptionEvent::Subscribed { was_recovering: true, recovered: false } => {
//!             eprintln!("publications were lost while disconnected: reload");
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Not covered: the HTTP streaming and long-polling transports (the
//! server has them; this client speaks WebSocket and SSE only);
//! subscription tokens; server-side subscriptions (from the token's
//! `channels` or the server API's `subscribe`); `send`; the protobuf
//! protocol. Over HTTP/2 the client waits for the server's SETTINGS to
//! allow extended CONNECT: a server that never does (an HTTP/2 proxy
//! without RFC 8441) makes the connect time out (then the next
//! transport of a fallback order is tried) rather than fall back to
//! HTTP/1.1, except over TLS, where a server whose ALPN chose HTTP/1.1
//! gets the HTTP/1.1 WebSocket. With a fallback order, only a transport
//! that cannot be opened (refused, `404`, a TLS or HTTP error) moves the
//! client to the next one, not one a proxy opens and then buffers.

mod api;
mod backoff;
mod endpoint;
mod error;
mod http;
mod session;
mod sse;
mod subscription;
mod transport;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use api::ApiClient;
pub use backoff::Backoff;
use endpoint::Endpoint;
pub use error::ClientError;
use session::{Connection, Request, CLIENT_CLOSED};
pub use subscription::{Publication, Subscription, SubscriptionEvent};
pub use transport::Transport;

/// Requests that may wait for the client's task at once.
const REQUEST_QUEUE: usize = 256;

/// Asks the application for a fresh connection token (a JWT), as
/// centrifuge-js's `getToken`; an `Err` carries why it could not.
pub type TokenSource =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// How a [`Client`] connects.
#[derive(Clone)]
pub struct ClientOptions {
    token: Option<String>,
    token_source: Option<TokenSource>,
    name: String,
    timeout: Duration,
    backoff: Backoff,
    ca_file: Option<PathBuf>,
    event_buffer: usize,
    http2: bool,
    transports: Vec<Transport>,
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("token_source", &self.token_source.is_some())
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("backoff", &self.backoff)
            .field("ca_file", &self.ca_file)
            .field("event_buffer", &self.event_buffer)
            .field("http2", &self.http2)
            .field("transports", &self.transports)
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}

impl ClientOptions {
    /// No token (anonymous), 10 s timeouts, the default [`Backoff`], a
    /// WebSocket over HTTP/1.1.
    pub fn new() -> ClientOptions {
        ClientOptions {
            token: None,
            token_source: None,
            name: "pushwire-rust".into(),
            timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            ca_file: None,
            event_buffer: 1024,
            http2: false,
            transports: vec![Transport::WebSocket],
        }
    }

    /// The connection token (a JWT), sent on every connect.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Where to get a new token: when the hub says the token expired (on
    /// connect, error 109) and before it expires (the connect result's
    /// `ttl`, renewed with a `refresh` command).
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.token_source = Some(source);
        self
    }

    /// The client's name, sent on connect (the hub's metrics show it).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How long opening a connection, or a command, may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The delays between reconnect attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Trusts the CA certificates in this PEM file for `wss://`, besides
    /// the public roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Speaks HTTP/2: the WebSocket is opened by an extended CONNECT
    /// (RFC 8441) on an HTTP/2 connection — with ALPN `h2` for
    /// `https://`/`wss://` (a server that answers with HTTP/1.1 gets the
    /// HTTP/1.1 WebSocket), with prior knowledge (h2c) in clear text —
    /// and the SSE stream and its POSTs share one HTTP/2 connection.
    pub fn http2(mut self, http2: bool) -> Self {
        self.http2 = http2;
        self
    }

    /// The transport to connect over ([`Transport::WebSocket`] by
    /// default).
    pub fn transport(self, transport: Transport) -> Self {
        self.transports([transport])
    }

    /// Transports to try in this order, as pushwire.js and centrifuge-js
    /// do: while none has connected yet, one that cannot be opened makes
    /// the client try the next at once (and the first connect fails only
    /// when all did); the one that connected is kept for every
    /// reconnect. An empty list keeps the current one.
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        let mut list: Vec<Transport> = Vec::new();
        for transport in transports {
            if !list.contains(&transport) {
                list.push(transport);
            }
        }
        if !list.is_empty() {
            self.transports = list;
        }
        self
    }

    /// How many events each subscription keeps for the application
    /// before the client stops reading the connection (1024).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events.max(1);
        self
    }
}

/// Where the client's connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening a connection (the first, or after a lost one).
    Connecting,
    /// Connected; `client` is the id the hub gave this connection.
    Connected {
        /// The hub's id of the connection.
        client: String,
    },
    /// Stopped for good: closed by the application (3000), or a
    /// disconnect code that means "do not reconnect".
    Disconnected {
        /// The disconnect code.
        code: u32,
        /// Why.
        reason: String,
    },
}

/// A channel's history, as `history` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct History {
    /// The publications asked for, oldest first.
    #[serde(default)]
    pub publications: Vec<Publication>,
    /// The stream's top offset.
    #[serde(default)]
    pub offset: u64,
    /// The stream's epoch.
    #[serde(default)]
    pub epoch: String,
}

/// A connection in a channel's presence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClientInfo {
    /// The user id (empty for anonymous users).
    #[serde(default)]
    pub user: String,
    /// The connection's id.
    #[serde(default)]
    pub client: String,
    /// Connection info from its token.
    #[serde(default)]
    pub conn_info: Option<Value>,
    /// Channel info from its subscription token.
    #[serde(default)]
    pub chan_info: Option<Value>,
}

/// A connection to a hub; cheap to clone. The connection closes when
/// [`Client::close`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    requests: mpsc::Sender<Request>,
    state: watch::Receiver<ConnectionState>,
    cancel: CancellationToken,
    timeout: Duration,
    event_buffer: usize,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &*self.shared.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to the hub at `url`: `ws://host:port/connection/websocket`
    /// (or `wss://`), or a server's base URL (`http://host:port`,
    /// `ws://host:port`), to which `/connection/websocket` is added; the
    /// SSE transport uses `/connection/sse` and `/emulation` beside it.
    ///
    /// Returns once the hub accepted the connection; a first attempt that
    /// fails (refused, bad token) is an error, while later losses are
    /// reconnected in the background.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(url)?;
        let (requests, receiver) = mpsc::channel(REQUEST_QUEUE);
        let (state_sender, state) = watch::channel(ConnectionState::Connecting);
        let cancel = CancellationToken::new();
        let shared = Arc::new(Shared {
            requests,
            state,
            cancel: cancel.clone(),
            timeout: options.timeout,
            event_buffer: options.event_buffer,
        });
        let connection = Connection::new(endpoint, options, receiver, state_sender, cancel);
        let (ready, connected) = oneshot::channel();
        tokio::spawn(connection.run(ready));
        match connected.await {
            Ok(Ok(())) => Ok(Client { shared }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ClientError::Disconnected {
                code: CLIENT_CLOSED,
                reason: "client stopped".into(),
            }),
        }
    }

    /// The connection's state now.
    pub fn state(&self) -> ConnectionState {
        self.shared.state.borrow().clone()
    }

    /// The connection's state, to watch its changes.
    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.shared.state.clone()
    }

    /// Subscribes to `channel`; returns once the hub accepted the
    /// subscription (its first event is then
    /// [`SubscriptionEvent::Subscribed`]).
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, ClientError> {
        let (events, receiver) = mpsc::channel(self.shared.event_buffer);
        let (answer, answered) = oneshot::channel();
        let request = Request::Subscribe {
            channel: channel.to_string(),
            events,
            answer,
        };
        self.request(request, answered).await?;
        Ok(Subscription::new(
            channel.to_string(),
            receiver,
            self.shared.requests.clone(),
        ))
    }

    /// Publishes `data` (JSON) to `channel`.
    pub async fn publish(&self, channel: &str, data: Value) -> Result<(), ClientError> {
        let params = json!({"channel": channel, "data": data});
        self.call("publish", params).await.map(drop)
    }

    /// The last `limit` publications of `channel` (all the hub allows
    /// for a negative `limit`, none for 0: then only the stream's
    /// position), oldest first.
    pub async fn history(&self, channel: &str, limit: i64) -> Result<History, ClientError> {
        let mut params = json!({"channel": channel, "limit": limit});
        if limit > 0 {
            params["reverse"] = true.into();
        }
        let result = self.call("history", params).await?;
        let mut history: History = serde_json::from_value(result)
            .map_err(|e| ClientError::Protocol(format!("history result: {e}")))?;
        if limit > 0 {
            history.publications.reverse();
        }
        for publication in &mut history.publications {
            publication.channel = channel.to_string();
        }
        Ok(history)
    }

    /// Who is in `channel`, by connection id.
    pub async fn presence(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, ClientInfo>, ClientError> {
        let result = self.call("presence", json!({"channel": channel})).await?;
        serde_json::from_value(result["presence"].clone())
            .map_err(|e| ClientError::Protocol(format!("presence result: {e}")))
    }

    /// Sends command `method` with `params` and returns its result (the
    /// object under the method's name in the reply), for commands without
    /// a method of their own (`presence_stats`, `rpc`…).
    pub async fn call(&self, method: &'static str, params: Value) -> Result<Value, ClientError> {
        let (answer, answered) = oneshot::channel();
        let request = Request::Call {
            method,
            params,
            answer,
        };
        self.request(request, answered).await
    }

    /// Closes the connection (code 3000 to its subscriptions) and waits
    /// until the client stopped.
    pub async fn close(&self) {
        self.shared.cancel.cancel();
        let mut state = self.shared.state.clone();
        let _ = state
            .wait_for(|s| matches!(s, ConnectionState::Disconnected { .. }))
            .await;
    }

    /// Queues `request` and waits for its answer, within the timeout.
    async fn request<T>(
        &self,
        request: Request,
        answered: oneshot::Receiver<Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        let exchange = async {
            if self.shared.requests.send(request).await.is_err() {
                return Err(self.stopped());
            }
            answered.await.unwrap_or_else(|_| Err(self.stopped()))
        };
        tokio::time::timeout(self.shared.timeout, exchange)
            .await
            .unwrap_or(Err(ClientError::Timeout))
    }

    fn stopped(&self) -> ClientError {
        match self.state() {
            ConnectionState::Disconnected { code, reason } => {
                ClientError::Disconnected { code, reason }
            }
            _ => ClientError::Disconnected {
                code: CLIENT_CLOSED,
                reason: "client stopped".into(),
            },
        }
    }
}
