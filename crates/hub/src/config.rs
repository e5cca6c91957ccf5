//! The hub's configuration, with Centrifugo v6's key names (`client.*`,
//! `channel.*`). Deserialisable with serde from any format; unknown keys are
//! ignored so the core of a Centrifugo config carries over. [`HubConfig::validate`]
//! reports the first problem with its key path.

use std::time::Duration;

use serde::Deserialize;

use crate::channel::{Namespace, NamespaceOptions};

/// The hub's configuration.
///
/// ```
/// let cfg: pushwire_hub::HubConfig = serde_json::from_str(r#"{
///   "client": {"token": {"hmac_secret_key": "secret"}, "ping_interval": "25s"},
///   "channel": {"namespaces": [{"name": "chat", "history_size": 100, "history_ttl": "300s",
///                               "force_recovery": true, "allow_subscribe_for_client": true}]}
/// }"#).unwrap();
/// cfg.validate().unwrap();
/// assert_eq!(cfg.channel.namespaces[0].options.history_ttl.as_secs(), 300);
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HubConfig {
    /// `client.*`: connections.
    pub client: ClientConfig,
    /// `channel.*`: channels and namespaces.
    pub channel: ChannelConfig,
    /// `rpc.*`: client RPC calls answered by a backend proxy.
    pub rpc: crate::proxy::RpcConfig,
    /// `node.*`: this node among the others.
    pub node: NodeConfig,
}

/// `node.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The node's name in the server API's `info` (`pushwire` when empty;
    /// `pushwire serve` makes it `<host name>_<port>`, as Centrifugo does).
    pub name: String,
}

/// `client.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `client.token`: how connection and subscription JWTs are verified.
    pub token: TokenConfig,
    /// Connect without a token as anonymous user `""`.
    pub allow_anonymous_connect_without_token: bool,
    /// Browser origins allowed (checked by the IO layer).
    pub allowed_origins: Vec<String>,
    /// Server ping interval (25s).
    #[serde(with = "duration")]
    pub ping_interval: Duration,
    /// How long to wait for a pong (8s).
    #[serde(with = "duration")]
    pub pong_timeout: Duration,
    /// Close a connection that has not connected within this (10s) with 3502.
    #[serde(with = "duration")]
    pub stale_close_delay: Duration,
    /// Grace after a token's expiry before closing with 3005 (25s).
    #[serde(with = "duration")]
    pub expired_close_delay: Duration,
    /// Subscriptions per connection (128; more → error 106).
    pub channel_limit: usize,
    /// Connections per user (0 = unlimited; more → disconnect 3504).
    pub user_connection_limit: usize,
    /// Bound of a connection's queue for replies and control pushes (1 MiB).
    pub queue_max_size: usize,
    /// Most publications a client's history call returns (300).
    pub history_max_publication_limit: usize,
    /// Most publications a recovery returns (300); more → `recovered:false`.
    pub recovery_max_publication_limit: usize,
    /// `client.proxy.*`: the connect and refresh proxies.
    pub proxy: crate::proxy::ClientProxyConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            token: TokenConfig::default(),
            allow_anonymous_connect_without_token: false,
            allowed_origins: Vec::new(),
            ping_interval: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(8),
            stale_close_delay: Duration::from_secs(10),
            expired_close_delay: Duration::from_secs(25),
            channel_limit: 128,
            user_connection_limit: 0,
            queue_max_size: 1 << 20,
            history_max_publication_limit: 300,
            recovery_max_publication_limit: 300,
            proxy: crate::proxy::ClientProxyConfig::default(),
        }
    }
}

/// `client.token.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TokenConfig {
    /// Secret for HS256/384/512.
    pub hmac_secret_key: String,
    /// PEM public key for RS256/384/512.
    pub rsa_public_key: String,
    /// PEM public key for ES256/384.
    pub ecdsa_public_key: String,
    /// Required `aud` when set.
    pub audience: String,
    /// Required `iss` when set.
    pub issuer: String,
}

