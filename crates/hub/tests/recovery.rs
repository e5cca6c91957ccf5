//! History and recovery: offsets within epochs, never a silent gap.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

fn sub(
    d: &mut Driver,
    c: pushwire_hub::ConnId,
    id: u32,
    body: serde_json::Value,
) -> serde_json::Value {
    d.send(c, &json!({"id": id, "subscribe": body}).to_string());
    let out = d.drain(c);
    json(&out[0])
}

#[test]
fn recovered_with_missed_publications_in_order() {
    let mut d = Driver::new();
    let a = d.connect("1");
    let r = sub(&mut d, a, 2, json!({"channel": "chat:r"}));
    let epoch = r["subscribe"]["epoch"].as_str().unwrap().to_owned();
    assert_eq!(epoch.len(), 8);
    assert_eq!(
        r,
        json!({"id":2,"subscribe":{"recoverable":true,"epoch":epoch,"positioned":true}})
    );
    for i in 1..=5 {
        let body = d.publish("chat:r", &format!(r#"{{"n":{i}}}"#));
        assert_eq!(json(&body), json!({"result":{"offset":i,"epoch":epoch}}));
    }
    // A's live pushes carry the offsets.
    let pushes = d.drain(a);
    assert_eq!(
        pushes[0],
        r#"{"push":{"channel":"chat:r","pub":{"data":{"n":1},"offset":1}}}"#
    );
    assert_eq!(pushes.len(), 5);

    // B saw up to offset 2 and reconnects.
    let b = d.connect("2");
    let r = sub(
        &mut d,
        b,
        2,
        json!({"channel": "chat:r", "recover": true, "offset": 2, "epoch": epoch}),
    );
    assert_eq!(
        r,
        json!({"id":2,"subscribe":{"recoverable":true,"epoch":epoch,
            "publications":[{"data":{"n":3},"offset":3},{"data":{"n":4},"offset":4},{"data":{"n":5},"offset":5}],
            "recovered":true,"offset":2,"positioned":true,"was_recovering":true}})
    );
    // Nothing missed: recovered with no publications.
    let c = d.connect("3");
    let r = sub(
        &mut d,
        c,
        2,
        json!({"channel": "chat:r", "recover": true, "offset": 5, "epoch": epoch}),
    );
    assert_eq!(r["subscribe"]["recovered"], true);
    assert!(r["subscribe"].get("publications").is_none());
    assert_eq!(r["subscribe"]["offset"], 5);
}

#[test]
fn live_publications_after_recovery_continue_without_gap_or_duplicate() {
    let mut d = Driver::new();
    for i in 1..=4 {
        d.publish("chat:m", &i.to_string());
    }
    let epoch = json(&d.api("history", r#"{"channel":"chat:m"}"#).1)["result"]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = d.connect("2");
    // Subscribe recovering from 1, and a publish in the same turn of the
    // driver right after it: the reply holds 2..4, the push holds 5.
    d.send(
        b,
        &json!({"id":2,"subscribe":{"channel":"chat:m","recover":true,"offset":1,"epoch":epoch}})
            .to_string(),
    );
    d.publish("chat:m", "5");
    let out = d.drain(b);
    let mut offsets = Vec::new();
    let r = json(&out[0]);
    for p in r["subscribe"]["publications"].as_array().unwrap() {
        offsets.push(p["offset"].as_u64().unwrap());
    }
    for push in &out[1..] {
        let v = json(push);
        if let Some(o) = v["push"]["pub"]["offset"].as_u64() {
            offsets.push(o);
        }
    }
    assert_eq!(offsets, [2, 3, 4, 5]);
}

#[test]
fn not_recovered_after_ttl_and_after_epoch_change() {
    let mut d = Driver::new();
    let a = d.connect("1");
    let r = sub(
        &mut d,
        a,
        2,
        json!({"channel": "feed:x", "recoverable": true}),
    );
    assert_eq!(r["subscribe"]["recoverable"], true);
    let epoch = r["subscribe"]["epoch"].as_str().unwrap().to_owned();
    d.publish("feed:x", "1");
    d.publish("feed:x", "2");
    // History TTL (60 s) passes: publications gone, position kept.
    d.advance(Duration::from_secs(61));
    let b = d.connect("2");
    let r = sub(
        &mut d,
        b,
        2,
        json!({"channel": "feed:x", "recoverable": true, "recover": true, "offset": 1, "epoch": epoch}),
    );
    assert_eq!(
        r,
        json!({"id":2,"subscribe":{"recoverable":true,"epoch":epoch,"offset":2,"positioned":true,"was_recovering":true}})
    );
    // Position TTL (120 s) passes: a new epoch, offsets restart.
    d.advance(Duration::from_secs(120));
    let c = d.connect("3");
    let r = sub(
        &mut d,
        c,
        2,
        json!({"channel": "feed:x", "recoverable": true, "recover": true, "offset": 2, "epoch": epoch}),
    );
    assert_eq!(r["subscribe"]["recovered"], serde_json::Value::Null);
    let new_epoch = r["subscribe"]["epoch"].as_str().unwrap();
    assert_ne!(new_epoch, epoch);
    assert!(r["subscribe"].get("offset").is_none());
    assert!(r["subscribe"].get("publications").is_none());
}

#[test]
fn not_recovered_when_more_was_missed_than_history_keeps() {
    let mut d = Driver::new();
    for i in 1..=5 {
        d.publish("feed:y", &i.to_string());
    }
    let h = json(&d.api("history", r#"{"channel":"feed:y","limit":-1}"#).1);
    assert_eq!(h["result"]["publications"].as_array().unwrap().len(), 3);
    let epoch = h["result"]["epoch"].as_str().unwrap().to_owned();
    let c = d.connect("1");
    let r = sub(
        &mut d,
        c,
        2,
        json!({"channel": "feed:y", "recoverable": true, "recover": true, "offset": 1, "epoch": epoch}),
    );
    assert!(r["subscribe"].get("recovered").is_none());
    assert_eq!(r["subscribe"]["offset"], 5);
    // From offset 2 the history (3..5) is exactly what was missed.
    let r = sub(
        &mut d,
        c,
        3,
        json!({"channel": "feed:y", "recoverable": true, "recover": true, "offset": 2, "epoch": epoch}),
    );
    assert_eq!(r["error"]["code"], 105);
    let c2 = d.connect("2");
    let r = sub(
        &mut d,
        c2,
        2,
        json!({"channel": "feed:y", "recoverable": true, "recover": true, "offset": 2, "epoch": epoch}),
    );
    assert_eq!(r["subscribe"]["recovered"], true);
    assert_eq!(r["subscribe"]["publications"].as_array().unwrap().len(), 3);
}

#[test]
fn wrong_epoch_is_not_recovered() {
    let mut d = Driver::new();
    d.publish("chat:e", "1");
    let c = d.connect("1");
    let r = sub(
        &mut d,
        c,
        2,
        json!({"channel": "chat:e", "recover": true, "offset": 0, "epoch": "zzzzzzzz"}),
    );
    assert!(r["subscribe"].get("recovered").is_none());
    assert_eq!(r["subscribe"]["offset"], 1);
    assert_eq!(r["subscribe"]["was_recovering"], true);
}

#[test]
fn history_queries() {
    let mut d = Driver::new();
    let c = d.connect("1");
    sub(&mut d, c, 2, json!({"channel": "chat:h"}));
    for i in 1..=5 {
        d.publish("chat:h", &i.to_string());
    }
    d.drain(c);
    let q = |d: &mut Driver, body: serde_json::Value| {
        d.send(c, &json!({"id": 9, "history": body}).to_string());
        json(&d.drain(c)[0])
    };
    let epoch = q(&mut d, json!({"channel":"chat:h"}))["history"]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    let offs = |v: &serde_json::Value| -> Vec<u64> {
        v["history"]["publications"]
            .as_array()
            .map(|a| a.iter().map(|p| p["offset"].as_u64().unwrap()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        q(&mut d, json!({"channel":"chat:h"})),
        json!({"id":9,"history":{"epoch":epoch,"offset":5}})
    );
    assert_eq!(
        offs(&q(&mut d, json!({"channel":"chat:h","limit":-1}))),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        offs(&q(&mut d, json!({"channel":"chat:h","limit":2}))),
        [1, 2]
    );
    assert_eq!(
        offs(&q(
            &mut d,
            json!({"channel":"chat:h","limit":2,"reverse":true})
        )),
        [5, 4]
    );
    assert_eq!(
        offs(&q(
            &mut d,
            json!({"channel":"chat:h","limit":-1,"since":{"offset":3,"epoch":epoch}})
        )),
        [4, 5]
    );
    assert_eq!(
        offs(&q(
            &mut d,
            json!({"channel":"chat:h","limit":-1,"since":{"offset":3,"epoch":""}})
        )),
        [4, 5]
    );
    assert_eq!(
        offs(&q(
            &mut d,
            json!({"channel":"chat:h","limit":-1,"reverse":true,"since":{"offset":3,"epoch":epoch}})
        )),
        [2, 1]
    );
    assert_eq!(
        q(
            &mut d,
            json!({"channel":"chat:h","limit":-1,"since":{"offset":3,"epoch":"other"}})
        ),
        json!({"id":9,"error":{"code":112,"message":"unrecoverable position"}})
    );
    assert_eq!(
        q(
            &mut d,
            json!({"channel":"chat:h","limit":1,"reverse":true,"since":{"offset":0,"epoch":epoch}})
        ),
        json!({"id":9,"error":{"code":107,"message":"bad request"}})
    );
    // No history in the namespace → 108; no permission → 103.
    assert_eq!(q(&mut d, json!({"channel":"room"}))["error"]["code"], 108);
    assert_eq!(
        q(&mut d, json!({"channel":"chat:other","limit":1}))["error"]["code"],
        103
    );
}

#[test]
fn client_history_limit_is_capped_at_300() {
    let mut cfg = config_json();
    cfg["channel"]["namespaces"][0]["history_size"] = 1000.into();
    let mut d = Driver::with_config(cfg);
    let c = d.connect("1");
    sub(&mut d, c, 2, json!({"channel": "chat:big"}));
    for i in 0..400 {
        d.publish("chat:big", &i.to_string());
    }
    d.drain(c);
    d.send(c, r#"{"id":3,"history":{"channel":"chat:big","limit":-1}}"#);
    let v = json(&d.drain(c)[0]);
    assert_eq!(v["history"]["publications"].as_array().unwrap().len(), 300);
    // The API has no such cap.
    let v = json(&d.api("history", r#"{"channel":"chat:big","limit":-1}"#).1);
    assert_eq!(v["result"]["publications"].as_array().unwrap().len(), 400);
    // Recovery of more than 300 is not attempted: recovered false.
    let epoch = v["result"]["epoch"].as_str().unwrap().to_owned();
    let c2 = d.connect("2");
    let r = sub(
        &mut d,
        c2,
        2,
        json!({"channel":"chat:big","recover":true,"offset":50,"epoch":epoch}),
    );
    assert!(r["subscribe"].get("recovered").is_none());
    assert_eq!(r["subscribe"]["offset"], 400);
}

#[test]
fn history_remove_keeps_position() {
    let mut d = Driver::new();
    d.publish("chat:z", "1");
    d.publish("chat:z", "2");
    let before = json(&d.api("history", r#"{"channel":"chat:z"}"#).1);
    assert_eq!(
        d.api("history_remove", r#"{"channel":"chat:z"}"#),
        (200, r#"{"result":{}}"#.into())
    );
    let after = json(&d.api("history", r#"{"channel":"chat:z","limit":-1}"#).1);
    assert_eq!(after["result"]["offset"], 2);
    assert_eq!(after["result"]["epoch"], before["result"]["epoch"]);
    assert_eq!(after["result"]["publications"], json!([]));
    // The next publication continues the stream.
    let p = json(&d.publish("chat:z", "3"));
    assert_eq!(p["result"]["offset"], 3);
}

#[test]
fn positioned_without_recovery() {
    let mut d = Driver::new();
    d.publish("feed:p", "1");
    let c = d.connect("1");
    let r = sub(
        &mut d,
        c,
        2,
        json!({"channel": "feed:p", "positioned": true}),
    );
    assert_eq!(r["subscribe"]["positioned"], true);
    assert_eq!(r["subscribe"]["offset"], 1);
    assert!(r["subscribe"].get("recoverable").is_none());
}
