//! The proxy keys of the configuration, with Centrifugo v6's names:
//! `client.proxy.{connect,refresh}`, `channel.proxy.{subscribe,publish,sub_refresh}`
//! and `rpc.{proxy,without_namespace,namespaces}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{duration, ConfigError};

/// One backend endpoint: where a kind of event is posted and how.
///
/// ```
/// let e: pushwire_hub::proxy::ProxyEndpoint = serde_json::from_str(r#"{
///     "enabled": true, "endpoint": "http://localhost:3000/centrifugo/connect",
///     "timeout": "2s", "http_headers": ["Cookie"],
///     "http": {"static_headers": {"X-Origin": "pushwire"},
///              "status_to_code_transforms": [{"status_code": 403,
///                  "to_error": {"code": 1003, "message": "forbidden"}}]}
/// }"#).unwrap();
/// assert_eq!(e.timeout.as_secs(), 2);
/// assert_eq!(e.http.static_headers["X-Origin"], "pushwire");
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ProxyEndpoint {
    /// Whether the proxy is on (`client.proxy.connect` and `client.proxy.refresh`
    /// only: the channel and RPC proxies are switched on per namespace).
    pub enabled: bool,
    /// The URL posted to (`http://…`).
    pub endpoint: String,
    /// How long a call may take before the client gets error 100 (1s).
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Headers of the client's HTTP request forwarded to the backend
    /// (e.g. `Cookie`, `Authorization`); matched case-insensitively.
    pub http_headers: Vec<String>,
    /// Headers the client itself sets in its connect command (`headers`,
    /// centrifuge-js's `headers` option) forwarded to the backend; matched
    /// case-insensitively. The client controls them: a backend must not
    /// take them as proof of identity. A header the request itself
    /// forwards (`http_headers`) or a static header of the same name wins.
    pub emulated_headers: Vec<String>,
    /// `http.*`: headers added to every call, and HTTP statuses mapped to
    /// errors or disconnects.
    pub http: ProxyHttp,
    /// pushwire: the same as `http.static_headers` (which wins on a clash).
    pub static_headers: BTreeMap<String, String>,
    /// Send the client's `data` as `b64data` (base64 of its JSON text), as
    /// Centrifugo does for a backend written for binary clients. Answers
    /// may use `b64data`/`b64info` whether or not this is on.
    pub binary_encoding: bool,
    /// Send the connection's `meta` (from the connect proxy's result)
    /// with each call (not for connect, which has none yet).
    pub include_connection_meta: bool,
}

impl Default for ProxyEndpoint {
    fn default() -> Self {
        ProxyEndpoint {
            enabled: false,
            endpoint: String::new(),
            timeout: Duration::from_secs(1),
            http_headers: Vec::new(),
            emulated_headers: Vec::new(),
            http: ProxyHttp::default(),
            static_headers: BTreeMap::new(),
            binary_encoding: false,
            include_connection_meta: false,
        }
    }
}

/// `<proxy>.http.*`, as Centrifugo v6 names them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ProxyHttp {
    /// Headers added to every call.
    pub static_headers: BTreeMap<String, String>,
    /// A backend's non-200 status answered to the client as this error or
    /// disconnect, instead of error 100.
    pub status_to_code_transforms: Vec<StatusTransform>,
    /// `http.tls`: how `https://` endpoints are verified.
    pub tls: ProxyTls,
}

/// `<proxy>.http.tls.*`: `https://` endpoints are verified against the
/// public roots and these CA certificates (PEM).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ProxyTls {
    /// CA certificates, PEM text.
    pub server_ca_pem: String,
    /// A file of CA certificates (PEM).
    pub server_ca_pem_file: String,
}

/// One rule of `status_to_code_transforms`: `to_error` when its code is
/// set, else `to_disconnect`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StatusTransform {
    /// The backend's HTTP status.
    pub status_code: u16,
    /// The error the client gets.
    pub to_error: TransformError,
    /// The disconnect the client gets.
    pub to_disconnect: TransformDisconnect,
}

