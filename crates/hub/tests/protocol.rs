//! The client protocol: connect, commands, batching, errors, pings.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn connect_with_token_exact_reply() {
    let mut d = Driver::new();
    let c = d.open();
    let t = d.token(serde_json::json!({"sub": "42", "exp": T0 + 600, "info": {"name": "Ann"}}));
    d.send(
        c,
        &format!(r#"{{"id":1,"connect":{{"token":"{t}","name":"js"}}}}"#),
    );
    let out = d.drain(c);
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(
        out,
        [format!(
            r#"{{"id":1,"connect":{{"client":"CID","version":"{v}","expires":true,"ttl":600,"ping":25,"pong":true}}}}"#
        )]
    );
}

#[test]
fn anonymous_connect_and_batched_subscribe_publish() {
    let mut d = Driver::new();
    let c = d.open();
    // connect + subscribe + publish in one frame, trailing newline and
    // unknown fields (`flag`) tolerated.
    d.send(
        c,
        "{\"id\":1,\"connect\":{\"name\":\"js\"}}\n{\"id\":2,\"subscribe\":{\"channel\":\"room\",\"flag\":1}}\n{\"id\":3,\"publish\":{\"channel\":\"room\",\"data\":{\"t\":\"hi\"}}}\n",
    );
    let out = d.drain(c);
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[1], r#"{"id":2,"subscribe":{}}"#);
    assert_eq!(
        out[2],
        r#"{"push":{"channel":"room","pub":{"data":{"t":"hi"},"info":{"user":"","client":"CID"}}}}"#
    );
    assert_eq!(out[3], r#"{"id":3,"publish":{}}"#);
}

#[test]
fn connect_without_credentials_is_3501() {
    let mut cfg = config_json();
    cfg["client"]["allow_anonymous_connect_without_token"] = false.into();
    let mut d = Driver::with_config(cfg);
    let c = d.open();
    d.send(c, r#"{"id":1,"connect":{}}"#);
    assert_eq!(d.closed(c), Some(3501));
}

#[test]
fn command_before_connect_is_3501() {
    let mut d = Driver::new();
    let c = d.open();
    d.send(c, r#"{"id":1,"subscribe":{"channel":"room"}}"#);
    assert_eq!(d.closed(c), Some(3501));
    assert!(d.drain(c).is_empty());
}

#[test]
fn malformed_commands_are_3501_and_isolated() {
    for bad in [
        "not json",
        r#"{"id":1,"subscribe":{"channel":5}}"#,
        r#"{"id":-1,"subscribe":{"channel":"a"}}"#,
        r#"{"id":4294967296,"subscribe":{"channel":"a"}}"#,
        r#"{"id":7,"unknown_method":{}}"#,
        r#"{"id":7}"#,
        r#"{"id":2,"connect":{}}"#,
        r#"[1,2]"#,
    ] {
        let mut d = Driver::new();
        let other = d.connect("");
        let c = d.connect("");
        d.send(c, bad);
        assert_eq!(d.closed(c), Some(3501), "{bad}");
        assert_eq!(d.closed(other), None);
        // Nothing after the bad command in the same frame runs.
        d.send(c, r#"{"id":9,"subscribe":{"channel":"x"}}"#);
        assert!(d.drain(c).is_empty());
    }
}

#[test]
fn connect_error_stops_the_frame() {
    let mut d = Driver::new();
    let c = d.open();
    let expired = d.token(serde_json::json!({"sub": "1", "exp": T0 - 1}));
    d.send(
        c,
        &format!(
            "{{\"id\":1,\"connect\":{{\"token\":\"{expired}\"}}}}\n{{\"id\":2,\"subscribe\":{{\"channel\":\"room\"}}}}"
        ),
    );
    assert_eq!(
        d.drain(c),
        [r#"{"id":1,"error":{"code":109,"message":"token expired"}}"#]
    );
    assert_eq!(d.closed(c), None);
    // A fresh token then connects.
    let t = d.user_token("1");
    d.send(c, &format!(r#"{{"id":3,"connect":{{"token":"{t}"}}}}"#));
    assert!(d.drain(c)[0].starts_with(r#"{"id":3,"connect":"#));
}

#[test]
fn invalid_token_is_3500() {
    let mut d = Driver::new();
    let c = d.open();
    let bad = pushwire_hub::jwt::mint_hs256(b"other", &serde_json::json!({"sub": "1"})).unwrap();
    d.send(c, &format!(r#"{{"id":1,"connect":{{"token":"{bad}"}}}}"#));
    assert_eq!(d.closed(c), Some(3500));
    let c = d.open();
    d.send(c, r#"{"id":1,"connect":{"token":"garbage"}}"#);
    assert_eq!(d.closed(c), Some(3500));
    // A connection token with a `channel` claim is invalid.
    let c = d.open();
    let t = d.token(serde_json::json!({"sub": "1", "channel": "x"}));
    d.send(c, &format!(r#"{{"id":1,"connect":{{"token":"{t}"}}}}"#));
    assert_eq!(d.closed(c), Some(3500));
}

#[test]
fn expire_at_in_the_past_is_110() {
    let mut d = Driver::new();
    let c = d.open();
    let t = d.token(serde_json::json!({"sub": "1", "exp": T0 + 100, "expire_at": T0 - 5}));
    d.send(c, &format!(r#"{{"id":1,"connect":{{"token":"{t}"}}}}"#));
    assert_eq!(
        d.drain(c),
        [r#"{"id":1,"error":{"code":110,"message":"expired"}}"#]
    );
}

#[test]
fn subscribe_errors() {
    let mut d = Driver::new();
    let c = d.connect("7");
    let long = "a".repeat(256);
    d.send(
        c,
        &format!(r#"{{"id":2,"subscribe":{{"channel":"{long}"}}}}"#),
    );
    d.send(c, r#"{"id":3,"subscribe":{"channel":"nope:x"}}"#);
    d.send(c, r#"{"id":4,"subscribe":{"channel":"strict:x"}}"#);
    d.send(c, r#"{"id":5,"subscribe":{"channel":"$private"}}"#);
    d.send(c, r#"{"id":6,"subscribe":{"channel":"room"}}"#);
    d.send(c, r#"{"id":7,"subscribe":{"channel":"room"}}"#);
    d.send(c, r#"{"id":8,"subscribe":{"channel":""}}"#);
    d.send(c, r#"{"id":9,"subscribe":{"channel":"personal:#7"}}"#);
    d.send(c, r#"{"id":10,"subscribe":{"channel":"personal:#8,9"}}"#);
    d.send(
        c,
        r#"{"id":11,"subscribe":{"channel":"personal:dialog#8,7"}}"#,
    );
    assert_eq!(
        d.drain(c),
        [
            r#"{"id":2,"error":{"code":107,"message":"bad request"}}"#,
            r#"{"id":3,"error":{"code":102,"message":"unknown channel"}}"#,
            r#"{"id":4,"error":{"code":103,"message":"permission denied"}}"#,
            r#"{"id":5,"error":{"code":103,"message":"permission denied"}}"#,
            r#"{"id":6,"subscribe":{}}"#,
            r#"{"id":7,"error":{"code":105,"message":"already subscribed"}}"#,
            r#"{"id":8,"error":{"code":107,"message":"bad request"}}"#,
            r#"{"id":9,"subscribe":{}}"#,
            r#"{"id":10,"error":{"code":103,"message":"permission denied"}}"#,
            r#"{"id":11,"subscribe":{}}"#,
        ]
    );
}

#[test]
fn channel_limit_is_106() {
    let mut cfg = config_json();
    cfg["client"]["channel_limit"] = 2.into();
    let mut d = Driver::with_config(cfg);
    let c = d.connect("1");
    for i in 0..3 {
        d.send(
            c,
            &format!(r#"{{"id":{},"subscribe":{{"channel":"c{i}"}}}}"#, i + 2),
        );
    }
    let out = d.drain(c);
    assert_eq!(
        out[2],
        r#"{"id":4,"error":{"code":106,"message":"limit exceeded"}}"#
    );
}

#[test]
fn unsubscribe_rpc_send_ping() {
    let mut d = Driver::new();
    let c = d.connect("1");
    d.send(c, r#"{"id":2,"subscribe":{"channel":"room"}}"#);
    d.send(c, r#"{"id":3,"unsubscribe":{"channel":"room"}}"#);
    d.send(c, r#"{"id":4,"unsubscribe":{"channel":"never"}}"#);
    d.send(c, r#"{"id":5,"rpc":{"method":"x","data":{}}}"#);
    d.send(c, r#"{"send":{"data":{"a":1}}}"#);
    d.send(c, r#"{"id":6,"ping":{}}"#);
    assert_eq!(
        d.drain(c),
        [
            r#"{"id":2,"subscribe":{}}"#,
            r#"{"id":3,"unsubscribe":{}}"#,
            r#"{"id":4,"unsubscribe":{}}"#,
            r#"{"id":5,"error":{"code":104,"message":"method not found"}}"#,
            r#"{"id":6,"ping":{}}"#,
        ]
    );
    assert_eq!(d.closed(c), None, "send is accepted, not 3508");
    // After unsubscribing, publications no longer arrive.
    d.publish("room", "1");
    assert!(d.drain(c).is_empty());
}

#[test]
fn publish_permission() {
    let mut d = Driver::new();
    let c = d.connect("1");
    // chat: publish only for subscribers.
    d.send(c, r#"{"id":2,"publish":{"channel":"chat:a","data":{}}}"#);
    d.send(c, r#"{"id":3,"publish":{"channel":"chat:a"}}"#);
    assert_eq!(
        d.drain(c),
        [
            r#"{"id":2,"error":{"code":103,"message":"permission denied"}}"#,
            r#"{"id":3,"error":{"code":107,"message":"bad request"}}"#,
        ]
    );
}

#[test]
fn server_pings_and_pongs() {
    let mut d = Driver::new();
    let c = d.connect("1");
    // The first ping comes at a random point in [12.5s, 25s).
    d.advance(Duration::from_millis(12_499));
    assert!(d.drain(c).is_empty());
    d.advance(Duration::from_millis(12_501));
    assert_eq!(d.drain(c), ["{}"]);
    d.send(c, "{}");
    assert_eq!(d.closed(c), None);
    // Pings keep coming every 25 s while pongs answer them.
    for _ in 0..4 {
        d.advance(Duration::from_secs(25));
        assert_eq!(d.drain(c), ["{}"]);
        d.send(c, "{}");
    }
    assert_eq!(d.closed(c), None);
    // A pong without a ping is a bad request.
    d.send(c, "{}");
    assert_eq!(d.closed(c), Some(3501));
}

#[test]
fn no_pong_is_3012() {
    let mut d = Driver::new();
    let c = d.connect("1");
    let mut waited = Duration::ZERO;
    while d.drain(c).is_empty() {
        d.advance(Duration::from_millis(100));
        waited += Duration::from_millis(100);
        assert!(waited <= Duration::from_secs(25));
    }
    assert_eq!(d.closed(c), None);
    d.advance(Duration::from_millis(7_800));
    assert_eq!(d.closed(c), None);
    d.advance(Duration::from_millis(200));
    assert_eq!(d.closed(c), Some(3012));
}

#[test]
fn stale_connection_is_3502() {
    let mut d = Driver::new();
    let c = d.open();
    d.advance(Duration::from_millis(9_999));
    assert_eq!(d.closed(c), None);
    d.advance(Duration::from_millis(1));
    assert_eq!(d.closed(c), Some(3502));
    // The IO layer closes the transport; the handle becomes stale.
    d.hub.close(d.now, c);
    assert!(d.hub.outbox(c).is_none());
    d.send(c, r#"{"id":1,"connect":{}}"#);
    assert_eq!(d.hub.stats().connections, 0);
}

#[test]
fn ready_list_names_connections_with_output() {
    let mut d = Driver::new();
    let a = d.connect("1");
    let b = d.connect("2");
    let mut ready = Vec::new();
    d.hub.poll_ready(&mut ready);
    ready.clear();
    d.send(a, r#"{"id":2,"subscribe":{"channel":"room"}}"#);
    d.send(b, r#"{"id":2,"subscribe":{"channel":"room"}}"#);
    d.hub.poll_ready(&mut ready);
    ready.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(ready, want);
    ready.clear();
    d.hub.poll_ready(&mut ready);
    assert!(ready.is_empty());
    d.publish("room", "1");
    d.hub.poll_ready(&mut ready);
    assert_eq!(ready.len(), 2);
}

#[test]
fn a_publication_is_encoded_once_for_all_subscribers() {
    let mut d = Driver::new();
    let conns: Vec<_> = (0..3).map(|i| d.connect(&i.to_string())).collect();
    for &c in &conns {
        d.send(c, r#"{"id":2,"subscribe":{"channel":"room"}}"#);
        d.drain(c);
    }
    d.publish("room", r#"{"x":1}"#);
    let mut ptrs = Vec::new();
    for &c in &conns {
        let b = d.hub.outbox(c).unwrap().pop().unwrap();
        ptrs.push(b.as_ptr());
    }
    assert!(ptrs.windows(2).all(|w| w[0] == w[1]), "one shared buffer");
}
