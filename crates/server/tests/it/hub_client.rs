//! `pushwire::hub::Client` against a hub served on loopback: it receives
//! what the server API publishes, answers the hub's pings, and when the
//! hub drops it with a reconnect code it comes back and recovers what was
//! published meanwhile, once each and in order — or says that it could
//! not (`recovered: false`); a terminal code stops it.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Response, StatusCode};
use hyper::service::service_fn;
use pushwire::hub::client::{
    ApiClient, Backoff, ClientError, ClientOptions, ConnectionState, Subscription,
    SubscriptionEvent, TokenSource,
};
use pushwire::hub::{Client, Config, Hub};
use pushwire::{Body, Tls};
use pushwire_hub::jwt::{mint_hs256, MintClaims};
use serde_json::{json, Value};

use crate::common::hub::serve;
use crate::common::server::TestServer;
use crate::common::LIMIT;

const SECRET: &str = "hub-client-test-secret";
const API_KEY: &str = "hub-client-api-key";

/// A hub with a `feed` namespace that keeps 100 publications and a
/// `short` one that keeps 5; `ping` is its ping interval.
fn hub(ping: &str) -> Hub {
    let config = json!({
        "client": {
            "token": {"hmac_secret_key": SECRET},
            "ping_interval": ping,
            "pong_timeout": "500ms",
        },
        "http_api": {"key": API_KEY},
        "channel": {"namespaces": [
            {"name": "feed", "history_size": 100, "history_ttl": "60s",
             "force_recovery": true, "allow_subscribe_for_client": true,
             "allow_publish_for_client": true, "allow_history_for_subscriber": true,
             "presence": true, "allow_presence_for_subscriber": true},
            {"name": "room", "join_leave": true, "force_push_join_leave": true,
             "allow_subscribe_for_client": true},
            {"name": "short", "history_size": 5, "history_ttl": "60s",
             "force_recovery": true, "allow_subscribe_for_client": true},
        ]},
    });
    let config: Config = serde_json::from_value(config).unwrap();
    Hub::start(config).unwrap()
}

fn token(user: &str) -> String {
    mint_hs256(SECRET.as_bytes(), &MintClaims::new(user.to_string())).unwrap()
}

/// Reconnects quickly, so that the tests do not wait on the backoff.
fn options(user: &str) -> ClientOptions {
    ClientOptions::new().token(token(user)).backoff(Backoff {
        min: Duration::from_millis(50),
        max: Duration::from_millis(200),
    })
}

async fn next(subscription: &mut Subscription) -> SubscriptionEvent {
    tokio::time::timeout(LIMIT, subscription.next())
        .await
        .expect("an event in time")
        .expect("the subscription goes on")
}

/// The next publication's `n`, its offset checked to be `offset`.
async fn next_publication(subscription: &mut Subscription) -> (u64, Value) {
    match next(subscription).await {
        SubscriptionEvent::Publication(p) => {
            assert_eq!(p.channel, subscription.channel());
            (p.offset.expect("an offset"), p.data)
        }
        other => panic!("expected a publication, got {other:?}"),
    }
}

/// The server API: a disconnect of `user` with `code` and then
/// `publications` publishes to `channel`, in one batch, so that the hub
/// runs them all before the client can be back.
async fn disconnect_then_publish(
    api: &ApiClient,
    user: &str,
    code: u32,
    channel: &str,
    from: u64,
    publications: u64,
) {
    let mut commands =
        vec![json!({"disconnect": {"user": user, "disconnect": {"code": code, "reason": "test"}}})];
    for n in from..from + publications {
        commands.push(json!({"publish": {"channel": channel, "data": {"n": n}}}));
    }
    let answer = api
        .call("batch", &json!({"commands": commands}))
        .await
        .unwrap_or_else(|e| panic!("batch: {e}"));
    let replies = answer["replies"].as_array().expect("batch replies");
    assert_eq!(replies.len() as u64, publications + 1, "{answer}");
    assert!(replies.iter().all(|r| r.get("error").is_none()), "{answer}");
}

