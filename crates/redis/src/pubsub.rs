//! Pub/sub: one subscriber connection per shard (a RESP3 connection whose
//! pushes come to [`SubShard::on_push`]; in cluster mode the cluster
//! connection holds one per master and uses sharded pub/sub), the registry
//! of what this node is subscribed to, and the supervisor that reports lost
//! channels, opens a fresh subscriber connection and resubscribes them in
//! batches after a disconnection (or a failed health check).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use pushwire_hub::history::PublicationParts;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{ProtocolVersion, PushInfo, PushKind, RedisResult, Value};
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

/// How a shard opens a fresh subscriber connection.
pub(crate) enum Connector {
    /// One Redis: a RESP3 connection manager.
    Single {
        client: Box<redis::Client>,
        config: Box<ConnectionManagerConfig>,
    },
    /// Redis Cluster: a RESP3 cluster connection (one connection per master).
    Cluster {
        addresses: Vec<String>,
        connect_timeout: Duration,
        command_timeout: Duration,
    },
}

/// One shard's subscriptions.
///
/// After a disconnection the supervisor drops the subscriber connection and
/// opens a fresh one rather than trusting the client library's own
/// reconnection: with Redis Cluster, redis-rs 1.8 could end a master's
/// reconnection with two connections and drop the one holding some
/// subscriptions, silently (found by the cluster restart test). Pushes from
/// an older connection are ignored (by generation).
pub(crate) struct SubShard {
    connector: Connector,
    conn: Mutex<Option<SubConn>>,
    generation: AtomicU64,
    names: Mutex<HashMap<String, Target>>,
    broken: Notify,
    /// Told when a fresh subscriber connection is in place.
    reopened: Notify,
    shared: Arc<Shared>,
}

impl SubShard {
    pub(crate) fn new(shared: Arc<Shared>, connector: Connector) -> Arc<Self> {
        Arc::new(SubShard {
            connector,
            conn: Mutex::new(None),
            generation: AtomicU64::new(0),
            names: Mutex::new(HashMap::new()),
            broken: Notify::new(),
            reopened: Notify::new(),
            shared,
        })
    }

