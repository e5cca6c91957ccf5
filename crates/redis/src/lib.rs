//! The Redis engine of pushwire's hub: many nodes share publications (with
//! offset and epoch), history, presence and pub/sub through Redis — one
//! instance, several instances (channels spread by consistent hashing), or a
//! Redis Cluster with sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7).
//!
//! The hub core stays sans-IO: it emits broker requests, the server's driver
//! task carries them out with a [`RedisEngine`] and feeds the completions and
//! the [`EngineEvent`]s back.
//!
//! # Semantics (those of the hub's memory broker, and of Centrifuge)
//!
//! - A publish is one atomic Lua step on the Redis that holds the channel:
//!   idempotency check, the next offset within the channel's epoch, append
//!   to a capped stream whose publications expire `history_ttl` after the
//!   last publish, and a publish to the channel's pub/sub carrying offset and
//!   epoch — so every node sees gaps and epoch changes.
//! - The position (top offset and epoch) lives `history_meta_ttl` (0: no
//!   expiry). When it is lost — expired, or Redis restarted without
//!   persistence — a new epoch starts, offsets restart from 1, and clients
//!   holding the old position get `recovered: false`.
//! - History queries take `since`/`limit`/`reverse`; a `since` in another
//!   epoch is error 112.
//! - Presence entries expire `presence_ttl` after their last refresh.
//! - A dropped pub/sub connection is never silent: [`EngineEvent::Lost`]
//!   names the channels that may have missed publications, and
//!   [`EngineEvent::Resubscribed`] follows once Redis confirmed them again.
//!
//! See [`keys`] for the key layout.
#![deny(missing_docs)]

mod codec;
mod config;
mod conn;
mod engine;
mod error;
mod event;
mod history;
pub mod keys;
mod presence;
mod pubsub;
mod scripts;

pub use config::RedisConfig;
pub use engine::RedisEngine;
pub use error::{EngineError, ErrorKind};
pub use event::EngineEvent;
pub use history::{Publish, IDEMPOTENCY_WINDOW};
