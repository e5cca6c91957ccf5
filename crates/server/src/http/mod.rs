//! The HTTP server: one listener for HTTP/1.1 ([`h1`]) and HTTP/2
//! ([`h2`]), cleartext or TLS, with graceful shutdown and counters.
//!
//! The connections know nothing of WebSocket: an upgrade leaves them
//! through [`upgrade_slot`], which the upgrade layer above picks up.

pub(crate) mod body;
pub(crate) mod client_tls;
pub(crate) mod connection;
pub(crate) mod date;
pub(crate) mod h1;
pub(crate) mod h2;
pub(crate) mod limits;
pub(crate) mod request_body;
pub(crate) mod server;
pub(crate) mod service;
pub(crate) mod shutdown;
pub(crate) mod sniff;
pub(crate) mod stats;
pub(crate) mod tls;
pub(crate) mod upgrade_slot;
