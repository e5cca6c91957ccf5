//! Centrifugo-style configuration files: text in JSON, TOML or YAML with
//! Centrifugo v6's key names, environment overrides (`PUSHWIRE_` + the key
//! path in upper case joined by `_`), typed into a [`Config`] and
//! validated. This is what `pushwire serve --config FILE` reads; an
//! application embedding the hub can read the same files.
//!
//! Nothing here does IO: the caller reads the file and passes its text,
//! and passes the environment as pairs (`std::env::vars()`, or fixed ones).
//! Every error is a sentence that names the key that is wrong (and why),
//! the environment variable, or the position in the text that does not
//! parse.
//!
//! ```
//! use pushwire::hub::config_file::{self, Format};
//!
//! let text = r#"
//! [http_api]
//! key = "api-secret"
//!
//! [[channel.namespaces]]
//! name = "chat"
//! presence = true
//! "#;
//! let env = [("PUSHWIRE_CLIENT_CHANNEL_LIMIT".to_string(), "20".to_string())];
//! let config = config_file::load(text, Format::Toml, "hub.toml", env).unwrap();
//! assert_eq!(config.http_api.key, "api-secret");
//! assert_eq!(config.hub.client.channel_limit, 20);
//!
//! let e = config_file::load(r#"{"client": {"channel_limit": "many"}}"#, Format::Json, "hub.json", [])
//!     .unwrap_err();
//! assert!(e.starts_with("hub.json: key `client.channel_limit`"), "{e}");
//! ```
//!
//! The steps are public too, for a caller that shows or changes the tree
//! before typing it (`pushwire serve --print-config`, `--allow-origin`):
//! [`parse`], [`apply_env`], [`set`], [`typed`].

use std::path::Path;

use pushwire_hub::channel::NamespaceOptions;
use pushwire_hub::proxy::RpcOptions;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Config;

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
    "node.name",
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
    // The backend proxy: `..._HTTP_HEADERS` and `..._EMULATED_HEADERS` take a comma list,
    // `..._HTTP_STATIC_HEADERS` a JSON object, `..._STATUS_TO_CODE_TRANSFORMS`
    // a JSON array.
    "client.proxy.connect.enabled",
    "client.proxy.connect.endpoint",
    "client.proxy.connect.timeout",
    "client.proxy.connect.http_headers",
    "client.proxy.connect.emulated_headers",
    "client.proxy.connect.binary_encoding",
    "client.proxy.connect.http.static_headers",
    "client.proxy.connect.http.status_to_code_transforms",
    "client.proxy.connect.http.tls.server_ca_pem_file",
    "client.proxy.refresh.enabled",
    "client.proxy.refresh.endpoint",
    "client.proxy.refresh.timeout",
    "client.proxy.refresh.http_headers",
    "client.proxy.refresh.emulated_headers",
    "client.proxy.refresh.binary_encoding",
    "client.proxy.refresh.http.static_headers",
    "client.proxy.refresh.http.status_to_code_transforms",
    "client.proxy.refresh.http.tls.server_ca_pem_file",
    "client.proxy.max_pending",
    "client.proxy.max_queued_commands",
    "channel.proxy.subscribe.endpoint",
    "channel.proxy.subscribe.timeout",
    "channel.proxy.subscribe.http_headers",
    "channel.proxy.subscribe.emulated_headers",
    "channel.proxy.subscribe.binary_encoding",
    "channel.proxy.subscribe.http.static_headers",
    "channel.proxy.subscribe.http.status_to_code_transforms",
    "channel.proxy.subscribe.http.tls.server_ca_pem_file",
    "channel.proxy.publish.endpoint",
    "channel.proxy.publish.timeout",
    "channel.proxy.publish.http_headers",
    "channel.proxy.publish.emulated_headers",
    "channel.proxy.publish.binary_encoding",
    "channel.proxy.publish.http.static_headers",
    "channel.proxy.publish.http.status_to_code_transforms",
    "channel.proxy.publish.http.tls.server_ca_pem_file",
    "channel.proxy.sub_refresh.endpoint",
    "channel.proxy.sub_refresh.timeout",
    "channel.proxy.sub_refresh.http_headers",
    "channel.proxy.sub_refresh.emulated_headers",
    "channel.proxy.sub_refresh.binary_encoding",
    "channel.proxy.sub_refresh.http.static_headers",
    "channel.proxy.sub_refresh.http.status_to_code_transforms",
    "channel.proxy.sub_refresh.http.tls.server_ca_pem_file",
    "channel.without_namespace.subscribe_proxy_enabled",
    "channel.without_namespace.publish_proxy_enabled",
    "channel.without_namespace.sub_refresh_proxy_enabled",
    "rpc.proxy.endpoint",
    "rpc.proxy.timeout",
    "rpc.proxy.http_headers",
    "rpc.proxy.emulated_headers",
    "rpc.proxy.binary_encoding",
    "rpc.proxy.http.static_headers",
    "rpc.proxy.http.status_to_code_transforms",
    "rpc.proxy.http.tls.server_ca_pem_file",
    "rpc.without_namespace.proxy_enabled",
];