#[tokio::test]
async fn publications_arrive_and_are_recovered_once_each_in_order_after_a_reconnect() {
    let hub = hub("25s");
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let api = ApiClient::new(&base, Some(API_KEY.into())).unwrap();
    let client = Client::connect(&base, options("alice")).await.unwrap();
    let ConnectionState::Connected { client: first_id } = client.state() else {
        panic!("connected: {:?}", client.state());
    };
    let mut feed = client.subscribe("feed:1").await.unwrap();
    assert_eq!(
        next(&mut feed).await,
        SubscriptionEvent::Subscribed {
            was_recovering: false,
            recovered: false
        }
    );

    let result = api.publish("feed:1", json!({"n": 1})).await.unwrap();
    assert_eq!(result["offset"], 1, "{result}");
    assert_eq!(next_publication(&mut feed).await, (1, json!({"n": 1})));

    // 3011 "force reconnect", then 20 publications while it is away.
    let mut states = client.state_changes();
    disconnect_then_publish(&api, "alice", 3011, "feed:1", 2, 20).await;
    let recovered = next(&mut feed).await;
    assert_eq!(
        recovered,
        SubscriptionEvent::Subscribed {
            was_recovering: true,
            recovered: true
        }
    );
    for n in 2..=21 {
        assert_eq!(next_publication(&mut feed).await, (n, json!({"n": n})));
    }
    // A new connection, and live publications again after the recovered ones.
    tokio::time::timeout(
        LIMIT,
        states.wait_for(|s| matches!(s, ConnectionState::Connected { .. })),
    )
    .await
    .unwrap()
    .unwrap();
    let ConnectionState::Connected { client: second_id } = client.state() else {
        panic!("connected again: {:?}", client.state());
    };
    assert_ne!(first_id, second_id, "a new connection");
    client.publish("feed:1", json!({"n": 22})).await.unwrap();
    assert_eq!(next_publication(&mut feed).await, (22, json!({"n": 22})));

    // Nothing twice: history agrees, and nothing else is waiting.
    let history = client.history("feed:1", 100).await.unwrap();
    let offsets: Vec<u64> = history
        .publications
        .iter()
        .map(|p| p.offset.unwrap())
        .collect();
    assert_eq!(offsets, (1..=22).collect::<Vec<_>>());
    assert!(
        tokio::time::timeout(Duration::from_millis(200), feed.next())
            .await
            .is_err(),
        "no duplicate after the last publication"
    );
    client.close().await;
    assert!(matches!(
        client.state(),
        ConnectionState::Disconnected { code: 3000, .. }
    ));
}

#[tokio::test]
async fn a_gap_longer_than_the_history_is_reported_as_not_recovered() {
    let hub = hub("25s");
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let api = ApiClient::new(&base, Some(API_KEY.into())).unwrap();
    let client = Client::connect(&base, options("bob")).await.unwrap();
    let mut short = client.subscribe("short:1").await.unwrap();
    assert!(matches!(
        next(&mut short).await,
        SubscriptionEvent::Subscribed { .. }
    ));
    api.publish("short:1", json!({"n": 1})).await.unwrap();
    assert_eq!(next_publication(&mut short).await.0, 1);

    // 20 publications while away, the history keeps 5: the client must
    // say so rather than go on as if nothing were missing.
    disconnect_then_publish(&api, "bob", 3011, "short:1", 2, 20).await;
    assert_eq!(
        next(&mut short).await,
        SubscriptionEvent::Subscribed {
            was_recovering: true,
            recovered: false
        }
    );
    api.publish("short:1", json!({"n": 22})).await.unwrap();
    assert_eq!(next_publication(&mut short).await, (22, json!({"n": 22})));
}

#[tokio::test]
async fn a_terminal_disconnect_code_stops_the_client() {
    let hub = hub("25s");
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let api = ApiClient::new(&base, Some(API_KEY.into())).unwrap();
    let client = Client::connect(&base, options("carol")).await.unwrap();
    let mut feed = client.subscribe("feed:2").await.unwrap();
    next(&mut feed).await;

    // 3503 "force disconnect": no reconnect.
    disconnect_then_publish(&api, "carol", 3503, "feed:2", 1, 0).await;
    match next(&mut feed).await {
        SubscriptionEvent::Unsubscribed { code, .. } => assert_eq!(code, 3503),
        other => panic!("expected the end of the subscription, got {other:?}"),
    }
    assert!(tokio::time::timeout(LIMIT, feed.next())
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        client.state(),
        ConnectionState::Disconnected { code: 3503, .. }
    ));
    let error = client.publish("feed:2", json!(1)).await.unwrap_err();
    assert!(
        matches!(error, ClientError::Disconnected { code: 3503, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn the_client_answers_pings_and_stays_connected() {
    // Pings every second, 500 ms to answer: a client that did not answer
    // would be cut (3012) within two seconds and come back as another
    // connection.
    let hub = hub("1s");
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let client = Client::connect(&base, options("dave")).await.unwrap();
    let before = client.state();
    let mut feed = client.subscribe("feed:3").await.unwrap();
    next(&mut feed).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(client.state(), before, "the same connection");
    client.publish("feed:3", json!("still here")).await.unwrap();
    assert_eq!(next_publication(&mut feed).await.1, json!("still here"));
    let presence = client.presence("feed:3").await.unwrap();
    assert_eq!(presence.len(), 1);
    assert!(presence.values().all(|info| info.user == "dave"));
}

#[tokio::test]
async fn bad_credentials_are_clear_errors() {
    let hub = hub("25s");
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    // A token signed with another secret: 3500, no reconnect.
    let forged = mint_hs256(b"another secret", &MintClaims::new("eve".to_string())).unwrap();
    let error = Client::connect(&base, ClientOptions::new().token(forged))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Disconnected { code: 3500, .. }),
        "{error}"
    );
    // The server API with a wrong key: 401.
    let api = ApiClient::new(&base, Some("wrong".into())).unwrap();
    let error = api.publish("feed:1", json!(1)).await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized), "{error}");
    // A channel the hub does not know: its error code.
    let api = ApiClient::new(&base, Some(API_KEY.into())).unwrap();
    let error = api.publish("nowhere:1", json!(1)).await.unwrap_err();
    assert_eq!(error.code(), Some(102), "{error}");
}

