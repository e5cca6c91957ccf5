//! The engine: connections, the pub/sub registry, join/leave and control.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use rand::Rng;
use redis::aio::ConnectionManagerConfig;
use redis::cluster::ClusterClientBuilder;
use redis::{IntoConnectionInfo, ProtocolVersion, RedisResult};
use tokio::sync::{mpsc, watch};

use crate::codec::encode_presence_message;
use crate::config::RedisConfig;
use crate::conn::CmdConn;
use crate::error::{EngineError, ErrorKind};
use crate::event::EngineEvent;
use crate::keys::{control_all, control_node, pubsub_name, shard_of};
use crate::pubsub::{Connector, Shared, SubShard, Target};

/// A shard's subscriber and the pub/sub names (with their channels) of
/// one call that it holds.
type ShardNames<'e, 'c> = (&'e Arc<SubShard>, Vec<(String, &'c str)>);

/// One shard: a command connection and a subscriber connection.
pub(crate) struct Shard {
    pub cmd: CmdConn,
    pub sub: Arc<SubShard>,
}

pub(crate) struct Inner {
    pub cfg: RedisConfig,
    pub shards: Vec<Shard>,
    control_all: String,
    node_prefix: String,
    /// Dropped with the last engine handle: the background tasks end.
    _shutdown: watch::Sender<()>,
}

/// The Redis engine of one node: publications with offset and epoch,
/// history, presence, and pub/sub between nodes. Cheap to clone; the
/// connections and background tasks end when the last clone is dropped.
///
/// Every call is bounded by [`RedisConfig::command_timeout`]; while Redis is
/// unreachable calls fail with a temporary [`EngineError`] and the engine
/// reconnects by itself, then resubscribes every channel it holds (in
/// batches), reporting [`EngineEvent::Lost`] then
/// [`EngineEvent::Resubscribed`].
///
/// ```no_run
/// # async fn f() -> Result<(), pushwire_redis::EngineError> {
/// use pushwire_redis::{RedisConfig, RedisEngine, EngineEvent};
/// let (engine, mut events) = RedisEngine::connect(RedisConfig::default(), "node-1").await?;
/// engine.subscribe("chat").await?;
/// while let Some(ev) = events.recv().await {
///     if let EngineEvent::Publication { channel, publication, epoch } = ev {
///         println!("{channel} {} {epoch}", publication.offset);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisEngine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEngine")
            .field("addresses", &self.inner.cfg.addresses)
            .field("cluster", &self.inner.cfg.cluster)
            .finish()
    }
}

fn config_error(msg: impl Into<String>) -> EngineError {
    EngineError::new(ErrorKind::Config, msg)
}

fn connect_error(addr: &str, e: EngineError) -> EngineError {
    EngineError::new(
        if e.is_temporary() {
            ErrorKind::Unavailable
        } else {
            e.kind()
        },
        format!("cannot connect to {addr}: {e}"),
    )
}

impl RedisEngine {
    /// Connects to every shard (failing clearly if one is unreachable now),
    /// subscribes to the control channels, and returns the engine and its
    /// event stream (bounded by [`RedisConfig::event_capacity`]).
    pub async fn connect(
        cfg: RedisConfig,
        node_id: &str,
    ) -> Result<(RedisEngine, mpsc::Receiver<EngineEvent>), EngineError> {
        if cfg.addresses.is_empty() {
            return Err(config_error("redis: no address"));
        }
        if cfg.prefix.contains(['{', '}']) {
            return Err(config_error("redis: the prefix must not contain { or }"));
        }
        if node_id.is_empty() {
            return Err(config_error("redis: empty node id"));
        }
        let (tx, rx) = mpsc::channel(cfg.event_capacity.max(1));
        let shared = Shared::new(tx);
        let (shutdown, shutdown_rx) = watch::channel(());
        let shards = if cfg.cluster {
            vec![connect_cluster(&cfg, &shared).await?]
        } else {
            let mut shards = Vec::with_capacity(cfg.addresses.len());
            for addr in &cfg.addresses {
                shards.push(connect_single(&cfg, addr, &shared).await?);
            }
            shards
        };
        for s in &shards {
            if !cfg.health_check_interval.is_zero() {
                tokio::spawn(s.sub.clone().run_health_check(
                    cfg.health_check_interval,
                    cfg.command_timeout,
                    shutdown_rx.clone(),
                ));
            }
            tokio::spawn(s.sub.clone().run_supervisor(
                cfg.resubscribe_batch,
                cfg.command_timeout,
                cfg.connect_timeout,
                shutdown_rx.clone(),
            ));
        }
        tokio::spawn(shared.clone().run_lost_reporter(shutdown_rx));
        let inner = Inner {
            control_all: control_all(&cfg.prefix),
            node_prefix: control_node(&cfg.prefix, ""),
            cfg,
            shards,
            _shutdown: shutdown,
        };
        let engine = RedisEngine {
            inner: Arc::new(inner),
        };
        let names = [
            engine.inner.control_all.clone(),
            format!("{}{node_id}", engine.inner.node_prefix),
        ];
        let sub = &engine.inner.shards[0].sub;
        for n in &names {
            sub.register(n, Target::Control);
        }
        engine
            .bounded("subscribe control", sub.subscribe(&names))
            .await?;
        Ok((engine, rx))
    }