    /// Opens a fresh subscriber connection, replacing (dropping) the old one.
    pub(crate) async fn reconnect(self: &Arc<Self>) -> RedisResult<()> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *lock(&self.conn) = None;
        let weak: Weak<SubShard> = Arc::downgrade(self);
        let handler = move |push: PushInfo| -> Result<(), ()> {
            if let Some(shard) = weak.upgrade() {
                if shard.generation.load(Ordering::SeqCst) == generation {
                    shard.on_push(push);
                }
            }
            Ok(())
        };
        let conn = match &self.connector {
            Connector::Single { client, config } => SubConn::Single(
                client
                    .get_connection_manager_with_config((**config).clone().set_push_sender(handler))
                    .await?,
            ),
            Connector::Cluster {
                addresses,
                connect_timeout,
                command_timeout,
            } => SubConn::Cluster(
                ClusterClientBuilder::new(addresses.clone())
                    .connection_timeout(*connect_timeout)
                    .response_timeout(*command_timeout)
                    .retries(2)
                    .min_retry_wait(20)
                    .max_retry_wait(200)
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(handler)
                    .build()?
                    .get_async_connection()
                    .await?,
            ),
        };
        if self.generation.load(Ordering::SeqCst) == generation {
            *lock(&self.conn) = Some(conn);
            self.reopened.notify_waiters();
        }
        Ok(())
    }

    fn conn(&self) -> Option<SubConn> {
        lock(&self.conn).clone()
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

    /// Waits until a subscriber connection is open: at once, or when the
    /// supervisor has opened a fresh one (the caller bounds the wait).
    pub(crate) async fn opened(&self) {
        loop {
            let reopened = self.reopened.notified();
            tokio::pin!(reopened);
            // Listening before looking, so a reopening in between is seen.
            reopened.as_mut().enable();
            if lock(&self.conn).is_some() {
                return;
            }
            reopened.await;
        }
    }

    /// Subscribes to `names` on this shard's connection (an error while the
    /// connection is being replaced: the supervisor subscribes every
    /// registered name on the new one).
    pub(crate) async fn subscribe(&self, names: &[String]) -> RedisResult<()> {
        match self.conn() {
            Some(c) => c.subscribe(names).await,
            None => Err(reconnecting()),
        }
    }

    /// Unsubscribes from `names` on this shard's connection.
    pub(crate) async fn unsubscribe(&self, names: &[String]) -> RedisResult<()> {
        match self.conn() {
            Some(c) => c.unsubscribe(names).await,
            // Nothing is subscribed on a connection not yet open.
            None => Ok(()),
        }
    }

    fn on_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Disconnection => self.broken.notify_one(),
            // Redis moved the slot away (cluster resharding): resubscribe.
            PushKind::SUnsubscribe => {
                let registered = match push.data.first() {
                    Some(Value::BulkString(n)) => std::str::from_utf8(n)
                        .map(|n| lock(&self.names).contains_key(n))
                        .unwrap_or(false),
                    _ => false,
                };
                if registered {
                    self.broken.notify_one();
                }
            }
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
    /// lost, opens a fresh subscriber connection and resubscribes everything
    /// in batches (retrying until Redis is back), reporting each batch
    /// resubscribed. A failure midway starts over (lost again, fresh
    /// connection).
    pub(crate) async fn run_supervisor(
        self: Arc<Self>,
        batch: usize,
        command_timeout: Duration,
        connect_timeout: Duration,
        mut shutdown: watch::Receiver<()>,
    ) {
        loop {
            tokio::select! {
                _ = self.broken.notified() => {}
                _ = shutdown.changed() => return,
            }
            let mut delay = Duration::from_millis(50);
            // Reported lost and not yet back: not reported again on a retry
            // (a subscriber told to recover once per outage, not per attempt).
            let mut pending: HashSet<Arc<str>> = HashSet::new();
            'attempt: loop {
                let channels: Vec<Arc<str>> = lock(&self.names)
                    .values()
                    .filter_map(hub_channel)
                    .filter(|c| !pending.contains(c))
                    .collect();
                pending.extend(channels.iter().cloned());
                if !channels.is_empty() {
                    tokio::select! {
                        _ = self.shared.events.send(EngineEvent::Lost { channels }) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                let backoff = |delay: &mut Duration| {
                    let d = *delay;
                    *delay = (*delay * 2).min(Duration::from_secs(1));
                    tokio::time::sleep(d)
                };
                let opened =
                    tokio::time::timeout(connect_timeout * 2 + command_timeout, self.reconnect());
                if !matches!(opened.await, Ok(Ok(()))) {
                    tokio::select! {
                        _ = backoff(&mut delay) => continue 'attempt,
                        _ = shutdown.changed() => return,
                    }
                }
                // Registered after this point: subscribed by `subscribe` itself
                // on the new connection.
                let snapshot: Vec<(String, Target)> = lock(&self.names)
                    .iter()
                    .map(|(n, t)| (n.clone(), t.clone()))
                    .collect();
                for chunk in snapshot.chunks(batch.max(1)) {
                    let names: Vec<String> = chunk.iter().map(|(n, _)| n.clone()).collect();
                    match tokio::time::timeout(command_timeout, self.subscribe(&names)).await {
                        Ok(Ok(())) => {}
                        _ => {
                            tokio::select! {
                                _ = backoff(&mut delay) => continue 'attempt,
                                _ = shutdown.changed() => return,
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
                    for c in &channels {
                        pending.remove(c);
                    }
                    if !channels.is_empty() {
                        tokio::select! {
                            _ = self.shared.events.send(EngineEvent::Resubscribed { channels }) => {}
                            _ = shutdown.changed() => return,
                        }
                    }
                }
                break;
            }
        }
    }
}

impl SubShard {
    /// Pings the subscriber connection every `interval`; a failure counts
    /// as a disconnection.
    pub(crate) async fn run_health_check(
        self: Arc<Self>,
        interval: Duration,
        command_timeout: Duration,
        mut shutdown: watch::Receiver<()>,
    ) {
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            // None: being replaced by the supervisor already.
            let Some(conn) = self.conn() else { continue };
            let ping = redis::cmd("PING");
            let ok = match conn {
                SubConn::Single(mut c) => {
                    tokio::time::timeout(command_timeout, ping.query_async::<Value>(&mut c)).await
                }
                SubConn::Cluster(mut c) => {
                    tokio::time::timeout(command_timeout, ping.query_async::<Value>(&mut c)).await
                }
            };
            if !matches!(ok, Ok(Ok(_))) {
                self.broken.notify_one();
            }
        }
    }
}

fn reconnecting() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the subscriber connection is being reopened",
    ))
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
