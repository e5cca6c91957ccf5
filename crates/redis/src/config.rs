//! The engine's settings.

use std::time::Duration;

/// How the engine reaches Redis and how it names its keys.
///
/// ```
/// use pushwire_redis::RedisConfig;
/// let mut cfg = RedisConfig::default();
/// cfg.addresses = vec!["redis://127.0.0.1:6379".into()];
/// assert_eq!(cfg.prefix, "pushwire");
/// assert_eq!(cfg.command_timeout, std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// Redis URLs (`redis://host:port/db`). Several plain addresses are
    /// shards: each channel lives on one of them, chosen by a consistent hash
    /// of its name. In cluster mode they are seed nodes of one cluster.
    pub addresses: Vec<String>,
    /// Redis Cluster: keys routed by slot, sharded pub/sub
    /// (`SPUBLISH`/`SSUBSCRIBE`, Redis 7).
    pub cluster: bool,
    /// Prefix of every key and pub/sub channel (must not contain `{` or `}`).
    pub prefix: String,
    /// Most time to open a connection.
    pub connect_timeout: Duration,
    /// Most time any engine call waits for Redis; past it the call fails
    /// with a temporary error.
    pub command_timeout: Duration,
    /// A presence entry expires this long after it was last added.
    pub presence_ttl: Duration,
    /// Events buffered for the consumer of the event stream. When it is
    /// full, publications for a channel are dropped and the channel is
    /// reported in an [`EngineEvent::Lost`](crate::EngineEvent::Lost) once
    /// there is room again: never a silent gap.
    pub event_capacity: usize,
    /// Channels per `SUBSCRIBE` command when resubscribing after a reconnect.
    pub resubscribe_batch: usize,
    /// How often each subscriber connection is checked with a `PING`
    /// (bounded by `command_timeout`); a failed check is handled as a
    /// disconnection (channels lost, fresh connection, resubscribe). It
    /// catches a connection that died without the socket saying so.
    pub health_check_interval: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            addresses: vec!["redis://127.0.0.1:6379".into()],
            cluster: false,
            prefix: "pushwire".into(),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            presence_ttl: Duration::from_secs(60),
            event_capacity: 65_536,
            resubscribe_batch: 512,
            health_check_interval: Duration::from_secs(5),
        }
    }
}
