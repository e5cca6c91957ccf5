//! The HTTP server: one listener for HTTP/1.1 and HTTP/2, cleartext or
//! TLS, with graceful shutdown and counters.

pub(crate) mod body;
pub(crate) mod connection;
pub(crate) mod http2;
pub(crate) mod http2_respond;
pub(crate) mod limits;
pub(crate) mod read_ahead;
pub(crate) mod request_body;
pub(crate) mod server;
pub(crate) mod shutdown;
pub(crate) mod sniff;
pub(crate) mod stats;
pub(crate) mod tls;
