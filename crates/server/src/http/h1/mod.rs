//! HTTP/1.1 (RFC 9112): request heads parsed, bodies decoded and
//! responses encoded without IO, and the task that serves a connection.

pub(crate) mod body;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod head;
mod serve;

pub(crate) use serve::{serve_http1, Http1Settings};
