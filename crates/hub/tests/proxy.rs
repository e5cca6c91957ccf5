//! The backend proxy's ticket flow, without IO: the hub hands out calls,
//! the test answers them as a backend would.

mod support;

use std::time::Duration;

use pushwire_hub::proxy::{ProxyCall, ProxyFailure, ProxyKind, ProxyOutcome};
use pushwire_hub::{ConnId, Transport};
use serde_json::json;
use support::{json as parse, Driver, T0};

fn config() -> serde_json::Value {
    json!({
        "client": {
            "ping_interval": "10s", "pong_timeout": "5s", "expired_close_delay": "25s",
            "proxy": {
                "connect": {"enabled": true, "endpoint": "http://backend/connect"},
                "refresh": {"enabled": true, "endpoint": "http://backend/refresh"},
                "max_pending": 3, "max_queued_commands": 2
            }
        },
        "channel": {
            "proxy": {
                "subscribe": {"endpoint": "http://backend/subscribe"},
                "publish": {"endpoint": "http://backend/publish"},
                "sub_refresh": {"endpoint": "http://backend/sub_refresh"}
            },
            "without_namespace": {"allow_subscribe_for_client": true},
            "namespaces": [
                {"name": "px", "subscribe_proxy_enabled": true, "publish_proxy_enabled": true,
                 "sub_refresh_proxy_enabled": true},
                {"name": "plain", "allow_subscribe_for_client": true}
            ]
        },
        "rpc": {
            "proxy": {"endpoint": "http://backend/rpc"},
            "without_namespace": {"proxy_enabled": true},
            "namespaces": [{"name": "off", "proxy_enabled": false}]
        }
    })
}

fn body(s: &str) -> ProxyOutcome {
    ProxyOutcome::Body(s.as_bytes().to_vec().into())
}

fn call(d: &mut Driver) -> ProxyCall {
    d.hub.poll_proxy().expect("a proxy call")
}

