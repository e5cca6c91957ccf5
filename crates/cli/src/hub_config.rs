//! The hub's configuration for `pushwire serve`: a file in JSON, TOML or
//! YAML with Centrifugo v6's key names, environment overrides
//! (`PUSHWIRE_` + the key path in upper case joined by `_`), or, with
//! neither, embedded development defaults.

use std::path::Path;

use serde_json::{Map, Value};

/// Keys that an environment variable may set even when the file leaves
/// them out (besides every key the file has).
const KNOWN_KEYS: &[&str] = &[
    "client.token.hmac_secret_key",
    "client.token.rsa_public_key",
    "client.token.ecdsa_public_key",
    "client.token.audience",
    "client.token.issuer",
    "client.allowed_origins",
    "client.allow_anonymous_connect_without_token",
    "client.ping_interval",
    "client.pong_timeout",
    "client.stale_close_delay",
    "client.expired_close_delay",
    "client.channel_limit",
    "client.user_connection_limit",
    "client.queue_max_size",
    "client.history_max_publication_limit",
    "client.recovery_max_publication_limit",
    "http_api.key",
    "http_api.insecure",
    "websocket.message_size_limit",
    "long_poll.hold",
    "long_poll.session_timeout",
    // The engine: `..._ADDRESS` and `..._CLUSTER_ADDRESS` take a comma list.
    "engine.type",
    "engine.redis.address",
    "engine.redis.cluster_address",
    "engine.redis.prefix",
    "engine.redis.connect_timeout",
    "engine.redis.io_timeout",
    "engine.redis.presence_ttl",
    // The backend proxy: `..._HTTP_HEADERS` take a comma list,
    // `..._HTTP_STATIC_HEADERS` a JSON object, `..._STATUS_TO_CODE_TRANSFORMS`
    // a JSON array.
    "client.proxy.connect.enabled",
    "client.proxy.connect.endpoint",
    "client.proxy.connect.timeout",
    "client.proxy.connect.http_headers",
    "client.proxy.connect.http.static_headers",
    "client.proxy.connect.http.status_to_code_transforms",
    "client.proxy.connect.http.tls.server_ca_pem_file",
    "client.proxy.refresh.enabled",
    "client.proxy.refresh.endpoint",
    "client.proxy.refresh.timeout",
    "client.proxy.refresh.http_headers",
    "client.proxy.refresh.http.static_headers",
    "client.proxy.refresh.http.status_to_code_transforms",
    "client.proxy.refresh.http.tls.server_ca_pem_file",
    "client.proxy.max_pending",
    "client.proxy.max_queued_commands",
    "channel.proxy.subscribe.endpoint",
    "channel.proxy.subscribe.timeout",
    "channel.proxy.subscribe.http_headers",
    "channel.proxy.subscribe.http.static_headers",
    "channel.proxy.subscribe.http.status_to_code_transforms",
    "channel.proxy.subscribe.http.tls.server_ca_pem_file",
    "channel.proxy.publish.endpoint",
    "channel.proxy.publish.timeout",
    "channel.proxy.publish.http_headers",
    "channel.proxy.publish.http.static_headers",
    "channel.proxy.publish.http.status_to_code_transforms",
    "channel.proxy.publish.http.tls.server_ca_pem_file",
    "channel.proxy.sub_refresh.endpoint",
    "channel.proxy.sub_refresh.timeout",
    "channel.proxy.sub_refresh.http_headers",
    "channel.proxy.sub_refresh.http.static_headers",
    "channel.proxy.sub_refresh.http.status_to_code_transforms",
    "channel.proxy.sub_refresh.http.tls.server_ca_pem_file",
    "channel.without_namespace.subscribe_proxy_enabled",
    "channel.without_namespace.publish_proxy_enabled",
    "channel.without_namespace.sub_refresh_proxy_enabled",
    "rpc.proxy.endpoint",
    "rpc.proxy.timeout",
    "rpc.proxy.http_headers",
    "rpc.proxy.http.static_headers",
    "rpc.proxy.http.status_to_code_transforms",
    "rpc.proxy.http.tls.server_ca_pem_file",
    "rpc.without_namespace.proxy_enabled",
];

/// The configuration as loaded, before it is typed.
pub struct Loaded {
    /// The whole tree, for `--print-config` and for typing.
    pub tree: Value,
    /// No file: the development defaults.
    pub development: bool,
}

