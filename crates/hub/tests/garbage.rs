//! Untrusted input never panics and never affects another connection.

mod support;

use proptest::prelude::*;
use pushwire_hub::Transport;
use support::*;

const METHODS: &[&str] = &[
    "connect",
    "subscribe",
    "unsubscribe",
    "publish",
    "presence",
    "presence_stats",
    "history",
    "send",
    "rpc",
    "refresh",
    "sub_refresh",
    "ping",
    "flag",
];

const API_METHODS: &[&str] = &[
    "publish",
    "broadcast",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "refresh",
    "presence",
    "presence_stats",
    "history",
    "history_remove",
    "channels",
    "info",
    "batch",
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-z:#$,*]{0,12}".prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "chat:a", "room", "$chat:x", "feed:y", "drop:z", "ticker:t"
        ])
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "channel",
                    "data",
                    "token",
                    "recover",
                    "offset",
                    "epoch",
                    "limit",
                    "since",
                    "reverse",
                    "positioned",
                    "recoverable",
                    "join_leave",
                    "subs",
                    "channels",
                    "user",
                    "client",
                    "commands",
                    "publish",
                    "code",
                ])
                .prop_map(str::to_owned),
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn command() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u32>(), prop::sample::select(METHODS), json_value())
            .prop_map(|(id, m, v)| serde_json::json!({"id": id % 8, m: v}).to_string()),
        json_value().prop_map(|v| v.to_string()),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_frames_never_panic(frames in prop::collection::vec(
        prop::collection::vec(command(), 1..4).prop_map(|c| c.join("\n")), 1..8)) {
        let mut d = Driver::new();
        let bystander = d.connect("by");
        d.send(bystander, r#"{"id":2,"subscribe":{"channel":"room"}}"#);
        d.drain(bystander);
        let fresh = d.open();
        let connected = d.connect("1");
        let uni = d.open_with(Transport::uni_sse());
        for (i, f) in frames.iter().enumerate() {
            d.send(fresh, f);
            d.send(connected, f);
            if i == 0 {
                d.hub.handle_uni_connect(d.now, uni, f.as_bytes());
            }
            for c in [fresh, connected, uni] {
                d.drain(c);
            }
            d.advance(std::time::Duration::from_millis(700));
        }
        prop_assert_eq!(d.closed(bystander), None);
        d.publish("room", "1");
        prop_assert_eq!(d.drain(bystander).len(), 1);
        // Every queue stays bounded.
        for c in [fresh, connected, uni] {
            if let Some(o) = d.hub.outbox(c) {
                prop_assert!(o.queued_bytes() <= 2 << 20);
            }
        }
    }

    #[test]
    fn random_api_bodies_never_panic(
        m in prop::sample::select(API_METHODS),
        body in prop_oneof![json_value().prop_map(|v| v.to_string()),
                            prop::collection::vec(any::<u8>(), 0..64)
                                .prop_map(|b| String::from_utf8_lossy(&b).into_owned())]) {
        let mut d = Driver::new();
        let (status, out) = d.api(m, &body);
        prop_assert!(status == 200 || status == 400);
        if status == 200 {
            let v = json(&out);
            prop_assert!(v.get("result").is_some() || v.get("error").is_some() || v.get("replies").is_some());
        }
    }
}

#[test]
fn tricky_inputs() {
    let deep = "[".repeat(10_000);
    let inputs = [
        deep.as_str(),
        "\n\n\n",
        "   ",
        "{}\n{}\n{}",
        r#"{"id":1,"subscribe":{"channel":"\u0000"}}"#,
        r#"{"id":1,"history":{"channel":"chat:a","limit":-9223372036854775808}}"#,
        r#"{"id":1,"history":{"channel":"chat:a","limit":9223372036854775807,"since":{"offset":18446744073709551615}}}"#,
        r#"{"id":1,"subscribe":{"channel":"chat:a","recover":true,"offset":18446744073709551615,"epoch":""}}"#,
        r#"{"id":1,"subscribe":{"channel":"personal:#"}}"#,
        r#"{"id":1,"subscribe":{"channel":"::::"}}"#,
        r#"{"id":1,"publish":{"channel":"room","data":{"a":[1,2,{"b":null}]}}}"#,
        r#"{"id":1,"connect":{"token":"a.b.c"}}"#,
    ];
    for input in inputs {
        let mut d = Driver::new();
        let a = d.open();
        d.send(a, input);
        let b = d.connect("1");
        d.send(b, input);
        d.drain(a);
        d.drain(b);
    }
}
