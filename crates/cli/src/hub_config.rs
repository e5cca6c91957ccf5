//! The hub's configuration for `pushwire serve`: a file in JSON, TOML or
//! YAML with Centrifugo v6's key names, environment overrides
//! (`PUSHWIRE_` + the key path in upper case joined by `_`), or, with
//! neither, embedded development defaults.

use std::path::Path;

use pushwire::hub::config_file::{self, Format};
use serde_json::Value;

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
    config_file::apply_env(&mut tree, env)?;
    Ok(Loaded { tree, development })
}

/// Types the tree; the error names the key and the reason.
pub fn typed(tree: &Value, origin: &str) -> Result<pushwire::hub::Config, String> {
    config_file::typed(tree, origin)
}

/// Reads the file (the one piece of IO); the rest is the server crate's
/// `hub::config_file`, which embedders and the fuzz target share.
fn read_file(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let format = Format::from_path(path)?;
    config_file::parse(&text, format).map_err(|e| format!("{}: {e}", path.display()))
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
    config_file::set(tree, path, Value::Array(allowed))
}

/// Names the node `<host name>_<port>` (as Centrifugo does) unless
/// `node.name` is set.
pub fn default_node_name(tree: &mut Value, port: u16) -> Result<(), String> {
    if tree
        .pointer("/node/name")
        .is_some_and(|n| n.as_str() != Some(""))
    {
        return Ok(());
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pushwire".into());
    config_file::set(tree, "node.name", Value::String(format!("{host}_{port}")))
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
