//! Protocol clients the delivery scenarios drive, each on one mio loop in
//! one thread: WebSocket subscribers of a broadcast server ([`ws`]),
//! subscribers of a channel of the hub (Centrifugo's protocol, [`hub`]),
//! Server-Sent Events streams ([`sse`]) and HTTP pollers ([`poll`]), each
//! with a publisher sending timestamped messages ([`stamp`]) at a fixed
//! rate, and the checks that a server speaks the protocol before it is
//! measured ([`sse_probe`], [`poll_probe`]). What they measure is
//! reached through one interface, [`DeliveryClient`], so a scenario is
//! written once for every transport. [`hub_storm`] is the hub's
//! recovery storm (clients that leave and come back asking to recover),
//! and [`api_call`] one waited-for request to the hub's server API.
//!
//! The parsers they read with keep a few words per connection, so 15,000
//! receivers cost little memory: [`stamp_reader`] (WebSocket frames),
//! [`sse_reader`] and [`chunked`] (event streams), [`http_conn`]
//! (keep-alive HTTP/1.1 responses). The echo and handshake scenarios use
//! the engine ([`crate::engine`]) instead.

pub mod api_call;
pub mod api_load;
pub mod chunked;
pub mod http_conn;
pub mod hub;
mod hub_emulation;
pub mod hub_http;
pub mod hub_http_wire;
mod hub_lines;
pub mod hub_resub;
pub mod hub_storm;
pub mod latency;
pub mod metrics_scrape;
pub mod pace;
pub mod poll;
pub mod poll_probe;
pub mod publisher;
pub mod redis_admin;
pub mod sse;
pub mod sse_probe;
pub mod sse_reader;
pub mod stamp;
pub mod stamp_reader;
pub mod ws;

use std::time::Duration;

use crate::engine::Counters;
use latency::Histogram;

/// A publisher and N receivers of one transport: what a delivery scenario
/// measures, whatever the protocol.
pub trait DeliveryClient {
    /// Publishes `rate` messages per second for `duration` while the
    /// receivers read.
    fn run(&mut self, rate: f64, duration: Duration);

    /// Starts measuring afresh (the [`Counters`] keep counting).
    fn reset(&mut self);

    /// Latency from publication to receipt, of every delivery since the
    /// last reset.
    fn latency(&self) -> &Histogram;

    /// Publications sent since the last reset.
    fn published(&self) -> u64;

    /// Messages received by the (reading) receivers since the last reset.
    fn deliveries(&self) -> u64;

    /// Bytes the receivers wrote since the last reset.
    fn bytes_up(&self) -> u64;

    /// Bytes the receivers read since the last reset.
    fn bytes_down(&self) -> u64;

    /// Requests the receivers made since the last reset: polls; 0 where
    /// a receiver holds one stream or socket.
    fn requests(&self) -> u64 {
        0
    }

    /// Errors (connect, I/O, protocol) and what the loop counted.
    fn counters(&self) -> &Counters;
}