/// The language of a configuration's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JSON (`.json`, and files without an extension).
    Json,
    /// TOML (`.toml`).
    Toml,
    /// YAML (`.yaml`, `.yml`).
    Yaml,
}

impl Format {
    /// The format of a file, by its extension (no IO).
    ///
    /// ```
    /// use std::path::Path;
    /// use pushwire::hub::config_file::Format;
    /// assert_eq!(Format::from_path(Path::new("hub.yml")), Ok(Format::Yaml));
    /// assert_eq!(Format::from_path(Path::new("hub")), Ok(Format::Json));
    /// assert!(Format::from_path(Path::new("hub.ini")).unwrap_err().contains(".ini"));
    /// ```
    pub fn from_path(path: &Path) -> Result<Format, String> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Ok(Format::Toml),
            Some("yaml" | "yml") => Ok(Format::Yaml),
            Some("json") | None => Ok(Format::Json),
            Some(other) => Err(format!(
                "unknown config format .{other} (use .json, .toml or .yaml)"
            )),
        }
    }
}

/// How deeply tables and lists may nest (the root table is 1). A
/// configuration needs 7; JSON parsers refuse more than 128, and every
/// tree accepted here prints as JSON (`--print-config`) that loads again.
pub const MAX_DEPTH: usize = 64;

/// Parses `text` into the tree of keys, which must be a table. The error
/// is the parser's, with the line and column, or names the key nested
/// deeper than [`MAX_DEPTH`]; it does not name the file (the caller does).
pub fn parse(text: &str, format: Format) -> Result<Value, String> {
    let tree = match format {
        Format::Toml => parse_toml(text),
        Format::Yaml => serde_yaml_ng::from_str::<Value>(text).map_err(yaml_error),
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| e.to_string()),
    }?;
    if !tree.is_object() {
        return Err("the configuration must be a table of keys".into());
    }
    check_depth(&tree)?;
    Ok(tree)
}

/// libyaml's message leaves the position out when the problem is at the
/// very start of the text (its line and column 0 mean "none" there): it
/// is put back, from the error's location.
fn yaml_error(e: serde_yaml_ng::Error) -> String {
    let message = e.to_string();
    match e.location() {
        Some(at) if !message.contains(" at line ") && !message.contains(" at position ") => {
            format!("{message} at line {} column {}", at.line(), at.column())
        }
        _ => message,
    }
}

/// TOML nests by dotted keys as well as by brackets, and its parser
/// bounds only the brackets and each key's length: a 13 KB file can nest
/// 6,000 tables, whose recursive conversion to a tree, and even the
/// parser's own drop of its document, overflow the stack. So the text is
/// scanned first for a bound on its depth.
fn parse_toml(text: &str) -> Result<Value, String> {
    if let Some(line) = toml_too_deep(text) {
        return Err(format!(
            "line {line}: tables and lists nested more than {MAX_DEPTH} deep"
        ));
    }
    toml_edit::de::from_str::<Value>(text).map_err(|e| e.to_string())
}

