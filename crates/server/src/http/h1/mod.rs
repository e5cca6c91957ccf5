//! HTTP/1.1 (RFC 9112): bodies decoded and responses encoded without IO,
//! and the task that serves a connection. Request heads are parsed by
//! [`pushwire_proto::http1`].

pub(crate) mod body;
pub(crate) mod decode;
pub(crate) mod encode;
mod serve;

pub(crate) use serve::{serve_http1, Http1Settings};
