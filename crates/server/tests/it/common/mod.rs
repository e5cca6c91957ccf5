//! What the integration tests share, one concept a file:
//! - [`app`]: the test application most tests serve;
//! - [`server`]: [`TestServer`], a `Server` on 127.0.0.1 serving the test
//!   application or any other service, with its counters and shutdown;
//! - [`http1`]: a raw HTTP/1.1 client, from one response head to a full
//!   RFC 9112 response parser;
//! - [`http2`]: an HTTP/2 client made of the `h2` crate, and a WebSocket
//!   over its extended CONNECT;
//! - [`http2_frames`]: a raw HTTP/2 client, frame by frame;
//! - [`hub`]: a server for a hub alone;
//! - [`ws`]: WebSocket helpers: an echo handler and a round trip.

use std::time::Duration;

pub mod app;
pub mod http1;
pub mod http2;
pub mod http2_frames;
pub mod hub;
pub mod server;
pub mod ws;

pub use server::TestServer;

/// How long any single step of a test may take.
pub const LIMIT: Duration = Duration::from_secs(10);
