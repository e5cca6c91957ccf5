//! The remote engine's side of the driver task: the hub's broker requests
//! carried out with a [`RedisEngine`], and the replies and engine events
//! fed back to the driver.
//!
//! Link and unlink requests run on one task, in the order the hub made
//! them (a channel unlinked and linked again must end linked), those
//! waiting together batched into one command per shard; every other
//! request runs on a task of its own, bounded in time by the engine's
//! command timeout.

use pushwire_hub::engine::{BrokerReply, BrokerRequest, BrokerTicket};
use pushwire_redis::{EngineEvent, Publish, RedisConfig, RedisEngine};
use tokio::sync::{mpsc, oneshot};

use super::config::RedisSettings;

/// The engine's configuration from `engine.redis.*`.
pub(crate) fn redis_config(settings: &RedisSettings) -> RedisConfig {
    let mut cfg = RedisConfig::default();
    cfg.cluster = !settings.cluster_address.is_empty();
    cfg.addresses = if cfg.cluster {
        settings
            .cluster_address
            .iter()
            .map(|a| with_scheme(a))
            .collect()
    } else {
        settings.address.0.iter().map(|a| with_scheme(a)).collect()
    };
    cfg.prefix = settings.prefix.clone();
    cfg.connect_timeout = settings.connect_timeout;
    cfg.command_timeout = settings.io_timeout;
    cfg.presence_ttl = settings.presence_ttl;
    cfg
}

/// `host:port` as a URL (Centrifugo accepts both).
fn with_scheme(address: &str) -> String {
    if address.contains("://") {
        address.to_owned()
    } else {
        format!("redis://{address}")
    }
}

/// What the driver hears from the engine.
pub(crate) struct EngineInbox {
    /// Replies to the hub's requests.
    pub replies: mpsc::UnboundedReceiver<(BrokerTicket, BrokerReply)>,
    /// Publications, joins, leaves, control messages and losses.
    pub events: Option<mpsc::Receiver<EngineEvent>>,
}

/// Carries out the hub's requests.
pub(crate) struct EngineIo {
    engine: RedisEngine,
    replies: mpsc::UnboundedSender<(BrokerTicket, BrokerReply)>,
    links: mpsc::UnboundedSender<(BrokerTicket, BrokerRequest)>,
}

impl EngineIo {
    /// Starts the link worker; gives the engine's side and the inbox.
    pub(crate) fn start(
        engine: RedisEngine,
        events: mpsc::Receiver<EngineEvent>,
    ) -> (EngineIo, EngineInbox) {
        let (replies, replies_rx) = mpsc::unbounded_channel();
        let (links, links_rx) = mpsc::unbounded_channel();
        tokio::spawn(link_worker(engine.clone(), links_rx, replies.clone()));
        let io = EngineIo {
            engine,
            replies,
            links,
        };
        let inbox = EngineInbox {
            replies: replies_rx,
            events: Some(events),
        };
        (io, inbox)
    }

    /// Sends a control message to one node.
    pub(crate) fn forward(&self, node: &str, message: bytes::Bytes) {
        let engine = self.engine.clone();
        let node = node.to_owned();
        tokio::spawn(async move {
            if let Err(e) = engine.publish_control_to(&node, message).await {
                tracing::debug!("redis: forwarding to node {node}: {e}");
            }
        });
    }

    /// Carries out `requests` one after another on a task of their own,
    /// then tells `done` (each request bounded by the command timeout).
    pub(crate) fn carry_out_then(
        &self,
        requests: Vec<(BrokerTicket, BrokerRequest)>,
        done: oneshot::Sender<()>,
    ) {
        let engine = self.engine.clone();
        let replies = self.replies.clone();
        tokio::spawn(async move {
            for (ticket, req) in requests {
                if let Some(reply) = run(&engine, req).await {
                    let _ = replies.send((ticket, reply));
                }
            }
            let _ = done.send(());
        });
    }

    /// Starts carrying out publish requests together, on one task, in
    /// order (see [`RedisEngine::publish_many`]).
    pub(crate) fn carry_out_publishes(&self, requests: Vec<(BrokerTicket, BrokerRequest)>) {
        if requests.is_empty() {
            return;
        }
        let engine = self.engine.clone();
        let replies = self.replies.clone();
        tokio::spawn(async move {
            let mut tickets = Vec::with_capacity(requests.len());
            let mut publishes = Vec::with_capacity(requests.len());
            for (ticket, req) in &requests {
                if let BrokerRequest::Publish {
                    channel,
                    data,
                    info,
                    tags,
                    opts,
                } = req
                {
                    tickets.push(*ticket);
                    publishes.push(Publish {
                        channel,
                        data: data.clone(),
                        info: info.clone(),
                        tags: tags.clone(),
                        opts,
                    });
                }
            }
            let results = engine.publish_many(&publishes).await;
            for (ticket, result) in tickets.into_iter().zip(results) {
                let reply = BrokerReply::Published(result.map_err(|e| e.error_code()));
                let _ = replies.send((ticket, reply));
            }
        });
    }

