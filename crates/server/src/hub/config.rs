//! The hub server's configuration: the hub core's (`client.*`,
//! `channel.*`) and what the IO layer adds (`http_api.*`,
//! `websocket.*`, `long_poll.*`), with Centrifugo v6's key names where
//! Centrifugo has the feature.

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