/// Opens a WebSocket connection and connects it through the proxy as `user`.
fn connect(d: &mut Driver, user: &str) -> ConnId {
    let c = d.open();
    d.hub.set_transport_name(c, "websocket");
    d.send(c, r#"{"id":1,"connect":{}}"#);
    let call = call(d);
    d.hub.handle_proxy_reply(
        d.now,
        call.ticket,
        body(&format!(r#"{{"result":{{"user":"{user}"}}}}"#)),
    );
    let out = d.drain(c);
    assert!(
        out[0].starts_with(r#"{"id":1,"connect":{"client":"CID""#),
        "{out:?}"
    );
    c
}

/// Answers the server's pings, as a client would.
fn pong(d: &mut Driver, c: ConnId) {
    if d.drain(c).iter().any(|m| m == "{}") {
        d.send(c, "{}");
    }
}

#[test]
fn connect_asks_the_backend_and_takes_its_identity() {
    let mut d = Driver::with_config(config());
    let c = d.open();
    d.hub.set_transport_name(c, "sse");
    d.send(
        c,
        r#"{"id":1,"connect":{"data":{"hi":1},"name":"js","version":"5"}}"#,
    );
    assert!(d.drain(c).is_empty(), "nothing before the backend answers");
    let call = call(&mut d);
    assert_eq!(call.kind, ProxyKind::Connect);
    assert_eq!(call.conn, c);
    let req = parse(std::str::from_utf8(&call.body).unwrap());
    assert_eq!(
        req,
        json!({"client": d.client_id(c), "transport": "sse", "protocol": "json",
               "encoding": "json", "name": "js", "version": "5", "data": {"hi": 1}})
    );
    d.hub.handle_proxy_reply(
        d.now,
        call.ticket,
        body(
            r#"{"result":{"user":"56","data":{"welcome":true},"channels":["plain:news"],
                 "expire_at":1700000600}}"#,
        ),
    );
    let out = d.drain(c);
    let reply = parse(&out[0]);
    assert_eq!(reply["connect"]["data"], json!({"welcome": true}));
    assert_eq!(reply["connect"]["subs"]["plain:news"], json!({}));
    // The refresh proxy extends it: the client is not told to refresh.
    assert_eq!(reply["connect"].get("expires"), None);
    // The user is the backend's: presence-free check through the server API.
    let (_, r) = d.api("channels", "{}");
    assert!(r.contains("plain:news"), "{r}");
}

#[test]
fn connect_refused_by_error_or_disconnect() {
    let mut d = Driver::with_config(config());
    let c = d.open();
    d.send(c, r#"{"id":1,"connect":{}}"#);
    let t = call(&mut d).ticket;
    d.hub.handle_proxy_reply(
        d.now,
        t,
        body(r#"{"error":{"code":1000,"message":"go away","temporary":true}}"#),
    );
    assert_eq!(
        d.drain(c),
        [r#"{"id":1,"error":{"code":1000,"message":"go away","temporary":true}}"#]
    );

    let c = d.open();
    d.send(c, r#"{"id":1,"connect":{}}"#);
    let t = call(&mut d).ticket;
    d.hub.handle_proxy_reply(
        d.now,
        t,
        body(r#"{"disconnect":{"code":4501,"reason":"banned"}}"#),
    );
    assert_eq!(d.closed(c), Some(4501));
}

#[test]
fn backend_failures_and_garbage_give_code_100() {
    let mut d = Driver::with_config(config());
    for outcome in [
        ProxyOutcome::Failed(ProxyFailure::Timeout),
        ProxyOutcome::Failed(ProxyFailure::Unreachable),
        ProxyOutcome::Failed(ProxyFailure::Status(502)),
        body("<html>oops</html>"),
        body(r#"{"result":{"user":42}}"#),
    ] {
        let c = d.open();
        d.send(c, r#"{"id":1,"connect":{}}"#);
        let t = call(&mut d).ticket;
        d.hub.handle_proxy_reply(d.now, t, outcome);
        assert_eq!(
            d.drain(c),
            [r#"{"id":1,"error":{"code":100,"message":"internal server error","temporary":true}}"#]
        );
        assert_eq!(d.closed(c), None);
    }
    // A unidirectional client cannot act on an error: 3004.
    let c = d.open_with(Transport::uni_sse());
    d.hub.handle_uni_connect(d.now, c, b"{}");
    let t = call(&mut d).ticket;
    d.hub
        .handle_proxy_reply(d.now, t, ProxyOutcome::Failed(ProxyFailure::Timeout));
    assert_eq!(d.closed(c), Some(3004));
}

#[test]
fn commands_behind_a_pending_connect_wait_and_run_in_order() {
    let mut d = Driver::with_config(config());
    let c = d.open();
    d.send(
        c,
        "{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"plain:a\"}}",
    );
    d.send(c, r#"{"id":3,"subscribe":{"channel":"plain:b"}}"#);
    let t = call(&mut d).ticket;
    assert!(d.drain(c).is_empty());
    d.hub
        .handle_proxy_reply(d.now, t, body(r#"{"result":{"user":"7"}}"#));
    let out = d.drain(c);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out[0].starts_with(r#"{"id":1,"connect":"#));
    assert_eq!(out[1], r#"{"id":2,"subscribe":{}}"#);
    assert_eq!(out[2], r#"{"id":3,"subscribe":{}}"#);
}

#[test]
fn subscribe_publish_and_rpc_go_through_the_backend() {
    let mut d = Driver::with_config(config());
    let c = connect(&mut d, "7");

    // Subscribe refused with a custom code.
    d.send(
        c,
        r#"{"id":2,"subscribe":{"channel":"px:x","data":{"want":1}}}"#,
    );
    let sub = call(&mut d);
    assert_eq!(sub.kind, ProxyKind::Subscribe);
    let req = parse(std::str::from_utf8(&sub.body).unwrap());
    assert_eq!(req["user"], "7");
    assert_eq!(req["channel"], "px:x");
    assert_eq!(req["data"], json!({"want": 1}));
    d.hub.handle_proxy_reply(
        d.now,
        sub.ticket,
        body(r#"{"error":{"code":4003,"message":"not yours"}}"#),
    );
    assert_eq!(
        d.drain(c),
        [r#"{"id":2,"error":{"code":4003,"message":"not yours"}}"#]
    );

    // Subscribe allowed with data.
    d.send(c, r#"{"id":3,"subscribe":{"channel":"px:x"}}"#);
    let t = call(&mut d).ticket;
    d.hub
        .handle_proxy_reply(d.now, t, body(r#"{"result":{"data":{"n":1}}}"#));
    assert_eq!(d.drain(c), [r#"{"id":3,"subscribe":{"data":{"n":1}}}"#]);

    // Publish rewritten by the backend, delivered rewritten.
    d.send(
        c,
        r#"{"id":4,"publish":{"channel":"px:x","data":{"text":"hi"}}}"#,
    );
    let publ = call(&mut d);
    assert_eq!(publ.kind, ProxyKind::Publish);
    assert_eq!(
        parse(std::str::from_utf8(&publ.body).unwrap())["data"],
        json!({"text": "hi"})
    );
    d.hub.handle_proxy_reply(
        d.now,
        publ.ticket,
        body(r#"{"result":{"data":{"text":"HI"}}}"#),
    );
    let out = d.drain(c);
    assert_eq!(out.len(), 2, "{out:?}");
    // Delivered (the publisher is a subscriber) before the reply, as
    // without a proxy.
    assert_eq!(out[1], r#"{"id":4,"publish":{}}"#);
    let push = parse(&out[0]);
    assert_eq!(push["push"]["pub"]["data"], json!({"text": "HI"}));

    // RPC answered; a namespace without the proxy: 104.
    d.send(c, r#"{"id":5,"rpc":{"method":"sum","data":[1,2]}}"#);
    let rpc = call(&mut d);
    assert_eq!(rpc.kind, ProxyKind::Rpc);
    assert_eq!(
        parse(std::str::from_utf8(&rpc.body).unwrap())["method"],
        "sum"
    );
    d.hub
        .handle_proxy_reply(d.now, rpc.ticket, body(r#"{"result":{"data":3}}"#));
    assert_eq!(d.drain(c), [r#"{"id":5,"rpc":{"data":3}}"#]);
    d.send(c, r#"{"id":6,"rpc":{"method":"off:x"}}"#);
    assert!(d.drain(c)[0].contains(r#""code":104"#));
    assert!(d.hub.poll_proxy().is_none());
}

#[test]
fn pending_calls_are_bounded_and_dropped_with_their_connection() {
    let mut d = Driver::with_config(config());
    // max_pending = 3 over all connections.
    let conns: Vec<ConnId> = (0..4).map(|_| d.open()).collect();
    for &c in &conns {
        d.send(c, r#"{"id":1,"connect":{}}"#);
    }
    assert_eq!(d.hub.proxy_pending(), 3);
    assert!(d.drain(conns[3])[0].contains(r#""code":100"#));
    // max_queued_commands = 2 per connection.
    let c = conns[0];
    for id in 2..5 {
        d.send(c, &format!(r#"{{"id":{id},"rpc":{{"method":"m"}}}}"#));
    }
    assert_eq!(
        d.drain(c),
        [r#"{"id":4,"error":{"code":100,"message":"internal server error","temporary":true}}"#]
    );
    // A connection closed while its call is pending: the late answer is dropped.
    let first = call(&mut d);
    d.hub.close(d.now, c);
    assert_eq!(d.hub.proxy_pending(), 2);
    d.hub
        .handle_proxy_reply(d.now, first.ticket, body(r#"{"result":{"user":"1"}}"#));
    assert_eq!(d.hub.stats().connections, 3);
}

#[test]
fn refresh_proxy_extends_or_ends_the_connection() {
    let mut d = Driver::with_config(config());
    let c = d.open();
    d.send(c, r#"{"id":1,"connect":{}}"#);
    let t = call(&mut d).ticket;
    d.hub.handle_proxy_reply(
        d.now,
        t,
        body(&format!(
            r#"{{"result":{{"user":"9","expire_at":{}}}}}"#,
            T0 + 5
        )),
    );
    d.drain(c);
    // Answer pings as a client would, so that only expiry matters.
    let mut refreshes = 0;
    for _ in 0..12 {
        d.advance(Duration::from_secs(5));
        pong(&mut d, c);
        while let Some(call) = d.hub.poll_proxy() {
            assert_eq!(call.kind, ProxyKind::Refresh);
            assert_eq!(parse(std::str::from_utf8(&call.body).unwrap())["user"], "9");
            refreshes += 1;
            let until = d.now.as_secs() + 10;
            d.hub.handle_proxy_reply(
                d.now,
                call.ticket,
                body(&format!(r#"{{"result":{{"expire_at":{until}}}}}"#)),
            );
        }
    }
    assert!(refreshes >= 3, "{refreshes}");
    assert_eq!(d.closed(c), None, "extended by the backend");
    // `expired` ends it with 3005.
    let call = loop {
        d.advance(Duration::from_secs(5));
        pong(&mut d, c);
        if let Some(call) = d.hub.poll_proxy() {
            break call;
        }
    };
    d.hub
        .handle_proxy_reply(d.now, call.ticket, body(r#"{"result":{"expired":true}}"#));
    assert_eq!(d.closed(c), Some(3005));
}

#[test]
fn sub_refresh_proxy_extends_a_proxied_subscription() {
    let mut d = Driver::with_config(config());
    let c = connect(&mut d, "7");
    d.send(c, r#"{"id":2,"subscribe":{"channel":"px:x"}}"#);
    let t = call(&mut d).ticket;
    d.hub.handle_proxy_reply(
        d.now,
        t,
        body(&format!(r#"{{"result":{{"expire_at":{}}}}}"#, T0 + 5)),
    );
    // The hub refreshes it: the client is not told it expires.
    assert_eq!(d.drain(c), [r#"{"id":2,"subscribe":{}}"#]);
    let mut calls = 0;
    for _ in 0..12 {
        d.advance(Duration::from_secs(5));
        pong(&mut d, c);
        while let Some(call) = d.hub.poll_proxy() {
            assert_eq!(call.kind, ProxyKind::SubRefresh);
            assert_eq!(
                parse(std::str::from_utf8(&call.body).unwrap())["channel"],
                "px:x"
            );
            calls += 1;
            let until = d.now.as_secs() + 10;
            d.hub.handle_proxy_reply(
                d.now,
                call.ticket,
                body(&format!(r#"{{"result":{{"expire_at":{until}}}}}"#)),
            );
        }
    }
    assert!(calls >= 3, "{calls}");
    assert_eq!(d.closed(c), None);
    let (_, channels) = d.api("channels", "{}");
    assert!(
        channels.contains(r#""px:x":{"num_clients":1}"#),
        "{channels}"
    );
}

#[test]
fn an_enabled_proxy_without_endpoint_is_a_config_error() {
    let cfg: pushwire_hub::HubConfig = serde_json::from_value(json!({
        "channel": {"namespaces": [{"name": "px", "publish_proxy_enabled": true}]}
    }))
    .unwrap();
    let e = cfg.validate().unwrap_err();
    assert_eq!(e.key, "channel.proxy.publish.endpoint");
    assert!(e
        .reason
        .contains("channel.namespaces[0].publish_proxy_enabled"));
    let cfg: pushwire_hub::HubConfig =
        serde_json::from_value(json!({"client": {"proxy": {"connect": {"enabled": true}}}}))
            .unwrap();
    assert_eq!(
        cfg.validate().unwrap_err().key,
        "client.proxy.connect.endpoint"
    );
    let cfg: pushwire_hub::HubConfig =
        serde_json::from_value(json!({"rpc": {"without_namespace": {"proxy_enabled": true}}}))
            .unwrap();
    assert_eq!(cfg.validate().unwrap_err().key, "rpc.proxy.endpoint");
}
