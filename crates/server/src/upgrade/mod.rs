//! Turning an HTTP request into a WebSocket, over HTTP/1.1 (`Upgrade`,
//! RFC 6455) or HTTP/2 (extended CONNECT, RFC 8441), in the spirit of
//! axum's `WebSocketUpgrade`: per route ([`Upgrade`]), on every route of
//! a service ([`WebSocketLayer`]), or as an axum extractor (feature
//! `axum`).
//!
//! The layer where HTTP meets WebSocket: it takes the stream a
//! connection hands over and runs a [`WebSocket`] on it.

#[cfg(feature = "axum")]
pub mod axum;
mod everywhere;
mod offer;
mod options;
mod origin;
mod rejection;
mod stream;

use std::future::Future;
use std::io;

use bytes::BytesMut;
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use http::{HeaderValue, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use pushwire_proto::ws::handshake::{ClientOffer, HandshakeError};
use pushwire_proto::Role;

use crate::error::Error;
use crate::http::body::Body;
use crate::http::connection::ConnectionInfo;
use crate::http::h2::tasks::{StreamSpawner, StreamTask};
pub use crate::http::h2::tunnel::Http2Stream;
use crate::http::stats::Counter;
use crate::http::upgrade_slot::{Handover, UpgradeSlot};
use crate::ws::{Negotiated, WebSocket, WebSocketConfig};
pub use everywhere::{BoxFuture, WebSocketLayer, WebSocketService};
use options::AcceptOptions;
pub use origin::OriginPolicy;
pub use rejection::UpgradeRejection;
use stream::Io;
pub use stream::UpgradedStream;

/// A request that asks for a WebSocket, ready to be accepted.
///
/// Three ways to use it, after dwebsocket's decorators:
///
/// - *accept* — one route serves both: [`Upgrade::from_request`] gives
///   `Ok(None)` for a plain request, which the route answers as usual;
/// - *require* — WebSocket only: [`Upgrade::require`] turns a plain
///   request into an [`UpgradeRejection`] answered `426 Upgrade Required`;
/// - either way a faulty upgrade (wrong version, missing key) is an
///   [`UpgradeRejection`] with its status.
///
/// Then [`Upgrade::on_upgrade`] answers `101 Switching Protocols`
/// (HTTP/1.1) or `200` (HTTP/2) and runs the callback on the WebSocket
/// in a task. Subprotocol and permessage-deflate are
/// negotiated the same way over both protocols.
///
/// ```no_run
/// use hyper::{Request, Response};
/// use pushwire::{Body, Message, RequestBody, Upgrade};
///
/// // accept semantics: a page and a WebSocket on one path
/// async fn chat(mut req: Request<RequestBody>) -> Response<Body> {
///     match Upgrade::from_request(&mut req) {
///         Ok(Some(upgrade)) => upgrade.protocols(["chat.v1"]).on_upgrade(|mut ws| async move {
///             let _ = ws.send(Message::text("welcome")).await;
///         }),
///         Ok(None) => Response::new(Body::from("<!doctype html><title>chat</title>")),
///         Err(rejection) => rejection.into_response(),
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Upgrade {
    version: Version,
    offer: ClientOffer,
    on_upgrade: OnUpgrade,
    options: AcceptOptions,
    connection: Option<ConnectionInfo>,
    origin: Option<String>,
    host: Option<String>,
}

impl Upgrade {
    /// *accept* semantics: `Ok(Some(_))` for a valid WebSocket request
    /// (an HTTP/1.1 `Upgrade: websocket`, or an HTTP/2 CONNECT with
    /// `:protocol` `websocket`), `Ok(None)` for a plain request, and a
    /// rejection for a faulty WebSocket request.
    ///
    /// Takes the upgrade out of the request's extensions: call it once.
    pub fn from_request<B>(req: &mut Request<B>) -> Result<Option<Upgrade>, UpgradeRejection> {
        let version = req.version();
        let offer = match offer::read_offer(req) {
            Ok(Some(offer)) => offer,
            Ok(None) => return Ok(None),
            Err(e) => return Err(UpgradeRejection::new(e, version)),
        };
        Ok(Some(Upgrade {
            version,
            offer,
            on_upgrade: OnUpgrade::take(req),
            options: AcceptOptions::default(),
            connection: req.extensions().get::<ConnectionInfo>().cloned(),
            origin: origin::header(req, http::header::ORIGIN).map(str::to_string),
            host: origin::request_host(req).map(str::to_string),
        }))
    }

    /// [`Upgrade::from_request`] on a request's head, for frameworks
    /// that hand out [`http::request::Parts`] (axum's `FromRequestParts`).
    pub fn from_parts(
        parts: &mut http::request::Parts,
    ) -> Result<Option<Upgrade>, UpgradeRejection> {
        let placeholder = Request::new(()).into_parts().0;
        let mut req = Request::from_parts(std::mem::replace(parts, placeholder), ());
        let upgrade = Upgrade::from_request(&mut req);
        *parts = req.into_parts().0;
        upgrade
    }

    /// *require* semantics: like [`Upgrade::from_request`], but a plain
    /// request is rejected with `426 Upgrade Required`.
    pub fn require<B>(req: &mut Request<B>) -> Result<Upgrade, UpgradeRejection> {
        let version = req.version();
        Upgrade::from_request(req)?
            .ok_or_else(|| UpgradeRejection::new(HandshakeError::NotWebSocket, version))
    }

    /// The subprotocols this route speaks, most preferred first: the
    /// first one the client also offered is chosen. Default: none.
    pub fn protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.options.set_protocols(protocols);
        self
    }

    /// The connection's settings, including what permessage-deflate to
    /// accept. Default: [`WebSocketConfig::default`].
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.options.config = config;
        self
    }

    /// Which pages may open this WebSocket. Default:
    /// [`OriginPolicy::SameOrigin`]; a refused request is answered `403`.
    pub fn origins(mut self, origins: OriginPolicy) -> Self {
        self.options.origins = origins;
        self
    }

    /// Every option at once, as a [`WebSocketLayer`] sets them.
    fn with_options(mut self, options: AcceptOptions) -> Self {
        self.options = options;
        self
    }

    /// The request's `Origin` header, when it has a readable one.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The subprotocols the client offered, in its order.
    pub fn requested_protocols(&self) -> &[String] {
        &self.offer.protocols
    }

    /// `HTTP/1.1` for an `Upgrade`, `HTTP/2` for an extended CONNECT.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The connection the request came on, when served by a
    /// [`Server`](crate::Server).
    pub fn connection_info(&self) -> Option<&ConnectionInfo> {
        self.connection.as_ref()
    }

    /// Accepts: returns the response to send (which must be returned by
    /// the service for the upgrade to happen) and a future that resolves
    /// to the WebSocket once it has been sent. For callers that run the
    /// WebSocket themselves; [`Upgrade::on_upgrade`] is the usual way.
    ///
    /// A request from an origin the [`OriginPolicy`] refuses gets
    /// `403 Forbidden` instead, and the future an error.
    pub fn accept(
        self,
    ) -> (
        Response<Body>,
        impl Future<Output = Result<WebSocket<UpgradedStream>, Error>> + Send + 'static,
    ) {
        let (response, websocket) = if self.options.origins.permits_on(
            self.origin(),
            self.host.as_deref(),
            self.connection.as_ref().map(ConnectionInfo::is_tls),
        ) {
            let (response, websocket) = self.accept_allowed();
            (response, Some(websocket))
        } else {
            tracing::warn!(
                origin = self.origin(),
                host = self.host.as_deref(),
                remote = ?self.connection.as_ref().map(ConnectionInfo::remote_addr),
                "WebSocket refused: origin not allowed (403)"
            );
            let mut response = Response::new(Body::from("origin not allowed\n"));
            *response.status_mut() = StatusCode::FORBIDDEN;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            (response, None)
        };
        let websocket = async move {
            match websocket {
                Some(websocket) => websocket.await,
                None => Err(Error::from(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "origin not allowed",
                ))),
            }
        };
        (response, websocket)
    }

    fn accept_allowed(
        self,
    ) -> (
        Response<Body>,
        impl Future<Output = Result<WebSocket<UpgradedStream>, Error>> + Send + 'static,
    ) {
        let supported: Vec<&str> = self.options.protocols.iter().map(String::as_str).collect();
        let accept = self
            .offer
            .accept(&supported, self.options.config.deflate.as_ref());
        let mut response = Response::new(Body::empty());
        *response.status_mut() = if self.version == Version::HTTP_2 {
            StatusCode::OK
        } else {
            StatusCode::SWITCHING_PROTOCOLS
        };
        let headers = response.headers_mut();
        if self.version != Version::HTTP_2 {
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            if let Ok(key) = HeaderValue::from_str(&accept.accept_key) {
                headers.insert(SEC_WEBSOCKET_ACCEPT, key);
            }
        }
        // Both values are made of tokens the client sent or ASCII text.
        if let Some(protocol) = accept.protocol.as_deref() {
            if let Ok(value) = HeaderValue::from_str(protocol) {
                headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
            }
        }
        if let Some(deflate) = &accept.deflate {
            if let Ok(value) = HeaderValue::from_str(&deflate.to_header()) {
                headers.insert(SEC_WEBSOCKET_EXTENSIONS, value);
            }
        }
        let open = self.connection.as_ref().map(|conn| {
            let stats = conn.stats();
            stats.bump(if self.version == Version::HTTP_2 {
                Counter::ExtendedConnects
            } else {
                Counter::H1Upgrades
            });
            stats.websocket_guard()
        });
        let negotiated = Negotiated {
            protocol: accept.protocol,
            deflate: accept.deflate,
        };
        let (version, config, on_upgrade) = (self.version, self.options.config, self.on_upgrade);
        let websocket = async move {
            let (stream, leftover) = on_upgrade.upgraded().await?;
            let tunnel = matches!(stream, Io::Tunnel(_));
            let stream = UpgradedStream::new(stream, version, open);
            let leftover = BytesMut::from(&leftover[..]);
            let ws = WebSocket::from_upgraded(stream, Role::Server, &config, negotiated, leftover);
            // Only pushwire's own HTTP/2 streams take buffers as they are.
            Ok(if tunnel {
                ws.with_buffers(UpgradedStream::buffers)
            } else {
                ws
            })
        };
        (response, websocket)
    }

    /// Accepts and returns the response; once it is sent, runs `callback`
    /// on the WebSocket in a task (one the server's graceful shutdown
    /// waits for, when served by a [`Server`](crate::Server)).
    ///
    /// Over HTTP/2 on a [`Server`](crate::Server), that task is the
    /// connection's own, shared with its other streams: every frame
    /// passes through the connection anyway, and a message then costs
    /// no wake-up between tasks. A callback that panics still ends
    /// alone. One that blocks the thread holds up the connection's other
    /// streams too, so CPU-heavy work belongs in
    /// `tokio::task::spawn_blocking`.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response<Body>
    where
        F: FnOnce(WebSocket<UpgradedStream>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let connection = self.connection.clone();
        let stream_tasks = self.on_upgrade.stream_tasks();
        let (response, websocket) = self.accept();
        // Both stages are boxed, so that the task holds only pointers:
        // the upgrade (with the configuration it holds) is freed once the
        // WebSocket is open, and the callback's future, which lives as
        // long as the connection, is not laid out twice (an `.await` on a
        // future made in place keeps room for it both before and after
        // it moves into the await, rust-lang/rust#62958).
        let mut task: StreamTask = Box::pin(async move {
            match Box::pin(websocket).await {
                Ok(ws) => Box::pin(callback(ws)).await,
                Err(e) => tracing::debug!("WebSocket not opened: {e}"),
            }
        });
        if let Some(stream_tasks) = stream_tasks {
            match stream_tasks.spawn(task) {
                Ok(()) => return response,
                // The connection has ended: the task only learns so.
                Err(refused) => task = refused,
            }
        }
        match connection {
            Some(connection) => connection.spawn(task),
            None => {
                tokio::spawn(task);
            }
        }
        response
    }
}