/// Reads `file` (or the defaults), then applies the environment.
pub fn load(
    file: Option<&Path>,
    env: impl Iterator<Item = (String, String)>,
) -> Result<Loaded, String> {
    let (mut tree, development) = match file {
        Some(path) => (read_file(path)?, false),
        None => (development_defaults(), true),
    };
    apply_env(&mut tree, env)?;
    Ok(Loaded { tree, development })
}

/// Types the tree; the error names the key and the reason.
pub fn typed(tree: &Value, origin: &str) -> Result<pushwire::hub::Config, String> {
    let config: pushwire::hub::Config =
        serde_path_error(tree).map_err(|e| format!("{origin}: {e}"))?;
    config
        .hub
        .validate()
        .map_err(|e| format!("{origin}: {e}"))?;
    Ok(config)
}

/// Deserialises, naming the key that failed. The hub's part is checked
/// on its own first: the whole config flattens it in, which hides paths.
fn serde_path_error(tree: &Value) -> Result<pushwire::hub::Config, String> {
    checked::<pushwire_hub::HubConfig>(tree, "")?;
    checked::<pushwire::hub::HttpApiConfig>(&tree["http_api"], "http_api.")?;
    checked::<pushwire::hub::WebSocketSettings>(&tree["websocket"], "websocket.")?;
    checked(tree, "")
}

fn checked<T: serde::de::DeserializeOwned>(tree: &Value, prefix: &str) -> Result<T, String> {
    let tree = if tree.is_null() {
        Value::Object(Map::new())
    } else {
        tree.clone()
    };
    serde_path_to_error::deserialize(tree)
        .map_err(|e| format!("key `{prefix}{}`: {}", e.path(), e.inner()))
}

fn read_file(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str::<Value>(&text).map_err(|e| e.to_string()),
        Some("yaml" | "yml") => serde_yaml_ng::from_str::<Value>(&text).map_err(|e| e.to_string()),
        Some("json") | None => serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()),
        Some(other) => Err(format!(
            "unknown config format .{other} (use .json, .toml or .yaml)"
        )),
    };
    let tree = parsed.map_err(|e| format!("{}: {e}", path.display()))?;
    if !tree.is_object() {
        return Err(format!(
            "{}: the configuration must be a table of keys",
            path.display()
        ));
    }
    Ok(tree)
}

/// `PUSHWIRE_CLIENT_TOKEN_HMAC_SECRET_KEY=…` sets `client.token.hmac_secret_key`.
fn apply_env(tree: &mut Value, env: impl Iterator<Item = (String, String)>) -> Result<(), String> {
    let mut paths = KNOWN_KEYS.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    collect_paths(tree, String::new(), &mut paths);
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("PUSHWIRE_") else {
            continue;
        };
        let Some(path) = paths.iter().find(|p| env_name(p) == rest) else {
            continue;
        };
        set_path(tree, path, parse_env_value(path, &value)).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn env_name(path: &str) -> String {
    path.replace('.', "_").to_ascii_uppercase()
}

/// The dotted paths of the tree's leaves (arrays count as leaves).
fn collect_paths(value: &Value, prefix: String, out: &mut Vec<String>) {
    let Value::Object(map) = value else {
        if !prefix.is_empty() && !out.contains(&prefix) {
            out.push(prefix);
        }
        return;
    };
    for (key, child) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        collect_paths(child, path, out);
    }
}

/// A variable's value: JSON when it reads as JSON (numbers, booleans,
/// arrays), a comma list for `allowed_origins`, `http_headers` and the
/// Redis addresses, a string otherwise.
fn parse_env_value(path: &str, value: &str) -> Value {
    let list = path.ends_with("allowed_origins")
        || path.ends_with("http_headers")
        || path.ends_with("address");
    if list && !value.trim_start().starts_with('[') {
        return Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| Value::String(v.to_string()))
                .collect(),
        );
    }
    match serde_json::from_str::<Value>(value) {
        Ok(parsed @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_))) => {
            parsed
        }
        _ => Value::String(value.to_string()),
    }
}