/// The error of a [`StatusTransform`].
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TransformError {
    /// Error code (0: none).
    pub code: u32,
    /// Message.
    pub message: String,
    /// Whether the client should retry.
    pub temporary: bool,
}

/// The disconnect of a [`StatusTransform`].
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TransformDisconnect {
    /// Close code (0: none).
    pub code: u32,
    /// Reason.
    pub reason: String,
}

impl ProxyEndpoint {
    /// The headers added to every call: `static_headers`, then
    /// `http.static_headers`.
    pub fn all_static_headers(&self) -> impl Iterator<Item = (&String, &String)> {
        self.static_headers
            .iter()
            .filter(|(k, _)| !self.http.static_headers.contains_key(*k))
            .chain(self.http.static_headers.iter())
    }

    /// What a non-200 `status` becomes, as a backend answer's JSON
    /// (`{"error":…}` or `{"disconnect":…}`), if a rule maps it.
    pub(crate) fn transform(&self, status: u16) -> Option<bytes::Bytes> {
        let rule = self
            .http
            .status_to_code_transforms
            .iter()
            .find(|r| r.status_code == status)?;
        let json = if rule.to_error.code != 0 {
            serde_json::json!({"error": rule.to_error})
        } else if rule.to_disconnect.code != 0 {
            serde_json::json!({"disconnect": rule.to_disconnect})
        } else {
            return None;
        };
        Some(bytes::Bytes::from(json.to_string()))
    }

    fn validate(&self, at: &str, needed_by: Option<&str>) -> Result<(), ConfigError> {
        let needed = self.enabled || needed_by.is_some();
        if needed && self.endpoint.trim().is_empty() {
            let why = match needed_by {
                Some(by) => format!("required by {by}"),
                None => format!("required when {at}.enabled is true"),
            };
            return Err(ConfigError::new(format!("{at}.endpoint"), why));
        }
        if needed && self.timeout.is_zero() {
            return Err(ConfigError::new(format!("{at}.timeout"), "must be > 0"));
        }
        Ok(())
    }
}

/// `client.proxy.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClientProxyConfig {
    /// `client.proxy.connect`: called on a connect without a token.
    pub connect: ProxyEndpoint,
    /// `client.proxy.refresh`: called when a connection the connect proxy
    /// let in reaches its `expire_at`.
    pub refresh: ProxyEndpoint,
    /// pushwire: most proxy calls waiting for their backend at once, over
    /// all connections (10,000); beyond, a command that needs one gets
    /// error 100 at once.
    pub max_pending: usize,
    /// pushwire: commands of one connection that may wait behind its
    /// pending proxy call (64; commands run in order, as Centrifugo's
    /// default `client.concurrency`); beyond, they get error 100.
    pub max_queued_commands: usize,
}

impl Default for ClientProxyConfig {
    fn default() -> Self {
        ClientProxyConfig {
            connect: ProxyEndpoint::default(),
            refresh: ProxyEndpoint::default(),
            max_pending: 10_000,
            max_queued_commands: 64,
        }
    }
}

/// `channel.proxy.*`: endpoints of the channel proxies, switched on per
/// namespace by `subscribe_proxy_enabled`, `publish_proxy_enabled` and
/// `sub_refresh_proxy_enabled`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ChannelProxyConfig {
    /// `channel.proxy.subscribe`.
    pub subscribe: ProxyEndpoint,
    /// `channel.proxy.publish`.
    pub publish: ProxyEndpoint,
    /// `channel.proxy.sub_refresh`.
    pub sub_refresh: ProxyEndpoint,
}

/// `rpc.*`: RPC calls from clients, answered by a backend.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RpcConfig {
    /// `rpc.proxy`: the endpoint.
    pub proxy: ProxyEndpoint,
    /// `rpc.without_namespace`: methods without a `:`.
    pub without_namespace: RpcOptions,
    /// `rpc.namespaces`: methods `<name>:…`.
    pub namespaces: Vec<RpcNamespace>,
}

