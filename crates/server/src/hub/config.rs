//! The hub server's configuration: the hub core's (`client.*`,
//! `channel.*`) and what the IO layer adds (`http_api.*`,
//! `websocket.*`, `long_poll.*`), with Centrifugo v6's key names where
//! Centrifugo has the feature.

use std::time::Duration;

use serde::Deserialize;

use pushwire_hub::HubConfig;

use super::LongPollConfig;

/// Everything the hub server is configured with. Deserialisable from any
/// format serde reads; keys Centrifugo has and pushwire does not are
/// ignored, so the core of a Centrifugo v6 config carries over.
///
/// ```
/// let config: pushwire::hub::Config = serde_json::from_str(r#"{
///     "http_api": {"key": "api-secret"},
///     "client": {"token": {"hmac_secret_key": "token-secret"}},
///     "channel": {"namespaces": [{"name": "chat", "presence": true}]}
/// }"#).unwrap();
/// assert_eq!(config.http_api.key, "api-secret");
/// assert_eq!(config.websocket.message_size_limit, 65536);
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Config {
    /// `client.*` and `channel.*`: connections, tokens, namespaces.
    #[serde(flatten)]
    pub hub: HubConfig,
    /// `http_api.*`: the server API at `/api/<method>`.
    pub http_api: HttpApiConfig,
    /// `websocket.*`: the hub's WebSocket endpoints.
    pub websocket: WebSocketSettings,
    /// `long_poll.*`: the long-polling transport.
    pub long_poll: LongPollConfig,
    /// `engine.*`: one node in memory, or many on Redis.
    pub engine: EngineConfig,
}

/// `http_api.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HttpApiConfig {
    /// The key callers send as `X-API-Key` (or `Authorization: apikey
    /// <key>`). Empty: every call gets 401, unless `insecure`.
    pub key: String,
    /// Serve the API without a key (behind a firewall only).
    pub insecure: bool,
}

/// `websocket.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct WebSocketSettings {
    /// The largest message a client may send; larger ones close the
    /// connection with 1009. Default: 64 KiB.
    pub message_size_limit: usize,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        WebSocketSettings {
            message_size_limit: 64 << 10,
        }
    }
}

/// `engine.*`: where publications, history and presence live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EngineConfig {
    /// `memory` (one node, the default) or `redis` (many nodes).
    #[serde(rename = "type")]
    pub kind: EngineKind,
    /// `engine.redis.*`.
    pub redis: RedisSettings,
}

/// The engine's kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EngineKind {
    /// In process memory: one node.
    #[default]
    Memory,
    /// Redis, shared by every node.
    Redis,
}

/// `engine.redis.*` (Centrifugo v6 names).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RedisSettings {
    /// One Redis URL, or several: each channel lives on one of them,
    /// chosen by a consistent hash of its name.
    pub address: Addresses,
    /// Seed nodes of a Redis Cluster (sharded pub/sub, Redis 7); when set,
    /// `address` is not used.
    pub cluster_address: Vec<String>,
    /// Prefix of every key and pub/sub channel.
    pub prefix: String,
    /// Most time to open a connection.
    #[serde(with = "pushwire_hub::config::duration")]
    pub connect_timeout: Duration,
    /// Most time a Redis call may take; past it the call fails with a
    /// temporary error (code 100).
    #[serde(with = "pushwire_hub::config::duration")]
    pub io_timeout: Duration,
    /// A presence entry expires this long after its node last refreshed it.
    #[serde(with = "pushwire_hub::config::duration")]
    pub presence_ttl: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            address: Addresses(vec!["redis://127.0.0.1:6379".into()]),
            cluster_address: Vec::new(),
            prefix: "pushwire".into(),
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(1),
            presence_ttl: Duration::from_secs(60),
        }
    }
}

/// One address or a list of them.
#[derive(Debug, Clone, Default)]
pub struct Addresses(pub Vec<String>);

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(Addresses(match OneOrMany::deserialize(d)? {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(a) => a,
        }))
    }
}
