//! `pushwire::hub::Client` over its other transports, against a hub
//! served on loopback: a WebSocket over HTTP/2 (RFC 8441, h2c with prior
//! knowledge and `wss://` with ALPN `h2`) and the SSE emulation (over
//! HTTP/1.1 and HTTP/2). On each, publications arrive, the client's own
//! commands work, and when the hub drops the connection with a reconnect
//! code the client comes back over the same transport and recovers what
//! was published meanwhile, once each and in order. With a fallback
//! order, a hub that refuses WebSockets is reached over SSE.

use std::convert::Infallible;
use std::time::Duration;

use http::{Response, StatusCode};
use hyper::service::service_fn;
use pushwire::hub::client::{
    ApiClient, Backoff, ClientOptions, ConnectionState, Subscription, SubscriptionEvent, Transport,
};
use pushwire::hub::{Client, Config, Hub};
use pushwire::server::StatsSnapshot;
use pushwire::{Body, Tls};
use pushwire_hub::jwt::{mint_hs256, MintClaims};
use serde_json::{json, Value};

use crate::common::hub::serve;
use crate::common::server::TestServer;
use crate::common::LIMIT;

const SECRET: &str = "hub-client-transports-secret";
const API_KEY: &str = "hub-client-transports-key";

/// A hub whose `feed` namespace keeps 100 publications and recovers.
fn hub() -> Hub {
    hub_pinging("25s")
}

/// [`hub`] with pings every `ping`, each to be answered within 500 ms.
fn hub_pinging(ping: &str) -> Hub {
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
             "allow_publish_for_client": true, "allow_history_for_subscriber": true},
        ]},
    });
    let config: Config = serde_json::from_value(config).unwrap();
    Hub::start(config).unwrap()
}

