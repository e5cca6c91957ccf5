//! Two engines on one Redis = two nodes: publications, joins, control
//! messages and presence cross between them.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{config, engine, next_pub, wait_for, RedisServer};
use pushwire_hub::broker::{PresenceEntry, PresenceStats, PublishOptions};
use pushwire_redis::EngineEvent;

#[tokio::test]
async fn publications_joins_and_control_cross_nodes() {
    let server = RedisServer::start();
    let mut cfg = config(vec![server.url()]);
    cfg.health_check_interval = Duration::from_millis(100);
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, mut rx_b) = engine(cfg, "b").await;
    a.subscribe("news").await.unwrap();
    a.subscribe("news").await.unwrap(); // idempotent
    a.subscribe("other").await.unwrap();
    let o = PublishOptions {
        history_size: 10,
        history_ttl: Duration::from_secs(60),
        history_meta_ttl: Duration::from_secs(60),
        ..Default::default()
    };
    let r = b
        .publish("news", Bytes::from_static(b"{\"x\":1}"), None, None, &o)
        .await
        .unwrap();
    let got = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Publication {
            channel,
            publication,
            epoch,
        } if &*channel == "news" => Some((publication, epoch)),
        _ => None,
    })
    .await;
    assert_eq!(
        got.0, r.publication,
        "the same bytes as the publishing node built"
    );
    assert_eq!(got.1, r.position.unwrap().epoch);

    // Without history: offset 0, empty epoch.
    b.publish(
        "news",
        Bytes::from_static(b"2"),
        None,
        None,
        &PublishOptions::default(),
    )
    .await
    .unwrap();
    let (json, off, epoch) = next_pub(&mut rx_a, "news").await;
    assert_eq!(
        (json.as_str(), off, epoch.as_str()),
        ("{\"data\":2}", 0, "")
    );

    // Joins and leaves.
    b.publish_join("news", Bytes::from_static(b"{\"client\":\"c\"}"))
        .await
        .unwrap();
    b.publish_leave("news", Bytes::from_static(b"{\"client\":\"c\"}"))
        .await
        .unwrap();
    let j = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Join { channel, info } => Some((channel, info)),
        _ => None,
    })
    .await;
    assert_eq!((&*j.0, &j.1[..]), ("news", &b"{\"client\":\"c\"}"[..]));
    wait_for(&mut rx_a, |ev| {
        matches!(ev, EngineEvent::Leave { .. }).then_some(())
    })
    .await;

    // Control: to every node (the sender too), and to one node.
    b.publish_control_to("a", Bytes::from_static(b"to-a"))
        .await
        .unwrap();
    b.publish_control(Bytes::from_static(b"all")).await.unwrap();
    let control = |ev| match ev {
        EngineEvent::Control(m) => Some(m),
        _ => None,
    };
    assert_eq!(&wait_for(&mut rx_a, control).await[..], b"to-a");
    assert_eq!(&wait_for(&mut rx_a, control).await[..], b"all");
    assert_eq!(
        &wait_for(&mut rx_b, control).await[..],
        b"all",
        "b got nothing meant for a"
    );

    // After unsubscribing, a no longer gets "news".
    a.unsubscribe("news").await.unwrap();
    b.publish("news", Bytes::from_static(b"3"), None, None, &o)
        .await
        .unwrap();
    b.publish("other", Bytes::from_static(b"4"), None, None, &o)
        .await
        .unwrap();
    let next = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Publication { channel, .. } => Some(channel),
        _ => None,
    })
    .await;
    assert_eq!(&*next, "other");
    common::assert_nothing_lost(&mut rx_a, 400).await;
}

fn entry(client: &str, user: &str) -> PresenceEntry {
    PresenceEntry {
        client: client.into(),
        user: user.into(),
        info: Bytes::from(format!("{{\"client\":\"{client}\",\"user\":\"{user}\"}}")),
    }
}

#[tokio::test]
async fn presence_across_nodes_and_expiry() {
    let server = RedisServer::start();
    let mut cfg = config(vec![server.url()]);
    cfg.presence_ttl = Duration::from_millis(800);
    let (a, _rx_a) = engine(cfg.clone(), "a").await;
    let (b, _rx_b) = engine(cfg, "b").await;
    a.add_presence("room", &entry("c1", "u1")).await.unwrap();
    b.add_presence("room", &entry("c2", "u1")).await.unwrap();
    b.add_presence("room", &entry("c3", "u2")).await.unwrap();
    b.add_presence("room", &entry("c3", "u2")).await.unwrap(); // a refresh
    let mut listed = a.presence("room").await.unwrap();
    listed.sort_by(|x, y| x.client.cmp(&y.client));
    assert_eq!(
        listed,
        [entry("c1", "u1"), entry("c2", "u1"), entry("c3", "u2")]
    );
    let stats = |c, u| PresenceStats {
        num_clients: c,
        num_users: u,
    };
    assert_eq!(b.presence_stats("room").await.unwrap(), stats(3, 2));
    a.remove_presence("room", "c3").await.unwrap();
    assert_eq!(a.presence_stats("room").await.unwrap(), stats(2, 1));
    // The same client under another user moves its count.
    a.add_presence("room", &entry("c1", "u3")).await.unwrap();
    assert_eq!(a.presence_stats("room").await.unwrap(), stats(2, 2));
    assert_eq!(a.presence("other").await.unwrap(), []);
    // Not refreshed: gone after the TTL.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(b.presence("room").await.unwrap(), []);
    assert_eq!(b.presence_stats("room").await.unwrap(), stats(0, 0));
}

#[tokio::test]
async fn a_full_event_queue_reports_the_channel_lost() {
    let server = RedisServer::start();
    let mut cfg = config(vec![server.url()]);
    cfg.event_capacity = 4;
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, _rx_b) = engine(cfg, "b").await;
    a.subscribe("busy").await.unwrap();
    for n in 0..30 {
        b.publish(
            "busy",
            Bytes::from(n.to_string()),
            None,
            None,
            &PublishOptions::default(),
        )
        .await
        .unwrap();
    }
    // Let every push reach node a before reading: all but 4 find the queue full.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A few publications, then the channel reported lost.
    let mut seen = 0;
    let lost = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Publication { .. } => {
            seen += 1;
            None
        }
        EngineEvent::Lost { channels } => Some(channels),
        _ => None,
    })
    .await;
    assert_eq!(lost, [std::sync::Arc::<str>::from("busy")]);
    assert!(seen < 30, "{seen}");
}
