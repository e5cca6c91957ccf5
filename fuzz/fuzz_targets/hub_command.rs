//! Feeds arbitrary frames to the hub: `protocol::split_frame` and
//! `protocol::Command::decode` on their own, then the whole sans-IO `Hub`
//! on two connections, with time passing, outboxes drained and
//! connections closed and reopened as an IO layer would.
//!
//! Checks, besides "no panic":
//! - `split_frame` yields non-empty pieces of the frame, without LF and
//!   without whitespace at either end; a decoded command's method has one
//!   of `Method::NAMES`;
//! - an outbox never holds more than the largest queue bound of the
//!   configuration (`client.queue_max_size`, each namespace's) plus 4 KiB;
//! - everything the hub queues for a client is one JSON value;
//! - the hub counts exactly the connections that are open.
//!
//! Input layout:
//! - byte 0, bit 0: the configuration: `HubConfig::default()` (every
//!   connect without a token is refused), or one with anonymous connects,
//!   an HMAC secret and namespaces with history, presence, recovery and
//!   each slow-consumer policy, its queues bounded at 16 KiB;
//! - the rest: frames separated by NUL bytes. A frame's first byte drives
//!   the IO layer before the frame is handled: bit 0 the connection (of
//!   two), bit 1 drain its outbox afterwards, bit 2 one second passes and
//!   timers run, bit 3 the connection is closed and another opened (bit 4:
//!   an emulation transport rather than a WebSocket); the rest is the
//!   frame: commands joined by LF.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pushwire_hub::protocol::{split_frame, Command, Method};
use pushwire_hub::{ConnId, Hub, HubConfig, Timestamp, Transport};

/// What an outbox may hold above its largest bound: a push queued
/// together with a disconnect.
const SLACK: usize = 4 << 10;
/// The queue bound of the permissive configuration.
const QUEUE: usize = 16 << 10;

fn permissive() -> HubConfig {
    serde_json::from_value(serde_json::json!({
        "client": {
            "token": {"hmac_secret_key": "fuzz-secret"},
            "allow_anonymous_connect_without_token": true,
            "queue_max_size": QUEUE,
            "channel_limit": 8
        },
        "channel": {
            "without_namespace": {
                "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true,
                "allow_publish_for_subscriber": true, "allow_publish_for_anonymous": true,
                "queue_max_size": QUEUE
            },
            "namespaces": [
                {"name": "chat", "presence": true, "join_leave": true,
                 "history_size": 10, "history_ttl": "300s", "force_recovery": true,
                 "allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true,
                 "allow_publish_for_subscriber": true, "allow_publish_for_anonymous": true,
                 "allow_presence_for_subscriber": true, "allow_presence_for_anonymous": true,
                 "allow_history_for_subscriber": true, "allow_history_for_anonymous": true,
                 "queue_max_size": QUEUE},
                {"name": "feed", "history_size": 3, "history_ttl": "60s",
                 "allow_recovery": true, "allow_positioning": true,
                 "allow_subscribe_for_anonymous": true, "allow_publish_for_anonymous": true,
                 "allow_publish_for_client": true, "allow_history_for_client": true,
                 "allow_history_for_anonymous": true, "queue_max_size": QUEUE},
                {"name": "drop", "allow_subscribe_for_anonymous": true,
                 "allow_publish_for_anonymous": true, "allow_publish_for_client": true,
                 "history_size": 5, "history_ttl": "300s", "force_recovery": true,
                 "queue_max_size": 1000, "slow_consumer_policy": "drop_oldest"},
                {"name": "ticker", "allow_subscribe_for_anonymous": true,
                 "allow_publish_for_anonymous": true, "allow_publish_for_client": true,
                 "queue_max_size": 1000, "slow_consumer_policy": "latest_only"},
                {"name": "personal", "allow_user_limited_channels": true,
                 "queue_max_size": QUEUE}
            ]
        }
    }))
    .expect("a valid configuration")
}

/// The largest queue bound of a configuration.
fn largest_bound(cfg: &HubConfig) -> usize {
    cfg.channel
        .namespaces
        .iter()
        .map(|ns| ns.options.queue_max_size)
        .chain([
            cfg.client.queue_max_size,
            cfg.channel.without_namespace.queue_max_size,
        ])
        .max()
        .unwrap_or(0)
}

fn check_split(frame: &[u8]) {
    let range = frame.as_ptr_range();
    for part in split_frame(frame) {
        assert!(!part.is_empty(), "an empty command");
        assert!(
            range.contains(&part.as_ptr()),
            "a command outside its frame"
        );
        assert!(!part.contains(&b'\n'), "a command with LF");
        assert!(!part[0].is_ascii_whitespace() && !part[part.len() - 1].is_ascii_whitespace());
        if let Ok(command) = Command::decode(part) {
            assert!(Method::NAMES.contains(&command.method.name()));
        }
    }
}

/// Takes everything queued for `conn`, checking that each item is JSON.
/// Returns whether the hub decided to disconnect it.
fn drain(hub: &mut Hub, conn: ConnId) -> bool {
    let Some(outbox) = hub.outbox(conn) else {
        return false;
    };
    let mut items = Vec::new();
    while outbox.drain_into(&mut items, 64 << 10) > 0 {}
    assert_eq!(
        outbox.queued_bytes(),
        0,
        "a drained outbox still counts bytes"
    );
    let disconnect = outbox.disconnect().is_some();
    for item in items {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&item).is_ok(),
            "the hub queued something other than JSON: {:?}",
            String::from_utf8_lossy(&item)
        );
    }
    disconnect
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let cfg = if config & 1 == 0 {
        HubConfig::default()
    } else {
        permissive()
    };
    let bound = largest_bound(&cfg) + SLACK;
    let mut now = Timestamp::from_millis(1);
    let mut hub = Hub::new(cfg, [0; 32], now).expect("a valid configuration");
    let mut conns = [
        hub.open(now, Transport::websocket()),
        hub.open(now, Transport::websocket()),
    ];

    for frame in rest.split(|&b| b == 0) {
        let Some((&io, frame)) = frame.split_first() else {
            continue;
        };
        check_split(frame);
        let slot = usize::from(io & 1);
        if io & 4 != 0 {
            now = now + Duration::from_secs(1);
            hub.handle_timeout(now);
        }
        if io & 8 != 0 {
            hub.close(now, conns[slot]);
            let transport = if io & 16 != 0 {
                Transport::emulation()
            } else {
                Transport::websocket()
            };
            conns[slot] = hub.open(now, transport);
        }
        hub.handle_frame(now, conns[slot], frame);
        for conn in conns {
            if let Some(outbox) = hub.outbox(conn) {
                assert!(
                    outbox.queued_bytes() <= bound,
                    "an outbox holds {} bytes, over {bound}",
                    outbox.queued_bytes()
                );
            }
        }
        if io & 2 != 0 && drain(&mut hub, conns[slot]) {
            // The IO layer wrote what was queued; it closes the transport.
            hub.close(now, conns[slot]);
            conns[slot] = hub.open(now, Transport::websocket());
        }
        let open = conns
            .iter()
            .filter(|&&c| hub.client_id(c).is_some())
            .count();
        assert_eq!(
            hub.stats().connections as usize,
            open,
            "connections miscounted"
        );
    }
});
