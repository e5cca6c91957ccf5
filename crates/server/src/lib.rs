//! pushwire: real-time web for Rust.
//!
//! This crate is the IO layer over [`pushwire_proto`]: a [`WebSocket`]
//! connection over any async byte stream, the server handshake on a raw
//! stream ([`accept`]) and a `ws://` / `wss://` client ([`connect`],
//! [`ClientBuilder`]).
//!
//! It also serves HTTP: a [`Server`] runs a hyper service over HTTP/1.1
//! and HTTP/2 on one port, cleartext or [`Tls`], and [`Upgrade`] turns a
//! request into a WebSocket over either protocol (`Upgrade: websocket`,
//! or an RFC 8441 extended CONNECT), with *accept* and *require*
//! semantics; see [`Server`] for a complete example. [`WebSocketLayer`]
//! makes every route of a service upgradable (*everywhere*), and with
//! the `axum` feature `pushwire::axum::WebSocketUpgrade` is an axum extractor.
//!
//! For clients that cannot use WebSockets, [`sse`] streams Server-Sent
//! Events and [`longpoll`] holds requests on a cursor over a message log.
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

mod accept;
#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod config;
mod error;
mod everywhere;
mod http;
pub mod longpoll;
pub mod sse;
mod upgrade;
mod ws;

pub use accept::accept;
pub use client::{connect, ClientBuilder, ClientStream};
pub use config::WebSocketConfig;
pub use error::Error;
pub use everywhere::{BoxFuture, WebSocketLayer, WebSocketService};
pub use http::body::{Body, BoxError};
pub use http::connection::ConnectionInfo;
pub use http::request_body::RequestBody;
pub use http::server::Server;
pub use http::shutdown::{shutdown_signal, Shutdown};
pub use http::stats::{ServerStats, StatsSnapshot};
pub use http::tls::{Tls, ALPN_PROTOCOLS};
pub use pushwire_proto::{self as proto, CloseCode, CloseFrame, Message, Role, Utf8Bytes};
pub use upgrade::{Http2Stream, OriginPolicy, Upgrade, UpgradeRejection, UpgradedStream};
pub use ws::{Negotiated, SendFuture, WebSocket, WsReader, WsWriter};
