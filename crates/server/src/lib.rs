//! pushwire: real-time web for Rust.
//!
//! This crate is the IO layer over [`pushwire_proto`], in modules that
//! build on each other:
//!
//! - [`ws`]: a [`WebSocket`] connection over any async byte stream, the
//!   server handshake on a raw stream ([`accept`]) and a `ws://` /
//!   `wss://` client ([`connect`], [`ClientBuilder`]);
//! - [`server`]: a [`Server`] runs a service over HTTP/1.1 and HTTP/2 on
//!   one port, cleartext or [`Tls`], on pushwire's own connections;
//! - [`upgrade`]: [`Upgrade`] turns a request into a WebSocket over either
//!   protocol (`Upgrade: websocket`, or an RFC 8441 extended CONNECT),
//!   with *accept* and *require* semantics (see [`Server`] for a complete
//!   example); [`WebSocketLayer`] makes every route of a service
//!   upgradable (*everywhere*), and with the `axum` feature
//!   `pushwire::axum::WebSocketUpgrade` is an axum extractor;
//! - for clients that cannot use WebSockets, [`sse`] streams Server-Sent
//!   Events and [`longpoll`] holds requests on a cursor over a history.
//!
//! The names most programs need are also at the crate root.
//!
//! ```no_run
//! use pushwire::{accept, Message, WebSocketConfig};
//!
//! # async fn serve() -> Result<(), pushwire::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let Ok((mut ws, _request)) = accept(tcp, &WebSocketConfig::default(), &[]).await else { return };
//!         while let Some(Ok(message)) = ws.recv().await {
//!             if message.is_data() && ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```
#![deny(missing_docs)]

mod error;
mod http;
mod io;
mod task;

pub mod hub;
pub mod longpoll;
pub mod sse;
pub mod upgrade;
pub mod ws;

#[cfg(feature = "axum")]
pub use upgrade::axum;

/// The HTTP server: HTTP/1.1 and HTTP/2 on one port, cleartext or TLS,
/// with connection limits, counters and graceful shutdown.
pub mod server {
    pub use crate::http::body::{Body, BoxError};
    pub use crate::http::connection::ConnectionInfo;
    pub use crate::http::h2::config::Http2Config;
    pub use crate::http::request_body::RequestBody;
    pub use crate::http::server::Server;
    pub use crate::http::service::HttpService;
    pub use crate::http::shutdown::{shutdown_signal, Shutdown};
    pub use crate::http::stats::{ServerStats, StatsSnapshot};
    pub use crate::http::tls::{Tls, ALPN_PROTOCOLS};
}

pub use error::Error;
pub use pushwire_proto::{self as proto, CloseCode, CloseFrame, Message};
pub use server::{Body, ConnectionInfo, RequestBody, Server, Shutdown, Tls};
pub use upgrade::{OriginPolicy, Upgrade, WebSocketLayer};
pub use ws::{accept, connect, ClientBuilder, WebSocket, WebSocketConfig};