/// `channel.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ChannelConfig {
    /// Options of channels without a namespace.
    pub without_namespace: NamespaceOptions,
    /// Named namespaces.
    pub namespaces: Vec<Namespace>,
    /// Longest channel name in bytes (255).
    pub max_length: usize,
    /// `channel.proxy.*`: endpoints of the subscribe, publish and
    /// sub_refresh proxies.
    pub proxy: crate::proxy::ChannelProxyConfig,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            without_namespace: NamespaceOptions::default(),
            namespaces: Vec::new(),
            max_length: 255,
            proxy: crate::proxy::ChannelProxyConfig::default(),
        }
    }
}

impl HubConfig {
    /// Checks the whole configuration; the error names the key and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.client;
        if c.ping_interval.is_zero() {
            return Err(ConfigError::new("client.ping_interval", "must be > 0"));
        }
        if c.pong_timeout >= c.ping_interval {
            return Err(ConfigError::new(
                "client.pong_timeout",
                "must be shorter than client.ping_interval",
            ));
        }
        if let Some(reason) = crate::outbox::bound_error(c.queue_max_size) {
            return Err(ConfigError::new("client.queue_max_size", reason));
        }
        if self.channel.max_length == 0 {
            return Err(ConfigError::new("channel.max_length", "must be > 0"));
        }
        self.channel
            .without_namespace
            .validate("channel.without_namespace")?;
        let mut seen = std::collections::HashSet::new();
        for (i, ns) in self.channel.namespaces.iter().enumerate() {
            let at = format!("channel.namespaces[{i}]");
            let valid = ns.name.len() >= 2
                && ns
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(ConfigError::new(
                    format!("{at}.name"),
                    format!("{:?} must match ^[-a-zA-Z0-9_]{{2,}}$", ns.name),
                ));
            }
            if !seen.insert(ns.name.as_str()) {
                return Err(ConfigError::new(
                    format!("{at}.name"),
                    format!("duplicate namespace {:?}", ns.name),
                ));
            }
            ns.options.validate(&at)?;
        }
        crate::jwt::TokenVerifier::new(&c.token)?;
        crate::proxy::validate(self)?;
        Ok(())
    }
}

/// A configuration problem: the key path and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, e.g. `channel.namespaces[0].history_ttl`.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Parses a Go-style duration: `"300s"`, `"5m"`, `"1h30m"`, `"250ms"`, `"1.5h"`;
/// `"0"` is zero.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(pushwire_hub::parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(pushwire_hub::parse_duration("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(pushwire_hub::parse_duration("5 minutes"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * ms;
    }
    if !total.is_finite() || total > 1e15 {
        return None;
    }
    Some(Duration::from_micros((total * 1000.0).round() as u64))
}

/// serde helpers: a duration as a Go-style string or integer milliseconds
/// (`#[serde(with = "pushwire_hub::config::duration")]`).
pub mod duration {
    use std::time::Duration;

    use serde::{de, Deserializer};

    /// Reads a duration: `"300s"`, `"5m"`, `"720h"`, or milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration like \"300s\", \"5m\", \"720h\" or milliseconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_millis(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_millis)
                    .map_err(|_| E::custom("a duration must not be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                super::parse_duration(v)
                    .ok_or_else(|| E::custom(format!("{v:?} is not a duration like \"300s\"")))
            }
        }
        d.deserialize_any(V)
    }
}

impl NamespaceOptions {
    /// Options with history on: `size` publications kept for `ttl`.
    ///
    /// ```
    /// use pushwire_hub::channel::NamespaceOptions;
    /// let o = NamespaceOptions::default().with_history(100, std::time::Duration::from_secs(300));
    /// assert!(o.history_enabled());
    /// ```
    pub fn with_history(mut self, size: usize, ttl: Duration) -> Self {
        self.history_size = size;
        self.history_ttl = ttl;
        self
    }
}