/// The line where TOML `text` may nest tables and lists deeper than
/// [`MAX_DEPTH`]: a bound, never below the depth, that counts the parts
/// of the table header and, in each statement, the dots of keys (and of
/// numbers) and the open brackets, outside strings and comments.
fn toml_too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut line = 1;
    let mut header = 0; // containers the current table header opens
    let mut level = 0; // those the statement opens so far
    let mut open: Vec<usize> = Vec::new(); // `level` at each open bracket
    let mut at_start = true; // of a statement
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if at_start && open.is_empty() && b == b'[' {
            // A header: `[a.b]` opens 2 tables, `[[a.b]]` a list too.
            header = 1 + usize::from(bytes.get(i + 1) == Some(&b'['));
            at_start = false;
            i += header;
            while i < bytes.len() && bytes[i] != b']' && bytes[i] != b'\n' {
                match bytes[i] {
                    b'.' => header += 1,
                    q @ (b'"' | b'\'') => i = skip_string(bytes, i, q, &mut line),
                    _ => {}
                }
                i += 1;
            }
            if header > MAX_DEPTH {
                return Some(line);
            }
            continue;
        }
        match b {
            b'\n' => {
                line += 1;
                if open.is_empty() {
                    level = 0;
                    at_start = true;
                }
            }
            b' ' | b'\t' | b'\r' => {}
            b'#' => {
                while i + 1 < bytes.len() && bytes[i + 1] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                at_start = false;
                i = skip_string(bytes, i, q, &mut line);
            }
            b'.' => level += 1,
            b'{' | b'[' => {
                open.push(level);
                level += 1;
            }
            b'}' | b']' => level = open.pop().unwrap_or(0),
            b',' => level = open.last().map_or(0, |l| l + 1),
            _ => at_start = false,
        }
        if b != b'\n' && b != b' ' && b != b'\t' && b != b'\r' && b != b'#' {
            at_start = false;
        }
        if header + level + 1 > MAX_DEPTH {
            return Some(line);
        }
        i += 1;
    }
    None
}

/// From the opening quote at `i`, the index of the closing one (or the
/// end); counts the lines of multi-line strings.
fn skip_string(bytes: &[u8], i: usize, quote: u8, line: &mut usize) -> usize {
    let multi = bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote);
    let mut j = if multi { i + 3 } else { i + 1 };
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if quote == b'"' => j += 1,
            b'\n' if multi => *line += 1,
            b'\n' => return j - 1, // an unclosed string: the parser says so
            b if b == quote => {
                if !multi {
                    return j;
                }
                if bytes.get(j + 1) == Some(&quote) && bytes.get(j + 2) == Some(&quote) {
                    // Up to two more quotes may belong to the string.
                    let mut end = j + 2;
                    while bytes.get(end + 1) == Some(&quote) && end < j + 4 {
                        end += 1;
                    }
                    return end;
                }
            }
            _ => {}
        }
        j += 1;
    }
    bytes.len()
}

/// Fails when a table or list nests deeper than [`MAX_DEPTH`], naming it.
fn check_depth(tree: &Value) -> Result<(), String> {
    let mut path = Vec::new();
    if too_deep(tree, 1, &mut path) {
        return Err(too_deep_error(&path));
    }
    Ok(())
}

fn too_deep(value: &Value, depth: usize, path: &mut Vec<String>) -> bool {
    match value {
        Value::Object(map) => {
            depth > MAX_DEPTH
                || map.iter().any(|(key, value)| {
                    step(path, key.clone(), |path| too_deep(value, depth + 1, path))
                })
        }
        Value::Array(list) => {
            depth > MAX_DEPTH
                || list.iter().enumerate().any(|(i, value)| {
                    step(path, format!("[{i}]"), |path| {
                        too_deep(value, depth + 1, path)
                    })
                })
        }
        _ => false,
    }
}

/// Runs `f` with `key` at the end of `path`, and takes it off again
/// unless `f` found the tree too deep (then `path` leads there).
fn step(path: &mut Vec<String>, key: String, f: impl FnOnce(&mut Vec<String>) -> bool) -> bool {
    path.push(key);
    let deep = f(path);
    if !deep {
        path.pop();
    }
    deep
}

fn too_deep_error(path: &[String]) -> String {
    let mut key = String::new();
    for part in path {
        if !key.is_empty() && !part.starts_with('[') {
            key.push('.');
        }
        key.push_str(part);
    }
    format!("key `{key}`: tables and lists nested more than {MAX_DEPTH} deep")
}

