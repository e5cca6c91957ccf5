//! The server API's request and response bodies, and unidirectional clients.

mod support;

use pushwire_hub::Transport;
use serde_json::json;
use support::*;

#[test]
fn publish_shapes() {
    let mut d = Driver::new();
    assert_eq!(
        d.api("publish", r#"{"channel":"room","data":{"a":1}}"#),
        (200, r#"{"result":{}}"#.into())
    );
    let (_, b) = d.api("publish", r#"{"channel":"chat:a","data":{"a":1}}"#);
    let v = json(&b);
    assert_eq!(v["result"]["offset"], 1);
    assert_eq!(v["result"]["epoch"].as_str().unwrap().len(), 8);
    assert_eq!(
        d.api("publish", r#"{"channel":"","data":1}"#).1,
        r#"{"error":{"code":107,"message":"bad request"}}"#
    );
    assert_eq!(
        d.api("publish", r#"{"channel":"room"}"#).1,
        r#"{"error":{"code":107,"message":"bad request"}}"#
    );
    assert_eq!(d.api("publish", "{not json").0, 400);
    assert_eq!(d.api("publish", r#"{"channel":5}"#).0, 400);
    assert_eq!(d.api("nope", "{}").0, 404);
}

#[test]
fn tags_skip_history_and_idempotency() {
    let mut cfg = config_json();
    cfg["client"]["ping_interval"] = "1000s".into();
    let mut d = Driver::with_config(cfg);
    let c = d.connect("1");
    d.send(c, r#"{"id":2,"subscribe":{"channel":"chat:t"}}"#);
    d.drain(c);
    d.api(
        "publish",
        r#"{"channel":"chat:t","data":1,"tags":{"k":"v","a":"b"}}"#,
    );
    d.api(
        "publish",
        r#"{"channel":"chat:t","data":2,"skip_history":true}"#,
    );
    let r1 = d
        .api(
            "publish",
            r#"{"channel":"chat:t","data":3,"idempotency_key":"x1"}"#,
        )
        .1;
    let r2 = d
        .api(
            "publish",
            r#"{"channel":"chat:t","data":3,"idempotency_key":"x1"}"#,
        )
        .1;
    assert_eq!(r1, r2, "the repeat answers like the first");
    assert_eq!(
        d.drain(c),
        [
            r#"{"push":{"channel":"chat:t","pub":{"data":1,"offset":1,"tags":{"a":"b","k":"v"}}}}"#,
            r#"{"push":{"channel":"chat:t","pub":{"data":2}}}"#,
            r#"{"push":{"channel":"chat:t","pub":{"data":3,"offset":2}}}"#,
        ]
    );
    let h = json(&d.api("history", r#"{"channel":"chat:t","limit":-1}"#).1);
    assert_eq!(h["result"]["publications"].as_array().unwrap().len(), 2);
    // After the window the key publishes again.
    d.advance(std::time::Duration::from_secs(301));
    d.drain(c);
    d.api(
        "publish",
        r#"{"channel":"chat:t","data":3,"idempotency_key":"x1"}"#,
    );
    assert_eq!(d.drain(c).len(), 1);
}

#[test]
fn broadcast_and_batch() {
    let mut d = Driver::new();
    let (s, b) = d.api(
        "broadcast",
        r#"{"channels":["room","chat:b","no:x"],"data":{"x":1}}"#,
    );
    assert_eq!(s, 200);
    let v = json(&b);
    let resp = v["result"]["responses"].as_array().unwrap();
    assert_eq!(resp[0], json!({"result":{}}));
    assert_eq!(resp[1]["result"]["offset"], 1);
    assert_eq!(
        resp[2],
        json!({"error":{"code":102,"message":"unknown channel"}})
    );

    let (s, b) = d.api(
        "batch",
        r#"{"commands":[{"publish":{"channel":"room","data":1}},{"publish":{"channel":"x:y","data":1}},{"presence_stats":{"channel":"chat:b"}},{"nope":{}}],"parallel":false}"#,
    );
    assert_eq!(s, 200);
    assert_eq!(
        b,
        r#"{"replies":[{"publish":{}},{"error":{"code":102,"message":"unknown channel"}},{"presence_stats":{"num_clients":0,"num_users":0}},{"error":{"code":104,"message":"method not found"}}]}"#
    );
}

#[test]
fn subscribe_unsubscribe_disconnect_refresh_by_api() {
    let mut d = Driver::new();
    let a = d.connect("u1");
    let a2 = d.connect("u1");
    let other = d.connect("u2");
    d.publish("chat:s", "1");
    d.publish("chat:s", "2");
    let epoch = json(&d.api("history", r#"{"channel":"chat:s"}"#).1)["result"]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = json!({"user":"u1","channel":"chat:s","data":{"hi":1},"recover_since":{"offset":1,"epoch":epoch}});
    assert_eq!(
        d.api("subscribe", &body.to_string()),
        (200, r#"{"result":{}}"#.into())
    );
    for c in [a, a2] {
        let out = d.drain(c);
        assert_eq!(
            out[0],
            format!(
                r#"{{"push":{{"channel":"chat:s","subscribe":{{"recoverable":true,"epoch":"{epoch}","recovered":true,"offset":1,"positioned":true,"data":{{"hi":1}},"was_recovering":true}}}}}}"#
            )
        );
        assert_eq!(
            out[1],
            r#"{"push":{"channel":"chat:s","pub":{"data":2,"offset":2}}}"#
        );
    }
    assert!(d.drain(other).is_empty());

    let (_, b) = d.api("channels", r#"{"pattern":"chat:*"}"#);
    assert_eq!(b, r#"{"result":{"channels":{"chat:s":{"num_clients":2}}}}"#);
    let (_, b) = d.api("channels", r#"{"pattern":"news*"}"#);
    assert_eq!(b, r#"{"result":{"channels":{}}}"#);

    let id_a = d.client_id(a);
    d.api(
        "unsubscribe",
        &json!({"user":"u1","channel":"chat:s","client":id_a}).to_string(),
    );
    assert_eq!(
        d.drain(a),
        [
            r#"{"push":{"channel":"chat:s","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}"#
        ]
    );
    assert!(d.drain(a2).iter().all(|m| !m.contains("unsubscribe")));

    let v = json(&d.api("info", "{}").1);
    let node = &v["result"]["nodes"][0];
    assert_eq!(node["num_clients"], 3);
    assert_eq!(node["num_users"], 2);
    assert_eq!(node["num_subs"], 1);
    assert_eq!(node["num_channels"], 1);
    assert_eq!(node["name"], "pushwire");
    let mut named = config_json();
    named["node"] = json!({"name": "edge-1"});
    let v = json(&Driver::with_config(named).api("info", "{}").1);
    assert_eq!(v["result"]["nodes"][0]["name"], "edge-1", "{v}");

    d.api(
        "disconnect",
        &json!({"user":"u1","whitelist":[id_a]}).to_string(),
    );
    assert_eq!(d.closed(a), None);
    assert_eq!(d.closed(a2), Some(3503));
    d.api(
        "disconnect",
        r#"{"user":"u1","disconnect":{"code":4501,"reason":"banned"}}"#,
    );
    assert_eq!(d.closed(a), Some(4501));
    d.api("refresh", r#"{"user":"u2","expired":true}"#);
    assert_eq!(d.closed(other), Some(3005));
}

#[test]
fn a_user_with_many_connections_keeps_the_open_ones_reachable_as_others_close() {
    let mut d = Driver::new();
    let conns: Vec<_> = (0..12).map(|_| d.connect("many")).collect();
    let anonymous: Vec<_> = (0..5).map(|_| d.connect("")).collect();
    // Close every third, from the middle out, then the first and the last.
    let gone: Vec<usize> = vec![6, 3, 9, 0, 11];
    for &i in &gone {
        d.hub.close(d.now, conns[i]);
    }
    d.hub.close(d.now, anonymous[2]);
    let v = json(&d.api("info", "{}").1);
    assert_eq!(
        v["result"]["nodes"][0]["num_clients"],
        12 - 5 + 5 - 1,
        "{v}"
    );
    assert_eq!(v["result"]["nodes"][0]["num_users"], 2, "{v}");
    d.api("disconnect", r#"{"user":"many"}"#);
    for (i, &c) in conns.iter().enumerate() {
        let expected = (!gone.contains(&i)).then_some(3503);
        assert_eq!(d.closed(c), expected, "connection {i}");
    }
    for &c in &anonymous {
        assert_eq!(d.closed(c), None, "another user's connections stay");
    }
    for (i, &c) in conns.iter().enumerate() {
        if !gone.contains(&i) {
            d.hub.close(d.now, c);
        }
    }
    let v = json(&d.api("info", "{}").1);
    assert_eq!(v["result"]["nodes"][0]["num_clients"], 4, "{v}");
    assert_eq!(v["result"]["nodes"][0]["num_users"], 1, "{v}");
}

#[test]
fn unidirectional_sse_client() {
    let mut d = Driver::new();
    let c = d.open_with(Transport::uni_sse());
    let t = d.token(json!({"sub":"7","channels":["chat:u"]}));
    d.hub
        .handle_uni_connect(d.now, c, json!({"token":t}).to_string().as_bytes());
    let out = d.drain(c);
    let v = json(&out[0]);
    // `<node>.<uuid>`: the node that holds the session, then its own id.
    let session = v["connect"]["session"].as_str().unwrap();
    assert_eq!(session.len(), 73, "{v}");
    assert_eq!(&session[36..37], ".", "{v}");
    assert!(v["connect"].get("pong").is_none());
    assert_eq!(v["connect"]["subs"]["chat:u"]["recoverable"], true);
    d.publish("chat:u", r#"{"t":1}"#);
    assert_eq!(
        d.drain(c),
        [r#"{"channel":"chat:u","pub":{"data":{"t":1},"offset":1}}"#]
    );
    // Commands posted for its session (as to `/emulation`) are ignored:
    // a unidirectional connection takes none.
    d.send(c, r#"{"id":2,"subscribe":{"channel":"chat:other"}}"#);
    assert!(d.drain(c).is_empty());
    // Pings are bare `{}` and no pong is expected.
    d.advance(std::time::Duration::from_secs(60));
    assert_eq!(d.drain(c), ["{}", "{}"]);
    assert_eq!(d.closed(c), None);
    // A server disconnect is pushed before the stream ends.
    d.api("disconnect", r#"{"user":"7"}"#);
    assert_eq!(
        d.drain(c),
        [r#"{"disconnect":{"code":3503,"reason":"force disconnect"}}"#]
    );
    assert_eq!(d.closed(c), Some(3503));
}

#[test]
fn unidirectional_client_requested_subs_need_permission() {
    let mut d = Driver::new();
    let c = d.open_with(Transport::uni_websocket());
    d.hub
        .handle_uni_connect(d.now, c, br#"{"subs":{"room":{},"strict:x":{}}}"#);
    let v = json(&d.drain(c)[0]);
    assert_eq!(v["connect"]["subs"], json!({"room":{}}));
    let c = d.open_with(Transport::uni_http_stream());
    d.hub.handle_uni_connect(d.now, c, b"{bad");
    assert_eq!(
        d.drain(c),
        [r#"{"disconnect":{"code":3501,"reason":"bad request"}}"#]
    );
}

#[test]
fn emulation_transport_gets_a_session_and_disconnect_push() {
    let mut d = Driver::new();
    let c = d.open_with(Transport::emulation());
    d.send(c, r#"{"id":1,"connect":{}}"#);
    let v = json(&d.drain(c)[0]);
    let session = v["connect"]["session"].as_str().unwrap().to_owned();
    assert_eq!(d.hub.session(&session), Some(c));
    assert_eq!(v["connect"]["pong"], true);
    assert_eq!(v["connect"]["node"].as_str().map(str::len), Some(36), "{v}");
    d.send(c, "garbage");
    assert_eq!(
        d.drain(c),
        [r#"{"push":{"disconnect":{"code":3501,"reason":"bad request"}}}"#]
    );
}

#[test]
fn send_message_push() {
    let mut d = Driver::new();
    let c = d.connect("1");
    let data = serde_json::value::RawValue::from_string(r#"{"m":1}"#.into()).unwrap();
    d.hub.send_message(c, &data);
    assert_eq!(d.drain(c), [r#"{"push":{"message":{"data":{"m":1}}}}"#]);
}

#[test]
fn stats_count() {
    let mut d = Driver::new();
    let a = d.connect("1");
    let b = d.connect("2");
    for c in [a, b] {
        d.send(c, r#"{"id":2,"subscribe":{"channel":"room"}}"#);
    }
    d.publish("room", "1");
    let s = d.hub.stats().clone();
    assert_eq!(s.connections, 2);
    assert_eq!(s.subscriptions, 2);
    assert_eq!(s.channels, 1);
    assert_eq!(s.publications_total, 1);
    assert_eq!(s.deliveries_total, 2);
    d.hub.close(d.now, a);
    assert_eq!(d.hub.stats().subscriptions, 1);
    assert_eq!(d.hub.stats().connections, 1);
}

#[test]
fn every_listed_api_method_is_served_and_no_other() {
    let mut d = Driver::new();
    for method in pushwire_hub::api::METHODS {
        let r = d.hub.api(d.now, method, b"{}");
        assert_ne!(r.status, 404, "{method}");
    }
    assert_eq!(d.hub.api(d.now, "publishh", b"{}").status, 404);
}

#[test]
fn command_names_are_reported_once_each_handled() {
    use pushwire_hub::protocol::{Command, Method};
    let mut d = Driver::new();
    let c = d.open_with(Transport::websocket());
    let t = d.token(json!({"sub":"7"}));
    let frame = format!(
        "{}\n{}\n{}",
        json!({"id":1,"connect":{"token":t}}),
        json!({"id":2,"subscribe":{"channel":"chat:a"}}),
        json!({"id":3,"presence":{"channel":"chat:a"}})
    );
    let mut seen = Vec::new();
    d.hub
        .handle_frame_with(d.now, c, frame.as_bytes(), |m| seen.push(m));
    assert_eq!(seen, ["connect", "subscribe", "presence"]);
    for part in ["{}", r#"{"id":1,"rpc":{}}"#, r#"{"id":1,"sub_refresh":{}}"#] {
        let name = Command::decode(part.as_bytes()).unwrap().method.name();
        assert!(Method::NAMES.contains(&name), "{name}");
    }
}