/// Where the upgraded stream will come from.
#[derive(Debug)]
enum OnUpgrade {
    /// hyper's upgrade, for a service run by a hyper server.
    Hyper(hyper::upgrade::OnUpgrade),
    /// The connection or stream of a pushwire [`Server`](crate::Server),
    /// and, for an HTTP/2 stream, where its WebSocket runs.
    Slot(
        Option<tokio::sync::oneshot::Receiver<Handover>>,
        Option<StreamSpawner>,
    ),
}

impl OnUpgrade {
    fn take<B>(req: &mut Request<B>) -> OnUpgrade {
        match req.extensions_mut().remove::<UpgradeSlot>() {
            Some(slot) => OnUpgrade::Slot(slot.take(), slot.stream_tasks().cloned()),
            None => OnUpgrade::Hyper(hyper::upgrade::on(req)),
        }
    }

    /// The tasks of the HTTP/2 connection the stream belongs to.
    fn stream_tasks(&self) -> Option<StreamSpawner> {
        match self {
            OnUpgrade::Slot(_, tasks) => tasks.clone(),
            OnUpgrade::Hyper(_) => None,
        }
    }

    /// The stream, once the response accepting it has been sent, and
    /// the bytes its connection read past the request.
    async fn upgraded(self) -> io::Result<(Io, bytes::Bytes)> {
        let failed = |e: &dyn std::fmt::Display| io::Error::other(format!("upgrade failed: {e}"));
        let handover = match self {
            OnUpgrade::Hyper(on_upgrade) => match on_upgrade.await {
                // hyper replays what it read ahead.
                Ok(upgraded) => {
                    return Ok((Io::Hyper(TokioIo::new(upgraded)), bytes::Bytes::new()))
                }
                Err(e) => return Err(failed(&e)),
            },
            OnUpgrade::Slot(Some(slot), _) => slot.await.map_err(|e| failed(&e))?,
            OnUpgrade::Slot(None, _) => return Err(failed(&"stream already taken")),
        };
        Ok(match handover {
            Handover::Connection { io, leftover } => (Io::Connection(io), leftover),
            Handover::Tunnel(stream) => (Io::Tunnel(stream), bytes::Bytes::new()),
        })
    }
}
