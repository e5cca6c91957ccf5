//! Publish with offsets, history reads and removal.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use pushwire_hub::broker::{PublishOptions, PublishResult};
use pushwire_hub::history::{
    HistoryQuery, HistoryResult, Publication, PublicationParts, StreamPosition,
};
use redis::Value;

use crate::codec::{decode_body, encode_body};
use crate::engine::RedisEngine;
use crate::error::{EngineError, ErrorKind};
use crate::keys::{shard_of, ChannelKeys};
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
        let publish = Publish {
            channel,
            data,
            info,
            tags,
            opts,
        };
        let answer = self.publish_one(&publish).await?;
        publish.result(answer)
    }

    /// Publishes each of `publishes` as [`publish`](Self::publish) does,
    /// in order: those of one channel get their offsets in the order
    /// given. On one Redis (or each of several) they go as one pipeline
    /// per instance, one round trip; on a Redis Cluster the channels go in
    /// parallel, each channel's publishes one after another (a pipeline
    /// there may span nodes, and its order with them). The results
    /// are in the order of `publishes`.
    pub async fn publish_many(
        &self,
        publishes: &[Publish<'_>],
    ) -> Vec<Result<PublishResult, EngineError>> {
        // Which publishes go together, in order: by instance, or by channel
        // on a cluster.
        let cluster = self.inner.cfg.cluster;
        let mut groups: HashMap<(usize, &str), Vec<usize>> = HashMap::new();
        for (i, p) in publishes.iter().enumerate() {
            let key = if cluster {
                (0, p.channel)
            } else {
                (shard_of(p.channel, self.inner.shards.len()), "")
            };
            groups.entry(key).or_default().push(i);
        }
        let each = groups.into_values().map(|group| async move {
            let group_publishes: Vec<&Publish<'_>> = group.iter().map(|&i| &publishes[i]).collect();
            let answers = if cluster || group.len() == 1 {
                let mut answers = Vec::with_capacity(group.len());
                for p in &group_publishes {
                    answers.push(self.publish_one(p).await);
                }
                answers
            } else {
                self.publish_pipeline(&group_publishes).await
            };
            group.into_iter().zip(answers).collect::<Vec<_>>()
        });
        let mut results: Vec<Option<Result<PublishResult, EngineError>>> =
            publishes.iter().map(|_| None).collect();
        for (i, answer) in join_all(each).await.into_iter().flatten() {
            results[i] = Some(answer.and_then(|a| publishes[i].result(a)));
        }
        // Every publish has its answer; the error is only made if not.
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(bad("publish"))))
            .collect()
    }

    /// One publish: the script on the channel's instance.
    async fn publish_one(&self, p: &Publish<'_>) -> Result<PublishAnswer, EngineError> {
        let inv = self.publish_invocation(p);
        self.bounded("publish", self.shard(p.channel).cmd.script(&inv))
            .await
    }

    /// One pipeline of publishes into channels of one instance: the script
    /// loaded first (so no `EVALSHA` meets `NOSCRIPT`), then each publish.
    async fn publish_pipeline(
        &self,
        publishes: &[&Publish<'_>],
    ) -> Vec<Result<PublishAnswer, EngineError>> {
        let Some(first) = publishes.first() else {
            return Vec::new();
        };
        let mut pipe = redis::pipe();
        pipe.ignore_errors().load_script(&scripts::PUBLISH);
        let invocations: Vec<_> = publishes
            .iter()
            .map(|p| self.publish_invocation(p))
            .collect();
        for inv in &invocations {
            pipe.invoke_script(inv);
        }
        let shard = self.shard(first.channel);
        let answers: Result<Vec<Value>, EngineError> =
            self.bounded("publish", shard.cmd.pipeline(&pipe)).await;
        match answers {
            // Past the script's hash, each publish's answer or error.
            Ok(answers) if answers.len() == publishes.len() + 1 => answers
                .into_iter()
                .skip(1)
                .map(|a| {
                    let a = a.extract_error().map_err(EngineError::from)?;
                    redis::from_redis_value(a).map_err(|_| bad("publish"))
                })
                .collect(),
            Ok(_) => publishes.iter().map(|_| Err(bad("publish"))).collect(),
            Err(e) => publishes.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    /// The publish script's invocation for `p`.
    fn publish_invocation<'s>(&self, p: &Publish<'_>) -> redis::ScriptInvocation<'s> {
        let opts = p.opts;
        let history = opts.history_size > 0 && !opts.history_ttl.is_zero() && !opts.skip_history;
        let keys = ChannelKeys::new(&self.inner.cfg.prefix, p.channel);
        let body = encode_body(&p.data, p.info.as_deref(), p.tags.as_ref());
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
        inv
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

/// One publication to make with [`RedisEngine::publish_many`].
#[derive(Debug)]
pub struct Publish<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The data (JSON).
    pub data: Bytes,
    /// The publisher's ClientInfo JSON.
    pub info: Option<Bytes>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// How the channel keeps history, and the idempotency key.
    pub opts: &'a PublishOptions,
}

/// The publish script's answer: offset (as text), epoch, suppressed.
type PublishAnswer = (String, String, i64);

impl Publish<'_> {
    /// The result of the publish from the script's answer.
    fn result(
        &self,
        (offset, epoch, suppressed): PublishAnswer,
    ) -> Result<PublishResult, EngineError> {
        let offset: u64 = offset.parse().map_err(|_| bad("publish"))?;
        let parts = PublicationParts {
            channel: self.channel,
            data: &self.data,
            info: self.info.as_deref(),
            tags: self.tags.as_ref(),
        };
        Ok(PublishResult {
            publication: parts.encode(offset),
            position: (!epoch.is_empty()).then_some(StreamPosition { offset, epoch }),
            suppressed: suppressed != 0,
        })
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
