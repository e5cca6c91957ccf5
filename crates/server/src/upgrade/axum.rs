//! axum integration (feature `axum`): the [`WebSocketUpgrade`] extractor.
//!
//! - *require*: take `WebSocketUpgrade`; a plain request is rejected with
//!   `426 Upgrade Required` and `Sec-WebSocket-Version: 13`;
//! - *accept*: take `Option<WebSocketUpgrade>`; a plain request gives
//!   `None` and the handler answers it as a page.
//!
//! Both work over HTTP/1.1 (`Upgrade: websocket`) and HTTP/2 (RFC 8441
//! extended CONNECT), with subprotocol and permessage-deflate negotiated
//! as in [`Upgrade`]. An HTTP/2 WebSocket arrives as a `CONNECT`, so
//! mount WebSocket routes with `axum::routing::any`
//! rather than `get`.
//!
//! ```no_run
//! use axum::{response::{IntoResponse, Response}, routing::any, Router};
//! use pushwire::{axum::WebSocketUpgrade, Message};
//!
//! async fn echo(upgrade: WebSocketUpgrade) -> Response {
//!     upgrade.on_upgrade(|mut ws| async move {
//!         let _ = ws.echo().await;
//!     })
//! }
//!
//! async fn chat(upgrade: Option<WebSocketUpgrade>) -> Response {
//!     match upgrade {
//!         Some(upgrade) => upgrade.on_upgrade(|mut ws| async move {
//!             let _ = ws.send(Message::text("welcome")).await;
//!         }),
//!         None => "<!doctype html><title>chat</title>".into_response(),
//!     }
//! }
//!
//! let app: Router = Router::new().route("/echo", any(echo)).route("/chat", any(chat));
//! ```

use std::future::Future;

use ::axum::extract::{FromRequestParts, OptionalFromRequestParts};
use ::axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::Version;

use super::{OriginPolicy, Upgrade, UpgradeRejection, UpgradedStream};
use crate::ws::{WebSocket, WebSocketConfig};

/// An axum extractor for a WebSocket request: *require* semantics as is,
/// *accept* semantics as `Option<WebSocketUpgrade>`. See the
/// [module](self) for an example.
#[derive(Debug)]
pub struct WebSocketUpgrade {
    upgrade: Upgrade,
}

impl WebSocketUpgrade {
    /// The subprotocols this route speaks, most preferred first; see
    /// [`Upgrade::protocols`].
    pub fn protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.upgrade = self.upgrade.protocols(protocols);
        self
    }

    /// The connection's settings; see [`Upgrade::config`].
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.upgrade = self.upgrade.config(config);
        self
    }

    /// Which pages may open this WebSocket; see [`Upgrade::origins`].
    pub fn origins(mut self, origins: OriginPolicy) -> Self {
        self.upgrade = self.upgrade.origins(origins);
        self
    }

    /// The subprotocols the client offered, in its order.
    pub fn requested_protocols(&self) -> &[String] {
        self.upgrade.requested_protocols()
    }

    /// `HTTP/1.1` for an `Upgrade`, `HTTP/2` for an extended CONNECT.
    pub fn version(&self) -> Version {
        self.upgrade.version()
    }

    /// The core [`Upgrade`], for [`Upgrade::accept`] and the rest.
    pub fn into_inner(self) -> Upgrade {
        self.upgrade
    }

    /// Accepts: returns the `101` (HTTP/1.1) or `200` (HTTP/2) response
    /// and, once it is sent, runs `callback` on the WebSocket in a task
    /// of its own; see [`Upgrade::on_upgrade`].
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket<UpgradedStream>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.upgrade
            .on_upgrade(callback)
            .map(::axum::body::Body::new)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let version = parts.version;
        match Upgrade::from_parts(parts)? {
            Some(upgrade) => Ok(WebSocketUpgrade { upgrade }),
            None => Err(UpgradeRejection::plain_request(version)),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Upgrade::from_parts(parts)?.map(|upgrade| WebSocketUpgrade { upgrade }))
    }
}

impl IntoResponse for UpgradeRejection {
    fn into_response(self) -> Response {
        UpgradeRejection::into_response(self).map(::axum::body::Body::new)
    }
}
