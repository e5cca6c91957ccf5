//! A deterministic driver for hub tests: explicit time, JSON text in, the
//! exact JSON out.
#![allow(dead_code)]

use std::time::Duration;

use pushwire_hub::jwt::mint_hs256;
use pushwire_hub::{ConnId, Hub, HubConfig, Timestamp, Transport};

pub const SECRET: &str = "test-secret";
pub const T0: u64 = 1_700_000_000;

/// The configuration most tests use.
pub fn config_json() -> serde_json::Value {
    serde_json::json!({
        "client": {
            "token": {"hmac_secret_key": SECRET},
            "allow_anonymous_connect_without_token": true
        },
        "channel": {
            "without_namespace": {
                "allow_subscribe_for_client": true,
                "allow_subscribe_for_anonymous": true,
                "allow_publish_for_subscriber": true,
                "allow_publish_for_anonymous": true
            },
            "namespaces": [
                {"name": "chat", "presence": true, "join_leave": true,
                 "history_size": 100, "history_ttl": "300s", "force_recovery": true,
                 "allow_subscribe_for_client": true, "allow_publish_for_subscriber": true,
                 "allow_presence_for_subscriber": true, "allow_history_for_subscriber": true},
                {"name": "feed", "history_size": 3, "history_ttl": "60s", "history_meta_ttl": "120s",
                 "allow_recovery": true, "allow_positioning": true,
                 "allow_subscribe_for_client": true, "allow_history_for_client": true},
                {"name": "strict"},
                {"name": "personal", "allow_user_limited_channels": true},
                {"name": "drop", "allow_subscribe_for_client": true, "history_size": 1000,
                 "history_ttl": "300s", "force_recovery": true,
                 "queue_max_size": 1000, "slow_consumer_policy": "drop_oldest"},
                {"name": "ticker", "allow_subscribe_for_client": true,
                 "queue_max_size": 1000, "slow_consumer_policy": "latest_only"},
                {"name": "slow", "allow_subscribe_for_client": true,
                 "queue_max_size": 1000, "slow_consumer_policy": "disconnect"}
            ]
        }
    })
}

pub struct Driver {
    pub hub: Hub,
    pub now: Timestamp,
}

impl Driver {
    pub fn new() -> Self {
        Self::with_config(config_json())
    }

    pub fn with_config(v: serde_json::Value) -> Self {
        let cfg: HubConfig = serde_json::from_value(v).expect("config");
        let now = Timestamp::from_secs(T0);
        Driver {
            hub: Hub::new(cfg, [9; 32], now).expect("hub"),
            now,
        }
    }

    /// Mints a token with these claims (HS256, the test secret).
    pub fn token(&self, claims: serde_json::Value) -> String {
        mint_hs256(SECRET.as_bytes(), &claims).unwrap()
    }

    /// A token for `user` valid one hour.
    pub fn user_token(&self, user: &str) -> String {
        self.token(serde_json::json!({"sub": user, "exp": T0 + 3600}))
    }

    pub fn open(&mut self) -> ConnId {
        self.hub.open(self.now, Transport::websocket())
    }

    pub fn open_with(&mut self, t: Transport) -> ConnId {
        self.hub.open(self.now, t)
    }

    pub fn send(&mut self, conn: ConnId, text: &str) {
        self.hub.handle_frame(self.now, conn, text.as_bytes());
    }

    /// Opens a WebSocket connection and connects it as `user` ("" = anonymous),
    /// draining the connect reply.
    pub fn connect(&mut self, user: &str) -> ConnId {
        let c = self.open();
        let frame = if user.is_empty() {
            r#"{"id":1,"connect":{}}"#.to_owned()
        } else {
            format!(
                r#"{{"id":1,"connect":{{"token":"{}"}}}}"#,
                self.user_token(user)
            )
        };
        self.send(c, &frame);
        let out = self.drain(c);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].starts_with(r#"{"id":1,"connect":{"client":"#),
            "{out:?}"
        );
        c
    }

    /// Everything queued for `conn`, as text, with its client id written `CID`.
    pub fn drain(&mut self, conn: ConnId) -> Vec<String> {
        let id = self.hub.client_id(conn).map(str::to_owned);
        let mut out = Vec::new();
        if let Some(o) = self.hub.outbox(conn) {
            o.drain_into(&mut out, usize::MAX);
        }
        out.into_iter()
            .map(|b| {
                let s = String::from_utf8(b.to_vec()).unwrap();
                match &id {
                    Some(id) => s.replace(id.as_str(), "CID"),
                    None => s,
                }
            })
            .collect()
    }

    pub fn client_id(&self, conn: ConnId) -> String {
        self.hub.client_id(conn).unwrap().to_owned()
    }

    /// The disconnect code decided for `conn`, if any.
    pub fn closed(&mut self, conn: ConnId) -> Option<u32> {
        self.hub
            .outbox(conn)
            .and_then(|o| o.disconnect().map(|d| d.code))
    }

    /// Advances time by `d`, running every timer due on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            match self.hub.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.hub.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
        self.hub.handle_timeout(self.now);
    }

    pub fn api(&mut self, method: &str, body: &str) -> (u16, String) {
        let r = self.hub.api(self.now, method, body.as_bytes());
        (r.status, String::from_utf8(r.body.to_vec()).unwrap())
    }

    /// Publishes through the API, asserting success.
    pub fn publish(&mut self, channel: &str, data: &str) -> String {
        let (s, body) = self.api(
            "publish",
            &format!(r#"{{"channel":"{channel}","data":{data}}}"#),
        );
        assert_eq!(s, 200);
        assert!(body.starts_with(r#"{"result":"#), "{body}");
        body
    }
}

/// Parses a JSON string.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}