    /// Starts carrying out one request.
    pub(crate) fn carry_out(&self, ticket: BrokerTicket, req: BrokerRequest) {
        if matches!(
            req,
            BrokerRequest::Link { .. } | BrokerRequest::Unlink { .. }
        ) {
            let _ = self.links.send((ticket, req));
            return;
        }
        let engine = self.engine.clone();
        let replies = self.replies.clone();
        tokio::spawn(async move {
            if let Some(reply) = run(&engine, req).await {
                let _ = replies.send((ticket, reply));
            }
        });
    }
}

/// Most link and unlink requests carried out together.
const LINK_BATCH: usize = 512;

/// Links and unlinks, in order: those waiting when the worker is free are
/// taken together, and each run of links (or of unlinks) between the
/// others is one subscribe (or unsubscribe) command per shard.
async fn link_worker(
    engine: RedisEngine,
    mut requests: mpsc::UnboundedReceiver<(BrokerTicket, BrokerRequest)>,
    replies: mpsc::UnboundedSender<(BrokerTicket, BrokerReply)>,
) {
    let mut waiting = Vec::new();
    while requests.recv_many(&mut waiting, LINK_BATCH).await > 0 {
        let is_link = |r: &BrokerRequest| matches!(r, BrokerRequest::Link { .. });
        for now in waiting.chunk_by(|(_, a), (_, b)| is_link(a) == is_link(b)) {
            let link = is_link(&now[0].1);
            let mut channels: Vec<&str> = now
                .iter()
                .filter_map(|(_, r)| match r {
                    BrokerRequest::Link { channel } | BrokerRequest::Unlink { channel } => {
                        Some(&**channel)
                    }
                    _ => None,
                })
                .collect();
            channels.sort_unstable();
            channels.dedup();
            if !link {
                if let Err(e) = engine.unsubscribe_many(&channels).await {
                    tracing::debug!("redis: {e}");
                }
                continue;
            }
            let result = engine.subscribe_many(&channels).await;
            for (ticket, _) in now {
                let reply = BrokerReply::Done(result.clone().map_err(|e| e.error_code()));
                let _ = replies.send((*ticket, reply));
            }
        }
        waiting.clear();
    }
}

/// One request; `None` for those nobody waits for.
async fn run(engine: &RedisEngine, req: BrokerRequest) -> Option<BrokerReply> {
    let code = |e: pushwire_redis::EngineError| e.error_code();
    let done = |r: Result<(), pushwire_redis::EngineError>| {
        if let Err(e) = &r {
            tracing::debug!("redis: {e}");
        }
    };
    Some(match req {
        BrokerRequest::Publish {
            channel,
            data,
            info,
            tags,
            opts,
        } => BrokerReply::Published(
            engine
                .publish(&channel, data, info, tags, &opts)
                .await
                .map_err(code),
        ),
        BrokerRequest::History {
            channel,
            query,
            meta_ttl,
        } => BrokerReply::History(
            engine
                .history(&channel, &query, meta_ttl)
                .await
                .map_err(code),
        ),
        BrokerRequest::RemoveHistory { channel } => {
            BrokerReply::Done(engine.remove_history(&channel).await.map_err(code))
        }
        BrokerRequest::Link { channel } => {
            BrokerReply::Done(engine.subscribe(&channel).await.map_err(code))
        }
        BrokerRequest::Unlink { channel } => {
            done(engine.unsubscribe(&channel).await);
            return None;
        }
        BrokerRequest::AddPresence { channel, entry } => {
            done(engine.add_presence(&channel, &entry).await);
            return None;
        }
        BrokerRequest::RemovePresence { channel, client } => {
            done(engine.remove_presence(&channel, &client).await);
            return None;
        }
        BrokerRequest::Presence { channel } => {
            BrokerReply::Presence(engine.presence(&channel).await.map_err(code))
        }
        BrokerRequest::PresenceStats { channel } => {
            BrokerReply::PresenceStats(engine.presence_stats(&channel).await.map_err(code))
        }
        BrokerRequest::Join { channel, info } => {
            done(engine.publish_join(&channel, info).await);
            return None;
        }
        BrokerRequest::Leave { channel, info } => {
            done(engine.publish_leave(&channel, info).await);
            return None;
        }
        BrokerRequest::Control { message } => {
            done(engine.publish_control(message).await);
            return None;
        }
        BrokerRequest::ControlTo { node, message } => {
            done(engine.publish_control_to(&node, message).await);
            return None;
        }
        _ => return None,
    })
}
