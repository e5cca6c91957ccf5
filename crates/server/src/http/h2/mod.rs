//! HTTP/2 (RFC 9113) on pushwire's own connections: the driver of the
//! connection's state (which lives, sans IO, in `pushwire-proto`), its
//! streams' handles, the task that serves it, and the tunnel an
//! extended CONNECT (RFC 8441) opens for a WebSocket.

pub(crate) mod config;
#[cfg(feature = "h2")]
mod h2_halves;
pub(crate) mod read;
pub(crate) mod respond;
mod serve;
pub(crate) mod stream;
pub(crate) mod tasks;
mod timeouts;
pub(crate) mod tunnel;

pub(crate) use serve::{serve_http2, Http2Settings};