/// Applies the environment: `PUSHWIRE_CLIENT_TOKEN_HMAC_SECRET_KEY=…` sets
/// `client.token.hmac_secret_key`. A variable may set any key the tree has
/// and the keys pushwire knows; others are ignored, as are variables
/// without the `PUSHWIRE_` prefix.
///
/// A value is JSON when it reads as JSON (numbers, booleans, arrays,
/// objects), a comma list for `allowed_origins`, `http_headers`,
/// `emulated_headers` and the Redis addresses, a string otherwise. The error names the variable.
pub fn apply_env<I>(tree: &mut Value, env: I) -> Result<(), String>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut paths = KNOWN_KEYS.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    collect_paths(tree, String::new(), &mut paths);
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("PUSHWIRE_") else {
            continue;
        };
        let Some(path) = paths.iter().find(|p| env_name(p) == rest) else {
            continue;
        };
        set(tree, path, parse_env_value(path, &value))
            .and_then(|()| check_depth(tree))
            .map_err(|e| format!("{name}: {e}"))?;
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

/// A variable's value (see [`apply_env`]).
fn parse_env_value(path: &str, value: &str) -> Value {
    let list = path.ends_with("allowed_origins")
        || path.ends_with("http_headers")
        || path.ends_with("emulated_headers")
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

/// Sets the key at the dotted `path` (`client.allowed_origins`), adding
/// the tables on the way; fails when a key on the way is not a table.
///
/// ```
/// let mut tree = serde_json::json!({"client": {"channel_limit": 5}});
/// pushwire::hub::config_file::set(&mut tree, "client.token.issuer", "me".into()).unwrap();
/// assert_eq!(tree["client"]["token"]["issuer"], "me");
/// assert!(pushwire::hub::config_file::set(&mut tree, "client.channel_limit.x", 1.into()).is_err());
/// ```
pub fn set(tree: &mut Value, path: &str, value: Value) -> Result<(), String> {
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

/// Types the tree and validates it; the error starts with `origin` (the
/// file's name, say) and names the key and the reason.
pub fn typed(tree: &Value, origin: &str) -> Result<Config, String> {
    let config: Config = serde_path_error(tree).map_err(|e| format!("{origin}: {e}"))?;
    config
        .hub
        .validate()
        .map_err(|e| format!("{origin}: {e}"))?;
    Ok(config)
}

/// The whole path from text to a validated [`Config`]: [`parse`] (its
/// errors prefixed with `origin`), [`apply_env`], [`typed`].
pub fn load<I>(text: &str, format: Format, origin: &str, env: I) -> Result<Config, String>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut tree = parse(text, format).map_err(|e| format!("{origin}: {e}"))?;
    apply_env(&mut tree, env)?;
    typed(&tree, origin)
}

/// Deserialises, naming the key that failed. `#[serde(flatten)]` hides
/// the paths inside what it flattens (the hub's part of the whole config,
/// a namespace's options), so those parts are checked on their own first.
fn serde_path_error(tree: &Value) -> Result<Config, String> {
    each::<NamespaceOptions>(tree.pointer("/channel/namespaces"), "channel.namespaces")?;
    each::<RpcOptions>(tree.pointer("/rpc/namespaces"), "rpc.namespaces")?;
    checked::<pushwire_hub::HubConfig>(tree, "")?;
    checked::<super::HttpApiConfig>(&tree["http_api"], "http_api.")?;
    checked::<super::WebSocketSettings>(&tree["websocket"], "websocket.")?;
    checked(tree, "")
}

/// Checks each table of the list at `at` as a `T`.
fn each<T: DeserializeOwned>(list: Option<&Value>, at: &str) -> Result<(), String> {
    let Some(Value::Array(items)) = list else {
        return Ok(());
    };
    for (i, item) in items.iter().enumerate() {
        if item.is_object() {
            checked::<T>(item, &format!("{at}[{i}]."))?;
        }
    }
    Ok(())
}

/// Deserialises `tree` (the keys under `prefix`, which ends with `.`).
fn checked<T: DeserializeOwned>(tree: &Value, prefix: &str) -> Result<T, String> {
    let tree = if tree.is_null() {
        Value::Object(Map::new())
    } else {
        tree.clone()
    };
    serde_path_to_error::deserialize(tree).map_err(|e| {
        // An empty path is the table under `prefix` itself.
        let key = match (e.path().iter().next(), prefix.strip_suffix('.')) {
            (None, Some(table)) => table.to_string(),
            _ => format!("{prefix}{}", e.path()),
        };
        format!("key `{key}`: {}", e.inner())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_three_formats_give_the_same_config() {
        let json = r#"{"http_api": {"key": "k"}, "channel": {"namespaces": [{"name": "chat", "history_size": 10, "history_ttl": "30s"}]}}"#;
        let toml = "[http_api]\nkey = \"k\"\n[[channel.namespaces]]\nname = \"chat\"\nhistory_size = 10\nhistory_ttl = \"30s\"\n";
        let yaml = "http_api:\n  key: k\nchannel:\n  namespaces:\n    - name: chat\n      history_size: 10\n      history_ttl: 30s\n";
        let configs = [
            (json, Format::Json),
            (toml, Format::Toml),
            (yaml, Format::Yaml),
        ]
        .map(|(text, format)| format!("{:?}", load(text, format, "hub", []).unwrap()));
        assert_eq!(configs[0], configs[1]);
        assert_eq!(configs[0], configs[2]);
    }

    #[test]
    fn parse_errors_give_the_position() {
        let e = load("{\"client\": }", Format::Json, "hub.json", []).unwrap_err();
        assert!(e.starts_with("hub.json: ") && e.contains("line 1"), "{e}");
        let e = load("[client\n", Format::Toml, "hub.toml", []).unwrap_err();
        assert!(e.starts_with("hub.toml: ") && e.contains("line 1"), "{e}");
        let e = load("client: [\n", Format::Yaml, "hub.yaml", []).unwrap_err();
        assert!(e.starts_with("hub.yaml: ") && e.contains("line"), "{e}");
        let e = load("[1, 2]", Format::Json, "hub.json", []).unwrap_err();
        assert_eq!(e, "hub.json: the configuration must be a table of keys");
    }

    #[test]
    fn environment_overrides_file_keys_and_known_ones() {
        let config = load(
            "[client]\nchannel_limit = 10\n",
            Format::Toml,
            "hub.toml",
            env(&[
                ("PUSHWIRE_CLIENT_CHANNEL_LIMIT", "20"),
                ("PUSHWIRE_HTTP_API_KEY", "k"),
                ("PUSHWIRE_ENGINE_REDIS_ADDRESS", "redis://a:1, redis://b:2"),
                ("PUSHWIRE_NOT_A_KEY", "x"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.hub.client.channel_limit, 20);
        assert_eq!(config.http_api.key, "k");
        assert_eq!(
            config.engine.redis.address.0,
            ["redis://a:1", "redis://b:2"]
        );
        let e = load(
            r#"{"client": "none"}"#,
            Format::Json,
            "hub.json",
            env(&[("PUSHWIRE_CLIENT_CHANNEL_LIMIT", "20")]),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "PUSHWIRE_CLIENT_CHANNEL_LIMIT: client.channel_limit: not a table"
        );
    }

    #[test]
    fn a_wrong_value_names_its_key() {
        let e = load(
            r#"{"channel": {"namespaces": [{"name": "ok"}, {"name": "bad name!"}]}}"#,
            Format::Json,
            "hub.json",
            [],
        )
        .unwrap_err();
        assert!(
            e.starts_with("hub.json: channel.namespaces[1].name: "),
            "{e}"
        );
        let e = load("long_poll:\n  hold: soon\n", Format::Yaml, "hub.yaml", []).unwrap_err();
        assert!(e.starts_with("hub.yaml: key `long_poll.hold`: "), "{e}");
    }

    /// Found while writing the fuzz target's oracle: a wrong value in a
    /// namespace named the namespace (`channel.namespaces[0]`), not its
    /// key, because the options are flattened into it.
    #[test]
    fn a_wrong_namespace_option_names_its_key() {
        let e = load(
            r#"{"channel": {"namespaces": [{"name": "chat"}, {"name": "news", "presence": "yes"}]}}"#,
            Format::Json,
            "hub.json",
            [],
        )
        .unwrap_err();
        assert_eq!(
            e,
            "hub.json: key `channel.namespaces[1].presence`: invalid type: string \"yes\", expected a boolean"
        );
        let e = load(
            "[[rpc.namespaces]]\nname = \"admin\"\nproxy_enabled = 3\n",
            Format::Toml,
            "hub.toml",
            [],
        )
        .unwrap_err();
        assert!(
            e.starts_with("hub.toml: key `rpc.namespaces[0].proxy_enabled`: "),
            "{e}"
        );
    }

    /// Found while writing the fuzz target's oracle: `http_api` or
    /// `websocket` not a table gave the key as `http_api..`.
    #[test]
    fn a_section_that_is_not_a_table_is_named_once() {
        let e = load(r#"{"http_api": "key"}"#, Format::Json, "hub.json", []).unwrap_err();
        assert!(
            e.starts_with("hub.json: key `http_api`: invalid type: string"),
            "{e}"
        );
        let e = load("websocket: 5\n", Format::Yaml, "hub.yaml", []).unwrap_err();
        assert!(
            e.starts_with("hub.yaml: key `websocket`: invalid type: integer"),
            "{e}"
        );
    }

    /// A 13 KB TOML file nesting 6,000 tables (79-part dotted keys in 78
    /// inline tables, the most its parser allows) overflowed the stack of
    /// the conversion to a tree (an abort, not an error). Now the depth
    /// is checked on the parsed document.
    #[test]
    fn deeply_nested_toml_is_refused_without_overflowing() {
        let key = vec!["a"; 79].join(".");
        let text = format!(
            "{key} = {}1{}\n",
            format!("{{{key} = ").repeat(78),
            "}".repeat(78)
        );
        let e = load(&text, Format::Toml, "hub.toml", []).unwrap_err();
        assert_eq!(
            e,
            "hub.toml: line 1: tables and lists nested more than 64 deep"
        );
        // The same with a syntax error after it: the parser's own
        // document overflowed the stack when it was dropped (found by the
        // fuzz target).
        let e = load(&format!("{text}x = ="), Format::Toml, "hub.toml", []).unwrap_err();
        assert_eq!(
            e,
            "hub.toml: line 1: tables and lists nested more than 64 deep"
        );
        // 62 deep is fine, in headers, keys, lists and inline tables;
        // brackets and dots in strings and comments do not count.
        let key = vec!["a"; 20].join(".");
        let statements =
            format!("'x.y' = \"\"\"\n.[{{\"\"\"\n{key} = [{{ {key} = [1.5, 2.5] }}]\n");
        let text = format!("# [x.y.z] = {{ \"a.b\" }}\n[{key}]\n{statements}");
        load(&text, Format::Toml, "hub.toml", []).unwrap();
        // 65 deep is not.
        let text = format!("# [x.y.z] = {{ \"a.b\" }}\n[{key}.b.c.d]\n{statements}");
        let e = load(&text, Format::Toml, "hub.toml", []).unwrap_err();
        assert_eq!(
            e,
            "hub.toml: line 5: tables and lists nested more than 64 deep"
        );
    }

    /// Every tree accepted prints as JSON that loads again (serde_json
    /// refuses more than 128 levels; YAML and an environment value could
    /// nest deeper).
    #[test]
    fn deeply_nested_yaml_and_environment_values_are_refused() {
        let text = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        let e = load(&text, Format::Yaml, "hub.yaml", []).unwrap_err();
        assert!(e.starts_with("hub.yaml: key `a[0][0]"), "{e}");
        let value = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let e = load(
            "{}",
            Format::Json,
            "hub.json",
            env(&[("PUSHWIRE_CLIENT_TOKEN_AUDIENCE", &value)]),
        )
        .unwrap_err();
        assert!(
            e.starts_with("PUSHWIRE_CLIENT_TOKEN_AUDIENCE: key `client.token.audience[0][0]"),
            "{e}"
        );
    }

    /// Found by the fuzz target: a YAML error at the very start of the
    /// text said where it was nowhere.
    #[test]
    fn a_yaml_error_at_the_start_has_its_position() {
        let e = load("]tom:\n  nested: 1\n", Format::Yaml, "hub.yaml", []).unwrap_err();
        assert_eq!(
            e,
            "hub.yaml: did not find expected node content, while parsing a block node at line 1 column 1"
        );
    }
}