/// Adds `origins` (from `--allow-origin`) to `client.allowed_origins`.
pub fn allow_origins(tree: &mut Value, origins: &[String]) -> Result<(), String> {
    if origins.is_empty() {
        return Ok(());
    }
    let path = "client.allowed_origins";
    let mut allowed = match tree.pointer("/client/allowed_origins") {
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return Err(format!("{path}: not a list")),
        None => Vec::new(),
    };
    for origin in origins {
        let origin = Value::String(origin.clone());
        if !allowed.contains(&origin) {
            allowed.push(origin);
        }
    }
    set_path(tree, path, Value::Array(allowed))
}

fn set_path(tree: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut node = tree;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        let Value::Object(map) = node else {
            return Err(format!("{path}: not a table"));
        };
        if keys.peek().is_none() {
            map.insert(key.to_string(), value);
            return Ok(());
        }
        node = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// With no configuration: a hub anyone on this machine can try. Demo
/// namespaces that anonymous clients may use (`chat`, `support`, and
/// channels without a namespace), with history, recovery and presence;
/// generated secrets for tokens and the server API.
fn development_defaults() -> Value {
    let open = serde_json::json!({
        "presence": true,
        "join_leave": true,
        "force_push_join_leave": true,
        "history_size": 100,
        "history_ttl": "300s",
        "force_recovery": true,
        "allow_subscribe_for_client": true,
        "allow_subscribe_for_anonymous": true,
        "allow_publish_for_client": true,
        "allow_publish_for_anonymous": true,
        "allow_presence_for_subscriber": true,
        "allow_presence_for_anonymous": true,
        "allow_history_for_subscriber": true,
        "allow_history_for_anonymous": true,
    });
    let mut chat = open.clone();
    chat["name"] = "chat".into();
    let mut support = open.clone();
    support["name"] = "support".into();
    serde_json::json!({
        "client": {
            "allow_anonymous_connect_without_token": true,
            "token": {"hmac_secret_key": secret()},
        },
        "channel": {
            "without_namespace": open,
            "namespaces": [chat, support],
        },
        "http_api": {"key": secret()},
    })
}

/// 32 random bytes, hex.
fn secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn allow_origin_flags_add_to_the_configured_origins() {
        let mut loaded = load(
            None,
            env(&[("PUSHWIRE_CLIENT_ALLOWED_ORIGINS", "https://a.example")]),
        )
        .unwrap();
        let flags = [
            "https://b.example".to_string(),
            "https://a.example".to_string(),
        ];
        allow_origins(&mut loaded.tree, &flags).unwrap();
        let config = typed(&loaded.tree, "the defaults").unwrap();
        assert_eq!(
            config.hub.client.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn environment_overrides_file_keys_and_known_ones() {
        let dir = std::env::temp_dir().join(format!("pushwire-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.toml");
        std::fs::write(
            &file,
            "[client]\nchannel_limit = 10\n[[channel.namespaces]]\nname = \"chat\"\npresence = true\n",
        )
        .unwrap();
        let loaded = load(
            Some(&file),
            env(&[
                ("PUSHWIRE_CLIENT_CHANNEL_LIMIT", "20"),
                ("PUSHWIRE_HTTP_API_KEY", "k"),
                (
                    "PUSHWIRE_CLIENT_ALLOWED_ORIGINS",
                    "https://a.example, https://b.example",
                ),
                ("PUSHWIRE_LONG_POLL_HOLD", "10s"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        let config = typed(&loaded.tree, "hub.toml").unwrap();
        assert_eq!(config.hub.client.channel_limit, 20);
        assert_eq!(config.http_api.key, "k");
        assert_eq!(
            config.hub.client.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.hub.channel.namespaces[0].name, "chat");
        assert_eq!(config.long_poll.hold, std::time::Duration::from_secs(10));
        assert!(!loaded.development);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_engine_is_configured_from_the_environment() {
        let loaded = load(
            None,
            env(&[
                ("PUSHWIRE_ENGINE_TYPE", "redis"),
                (
                    "PUSHWIRE_ENGINE_REDIS_ADDRESS",
                    "redis://127.0.0.1:7001, redis://127.0.0.1:7002",
                ),
                ("PUSHWIRE_ENGINE_REDIS_PREFIX", "app"),
                ("PUSHWIRE_ENGINE_REDIS_IO_TIMEOUT", "250ms"),
            ]),
        )
        .unwrap();
        let config = typed(&loaded.tree, "the defaults").unwrap();
        let engine = &config.engine;
        assert_eq!(engine.kind, pushwire::hub::EngineKind::Redis);
        assert_eq!(
            engine.redis.address.0,
            ["redis://127.0.0.1:7001", "redis://127.0.0.1:7002"]
        );
        assert_eq!(engine.redis.prefix, "app");
        assert_eq!(
            engine.redis.io_timeout,
            std::time::Duration::from_millis(250)
        );
    }

    #[test]
    fn the_backend_proxy_is_configured_from_the_environment() {
        let loaded = load(
            None,
            env(&[
                ("PUSHWIRE_CLIENT_PROXY_CONNECT_ENABLED", "true"),
                (
                    "PUSHWIRE_CLIENT_PROXY_CONNECT_ENDPOINT",
                    "http://127.0.0.1:3000/centrifugo/connect",
                ),
                (
                    "PUSHWIRE_CLIENT_PROXY_CONNECT_HTTP_HEADERS",
                    "Cookie, Authorization",
                ),
                ("PUSHWIRE_CLIENT_PROXY_CONNECT_TIMEOUT", "2s"),
                (
                    "PUSHWIRE_RPC_PROXY_ENDPOINT",
                    "http://127.0.0.1:3000/centrifugo/rpc",
                ),
                (
                    "PUSHWIRE_RPC_PROXY_HTTP_STATIC_HEADERS",
                    r#"{"X-Secret":"s"}"#,
                ),
                ("PUSHWIRE_RPC_WITHOUT_NAMESPACE_PROXY_ENABLED", "true"),
            ]),
        )
        .unwrap();
        let config = typed(&loaded.tree, "the environment").unwrap();
        let connect = &config.hub.client.proxy.connect;
        assert!(connect.enabled);
        assert_eq!(connect.http_headers, ["Cookie", "Authorization"]);
        assert_eq!(connect.timeout.as_secs(), 2);
        assert!(config.hub.rpc.proxied("anything"));
        assert_eq!(config.hub.rpc.proxy.http.static_headers["X-Secret"], "s");
        // Enabled without an endpoint: the key is named.
        let loaded = load(
            None,
            env(&[("PUSHWIRE_CLIENT_PROXY_REFRESH_ENABLED", "true")]),
        )
        .unwrap();
        let e = typed(&loaded.tree, "the environment").err().unwrap();
        assert!(e.contains("client.proxy.refresh.endpoint"), "{e}");
    }

    #[test]
    fn yaml_reads_like_json() {
        let dir = std::env::temp_dir().join(format!("pushwire-yaml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.yaml");
        std::fs::write(
            &file,
            "http_api:\n  key: k\nchannel:\n  namespaces:\n    - name: chat\n      history_size: 10\n      history_ttl: 30s\n",
        )
        .unwrap();
        let loaded = load(Some(&file), env(&[])).unwrap();
        let config = typed(&loaded.tree, "hub.yaml").unwrap();
        assert_eq!(config.http_api.key, "k");
        assert_eq!(config.hub.channel.namespaces[0].options.history_size, 10);
        let bad = dir.join("hub.ini");
        std::fs::write(&bad, "x=1").unwrap();
        let e = load(Some(&bad), env(&[])).err().unwrap();
        assert!(e.contains(".ini"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_wrong_value_names_its_key() {
        let tree = serde_json::json!({"client": {"channel_limit": "many"}});
        let e = typed(&tree, "hub.json").err().unwrap();
        assert!(e.contains("hub.json") && e.contains("channel_limit"), "{e}");
        let tree = serde_json::json!({"channel": {"namespaces": [{"name": "bad name!"}]}});
        let e = typed(&tree, "hub.json").err().unwrap();
        assert!(e.contains("namespaces"), "{e}");
    }

    #[test]
    fn development_defaults_are_valid_and_secret() {
        let a = load(None, env(&[])).unwrap();
        let b = load(None, env(&[])).unwrap();
        assert!(a.development);
        let config = typed(&a.tree, "defaults").unwrap();
        assert!(config.hub.client.allow_anonymous_connect_without_token);
        assert_eq!(config.http_api.key.len(), 64);
        assert_ne!(a.tree["http_api"]["key"], b.tree["http_api"]["key"]);
    }
}
