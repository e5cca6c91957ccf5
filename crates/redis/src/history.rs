//! Publish with offsets, history reads and removal.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use pushwire_hub::broker::{PublishOptions, PublishResult};
use pushwire_hub::history::{
    HistoryQuery, HistoryResult, Publication, PublicationParts, StreamPosition,
};
use redis::Value;

use crate::codec::{decode_body, encode_body};
use crate::engine::RedisEngine;
use crate::error::{EngineError, ErrorKind};
use crate::keys::ChannelKeys;
use crate::scripts;

/// How long an idempotency key suppresses a repeated publish (as the memory
/// broker).
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(300);

/// Milliseconds for a TTL, capped at 100 years (Redis refuses an expiry
/// past its clock range).
pub(crate) fn ms(d: Duration) -> u64 {
    const CAP: u64 = 100 * 365 * 24 * 3600 * 1000;
    u64::try_from(d.as_millis()).unwrap_or(CAP).min(CAP)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn bad(what: &str) -> EngineError {
    EngineError::protocol(format!("redis: unexpected answer to {what}"))
}

impl RedisEngine {
    /// Publishes in one atomic Lua step: idempotency check, next offset in
    /// the channel's epoch (a new epoch when the position was lost), append
    /// to the capped history with its TTL (when `history_size > 0`,
    /// `history_ttl > 0` and not `skip_history`), and `PUBLISH` (`SPUBLISH`
    /// in cluster mode) to the channel's pub/sub with offset and epoch.
    /// Without history the publication has offset 0 and no position.
    ///
    /// A suppressed publish (same idempotency key within
    /// [`IDEMPOTENCY_WINDOW`]) is not delivered and returns the first one's
    /// position.
    pub async fn publish(
        &self,
        channel: &str,
        data: Bytes,
        info: Option<Bytes>,
        tags: Option<BTreeMap<String, String>>,
        opts: &PublishOptions,
    ) -> Result<PublishResult, EngineError> {
        let history = opts.history_size > 0 && !opts.history_ttl.is_zero() && !opts.skip_history;
        let keys = ChannelKeys::new(&self.inner.cfg.prefix, channel);
        let body = encode_body(&data, info.as_deref(), tags.as_ref());
        let meta = keys.meta();
        // Without an idempotency key the script never reads KEYS[3]; the
        // position key stands in (same slot).
        let (idem_key, idem_ttl) = match &opts.idempotency_key {
            Some(k) => (Some(keys.idem(k)), ms(IDEMPOTENCY_WINDOW)),
            None => (None, 0),
        };
        let mut inv = scripts::PUBLISH.prepare_invoke();
        inv.key(keys.stream())
            .key(&meta)
            .key(idem_key.as_ref().unwrap_or(&meta))
            .arg(body)
            .arg(if history { opts.history_size } else { 0 })
            .arg(ms(opts.history_ttl).max(1))
            .arg(ms(opts.history_meta_ttl))
            .arg(Self::new_epoch())
            .arg(keys.pubsub())
            .arg(self.publish_command())
            .arg(idem_ttl);
        let shard = self.shard(channel);
        let (offset, epoch, suppressed): (String, String, i64) =
            self.bounded("publish", shard.cmd.script(&inv)).await?;
        let offset: u64 = offset.parse().map_err(|_| bad("publish"))?;
        let parts = PublicationParts {
            channel,
            data: &data,
            info: info.as_deref(),
            tags: tags.as_ref(),
        };
        Ok(PublishResult {
            publication: parts.encode(offset),
            position: (!epoch.is_empty()).then_some(StreamPosition { offset, epoch }),
            suppressed: suppressed != 0,
        })
    }

    /// Reads history: the stream's position (created with a new epoch if
    /// absent, living `meta_ttl`) and the publications the query asks for.
    /// A `since` with another (non-empty) epoch is error 112
    /// ([`ErrorKind::UnrecoverablePosition`]).
    pub async fn history(
        &self,
        channel: &str,
        q: &HistoryQuery,
        meta_ttl: Duration,
    ) -> Result<HistoryResult, EngineError> {
        let keys = ChannelKeys::new(&self.inner.cfg.prefix, channel);
        let since_epoch = q.since.as_ref().map_or(String::new(), |s| s.epoch.clone());
        let (mode, start, end) = match (&q.since, q.reverse) {
            _ if q.limit == Some(0) => ("none", String::new(), String::new()),
            (None, false) => ("fwd", "-".to_owned(), "+".to_owned()),
            (None, true) => ("rev", "+".to_owned(), "-".to_owned()),
            (Some(s), false) => match s.offset.checked_add(1) {
                Some(o) => ("fwd", o.to_string(), "+".to_owned()),
                None => ("none", String::new(), String::new()),
            },
            (Some(s), true) => match s.offset.checked_sub(1) {
                Some(o) => ("rev", o.to_string(), "-".to_owned()),
                None => ("none", String::new(), String::new()),
            },
        };
        let count = q
            .limit
            .map_or(String::new(), |l| l.min(i64::MAX as usize).to_string());
        let mut inv = scripts::HISTORY.prepare_invoke();
        inv.key(keys.stream())
            .key(keys.meta())
            .arg(Self::new_epoch())
            .arg(ms(meta_ttl))
            .arg(&since_epoch)
            .arg(mode)
            .arg(start)
            .arg(end)
            .arg(count);
        let v: Value = self
            .bounded("history", self.shard(channel).cmd.script(&inv))
            .await?;
        let Value::Array(parts) = v else {
            return Err(bad("history"));
        };
        let [top, epoch, entries] = <[Value; 3]>::try_from(parts).map_err(|_| bad("history"))?;
        let offset: u64 = text(&top)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| bad("history"))?;
        let epoch = text(&epoch).ok_or_else(|| bad("history"))?;
        let entries = match entries {
            Value::Array(e) => e,
            _ => {
                return Err(EngineError::new(
                    ErrorKind::UnrecoverablePosition,
                    "unrecoverable position: another epoch",
                ))
            }
        };
        let publications = entries
            .into_iter()
            .filter_map(|e| entry_publication(channel, e))
            .collect();
        Ok(HistoryResult {
            position: StreamPosition { offset, epoch },
            publications,
        })
    }

    /// Forgets a channel's publications, keeping its position.
    pub async fn remove_history(&self, channel: &str) -> Result<(), EngineError> {
        let keys = ChannelKeys::new(&self.inner.cfg.prefix, channel);
        let mut cmd = redis::cmd("del");
        cmd.arg(keys.stream());
        self.bounded("remove history", self.shard(channel).cmd.query::<i64>(&cmd))
            .await
            .map(drop)
    }
}

/// A stream entry `[id, [field, value, …]]` as a publication; a malformed
/// entry is skipped (the offset gap then makes recovery fail, never a
/// silent loss).
fn entry_publication(channel: &str, entry: Value) -> Option<Publication> {
    let Value::Array(parts) = entry else {
        return None;
    };
    let [id, fields] = <[Value; 2]>::try_from(parts).ok()?;
    let id = text(&id)?;
    let offset: u64 = id.split('-').next()?.parse().ok()?;
    let Value::Array(fields) = fields else {
        return None;
    };
    let mut it = fields.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if text(&k).as_deref() != Some("d") {
            continue;
        }
        let Value::BulkString(b) = v else {
            return None;
        };
        let body = decode_body(Bytes::from(b))?;
        let parts = PublicationParts {
            channel,
            data: &body.data,
            info: body.info.as_deref(),
            tags: body.tags.as_ref(),
        };
        return Some(parts.encode(offset));
    }
    None
}
