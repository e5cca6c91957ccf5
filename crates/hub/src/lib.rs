//! Sans-IO hub core for pushwire: channels, namespaces, publications with
//! offset and epoch, history and recovery, presence, per-connection
//! outboxes, the server API's logic, and the JSON client protocol that
//! Centrifugo's SDKs speak (client protocol v2).
//!
//! No sockets, no async runtime, no clock: time is an argument
//! ([`Timestamp`]) and randomness comes from a seed.
//!
//! # How an IO layer drives it
//!
//! One [`Hub`] is owned by one driver task; everything goes through `&mut`
//! calls on it, so every operation is atomic (a recovering subscribe cannot
//! miss or duplicate a concurrent publication):
//!
//! 1. a transport opens → [`Hub::open`] with its [`Transport`] kind → a [`ConnId`];
//! 2. a frame arrives → [`Hub::handle_frame`] (bidirectional) or, once,
//!    [`Hub::handle_uni_connect`] (unidirectional);
//! 3. after any input, [`Hub::poll_ready`] names the connections with new
//!    output; for each, [`Hub::outbox`] gives the queue to drain with
//!    [`Outbox::drain_into`] (many messages at once: join them with `\n` into
//!    one WebSocket frame, or write one SSE event each). Publications are the
//!    same [`bytes::Bytes`] for every subscriber: frame them once per transport;
//! 4. when [`Outbox::disconnect`] is set and the queue is drained, close the
//!    transport with that code and reason, then call [`Hub::close`]; a
//!    transport closed by the peer also calls [`Hub::close`];
//! 5. sleep until [`Hub::poll_timeout`] and call [`Hub::handle_timeout`]
//!    (pings, pong and stale deadlines, token expiry, history TTLs);
//! 6. `POST /api/<method>` → after the key check, [`Hub::api`] gives the
//!    status and body; Rust code in the same process can call [`Hub::publish`];
//! 7. with a backend proxy on ([`proxy`]), after any input take the calls
//!    from [`Hub::poll_proxy`], post them, and give each outcome to
//!    [`Hub::handle_proxy_reply`] (name each connection's transport with
//!    [`Hub::set_transport_name`] after opening it);
//! 8. on a remote engine shared by many nodes ([`Hub::with_remote_engine`],
//!    see [`engine`]): after any input, carry out [`Hub::poll_broker`]'s
//!    requests and answer each with [`Hub::handle_broker_reply`]; feed what
//!    the engine hears to [`Hub::handle_broker_publication`] and its
//!    siblings; call the server API through [`Hub::api_request`], whose
//!    waiting answers come out of [`Hub::poll_api`] (`info` and `channels`
//!    answer for every node, see [`engine`]); log what
//!    [`Hub::poll_cluster_notice`] tells about the other nodes, and call
//!    [`Hub::leave_cluster`] (and carry out its request) when the node stops.
//!
//! ```
//! use pushwire_hub::{Hub, HubConfig, Timestamp, Transport};
//!
//! let mut cfg: HubConfig = serde_json::from_str(r#"{
//!     "client": {"allow_anonymous_connect_without_token": true},
//!     "channel": {"without_namespace": {"allow_subscribe_for_client": true,
//!                                       "allow_subscribe_for_anonymous": true}}
//! }"#).unwrap();
//! let now = Timestamp::from_secs(1_700_000_000);
//! let mut hub = Hub::new(cfg, [1; 32], now).unwrap();
//!
//! // A WebSocket opens and sends connect + subscribe in one frame.
//! let conn = hub.open(now, Transport::websocket());
//! hub.handle_frame(now, conn, b"{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"news\"}}");
//!
//! // The backend publishes through the server API.
//! let r = hub.api(now, "publish", br#"{"channel":"news","data":{"text":"hi"}}"#);
//! assert_eq!(r.status, 200);
//!
//! // The driver drains the connection's outbox into its socket.
//! let mut ready = Vec::new();
//! hub.poll_ready(&mut ready);
//! assert_eq!(ready, [conn]);
//! let mut out = Vec::new();
//! hub.outbox(conn).unwrap().drain_into(&mut out, 64 * 1024);
//! assert!(out[0].starts_with(b"{\"id\":1,\"connect\":{\"client\":"));
//! assert_eq!(&out[1][..], br#"{"id":2,"subscribe":{}}"#);
//! assert_eq!(&out[2][..], br#"{"push":{"channel":"news","pub":{"data":{"text":"hi"}}}}"#);
//!
//! // Timers: the first server ping is due within the ping interval.
//! let next = hub.poll_timeout().unwrap();
//! hub.handle_timeout(next);
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod broker;
pub mod channel;
mod client;
pub mod config;
pub mod engine;
pub mod history;
mod hub;
pub mod jwt;
pub mod outbox;
pub mod protocol;
pub mod proxy;
mod stats;
mod time;

pub use client::Transport;
pub use config::{parse_duration, HubConfig};
pub use hub::{ConnId, Hub, VERSION};
pub use outbox::Outbox;
pub use stats::Stats;
pub use time::Timestamp;
