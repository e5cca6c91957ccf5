//! Pub/sub: one subscriber connection per shard (a RESP3 connection whose
//! pushes come to [`SubShard::on_push`]; in cluster mode the cluster
//! connection holds one per master and uses sharded pub/sub), the registry
//! of what this node is subscribed to, and the supervisor that reports lost
//! channels and resubscribes them in batches after a reconnect.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use pushwire_hub::history::PublicationParts;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, RedisResult, Value};
use tokio::sync::{mpsc, watch, Notify};

use crate::codec::{decode_message, Message};
use crate::event::EngineEvent;

/// What a pub/sub channel name stands for on this node.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A hub channel.
    Channel(Arc<str>),
    /// A control channel (to every node, or to this one).
    Control,
}

/// The subscriber connection of one shard.
#[derive(Clone)]
pub(crate) enum SubConn {
    /// One Redis (RESP3, reconnecting).
    Single(ConnectionManager),
    /// Redis Cluster: `SSUBSCRIBE` routed by slot.
    Cluster(ClusterConnection),
}

impl SubConn {
    /// Subscribes to `names`, resolving once Redis confirmed every one.
    pub(crate) async fn subscribe(&self, names: &[String]) -> RedisResult<()> {
        match self {
            SubConn::Single(c) => c.clone().subscribe(names).await,
            // A shard channel command must stay within one slot: one each.
            SubConn::Cluster(c) => join_all(names.iter().map(|n| {
                let mut c = c.clone();
                async move { c.ssubscribe(n).await }
            }))
            .await
            .into_iter()
            .collect(),
        }
    }

    /// Unsubscribes from `names`.
    pub(crate) async fn unsubscribe(&self, names: &[String]) -> RedisResult<()> {
        match self {
            SubConn::Single(c) => c.clone().unsubscribe(names).await,
            SubConn::Cluster(c) => join_all(names.iter().map(|n| {
                let mut c = c.clone();
                async move { c.sunsubscribe(n).await }
            }))
            .await
            .into_iter()
            .collect(),
        }
    }
}

/// State shared by every shard: where events go.
pub(crate) struct Shared {
    pub events: mpsc::Sender<EngineEvent>,
    /// Channels whose messages were dropped on a full event queue, to report.
    lost: Mutex<HashSet<Arc<str>>>,
    lost_notify: Notify,
}

impl Shared {
    pub(crate) fn new(events: mpsc::Sender<EngineEvent>) -> Arc<Self> {
        Arc::new(Shared {
            events,
            lost: Mutex::new(HashSet::new()),
            lost_notify: Notify::new(),
        })
    }

