//! The HTTP server: one listener for HTTP/1.1 and HTTP/2, cleartext or
//! TLS, with graceful shutdown and counters.

pub(crate) mod body;
pub(crate) mod connection;
pub(crate) mod limits;
pub(crate) mod server;
pub(crate) mod shutdown;
pub(crate) mod sniff;
pub(crate) mod stats;
pub(crate) mod tls;
