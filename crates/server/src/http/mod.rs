//! The HTTP server: one listener for HTTP/1.1 and HTTP/2, cleartext or
//! TLS, with graceful shutdown and counters.

pub(crate) mod body;
pub(crate) mod connection;
pub(crate) mod date;
pub(crate) mod http1;
pub(crate) mod http1_body;
pub(crate) mod http1_decode;
pub(crate) mod http1_head;
pub(crate) mod http1_response;
pub(crate) mod http1_write;
pub(crate) mod http2;
pub(crate) mod http2_conn;
pub(crate) mod http2_read;
pub(crate) mod http2_request;
pub(crate) mod http2_respond;
pub(crate) mod http2_stream;
pub(crate) mod http2_tasks;
pub(crate) mod limits;
pub(crate) mod poll_rounds;
pub(crate) mod request_body;
pub(crate) mod server;
pub(crate) mod shutdown;
pub(crate) mod sniff;
pub(crate) mod stats;
pub(crate) mod tls;
pub(crate) mod wake_flag;