    /// Runs `f` within the command timeout.
    pub(crate) async fn bounded<T>(
        &self,
        what: &str,
        f: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, EngineError> {
        match tokio::time::timeout(self.inner.cfg.command_timeout, f).await {
            Ok(r) => r.map_err(EngineError::from),
            Err(_) => Err(EngineError::timeout(what)),
        }
    }

    /// The shard that holds `channel`.
    pub(crate) fn shard(&self, channel: &str) -> &Shard {
        &self.inner.shards[shard_of(channel, self.inner.shards.len())]
    }

    /// `PUBLISH`, or `SPUBLISH` in cluster mode.
    pub(crate) fn publish_command(&self) -> &'static str {
        if self.inner.cfg.cluster {
            "spublish"
        } else {
            "publish"
        }
    }

    /// A fresh epoch: 8 random lowercase letters, as the memory broker makes.
    pub(crate) fn new_epoch() -> String {
        let mut rng = rand::rng();
        (0..8)
            .map(|_| rng.random_range(b'a'..=b'z') as char)
            .collect()
    }

    /// Subscribes this node to the channel's pub/sub; resolves once Redis
    /// confirmed it, so a history read after it cannot miss a publication.
    /// Idempotent.
    pub async fn subscribe(&self, channel: &str) -> Result<(), EngineError> {
        self.subscribe_many(&[channel]).await
    }

    /// Subscribes this node to every channel of `channels`, with one
    /// command per shard (shards in parallel); resolves once Redis
    /// confirmed them all. While a shard's subscriber connection is being
    /// reopened the call waits for the new one, all within the command
    /// timeout. On an error none of those this call added stays
    /// registered. Idempotent.
    pub async fn subscribe_many(&self, channels: &[&str]) -> Result<(), EngineError> {
        let by_shard = self.names_by_shard(channels);
        let deadline = tokio::time::Instant::now() + self.inner.cfg.command_timeout;
        let each = by_shard.iter().map(|(sub, names)| async move {
            // Registered only once a connection is open, so a channel is
            // never reported lost before it was subscribed.
            if tokio::time::timeout_at(deadline, sub.opened())
                .await
                .is_err()
            {
                return Err(EngineError::timeout("subscribe"));
            }
            let added: Vec<&String> = names
                .iter()
                .filter(|(name, channel)| sub.register(name, Target::Channel(Arc::from(*channel))))
                .map(|(name, _)| name)
                .collect();
            let names: Vec<String> = names.iter().map(|(name, _)| name.clone()).collect();
            let r = match tokio::time::timeout_at(deadline, sub.subscribe(&names)).await {
                Ok(r) => r.map_err(EngineError::from),
                Err(_) => Err(EngineError::timeout("subscribe")),
            };
            if r.is_err() {
                for name in added {
                    sub.deregister(name);
                }
            }
            r
        });
        join_all(each).await.into_iter().collect()
    }

    /// Unsubscribes this node from the channel's pub/sub. Idempotent.
    pub async fn unsubscribe(&self, channel: &str) -> Result<(), EngineError> {
        self.unsubscribe_many(&[channel]).await
    }

    /// Unsubscribes this node from every channel of `channels`, with one
    /// command per shard. Idempotent.
    pub async fn unsubscribe_many(&self, channels: &[&str]) -> Result<(), EngineError> {
        let by_shard = self.names_by_shard(channels);
        let each = by_shard.iter().map(|(sub, names)| async move {
            let names: Vec<String> = names
                .iter()
                .map(|(name, _)| {
                    sub.deregister(name);
                    name.clone()
                })
                .collect();
            self.bounded("unsubscribe", sub.unsubscribe(&names)).await
        });
        join_all(each).await.into_iter().collect()
    }

