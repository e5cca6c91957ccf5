//! The broker contract: where publications get their offsets, where history
//! and presence live.
//!
//! # Why a synchronous trait
//!
//! The hub calls its broker synchronously from its single owner (the IO
//! layer's driver task). That keeps every hub operation atomic: a subscribe
//! that recovers from history and registers the subscriber happens in one
//! `&mut self` call, so no live publication can slip between the history read
//! and the registration — the "merge by offset" of a concurrent broker is
//! trivially correct here because there is no interleaving.
//!
//! The Redis engine is meant to sit behind the same trait as a *local mirror*:
//! its IO task keeps an in-process copy of what the hub reads synchronously
//! (stream positions, recent publications, presence), fed by Redis pub/sub and
//! script results, and answers the trait's calls from it; writes go out to
//! Redis asynchronously. Whatever the mirror cannot answer at once would need a
//! two-step (request out, completion in) path in the hub, which this version
//! does not have yet. The memory broker is the mirror with nothing behind it.

mod memory;

use std::time::Duration;

pub use memory::MemoryBroker;

use crate::history::{HistoryQuery, HistoryResult, Publication, PublicationParts, StreamPosition};
use crate::protocol::ErrorCode;
use crate::time::Timestamp;

/// How a publication is stored.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// Publications kept (0 with `history_ttl` 0: no history).
    pub history_size: usize,
    /// History lifetime after the last publication.
    pub history_ttl: Duration,
    /// Position lifetime.
    pub history_meta_ttl: Duration,
    /// Do not store this one in history (it gets no offset).
    pub skip_history: bool,
    /// Publish at most once per key and channel within the idempotency window.
    pub idempotency_key: Option<String>,
}

/// The result of a publish.
#[derive(Debug, Clone)]
pub struct PublishResult {
    /// The encoded publication with its offset.
    pub publication: Publication,
    /// The stream position after it (None without history).
    pub position: Option<StreamPosition>,
    /// True when an earlier publish with the same idempotency key was found:
    /// nothing was stored and nothing must be delivered.
    pub suppressed: bool,
}

/// Presence counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PresenceStats {
    /// Connections present.
    pub num_clients: u64,
    /// Distinct users present.
    pub num_users: u64,
}

/// A presence entry: a client present in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceEntry {
    /// Client id.
    pub client: String,
    /// User id (`""` anonymous).
    pub user: String,
    /// Encoded ClientInfo JSON.
    pub info: bytes::Bytes,
}

/// Where publications, history and presence live. See the module doc.
pub trait Broker: Send {
    /// Stores a publication (when history is on) and gives it its offset.
    fn publish(
        &mut self,
        now: Timestamp,
        channel: &str,
        parts: PublicationParts<'_>,
        opts: &PublishOptions,
    ) -> Result<PublishResult, ErrorCode>;

    /// Reads history. `meta_ttl` is the lifetime of a position created by this
    /// read (a channel that never had a publication still gets an epoch).
    fn history(
        &mut self,
        now: Timestamp,
        channel: &str,
        query: &HistoryQuery,
        meta_ttl: Duration,
    ) -> Result<HistoryResult, ErrorCode>;

    /// Forgets a channel's publications, keeping its position.
    fn remove_history(&mut self, now: Timestamp, channel: &str);

    /// Adds or updates a client's presence in a channel.
    fn add_presence(&mut self, channel: &str, entry: PresenceEntry);

    /// Removes a client's presence.
    fn remove_presence(&mut self, channel: &str, client: &str);

    /// The clients present in a channel.
    fn presence(&self, channel: &str) -> Vec<PresenceEntry>;

    /// Presence counts.
    fn presence_stats(&self, channel: &str) -> PresenceStats;

    /// Expires what is due (history TTLs, idempotency keys).
    fn handle_timeout(&mut self, now: Timestamp);
}