/// Options for `user`, reconnecting quickly.
fn options(user: &str) -> ClientOptions {
    let token = mint_hs256(SECRET.as_bytes(), &MintClaims::new(user.to_string())).unwrap();
    ClientOptions::new().token(token).backoff(Backoff {
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

/// The next publication: its offset and data.
async fn next_publication(subscription: &mut Subscription) -> (u64, Value) {
    match next(subscription).await {
        SubscriptionEvent::Publication(p) => (p.offset.expect("an offset"), p.data),
        other => panic!("expected a publication, got {other:?}"),
    }
}

/// The hub's server API: a disconnect of `user` with 3011 (reconnect)
/// and then publications `from..from + count` to `channel`, in one
/// batch, so that they are all made before the client is back.
async fn disconnect_then_publish(
    api: &ApiClient,
    user: &str,
    channel: &str,
    from: u64,
    count: u64,
) {
    let mut commands =
        vec![json!({"disconnect": {"user": user, "disconnect": {"code": 3011, "reason": "test"}}})];
    for n in from..from + count {
        commands.push(json!({"publish": {"channel": channel, "data": {"n": n}}}));
    }
    let answer = api
        .call("batch", &json!({"commands": commands}))
        .await
        .unwrap();
    let replies = answer["replies"].as_array().expect("batch replies");
    assert!(replies.iter().all(|r| r.get("error").is_none()), "{answer}");
}

/// The whole story on one transport: subscribe, a publication from the
/// API and one from the client itself, a reconnect forced by the hub
/// with 20 publications made meanwhile (recovered once each, in order),
/// a new connection, and nothing twice (history agrees).
async fn subscribe_publish_recover(
    base: &str,
    api: &ApiClient,
    user: &str,
    options: ClientOptions,
) {
    let channel = format!("feed:{user}");
    let client = Client::connect(base, options).await.unwrap();
    let ConnectionState::Connected { client: first } = client.state() else {
        panic!("connected: {:?}", client.state());
    };
    let mut feed = client.subscribe(&channel).await.unwrap();
    assert_eq!(
        next(&mut feed).await,
        SubscriptionEvent::Subscribed {
            was_recovering: false,
            recovered: false
        }
    );
    api.publish(&channel, json!({"n": 1})).await.unwrap();
    assert_eq!(next_publication(&mut feed).await, (1, json!({"n": 1})));
    client.publish(&channel, json!({"n": 2})).await.unwrap();
    assert_eq!(next_publication(&mut feed).await, (2, json!({"n": 2})));

    let mut states = client.state_changes();
    disconnect_then_publish(api, user, &channel, 3, 20).await;
    assert_eq!(
        next(&mut feed).await,
        SubscriptionEvent::Subscribed {
            was_recovering: true,
            recovered: true
        }
    );
    for n in 3..=22 {
        assert_eq!(next_publication(&mut feed).await, (n, json!({"n": n})));
    }
    tokio::time::timeout(
        LIMIT,
        states.wait_for(|s| matches!(s, ConnectionState::Connected { .. })),
    )
    .await
    .unwrap()
    .unwrap();
    let ConnectionState::Connected { client: second } = client.state() else {
        panic!("connected again: {:?}", client.state());
    };
    assert_ne!(first, second, "a new connection");
    client.publish(&channel, json!({"n": 23})).await.unwrap();
    assert_eq!(next_publication(&mut feed).await, (23, json!({"n": 23})));

    let history = client.history(&channel, 100).await.unwrap();
    let offsets: Vec<u64> = history
        .publications
        .iter()
        .map(|p| p.offset.unwrap())
        .collect();
    assert_eq!(offsets, (1..=23).collect::<Vec<_>>());
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

/// WebSockets the server accepted: (HTTP/1.1 upgrades, extended CONNECTs).
fn websockets(stats: &StatsSnapshot) -> (u64, u64) {
    (stats.h1_upgrades, stats.extended_connects)
}

#[tokio::test]
async fn over_an_http2_websocket_with_prior_knowledge() {
    let hub = hub();
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let api = ApiClient::new(&base, Some(API_KEY.into())).unwrap();
    subscribe_publish_recover(&base, &api, "h2c", options("h2c").http2(true)).await;
    // Both connections were extended CONNECTs, none an HTTP/1.1 upgrade.
    assert_eq!(websockets(&server.stats.snapshot()), (0, 2));
}

#[tokio::test]
async fn over_sse_with_http1() {
    let hub = hub();
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let api = ApiClient::new(&base, Some(API_KEY.into())).unwrap();
    let options = options("sse").transport(Transport::Sse);
    subscribe_publish_recover(&base, &api, "sse", options).await;
    assert_eq!(websockets(&server.stats.snapshot()), (0, 0), "no WebSocket");
}

#[tokio::test]
async fn over_sse_with_http2() {
    let hub = hub();
    let server = serve(&hub).await;
    let base = format!("http://{}/connection/sse", server.addr);
    let api = ApiClient::new(&format!("http://{}", server.addr), Some(API_KEY.into())).unwrap();
    let options = options("sseh2").transport(Transport::Sse).http2(true);
    subscribe_publish_recover(&base, &api, "sseh2", options).await;
    assert_eq!(websockets(&server.stats.snapshot()), (0, 0), "no WebSocket");
}

#[tokio::test]
async fn pings_are_answered_on_every_transport() {
    // Pings every second, 500 ms to answer: a client that did not answer
    // (over SSE, with a POST) would be cut (3012) within two seconds and
    // come back as another connection.
    let hub = hub_pinging("1s");
    let server = serve(&hub).await;
    let base = format!("http://{}", server.addr);
    let mut clients = Vec::new();
    for (user, options) in [
        ("ping-h2", options("ping-h2").http2(true)),
        ("ping-sse", options("ping-sse").transport(Transport::Sse)),
        (
            "ping-sse-h2",
            options("ping-sse-h2").transport(Transport::Sse).http2(true),
        ),
    ] {
        let client = Client::connect(&base, options).await.unwrap();
        let channel = format!("feed:{user}");
        let mut feed = client.subscribe(&channel).await.unwrap();
        next(&mut feed).await;
        clients.push((client.state(), client, channel, feed));
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for (before, client, channel, mut feed) in clients {
        assert_eq!(client.state(), before, "{channel}: the same connection");
        client.publish(&channel, json!("still here")).await.unwrap();
        assert_eq!(next_publication(&mut feed).await.1, json!("still here"));
    }
}

/// A server for `hub` on which `/connection/websocket` is not found, as
/// behind a proxy that blocks WebSockets.
async fn serve_without_websockets(hub: &Hub) -> TestServer<()> {
    let hub = hub.clone();
    let service = service_fn(move |req: http::Request<pushwire::RequestBody>| {
        let hub = hub.clone();
        async move {
            let blocked = req.uri().path() == "/connection/websocket";
            let answer = if blocked {
                Err(req)
            } else {
                hub.route(req).await
            };
            Ok::<_, Infallible>(answer.unwrap_or_else(|_| {
                let mut response = Response::new(Body::from("not found"));
                *response.status_mut() = StatusCode::NOT_FOUND;
                response
            }))
        }
    });
    TestServer::serve(|server| server, (), service).await
}

#[tokio::test]
async fn a_blocked_websocket_falls_back_to_sse_and_reconnects_over_it() {
    let hub = hub();
    let server = serve_without_websockets(&hub).await;
    let base = format!("http://{}", server.addr);
    let api = ApiClient::new(&base, Some(API_KEY.into())).unwrap();
    // WebSocket alone fails on the first connect, with the reason.
    let error = Client::connect(&base, options("fallback"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
    let options = options("fallback").transports([Transport::WebSocket, Transport::Sse]);
    subscribe_publish_recover(&base, &api, "fallback", options).await;
    assert_eq!(websockets(&server.stats.snapshot()), (0, 0));
}

#[tokio::test]
async fn over_tls_the_websocket_takes_http2_by_alpn() {
    let tls = Tls::self_signed(["localhost"]).unwrap();
    let ca = std::env::temp_dir().join(format!(
        "pushwire-hub-client-h2-ca-{}.pem",
        std::process::id()
    ));
    tls.write_certificate(&ca).unwrap();
    let hub = hub();
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
    let base = format!("wss://localhost:{}", server.addr.port());
    let api = ApiClient::new(&base.replace("wss", "https"), Some(API_KEY.into()))
        .unwrap()
        .ca_file(&ca);
    let client = Client::connect(&base, options("alpn").ca_file(&ca).http2(true))
        .await
        .unwrap();
    let mut feed = client.subscribe("feed:alpn").await.unwrap();
    next(&mut feed).await;
    api.publish("feed:alpn", json!({"over": "h2"}))
        .await
        .unwrap();
    assert_eq!(
        next_publication(&mut feed).await,
        (1, json!({"over": "h2"}))
    );
    assert_eq!(websockets(&server.stats.snapshot()), (0, 1));
    client.close().await;
    let _ = std::fs::remove_file(&ca);
}