    /// The pub/sub names of `channels`, with their channels, grouped by
    /// the shard that holds them.
    fn names_by_shard<'c>(&self, channels: &[&'c str]) -> Vec<ShardNames<'_, 'c>> {
        let mut by_shard: Vec<Vec<(String, &'c str)>> = vec![Vec::new(); self.inner.shards.len()];
        for &channel in channels {
            let name = pubsub_name(&self.inner.cfg.prefix, channel);
            by_shard[shard_of(channel, self.inner.shards.len())].push((name, channel));
        }
        self.inner
            .shards
            .iter()
            .zip(by_shard)
            .filter(|(_, names)| !names.is_empty())
            .map(|(shard, names)| (&shard.sub, names))
            .collect()
    }

    async fn publish_raw(&self, shard: &Shard, name: &str, msg: &[u8]) -> Result<(), EngineError> {
        let mut cmd = redis::cmd(self.publish_command());
        cmd.arg(name).arg(msg);
        self.bounded("publish", shard.cmd.query::<i64>(&cmd))
            .await
            .map(drop)
    }

    /// A join push to every node's subscribers of `channel`
    /// (`info` = encoded ClientInfo JSON).
    pub async fn publish_join(&self, channel: &str, info: Bytes) -> Result<(), EngineError> {
        let name = pubsub_name(&self.inner.cfg.prefix, channel);
        let msg = encode_presence_message(true, &info);
        self.publish_raw(self.shard(channel), &name, &msg).await
    }

    /// A leave push to every node's subscribers of `channel`.
    pub async fn publish_leave(&self, channel: &str, info: Bytes) -> Result<(), EngineError> {
        let name = pubsub_name(&self.inner.cfg.prefix, channel);
        let msg = encode_presence_message(false, &info);
        self.publish_raw(self.shard(channel), &name, &msg).await
    }

    /// A control message to every node, this one included.
    pub async fn publish_control(&self, msg: Bytes) -> Result<(), EngineError> {
        let name = self.inner.control_all.clone();
        self.publish_raw(&self.inner.shards[0], &name, &msg).await
    }

    /// A control message to one node (by the id it connected with).
    pub async fn publish_control_to(&self, node_id: &str, msg: Bytes) -> Result<(), EngineError> {
        let name = format!("{}{node_id}", self.inner.node_prefix);
        self.publish_raw(&self.inner.shards[0], &name, &msg).await
    }
}

async fn within<T>(
    limit: Duration,
    addr: &str,
    f: impl Future<Output = RedisResult<T>>,
) -> Result<T, EngineError> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(|e| connect_error(addr, e.into())),
        Err(_) => Err(connect_error(addr, EngineError::timeout("connect"))),
    }
}

async fn connect_single(
    cfg: &RedisConfig,
    addr: &str,
    shared: &Arc<Shared>,
) -> Result<Shard, EngineError> {
    let info = addr
        .into_connection_info()
        .map_err(|e| config_error(format!("redis: bad address {addr}: {e}")))?;
    let base = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(cfg.connect_timeout))
        .set_response_timeout(Some(cfg.command_timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    let limit = cfg.connect_timeout * 2 + Duration::from_millis(500);
    let client = redis::Client::open(info.clone()).map_err(|e| connect_error(addr, e.into()))?;
    let cmd = within(
        limit,
        addr,
        client.get_connection_manager_with_config(base.clone()),
    )
    .await?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let sub_client = redis::Client::open(info.set_redis_settings(settings))
        .map_err(|e| connect_error(addr, e.into()))?;
    let sub = SubShard::new(
        shared.clone(),
        Connector::Single {
            client: Box::new(sub_client),
            config: Box::new(base),
        },
    );
    within(limit, addr, sub.reconnect()).await?;
    Ok(Shard {
        cmd: CmdConn::Single(cmd),
        sub,
    })
}

async fn connect_cluster(cfg: &RedisConfig, shared: &Arc<Shared>) -> Result<Shard, EngineError> {
    let addr = cfg.addresses.join(",");
    let client = ClusterClientBuilder::new(cfg.addresses.clone())
        .connection_timeout(cfg.connect_timeout)
        .response_timeout(cfg.command_timeout)
        .retries(2)
        .min_retry_wait(20)
        .max_retry_wait(200)
        .build()
        .map_err(|e| config_error(format!("redis cluster {addr}: {e}")))?;
    let limit = cfg.connect_timeout * 2 + Duration::from_millis(500);
    let cmd = within(limit, &addr, client.get_async_connection()).await?;
    let sub = SubShard::new(
        shared.clone(),
        Connector::Cluster {
            addresses: cfg.addresses.clone(),
            connect_timeout: cfg.connect_timeout,
            command_timeout: cfg.command_timeout,
        },
    );
    within(limit, &addr, sub.reconnect()).await?;
    Ok(Shard {
        cmd: CmdConn::Cluster(cmd),
        sub,
    })
}
