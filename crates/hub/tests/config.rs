//! Configuration: Centrifugo v6 keys, durations, validation errors.

use pushwire_hub::channel::SlowConsumerPolicy;
use pushwire_hub::{Hub, HubConfig, Timestamp};

fn load(v: serde_json::Value) -> Result<HubConfig, String> {
    let cfg: HubConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

#[test]
fn centrifugo_keys_and_durations() {
    let cfg = load(serde_json::json!({
        "client": {"ping_interval": "10s", "pong_timeout": 4000, "channel_limit": 5,
                   "token": {"hmac_secret_key": "k"}, "proxy": {"connect": {}}},
        "http_api": {"key": "ignored here"},
        "channel": {
            "without_namespace": {"presence": true},
            "namespaces": [{"name": "chat", "history_size": 10, "history_ttl": "1h30m",
                            "history_meta_ttl": "720h", "force_recovery": true,
                            "slow_consumer_policy": "latest_only", "queue_max_size": 4096,
                            "subscribe_proxy_enabled": false}]
        }
    }))
    .unwrap();
    assert_eq!(cfg.client.ping_interval.as_secs(), 10);
    assert_eq!(cfg.client.pong_timeout.as_millis(), 4000);
    assert_eq!(cfg.client.channel_limit, 5);
    assert!(cfg.channel.without_namespace.presence);
    let ns = &cfg.channel.namespaces[0].options;
    assert_eq!(ns.history_ttl.as_secs(), 5400);
    assert_eq!(ns.slow_consumer_policy, SlowConsumerPolicy::LatestOnly);
    assert_eq!(ns.queue_max_size, 4096);
    assert!(Hub::new(cfg, [0; 32], Timestamp::from_secs(1)).is_ok());
}

#[test]
fn validation_names_the_key() {
    let cases = [
        (
            serde_json::json!({"channel": {"namespaces": [{"name": "a"}]}}),
            "channel.namespaces[0].name",
        ),
        (
            serde_json::json!({"channel": {"namespaces": [{"name": "ok"}, {"name": "ok"}]}}),
            "channel.namespaces[1].name: duplicate",
        ),
        (
            serde_json::json!({"channel": {"namespaces": [{"name": "ns", "history_size": 10}]}}),
            "channel.namespaces[0].history_size",
        ),
        (
            serde_json::json!({"channel": {"namespaces": [{"name": "ns", "force_recovery": true}]}}),
            "channel.namespaces[0].force_recovery",
        ),
        (
            serde_json::json!({"channel": {"without_namespace": {"channel_regex": "^a$"}}}),
            "channel.without_namespace.channel_regex: not supported",
        ),
        (
            serde_json::json!({"client": {"token": {"rsa_public_key": "not a pem"}}}),
            "client.token.rsa_public_key",
        ),
        (
            serde_json::json!({"client": {"pong_timeout": "30s"}}),
            "client.pong_timeout",
        ),
        (
            serde_json::json!({"channel": {"namespaces": [{"name": "ns", "history_ttl": "5 min"}]}}),
            "not a duration",
        ),
        (
            serde_json::json!({"channel": {"namespaces": [{"name": "ns", "slow_consumer_policy": "maybe"}]}}),
            "unknown variant",
        ),
        (
            serde_json::json!({"client": {"queue_max_size": 4_294_967_296_u64}}),
            "client.queue_max_size: must be > 0 and at most 2147483648",
        ),
        (
            serde_json::json!({"channel": {"namespaces": [{"name": "ns", "queue_max_size": 0}]}}),
            "channel.namespaces[0].queue_max_size: must be > 0",
        ),
    ];
    for (v, want) in cases {
        let err = load(v.clone()).unwrap_err();
        assert!(err.contains(want), "{v}: {err}");
    }
}
