//! JWT: connection and subscription tokens, expiry and refresh.

mod support;

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use support::*;

/// Config with pings far apart, so expiry tests need no pongs.
fn quiet() -> Driver {
    let mut cfg = config_json();
    cfg["client"]["ping_interval"] = "1000s".into();
    Driver::with_config(cfg)
}

fn connect_with(d: &mut Driver, token: &str) -> (pushwire_hub::ConnId, Vec<String>) {
    let c = d.open();
    d.send(c, &format!(r#"{{"id":1,"connect":{{"token":"{token}"}}}}"#));
    let out = d.drain(c);
    (c, out)
}

#[test]
fn connection_expires_without_refresh() {
    let mut d = quiet();
    let t = d.token(json!({"sub": "1", "exp": T0 + 60}));
    let (c, out) = connect_with(&mut d, &t);
    assert!(out[0].contains(r#""expires":true,"ttl":60"#), "{out:?}");
    // exp + 25 s grace.
    d.advance(Duration::from_secs(84));
    assert_eq!(d.closed(c), None);
    d.advance(Duration::from_secs(1));
    assert_eq!(d.closed(c), Some(3005));
}

#[test]
fn refresh_extends_the_connection() {
    let mut d = quiet();
    let t = d.token(json!({"sub": "1", "exp": T0 + 60}));
    let (c, _) = connect_with(&mut d, &t);
    d.advance(Duration::from_secs(50));
    let t2 = d.token(json!({"sub": "1", "exp": T0 + 200}));
    d.send(c, &format!(r#"{{"id":2,"refresh":{{"token":"{t2}"}}}}"#));
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(
        d.drain(c),
        [format!(
            r#"{{"id":2,"refresh":{{"client":"CID","version":"{v}","expires":true,"ttl":150}}}}"#
        )]
    );
    d.advance(Duration::from_secs(100));
    assert_eq!(d.closed(c), None);
    // An expired token → 109; another user's token → 3500.
    let old = d.token(json!({"sub": "1", "exp": T0 + 10}));
    d.send(c, &format!(r#"{{"id":3,"refresh":{{"token":"{old}"}}}}"#));
    assert_eq!(
        d.drain(c),
        [r#"{"id":3,"error":{"code":109,"message":"token expired"}}"#]
    );
    let other = d.token(json!({"sub": "2", "exp": T0 + 1000}));
    d.send(c, &format!(r#"{{"id":4,"refresh":{{"token":"{other}"}}}}"#));
    assert_eq!(d.closed(c), Some(3500));
}

#[test]
fn subscription_tokens() {
    let mut d = quiet();
    let c = d.connect("1");
    let id = d.client_id(c);
    let good =
        d.token(json!({"sub": "1", "channel": "$chat:x", "exp": T0 + 60, "info": {"role": "a"}}));
    d.send(c, r#"{"id":2,"subscribe":{"channel":"$chat:x"}}"#);
    d.send(
        c,
        &format!(
            r#"{{"id":3,"subscribe":{{"channel":"$chat:x","token":"{good}","join_leave":true}}}}"#
        ),
    );
    let out = d.drain(c);
    assert_eq!(
        out[0],
        r#"{"id":2,"error":{"code":103,"message":"permission denied"}}"#
    );
    let r = json(&out[1]);
    assert_eq!(r["subscribe"]["expires"], true);
    assert_eq!(r["subscribe"]["ttl"], 60);
    // chan_info from the token shows in the join push.
    assert_eq!(
        out[2],
        r#"{"push":{"channel":"$chat:x","join":{"info":{"user":"1","client":"CID","chan_info":{"role":"a"}}}}}"#
    );
    // Bound to this client: fine; bound to another: 3500.
    let bound = d.token(json!({"sub": "1", "channel": "$chat:y", "client": id}));
    d.send(
        c,
        &format!(r#"{{"id":4,"subscribe":{{"channel":"$chat:y","token":"{bound}"}}}}"#),
    );
    assert!(d.drain(c)[0].starts_with(r#"{"id":4,"subscribe":"#));

    // sub_refresh moves the expiry.
    d.advance(Duration::from_secs(50));
    let t2 = d.token(json!({"sub": "1", "channel": "$chat:x", "exp": T0 + 300}));
    d.send(
        c,
        &format!(r#"{{"id":5,"sub_refresh":{{"channel":"$chat:x","token":"{t2}"}}}}"#),
    );
    assert_eq!(
        d.drain(c),
        [r#"{"id":5,"sub_refresh":{"expires":true,"ttl":250}}"#]
    );
    d.advance(Duration::from_secs(100));
    assert!(d.drain(c).is_empty());
    // Without a further refresh: exp + 25 s → unsubscribe 2501.
    d.advance(Duration::from_secs(175));
    assert_eq!(
        d.drain(c),
        [
            r#"{"push":{"channel":"$chat:x","unsubscribe":{"code":2501,"reason":"subscription expired"}}}"#
        ]
    );
    assert_eq!(d.closed(c), None);
}

#[test]
fn subscription_token_errors() {
    let mut d = quiet();
    let c = d.connect("1");
    let expired = d.token(json!({"sub": "1", "channel": "$chat:x", "exp": T0 - 1}));
    let forged =
        pushwire_hub::jwt::mint_hs256(b"nope", &json!({"sub": "1", "channel": "$chat:x"})).unwrap();
    d.send(
        c,
        &format!(r#"{{"id":2,"subscribe":{{"channel":"$chat:x","token":"{expired}"}}}}"#),
    );
    d.send(
        c,
        &format!(r#"{{"id":3,"subscribe":{{"channel":"$chat:x","token":"{forged}"}}}}"#),
    );
    d.send(
        c,
        r#"{"id":4,"subscribe":{"channel":"$chat:x","token":"xx"}}"#,
    );
    assert_eq!(
        d.drain(c),
        [
            r#"{"id":2,"error":{"code":109,"message":"token expired"}}"#,
            r#"{"id":3,"error":{"code":103,"message":"permission denied"}}"#,
            r#"{"id":4,"error":{"code":103,"message":"permission denied"}}"#,
        ]
    );
    let wrong_channel = d.token(json!({"sub": "1", "channel": "$chat:other"}));
    d.send(
        c,
        &format!(r#"{{"id":5,"subscribe":{{"channel":"$chat:x","token":"{wrong_channel}"}}}}"#),
    );
    assert_eq!(d.closed(c), Some(3500));

    let c = d.connect("1");
    let wrong_user = d.token(json!({"sub": "2", "channel": "$chat:x"}));
    d.send(
        c,
        &format!(r#"{{"id":2,"subscribe":{{"channel":"$chat:x","token":"{wrong_user}"}}}}"#),
    );
    assert_eq!(d.closed(c), Some(3500));
}

#[test]
fn server_side_subscriptions_from_the_token() {
    let mut d = quiet();
    let t = d.token(json!({"sub": "5", "channels": ["chat:srv", "news"],
        "subs": {"chat:srv": {"data": {"welcome": true}}}}));
    let (c, out) = connect_with(&mut d, &t);
    let v = json(&out[0]);
    let subs = &v["connect"]["subs"];
    assert_eq!(subs["news"], json!({}));
    assert_eq!(subs["chat:srv"]["recoverable"], true);
    assert_eq!(subs["chat:srv"]["data"], json!({"welcome": true}));
    // Join of itself after the connect reply (chat has join_leave, but
    // server-side subs did not ask for join pushes).
    assert_eq!(out.len(), 1);
    d.publish("news", r#""hello""#);
    assert_eq!(
        d.drain(c),
        [r#"{"push":{"channel":"news","pub":{"data":"hello"}}}"#]
    );

    // Unknown namespace in channels → 102.
    let bad = d.token(json!({"sub": "5", "channels": ["nope:x"]}));
    let (_, out) = connect_with(&mut d, &bad);
    assert_eq!(
        out,
        [r#"{"id":1,"error":{"code":102,"message":"unknown channel"}}"#]
    );
}

#[test]
fn server_side_subscription_recovers_on_reconnect() {
    let mut d = quiet();
    let t = d.token(json!({"sub": "5", "channels": ["chat:srv"]}));
    let (_, out) = connect_with(&mut d, &t);
    let epoch = json(&out[0])["connect"]["subs"]["chat:srv"]["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 1..=3 {
        d.publish("chat:srv", &i.to_string());
    }
    let c = d.open();
    d.send(
        c,
        &json!({"id":1,"connect":{"token":t,"subs":{"chat:srv":{"recover":true,"offset":1,"epoch":epoch}}}})
            .to_string(),
    );
    let v = json(&d.drain(c)[0]);
    let s = &v["connect"]["subs"]["chat:srv"];
    assert_eq!(s["recovered"], true);
    assert_eq!(s["publications"].as_array().unwrap().len(), 2);
}

fn verify_with_key(cfg_key: &str, pem_pub: &str, alg: Algorithm, enc: EncodingKey) {
    let mut cfg = config_json();
    cfg["client"]["token"] = json!({ cfg_key: pem_pub });
    let mut d = Driver::with_config(cfg);
    let t = jsonwebtoken::encode(
        &Header::new(alg),
        &json!({"sub": "9", "exp": T0 + 60}),
        &enc,
    )
    .unwrap();
    let (c, out) = connect_with(&mut d, &t);
    assert!(out[0].contains(r#""ttl":60"#), "{alg:?}: {out:?}");
    assert_eq!(d.closed(c), None);
    // An HS256 token has no key here → invalid.
    let hs = d.token(json!({"sub": "9"}));
    let (c, _) = connect_with(&mut d, &hs);
    assert_eq!(d.closed(c), Some(3500));
}

#[test]
fn rsa_and_ecdsa_tokens() {
    let rsa_priv = include_str!("fixtures/rsa_private.pem");
    let rsa_pub = include_str!("fixtures/rsa_public.pem");
    for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512] {
        let enc = EncodingKey::from_rsa_pem(rsa_priv.as_bytes()).unwrap();
        verify_with_key("rsa_public_key", rsa_pub, alg, enc);
    }
    let ec_priv = include_str!("fixtures/ec_private.pem");
    let ec_pub = include_str!("fixtures/ec_public.pem");
    let enc = EncodingKey::from_ec_pem(ec_priv.as_bytes()).unwrap();
    verify_with_key("ecdsa_public_key", ec_pub, Algorithm::ES256, enc);
}

#[test]
fn hmac_variants_audience_and_issuer() {
    let mut cfg = config_json();
    cfg["client"]["token"]["audience"] = "pushwire".into();
    cfg["client"]["token"]["issuer"] = "backend".into();
    let mut d = Driver::with_config(cfg);
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let enc = EncodingKey::from_secret(SECRET.as_bytes());
        let good = jsonwebtoken::encode(
            &Header::new(alg),
            &json!({"sub": "1", "aud": "pushwire", "iss": "backend"}),
            &enc,
        )
        .unwrap();
        let (c, _) = connect_with(&mut d, &good);
        assert_eq!(d.closed(c), None, "{alg:?}");
    }
    let enc = EncodingKey::from_secret(SECRET.as_bytes());
    for claims in [
        json!({"sub": "1", "aud": "other", "iss": "backend"}),
        json!({"sub": "1", "aud": "pushwire", "iss": "other"}),
        json!({"sub": "1"}),
        json!({"sub": "1", "aud": "pushwire", "iss": "backend", "nbf": T0 + 100}),
    ] {
        let t = jsonwebtoken::encode(&Header::default(), &claims, &enc).unwrap();
        let (c, _) = connect_with(&mut d, &t);
        assert_eq!(d.closed(c), Some(3500), "{claims}");
    }
}

#[test]
fn user_connection_limit_is_3504() {
    let mut cfg = config_json();
    cfg["client"]["user_connection_limit"] = 1.into();
    let mut d = Driver::with_config(cfg);
    d.connect("1");
    let t = d.user_token("1");
    let (c, _) = connect_with(&mut d, &t);
    assert_eq!(d.closed(c), Some(3504));
}
