//! The in-memory broker: one node, nothing persisted.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Broker, PresenceEntry, PresenceStats, PublishOptions, PublishResult};
use crate::history::{HistoryQuery, HistoryResult, MemoryStream, PublicationParts, StreamPosition};
use crate::protocol::ErrorCode;
use crate::time::Timestamp;

/// How long an idempotency key suppresses a repeated publish.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(300);
/// Most idempotency keys remembered at once (oldest forgotten first).
pub const IDEMPOTENCY_MAX_KEYS: usize = 100_000;

/// Streams, presence and idempotency keys in process memory.
///
/// Randomness (epochs) comes from a generator seeded by the caller.
///
/// ```
/// use pushwire_hub::broker::{Broker, MemoryBroker, PublishOptions};
/// use pushwire_hub::history::PublicationParts;
/// use pushwire_hub::Timestamp;
/// use std::time::Duration;
/// let mut b = MemoryBroker::new([7; 32]);
/// let opts = PublishOptions { history_size: 10, history_ttl: Duration::from_secs(60),
///     history_meta_ttl: Duration::from_secs(3600), ..Default::default() };
/// let parts = PublicationParts { channel: "chat", data: b"{}", info: None, tags: None };
/// let r = b.publish(Timestamp::from_secs(1), "chat", parts, &opts).unwrap();
/// assert_eq!(r.position.unwrap().offset, 1);
/// ```
pub struct MemoryBroker {
    rng: StdRng,
    streams: HashMap<String, MemoryStream>,
    presence: HashMap<String, HashMap<String, PresenceEntry>>,
    idempotency: HashMap<(String, String), (Option<StreamPosition>, Timestamp)>,
    idempotency_order: VecDeque<(Timestamp, String, String)>,
}

impl std::fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("streams", &self.streams.len())
            .finish()
    }
}

impl MemoryBroker {
    /// A broker whose epochs come from a generator seeded with `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        MemoryBroker {
            rng: StdRng::from_seed(seed),
            streams: HashMap::new(),
            presence: HashMap::new(),
            idempotency: HashMap::new(),
            idempotency_order: VecDeque::new(),
        }
    }

    fn epoch(&mut self) -> String {
        (0..8)
            .map(|_| self.rng.random_range(b'a'..=b'z') as char)
            .collect()
    }

    /// The live stream of `channel`, created (new epoch) if absent or expired.
    fn stream(&mut self, now: Timestamp, channel: &str, meta_ttl: Duration) -> &mut MemoryStream {
        let expired = self.streams.get_mut(channel).is_some_and(|s| s.expire(now));
        if expired || !self.streams.contains_key(channel) {
            let epoch = self.epoch();
            self.streams
                .insert(channel.to_owned(), MemoryStream::new(epoch, now, meta_ttl));
        }
        // Just inserted or present.
        self.streams.get_mut(channel).expect("stream present")
    }

    /// Number of streams held (for tests and stats).
    pub fn num_streams(&self) -> usize {
        self.streams.len()
    }
}

impl Broker for MemoryBroker {
    fn publish(
        &mut self,
        now: Timestamp,
        channel: &str,
        parts: PublicationParts<'_>,
        opts: &PublishOptions,
    ) -> Result<PublishResult, ErrorCode> {
        let history = opts.history_size > 0 && !opts.history_ttl.is_zero() && !opts.skip_history;
        let idem = opts
            .idempotency_key
            .as_ref()
            .map(|k| (channel.to_owned(), k.clone()));
        if let Some(key) = &idem {
            if let Some((pos, until)) = self.idempotency.get(key) {
                if now < *until {
                    return Ok(PublishResult {
                        publication: parts.encode(pos.as_ref().map_or(0, |p| p.offset)),
                        position: pos.clone(),
                        suppressed: true,
                    });
                }
            }
        }
        let (publication, position) = if history {
            let s = self.stream(now, channel, opts.history_meta_ttl);
            let p = s.add(
                now,
                &parts,
                opts.history_size,
                opts.history_ttl,
                opts.history_meta_ttl,
            );
            (p, Some(s.position()))
        } else {
            (parts.encode(0), None)
        };
        if let Some(key) = idem {
            let until = now + IDEMPOTENCY_WINDOW;
            self.idempotency_order
                .push_back((until, key.0.clone(), key.1.clone()));
            self.idempotency.insert(key, (position.clone(), until));
            while self.idempotency_order.len() > IDEMPOTENCY_MAX_KEYS {
                if let Some((_, c, k)) = self.idempotency_order.pop_front() {
                    self.idempotency.remove(&(c, k));
                }
            }
        }
        Ok(PublishResult {
            publication,
            position,
            suppressed: false,
        })
    }

    fn history(
        &mut self,
        now: Timestamp,
        channel: &str,
        query: &HistoryQuery,
        meta_ttl: Duration,
    ) -> Result<HistoryResult, ErrorCode> {
        self.stream(now, channel, meta_ttl).query(query)
    }

    fn remove_history(&mut self, now: Timestamp, channel: &str) {
        if let Some(s) = self.streams.get_mut(channel) {
            s.expire(now);
            s.remove_history();
        }
    }

    fn add_presence(&mut self, channel: &str, entry: PresenceEntry) {
        self.presence
            .entry(channel.to_owned())
            .or_default()
            .insert(entry.client.clone(), entry);
    }

    fn remove_presence(&mut self, channel: &str, client: &str) {
        if let Some(m) = self.presence.get_mut(channel) {
            m.remove(client);
            if m.is_empty() {
                self.presence.remove(channel);
            }
        }
    }

    fn presence(&self, channel: &str) -> Vec<PresenceEntry> {
        self.presence
            .get(channel)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn presence_stats(&self, channel: &str) -> PresenceStats {
        match self.presence.get(channel) {
            None => PresenceStats::default(),
            Some(m) => {
                let users: std::collections::HashSet<&str> =
                    m.values().map(|e| e.user.as_str()).collect();
                PresenceStats {
                    num_clients: m.len() as u64,
                    num_users: users.len() as u64,
                }
            }
        }
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.streams.retain(|_, s| !s.expire(now));
        while let Some((until, _, _)) = self.idempotency_order.front() {
            if *until > now {
                break;
            }
            if let Some((_, c, k)) = self.idempotency_order.pop_front() {
                let key = (c, k);
                if self.idempotency.get(&key).is_some_and(|(_, u)| *u <= now) {
                    self.idempotency.remove(&key);
                }
            }
        }
    }
}
