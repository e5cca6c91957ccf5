//! Presence in Redis: entries expire `presence_ttl` after they were last
//! added; a per-user count keeps `presence_stats` cheap for large channels.

use pushwire_hub::broker::{PresenceEntry, PresenceStats};
use redis::Value;

use crate::engine::RedisEngine;
use crate::error::EngineError;
use crate::keys::ChannelKeys;
use crate::scripts;

fn presence_keys(inv: &mut redis::ScriptInvocation<'_>, k: &ChannelKeys<'_>) {
    inv.key(k.presence())
        .key(k.presence_exp())
        .key(k.presence_cu())
        .key(k.presence_users());
}

impl RedisEngine {
    /// Adds or refreshes a client's presence; it expires after
    /// `presence_ttl` unless added again.
    pub async fn add_presence(&self, channel: &str, e: &PresenceEntry) -> Result<(), EngineError> {
        let k = ChannelKeys::new(&self.inner.cfg.prefix, channel);
        let mut inv = scripts::PRESENCE_ADD.prepare_invoke();
        presence_keys(&mut inv, &k);
        let ttl = crate::history::ms(self.inner.cfg.presence_ttl).max(1);
        inv.arg(&e.client).arg(&e.user).arg(&e.info[..]).arg(ttl);
        self.bounded("add presence", self.shard(channel).cmd.script::<i64>(&inv))
            .await
            .map(drop)
    }

    /// Removes a client's presence.
    pub async fn remove_presence(&self, channel: &str, client: &str) -> Result<(), EngineError> {
        let k = ChannelKeys::new(&self.inner.cfg.prefix, channel);
        let mut inv = scripts::PRESENCE_REMOVE.prepare_invoke();
        presence_keys(&mut inv, &k);
        inv.arg(client);
        self.bounded(
            "remove presence",
            self.shard(channel).cmd.script::<i64>(&inv),
        )
        .await
        .map(drop)
    }

    /// The clients present in a channel (on every node).
    pub async fn presence(&self, channel: &str) -> Result<Vec<PresenceEntry>, EngineError> {
        let k = ChannelKeys::new(&self.inner.cfg.prefix, channel);
        let mut inv = scripts::PRESENCE_GET.prepare_invoke();
        presence_keys(&mut inv, &k);
        let flat: Vec<Value> = self
            .bounded("presence", self.shard(channel).cmd.script(&inv))
            .await?;
        let mut out = Vec::with_capacity(flat.len() / 3);
        let mut it = flat.into_iter();
        while let (
            Some(Value::BulkString(c)),
            Some(Value::BulkString(u)),
            Some(Value::BulkString(i)),
        ) = (it.next(), it.next(), it.next())
        {
            let (Ok(client), Ok(user)) = (String::from_utf8(c), String::from_utf8(u)) else {
                continue;
            };
            out.push(PresenceEntry {
                client,
                user,
                info: i.into(),
            });
        }
        Ok(out)
    }

    /// Presence counts, without reading the entries.
    pub async fn presence_stats(&self, channel: &str) -> Result<PresenceStats, EngineError> {
        let k = ChannelKeys::new(&self.inner.cfg.prefix, channel);
        let mut inv = scripts::PRESENCE_STATS.prepare_invoke();
        presence_keys(&mut inv, &k);
        let (num_clients, num_users): (u64, u64) = self
            .bounded("presence stats", self.shard(channel).cmd.script(&inv))
            .await?;
        Ok(PresenceStats {
            num_clients,
            num_users,
        })
    }
}