/// Options of an RPC namespace.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RpcOptions {
    /// Send the namespace's calls to `rpc.proxy`.
    pub proxy_enabled: bool,
}

/// `rpc.namespaces[*]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RpcNamespace {
    /// The part of a method before `:`.
    pub name: String,
    /// The options.
    #[serde(flatten)]
    pub options: RpcOptions,
}

impl RpcConfig {
    /// Whether calls of `method` go to the RPC proxy (the namespace is the
    /// part before `:`; an unknown namespace has no proxy).
    pub fn proxied(&self, method: &str) -> bool {
        match method.split_once(':') {
            None => self.without_namespace.proxy_enabled,
            Some((ns, _)) => self
                .namespaces
                .iter()
                .any(|n| n.name == ns && n.options.proxy_enabled),
        }
    }
}

/// Checks that every proxy switched on has an endpoint.
pub(crate) fn validate(cfg: &crate::HubConfig) -> Result<(), ConfigError> {
    let p = &cfg.client.proxy;
    p.connect.validate("client.proxy.connect", None)?;
    p.refresh.validate("client.proxy.refresh", None)?;
    if p.max_pending == 0 {
        return Err(ConfigError::new("client.proxy.max_pending", "must be > 0"));
    }
    let ch = &cfg.channel;
    let namespaces = std::iter::once((
        "channel.without_namespace".to_string(),
        &ch.without_namespace,
    ))
    .chain(
        ch.namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| (format!("channel.namespaces[{i}]"), &ns.options)),
    );
    for (at, o) in namespaces {
        if o.subscribe_proxy_enabled {
            ch.proxy.subscribe.validate(
                "channel.proxy.subscribe",
                Some(&format!("{at}.subscribe_proxy_enabled")),
            )?;
        }
        if o.publish_proxy_enabled {
            ch.proxy.publish.validate(
                "channel.proxy.publish",
                Some(&format!("{at}.publish_proxy_enabled")),
            )?;
        }
        if o.sub_refresh_proxy_enabled {
            ch.proxy.sub_refresh.validate(
                "channel.proxy.sub_refresh",
                Some(&format!("{at}.sub_refresh_proxy_enabled")),
            )?;
        }
    }
    let rpc = &cfg.rpc;
    if rpc.without_namespace.proxy_enabled {
        rpc.proxy
            .validate("rpc.proxy", Some("rpc.without_namespace.proxy_enabled"))?;
    }
    for (i, ns) in rpc.namespaces.iter().enumerate() {
        if ns.name.is_empty() || ns.name.contains(':') {
            return Err(ConfigError::new(
                format!("rpc.namespaces[{i}].name"),
                "must be non-empty and without ':'",
            ));
        }
        if ns.options.proxy_enabled {
            rpc.proxy.validate(
                "rpc.proxy",
                Some(&format!("rpc.namespaces[{i}].proxy_enabled")),
            )?;
        }
    }
    Ok(())
}

impl crate::HubConfig {
    /// Whether any backend proxy is switched on (the IO layer then needs
    /// an HTTP client, and the client headers the proxies forward).
    pub fn proxy_enabled(&self) -> bool {
        let ch = &self.channel;
        let any_ns = std::iter::once(&ch.without_namespace)
            .chain(ch.namespaces.iter().map(|n| &n.options))
            .any(|o| {
                o.subscribe_proxy_enabled || o.publish_proxy_enabled || o.sub_refresh_proxy_enabled
            });
        self.client.proxy.connect.enabled
            || self.client.proxy.refresh.enabled
            || any_ns
            || self.rpc.without_namespace.proxy_enabled
            || self.rpc.namespaces.iter().any(|n| n.options.proxy_enabled)
    }
}
