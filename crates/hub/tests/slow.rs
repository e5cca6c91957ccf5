//! Slow consumers: bounded queues and the three policies.

mod support;

use serde_json::json;
use support::*;

#[test]
fn disconnect_policy_closes_3008_and_spares_others() {
    let mut d = Driver::new();
    let slow = d.connect("1");
    let fast = d.connect("2");
    for c in [slow, fast] {
        d.send(c, r#"{"id":2,"subscribe":{"channel":"slow:s"}}"#);
        d.drain(c);
    }
    for i in 0..100 {
        d.publish("slow:s", &format!(r#"{{"i":{i}}}"#));
        assert_eq!(d.drain(fast).len(), 1);
        let q = d.hub.outbox(slow).unwrap().queued_bytes();
        assert!(q <= 1000, "bounded: {q}");
    }
    assert_eq!(d.closed(slow), Some(3008));
    assert!(
        d.drain(slow).is_empty(),
        "a slow connection's queue is discarded"
    );
    assert_eq!(d.closed(fast), None);
    assert_eq!(d.hub.stats().slow_disconnects_total, 1);
    // Its subscription ended at once: the channel has one subscriber left.
    let (_, body) = d.api("channels", "{}");
    assert_eq!(
        body,
        r#"{"result":{"channels":{"slow:s":{"num_clients":1}}}}"#
    );
}

#[test]
fn drop_oldest_unsubscribes_2500_and_recovery_fills_the_gap() {
    let mut d = Driver::new();
    let c = d.connect("1");
    d.send(c, r#"{"id":2,"subscribe":{"channel":"drop:a"}}"#);
    let epoch = json(&d.drain(c)[0])["subscribe"]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    d.send(c, r#"{"id":3,"subscribe":{"channel":"other"}}"#);
    d.drain(c);
    for i in 1..=3 {
        d.publish("drop:a", &i.to_string());
    }
    assert_eq!(d.drain(c).len(), 3, "the client keeps up with 1..3");
    // Then it stops reading while 30 more arrive.
    for i in 4..=33 {
        d.publish("drop:a", &i.to_string());
        assert!(d.hub.outbox(c).unwrap().queued_bytes() <= 1000 + 200);
    }
    let out = d.drain(c);
    // Nothing of drop:a that was dropped is half-delivered: only the unsubscribe.
    assert_eq!(
        out,
        [
            r#"{"push":{"channel":"drop:a","unsubscribe":{"code":2500,"reason":"insufficient state"}}}"#
        ]
    );
    assert_eq!(d.closed(c), None);
    assert!(d.hub.stats().queue_drops_total >= 1);
    // Other subscriptions are untouched.
    d.publish("other", "1");
    assert_eq!(d.drain(c).len(), 1);
    // The SDK resubscribes from its last offset (3) and recovers 4..33.
    d.send(
        c,
        &json!({"id":4,"subscribe":{"channel":"drop:a","recover":true,"offset":3,"epoch":epoch}})
            .to_string(),
    );
    let r = json(&d.drain(c)[0]);
    assert_eq!(r["subscribe"]["recovered"], true);
    let offs: Vec<u64> = r["subscribe"]["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offs, (4..=33).collect::<Vec<_>>());
}

#[test]
fn latest_only_keeps_the_newest_per_channel() {
    let mut d = Driver::new();
    let c = d.connect("1");
    d.send(c, r#"{"id":2,"subscribe":{"channel":"ticker:a"}}"#);
    d.send(c, r#"{"id":3,"subscribe":{"channel":"ticker:b"}}"#);
    d.drain(c);
    for i in 0..50 {
        d.publish("ticker:a", &format!(r#"{{"a":{i}}}"#));
        d.publish("ticker:b", &format!(r#"{{"b":{i}}}"#));
    }
    assert_eq!(
        d.drain(c),
        [
            r#"{"push":{"channel":"ticker:a","pub":{"data":{"a":49}}}}"#,
            r#"{"push":{"channel":"ticker:b","pub":{"data":{"b":49}}}}"#,
        ]
    );
    assert_eq!(d.closed(c), None);
    assert_eq!(d.hub.outbox(c).unwrap().queued_bytes(), 0);
}

#[test]
fn too_many_replies_is_3008() {
    let mut cfg = config_json();
    cfg["client"]["queue_max_size"] = 2000.into();
    let mut d = Driver::with_config(cfg);
    let c = d.connect("1");
    for i in 0..100 {
        d.send(c, &format!(r#"{{"id":{},"rpc":{{"method":"x"}}}}"#, i + 2));
    }
    assert_eq!(d.closed(c), Some(3008));
}

#[test]
fn drop_oldest_on_a_server_side_subscription_disconnects_3010() {
    let mut d = Driver::new();
    let t = d.token(json!({"sub": "1", "channels": ["drop:s"]}));
    let c = d.open();
    d.send(c, &format!(r#"{{"id":1,"connect":{{"token":"{t}"}}}}"#));
    d.drain(c);
    for i in 0..40 {
        d.publish("drop:s", &i.to_string());
    }
    assert_eq!(d.closed(c), Some(3010));
}
