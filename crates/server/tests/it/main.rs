//! The server's integration tests, one test binary (one link, one copy of
//! the dependencies on disk) with a module per area; `common` holds what
//! they share.

mod common;

mod axum;
mod everywhere;
mod h2spec;
mod http1;
mod http1_timeouts;
mod http1_wire;
mod http2;
mod http2_wire;
mod hub;
mod hub_client;
mod hub_client_transports;
mod hub_emulation;
mod hub_long_poll;
mod hub_proxy;
mod limits;
mod origin;
mod rebinding;
mod shutdown;
mod smuggling;
mod sse;
mod tls;
mod websocket;
mod ws_attacks;