/// A token for `user` that expires `seconds` from now.
fn expiring_token(user: &str, seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = MintClaims::new(user.to_string());
    claims.exp = Some(now + seconds);
    mint_hs256(SECRET.as_bytes(), &claims).unwrap()
}

#[tokio::test]
async fn a_token_source_refreshes_the_connection_before_it_expires() {
    // Tokens live 2 s and the hub closes an expired connection 1 s after
    // its expiry (3005): the client must send `refresh` with a new token
    // from its source to stay on the same connection.
    let config = json!({
        "client": {
            "token": {"hmac_secret_key": SECRET},
            "expired_close_delay": "1s",
        },
        "channel": {"namespaces": [
            {"name": "feed", "allow_subscribe_for_client": true,
             "allow_publish_for_client": true},
        ]},
    });
    let hub = Hub::start(serde_json::from_value(config).unwrap()).unwrap();
    let server = serve(&hub).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let source: TokenSource = Arc::new(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(expiring_token("erin", 2)) })
    });
    let options = options("erin")
        .token(expiring_token("erin", 2))
        .token_source(source);
    let client = Client::connect(&format!("ws://{}", server.addr), options)
        .await
        .unwrap();
    let before = client.state();
    let mut feed = client.subscribe("feed:4").await.unwrap();
    next(&mut feed).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert!(calls.load(Ordering::Relaxed) >= 1, "the source was asked");
    assert_eq!(client.state(), before, "the same connection");
    client.publish("feed:4", json!("fresh")).await.unwrap();
    match next(&mut feed).await {
        SubscriptionEvent::Publication(p) => assert_eq!(p.data, json!("fresh")),
        other => panic!("expected the publication, got {other:?}"),
    }
}

#[tokio::test]
async fn over_tls_with_a_private_ca() {
    let tls = Tls::self_signed(["localhost"]).unwrap();
    let ca =
        std::env::temp_dir().join(format!("pushwire-hub-client-ca-{}.pem", std::process::id()));
    tls.write_certificate(&ca).unwrap();
    let hub = hub("25s");
    let hub_for_service = hub.clone();
    let service = service_fn(move |req| {
        let hub = hub_for_service.clone();
        async move {
            Ok::<_, Infallible>(hub.route(req).await.unwrap_or_else(|_| {
                let mut response = Response::new(Body::from("not found"));
                *response.status_mut() = StatusCode::NOT_FOUND;
                response
            }))
        }
    });
    let server = TestServer::serve(|s| s.tls(tls), (), service).await;
    let base = format!("https://localhost:{}", server.addr.port());
    let api = ApiClient::new(&base, Some(API_KEY.into()))
        .unwrap()
        .ca_file(&ca);
    let options = options("frank").ca_file(&ca);
    let client = Client::connect(&base.replace("https", "wss"), options)
        .await
        .unwrap();
    let mut feed = client.subscribe("feed:5").await.unwrap();
    next(&mut feed).await;
    api.publish("feed:5", json!({"over": "tls"})).await.unwrap();
    assert_eq!(
        next_publication(&mut feed).await,
        (1, json!({"over": "tls"}))
    );
    // Without the CA, the certificate is not trusted.
    let error = Client::connect(&base, ClientOptions::new().token(token("frank")))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error}");
    let _ = std::fs::remove_file(&ca);
}

#[tokio::test]
async fn joins_and_leaves_arrive_and_a_dropped_subscription_unsubscribes() {
    let hub = hub("25s");
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let grace = Client::connect(&base, options("grace")).await.unwrap();
    let heidi = Client::connect(&base, options("heidi")).await.unwrap();
    let mut room = grace.subscribe("room:1").await.unwrap();
    next(&mut room).await;
    let theirs = heidi.subscribe("room:1").await.unwrap();
    // grace may see her own join first, then heidi's.
    let joined = loop {
        match next(&mut room).await {
            SubscriptionEvent::Join(info) if info.user == "heidi" => break info,
            SubscriptionEvent::Join(_) => continue,
            other => panic!("expected a join, got {other:?}"),
        }
    };
    drop(theirs);
    match next(&mut room).await {
        SubscriptionEvent::Leave(info) => assert_eq!(info, joined),
        other => panic!("expected heidi's leave, got {other:?}"),
    }
    // Subscribing again after the drop is a fresh subscription.
    let mut again = heidi.subscribe("room:1").await.unwrap();
    assert!(matches!(
        next(&mut again).await,
        SubscriptionEvent::Subscribed { .. }
    ));
}