    fn send_or_lose(&self, channel: Option<&Arc<str>>, event: EngineEvent) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
            if let Some(ch) = channel {
                lock(&self.lost).insert(ch.clone());
                self.lost_notify.notify_one();
            }
        }
    }

    /// Reports channels whose messages were dropped, once the queue has room.
    pub(crate) async fn run_lost_reporter(self: Arc<Self>, mut shutdown: watch::Receiver<()>) {
        loop {
            tokio::select! {
                _ = self.lost_notify.notified() => {}
                _ = shutdown.changed() => return,
            }
            let channels: Vec<Arc<str>> = lock(&self.lost).drain().collect();
            if channels.is_empty() {
                continue;
            }
            tokio::select! {
                _ = self.events.send(EngineEvent::Lost { channels }) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One shard's subscriptions.
pub(crate) struct SubShard {
    conn: OnceLock<SubConn>,
    names: Mutex<HashMap<String, Target>>,
    broken: Notify,
    shared: Arc<Shared>,
}

impl SubShard {
    pub(crate) fn new(shared: Arc<Shared>) -> Arc<Self> {
        Arc::new(SubShard {
            conn: OnceLock::new(),
            names: Mutex::new(HashMap::new()),
            broken: Notify::new(),
            shared,
        })
    }

    /// The push handler to give the subscriber connection (holds the shard weakly).
    pub(crate) fn push_handler(
        self: &Arc<Self>,
    ) -> impl Fn(PushInfo) -> Result<(), ()> + Send + Sync + 'static {
        let weak: Weak<SubShard> = Arc::downgrade(self);
        move |push| {
            if let Some(shard) = weak.upgrade() {
                shard.on_push(push);
            }
            Ok(())
        }
    }

    pub(crate) fn set_conn(&self, conn: SubConn) {
        let _ = self.conn.set(conn);
    }

    fn conn(&self) -> Option<&SubConn> {
        self.conn.get()
    }

    /// Adds `name` to the registry; returns whether it was new.
    pub(crate) fn register(&self, name: &str, target: Target) -> bool {
        let mut names = lock(&self.names);
        if names.contains_key(name) {
            return false;
        }
        names.insert(name.to_owned(), target);
        true
    }

    /// Removes `name` from the registry.
    pub(crate) fn deregister(&self, name: &str) -> bool {
        lock(&self.names).remove(name).is_some()
    }

    /// Subscribes to `names` on this shard's connection.
    pub(crate) async fn subscribe(&self, names: &[String]) -> RedisResult<()> {
        match self.conn() {
            Some(c) => c.subscribe(names).await,
            None => Ok(()),
        }
    }

    /// Unsubscribes from `names` on this shard's connection.
    pub(crate) async fn unsubscribe(&self, names: &[String]) -> RedisResult<()> {
        match self.conn() {
            Some(c) => c.unsubscribe(names).await,
            None => Ok(()),
        }
    }

    fn on_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Disconnection => self.broken.notify_one(),
            PushKind::Message | PushKind::SMessage => {
                let mut data = push.data.into_iter();
                let (Some(Value::BulkString(name)), Some(Value::BulkString(payload))) =
                    (data.next(), data.next())
                else {
                    return;
                };
                let target = match std::str::from_utf8(&name) {
                    Ok(n) => lock(&self.names).get(n).cloned(),
                    Err(_) => None,
                };
                let payload = Bytes::from(payload);
                match target {
                    None => {}
                    Some(Target::Control) => {
                        self.shared
                            .send_or_lose(None, EngineEvent::Control(payload));
                    }
                    Some(Target::Channel(channel)) => {
                        let Some(event) = channel_event(&channel, payload) else {
                            return;
                        };
                        self.shared.send_or_lose(Some(&channel), event);
                    }
                }
            }
            _ => {}
        }
    }

    /// Waits for disconnections; after each, reports the shard's channels
    /// lost and resubscribes everything in batches (retrying until Redis is
    /// back), reporting each batch resubscribed.
    pub(crate) async fn run_supervisor(
        self: Arc<Self>,
        batch: usize,
        command_timeout: Duration,
        mut shutdown: watch::Receiver<()>,
    ) {
        loop {
            tokio::select! {
                _ = self.broken.notified() => {}
                _ = shutdown.changed() => return,
            }
            let snapshot: Vec<(String, Target)> = lock(&self.names)
                .iter()
                .map(|(n, t)| (n.clone(), t.clone()))
                .collect();
            let channels: Vec<Arc<str>> = snapshot
                .iter()
                .filter_map(|(_, t)| hub_channel(t))
                .collect();
            if !channels.is_empty() {
                tokio::select! {
                    _ = self.shared.events.send(EngineEvent::Lost { channels }) => {}
                    _ = shutdown.changed() => return,
                }
            }
            for chunk in snapshot.chunks(batch.max(1)) {
                let names: Vec<String> = chunk.iter().map(|(n, _)| n.clone()).collect();
                let mut delay = Duration::from_millis(50);
                loop {
                    match tokio::time::timeout(command_timeout, self.subscribe(&names)).await {
                        Ok(Ok(())) => break,
                        _ => {
                            tokio::select! {
                                _ = tokio::time::sleep(delay) => {}
                                _ = shutdown.changed() => return,
                            }
                            delay = (delay * 2).min(Duration::from_secs(1));
                        }
                    }
                }
                // Only those still wanted (an unsubscribe may have come meanwhile).
                let channels: Vec<Arc<str>> = {
                    let names = lock(&self.names);
                    chunk
                        .iter()
                        .filter(|(n, _)| names.contains_key(n))
                        .filter_map(|(_, t)| hub_channel(t))
                        .collect()
                };
                if !channels.is_empty() {
                    tokio::select! {
                        _ = self.shared.events.send(EngineEvent::Resubscribed { channels }) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
    }
}

fn hub_channel(t: &Target) -> Option<Arc<str>> {
    match t {
        Target::Channel(c) => Some(c.clone()),
        Target::Control => None,
    }
}

/// The event for a channel's pub/sub message (`None` if malformed).
fn channel_event(channel: &Arc<str>, payload: Bytes) -> Option<EngineEvent> {
    Some(match decode_message(payload)? {
        Message::Join(info) => EngineEvent::Join {
            channel: channel.clone(),
            info,
        },
        Message::Leave(info) => EngineEvent::Leave {
            channel: channel.clone(),
            info,
        },
        Message::Publication {
            offset,
            epoch,
            body,
        } => {
            let parts = PublicationParts {
                channel,
                data: &body.data,
                info: body.info.as_deref(),
                tags: body.tags.as_ref(),
            };
            EngineEvent::Publication {
                channel: channel.clone(),
                publication: parts.encode(offset),
                epoch,
            }
        }
    })
}
