//! HTTP/2 (RFC 9113) on pushwire's own connections: the connection's
//! state, its streams and their handles, the task that serves it, and
//! the tunnel an extended CONNECT (RFC 8441) opens for a WebSocket.

pub(crate) mod config;
pub(crate) mod conn;
#[cfg(feature = "h2")]
mod h2_halves;
pub(crate) mod headers;
pub(crate) mod read;
pub(crate) mod respond;
mod serve;
pub(crate) mod stream;
pub(crate) mod tasks;
mod timeouts;
pub(crate) mod tunnel;

pub(crate) use serve::{serve_http2, Http2Settings};
