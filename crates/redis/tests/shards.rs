//! Channels spread over two Redis instances, and a three-master Redis
//! Cluster with sharded pub/sub between two engines.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use common::{config, engine, next_pub, wait_for, RedisCluster, RedisServer};
use pushwire_hub::broker::{PresenceEntry, PublishOptions};
use pushwire_hub::history::HistoryQuery;
use pushwire_redis::{EngineEvent, Publish, RedisEngine};
use tokio::sync::mpsc;

fn history_opts() -> PublishOptions {
    PublishOptions {
        history_size: 10,
        history_ttl: Duration::from_secs(60),
        history_meta_ttl: Duration::from_secs(60),
        ..Default::default()
    }
}

/// `a` subscribes to `n` channels in one call, `b` publishes twice to
/// each; `a` gets every one with its offset and reads it back from
/// history.
async fn cross(a: &RedisEngine, rx_a: &mut mpsc::Receiver<EngineEvent>, b: &RedisEngine, n: usize) {
    let channels: Vec<String> = (0..n).map(|i| format!("ch{i}")).collect();
    let names: Vec<&str> = channels.iter().map(String::as_str).collect();
    a.subscribe_many(&names).await.unwrap();
    for round in 1..=2u64 {
        for i in 0..n {
            let ch = format!("ch{i}");
            let r = b
                .publish(
                    &ch,
                    Bytes::from(format!("{i}")),
                    None,
                    None,
                    &history_opts(),
                )
                .await
                .unwrap();
            assert_eq!(r.position.unwrap().offset, round);
            let (json, off, _) = next_pub(rx_a, &ch).await;
            assert_eq!(
                (json, off),
                (format!("{{\"data\":{i},\"offset\":{round}}}"), round)
            );
        }
    }
    for i in 0..n {
        let h = a
            .history(
                &format!("ch{i}"),
                &HistoryQuery::default(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert_eq!(h.publications.len(), 2);
    }
}

/// After [`cross`]: `a` unsubscribes from the `n` channels in one call and
/// gets none of `b`'s next publications.
async fn uncross(
    a: &RedisEngine,
    rx_a: &mut mpsc::Receiver<EngineEvent>,
    b: &RedisEngine,
    n: usize,
) {
    let channels: Vec<String> = (0..n).map(|i| format!("ch{i}")).collect();
    let names: Vec<&str> = channels.iter().map(String::as_str).collect();
    a.unsubscribe_many(&names).await.unwrap();
    for ch in &channels {
        b.publish(ch, Bytes::from_static(b"3"), None, None, &history_opts())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(ev) = rx_a.try_recv() {
        assert!(!matches!(ev, EngineEvent::Publication { .. }), "{ev:?}");
    }
}

fn meta_keys(s: &RedisServer) -> HashSet<String> {
    s.cli(&["--raw", "keys", "t.meta.*"])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn channels_spread_over_two_instances() {
    let s1 = RedisServer::start();
    let s2 = RedisServer::start();
    let cfg = config(vec![s1.url(), s2.url()]);
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, _rx_b) = engine(cfg, "b").await;
    cross(&a, &mut rx_a, &b, 20).await;
    let (k1, k2) = (meta_keys(&s1), meta_keys(&s2));
    assert!(!k1.is_empty() && !k2.is_empty(), "{k1:?} {k2:?}");
    assert!(k1.is_disjoint(&k2));
    assert_eq!(k1.len() + k2.len(), 20);
    // Control messages reach every node whatever the shards.
    b.publish_control(Bytes::from_static(b"c")).await.unwrap();
    wait_for(&mut rx_a, |ev| {
        matches!(ev, EngineEvent::Control(_)).then_some(())
    })
    .await;
    uncross(&a, &mut rx_a, &b, 20).await;
}

#[tokio::test]
async fn redis_cluster_with_sharded_pubsub() {
    let cluster = RedisCluster::start();
    let mut cfg = config(cluster.urls());
    cfg.cluster = true;
    cfg.health_check_interval = Duration::from_millis(100);
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, mut rx_b) = engine(cfg, "b").await;
    cross(&a, &mut rx_a, &b, 12).await;
    // Health checks on a healthy cluster report nothing.
    common::assert_nothing_lost(&mut rx_a, 500).await;
    // The keys live on several masters, and the pub/sub is sharded.
    let holding = cluster
        .nodes
        .iter()
        .filter(|n| !meta_keys(n).is_empty())
        .count();
    assert!(holding >= 2, "keys on {holding} node(s)");
    let shard_channels: usize = cluster
        .nodes
        .iter()
        .map(|n| {
            n.cli(&["--raw", "pubsub", "shardchannels", "t.pub.*"])
                .lines()
                .filter(|l| !l.is_empty())
                .count()
        })
        .sum();
    assert_eq!(shard_channels, 12);
    // Presence, joins and control in cluster mode.
    let e = PresenceEntry {
        client: "c1".into(),
        user: "u1".into(),
        info: Bytes::from_static(b"{}"),
    };
    b.add_presence("ch3", &e).await.unwrap();
    assert_eq!(a.presence("ch3").await.unwrap(), [e]);
    assert_eq!(a.presence_stats("ch3").await.unwrap().num_users, 1);
    b.publish_join("ch5", Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let ch = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Join { channel, .. } => Some(channel),
        _ => None,
    })
    .await;
    assert_eq!(&*ch, "ch5");
    a.publish_control_to("b", Bytes::from_static(b"to-b"))
        .await
        .unwrap();
    let m = wait_for(&mut rx_b, |ev| match ev {
        EngineEvent::Control(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(&m[..], b"to-b");
    // Several publishes at once: each channel's in the order given.
    let o = history_opts();
    let publishes: Vec<Publish> = (0..6)
        .map(|i| Publish {
            channel: ["pm0", "pm1"][i % 2],
            data: Bytes::from(format!("{i}")),
            info: None,
            tags: None,
            opts: &o,
        })
        .collect();
    let offsets: Vec<u64> = b
        .publish_many(&publishes)
        .await
        .into_iter()
        .map(|r| r.unwrap().position.unwrap().offset)
        .collect();
    assert_eq!(offsets, [1, 1, 2, 2, 3, 3]);
    uncross(&a, &mut rx_a, &b, 12).await;
}

#[tokio::test]
async fn cluster_master_restarted_channels_lost_then_resubscribed() {
    let mut cluster = RedisCluster::start();
    let mut cfg = config(cluster.urls());
    cfg.cluster = true;
    cfg.command_timeout = Duration::from_millis(500);
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, _rx_b) = engine(cfg, "b").await;
    let n = 12;
    for i in 0..n {
        a.subscribe(&format!("ch{i}")).await.unwrap();
    }
    cluster.nodes[0].kill();
    let lost = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Lost { channels } => Some(channels),
        _ => None,
    })
    .await;
    assert!(!lost.is_empty());
    cluster.nodes[0].restart();
    // Every channel comes back (batches), then publications flow again.
    let mut back = HashSet::new();
    while back.len() < n {
        let chans = wait_for(&mut rx_a, |ev| match ev {
            EngineEvent::Resubscribed { channels } => Some(channels),
            _ => None,
        })
        .await;
        back.extend(chans.iter().map(|c| c.to_string()));
    }
    for i in 0..n {
        let ch = format!("ch{i}");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            match b
                .publish(&ch, Bytes::from_static(b"1"), None, None, &history_opts())
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    assert!(e.is_temporary(), "{e}");
                    assert!(std::time::Instant::now() < deadline, "{ch}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        next_pub(&mut rx_a, &ch).await;
    }
}

#[tokio::test]
async fn one_shard_down_loses_only_its_channels() {
    let mut s1 = RedisServer::start();
    let s2 = RedisServer::start();
    let mut cfg = config(vec![s1.url(), s2.url()]);
    cfg.command_timeout = Duration::from_millis(500);
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, _rx_b) = engine(cfg, "b").await;
    cross(&a, &mut rx_a, &b, 10).await;
    let on_s2: HashSet<String> = (0..10)
        .map(|i| format!("ch{i}"))
        .filter(|c| meta_keys(&s2).contains(&format!("t.meta.{{{c}}}")))
        .collect();
    assert!(!on_s2.is_empty() && on_s2.len() < 10, "{on_s2:?}");
    s1.kill();
    let lost: HashSet<String> = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Lost { channels } => Some(channels),
        _ => None,
    })
    .await
    .iter()
    .map(|c| c.to_string())
    .collect();
    let want: HashSet<String> = (0..10)
        .map(|i| format!("ch{i}"))
        .filter(|c| !on_s2.contains(c))
        .collect();
    assert_eq!(lost, want);
    // The other shard works on.
    let ch = on_s2.iter().next().unwrap();
    b.publish(ch, Bytes::from_static(b"9"), None, None, &history_opts())
        .await
        .unwrap();
    assert_eq!(next_pub(&mut rx_a, ch).await.1, 3);
}
