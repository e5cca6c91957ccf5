//! Offsets, epochs, trimming, TTLs, idempotency and history queries against
//! a real redis-server.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::{config, engine, RedisServer};
use pushwire_hub::broker::PublishOptions;
use pushwire_hub::history::{HistoryQuery, StreamPosition};
use pushwire_redis::{ErrorKind, Publish, RedisEngine};

fn opts(size: usize, ttl_ms: u64, meta_ms: u64) -> PublishOptions {
    PublishOptions {
        history_size: size,
        history_ttl: Duration::from_millis(ttl_ms),
        history_meta_ttl: Duration::from_millis(meta_ms),
        ..Default::default()
    }
}

async fn publish(e: &RedisEngine, ch: &str, n: u32, o: &PublishOptions) -> (u64, String) {
    let r = e
        .publish(ch, Bytes::from(format!("{{\"n\":{n}}}")), None, None, o)
        .await
        .unwrap();
    let p = r.position.unwrap();
    assert_eq!(r.publication.offset, p.offset);
    (p.offset, p.epoch)
}

fn offsets(r: &pushwire_hub::history::HistoryResult) -> Vec<u64> {
    r.publications.iter().map(|p| p.offset).collect()
}

const META: Duration = Duration::from_secs(60);

#[tokio::test]
async fn offsets_epochs_trim_and_ttls() {
    let server = RedisServer::start();
    let (e, _rx) = engine(config(vec![server.url()]), "n1").await;
    let o = opts(3, 600, 60_000);

    // A read before any publish creates the position: offset 0, an epoch kept.
    let h0 = e
        .history("chat", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert_eq!(h0.position.offset, 0);
    assert_eq!(h0.position.epoch.len(), 8);
    let mut epoch = String::new();
    for n in 1..=5 {
        let (off, ep) = publish(&e, "chat", n, &o).await;
        assert_eq!(off, u64::from(n));
        epoch = ep;
    }
    assert_eq!(epoch, h0.position.epoch);

    // Capped at 3.
    let h = e
        .history("chat", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert_eq!(offsets(&h), [3, 4, 5]);
    assert_eq!(
        h.position,
        StreamPosition {
            offset: 5,
            epoch: epoch.clone()
        }
    );
    assert!(String::from_utf8_lossy(&h.publications[0].json).contains("{\"n\":3}"));

    // Publications expire after the TTL; the position stays and goes on.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let h = e
        .history("chat", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert!(h.publications.is_empty());
    assert_eq!(h.position.offset, 5);
    assert_eq!(publish(&e, "chat", 6, &o).await, (6, epoch.clone()));

    // remove_history forgets publications, keeps the position.
    e.remove_history("chat").await.unwrap();
    let h = e
        .history("chat", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert!(h.publications.is_empty());
    assert_eq!(
        h.position,
        StreamPosition {
            offset: 6,
            epoch: epoch.clone()
        }
    );

    // The position expires after history_meta_ttl: a new epoch, from 1.
    let short = opts(10, 200, 400);
    let (_, e1) = publish(&e, "short", 1, &short).await;
    assert_eq!(publish(&e, "short", 2, &short).await, (2, e1.clone()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (off, e2) = publish(&e, "short", 3, &short).await;
    assert_eq!(off, 1);
    assert_ne!(e1, e2);
    let h = e
        .history("short", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert_eq!(offsets(&h), [1]);

    // Without history (size 0, ttl 0 or skip_history): offset 0, no position.
    for o in [
        opts(0, 0, 60_000),
        opts(10, 0, 60_000),
        PublishOptions {
            skip_history: true,
            ..opts(10, 1000, 60_000)
        },
    ] {
        let r = e
            .publish("chat", Bytes::from_static(b"1"), None, None, &o)
            .await
            .unwrap();
        assert_eq!(r.publication.offset, 0);
        assert!(r.position.is_none() && !r.suppressed);
    }
    let h = e
        .history("chat", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert_eq!(h.position.offset, 6);
}

#[tokio::test]
async fn idempotency_keys_suppress_repeats() {
    let server = RedisServer::start();
    let (e, _rx) = engine(config(vec![server.url()]), "n1").await;
    let (e2, mut rx2) = engine(config(vec![server.url()]), "n2").await;
    e2.subscribe("ch").await.unwrap();
    let o = PublishOptions {
        idempotency_key: Some("k1".into()),
        ..opts(10, 60_000, 60_000)
    };
    let first = e
        .publish("ch", Bytes::from_static(b"1"), None, None, &o)
        .await
        .unwrap();
    let again = e
        .publish("ch", Bytes::from_static(b"2"), None, None, &o)
        .await
        .unwrap();
    assert!(!first.suppressed && again.suppressed);
    assert_eq!(first.position, again.position);
    assert_eq!(again.publication.offset, 1);
    // Another key, and no key: not suppressed.
    let o2 = PublishOptions {
        idempotency_key: Some("k2".into()),
        ..o.clone()
    };
    let third = e
        .publish("ch", Bytes::from_static(b"3"), None, None, &o2)
        .await
        .unwrap();
    assert!(!third.suppressed);
    assert_eq!(third.position.unwrap().offset, 2);
    let h = e
        .history("ch", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert_eq!(offsets(&h), [1, 2]);
    // The suppressed one was not delivered: node 2 sees 1 then 3.
    assert_eq!(common::next_pub(&mut rx2, "ch").await.1, 1);
    let (json, off, _) = common::next_pub(&mut rx2, "ch").await;
    assert_eq!((json.contains("\"data\":3"), off), (true, 2));
    // Without history too.
    let o3 = PublishOptions {
        idempotency_key: Some("k3".into()),
        ..opts(0, 0, 0)
    };
    let a = e
        .publish("ch", Bytes::from_static(b"4"), None, None, &o3)
        .await
        .unwrap();
    let b = e
        .publish("ch", Bytes::from_static(b"4"), None, None, &o3)
        .await
        .unwrap();
    assert!(!a.suppressed && b.suppressed && b.position.is_none());
}

#[tokio::test]
async fn history_queries_since_limit_reverse_and_112() {
    let server = RedisServer::start();
    let (e, _rx) = engine(config(vec![server.url()]), "n1").await;
    let o = opts(100, 60_000, 60_000);
    let mut tags = BTreeMap::new();
    tags.insert("k".to_owned(), "v".to_owned());
    let mut published = Vec::new();
    for n in 1..=10 {
        let r = e
            .publish(
                "q",
                Bytes::from(format!("{{\"n\":{n}}}")),
                Some(Bytes::from_static(b"{\"user\":\"u1\",\"client\":\"c1\"}")),
                Some(tags.clone()),
                &o,
            )
            .await
            .unwrap();
        published.push(r.publication);
    }
    let epoch = e
        .history("q", &HistoryQuery::default(), META)
        .await
        .unwrap()
        .position
        .epoch;
    let since = |offset: u64| {
        Some(StreamPosition {
            offset,
            epoch: epoch.clone(),
        })
    };
    let q = |limit: Option<usize>, since: Option<StreamPosition>, reverse: bool| HistoryQuery {
        limit,
        since,
        reverse,
    };
    let all = e.history("q", &q(None, None, false), META).await.unwrap();
    // History gives back exactly what publish built (data, info, tags, offset).
    assert_eq!(all.publications, published);
    assert!(String::from_utf8_lossy(&published[0].json).contains("\"tags\":{\"k\":\"v\"}"));
    let cases: Vec<(HistoryQuery, Vec<u64>)> = vec![
        (q(Some(0), None, false), vec![]),
        (q(Some(3), None, false), vec![1, 2, 3]),
        (q(Some(3), None, true), vec![10, 9, 8]),
        (q(None, since(3), false), (4..=10).collect()),
        (q(Some(2), since(3), false), vec![4, 5]),
        (q(None, since(10), false), vec![]),
        (q(None, since(5), true), vec![4, 3, 2, 1]),
        (q(Some(2), since(5), true), vec![4, 3]),
        (q(None, since(0), true), vec![]),
        (
            q(
                None,
                Some(StreamPosition {
                    offset: 8,
                    epoch: String::new(),
                }),
                false,
            ),
            vec![9, 10],
        ),
    ];
    for (query, want) in cases {
        let r = e.history("q", &query, META).await.unwrap();
        assert_eq!(offsets(&r), want, "{query:?}");
        assert_eq!(r.position.offset, 10);
    }
    let err = e
        .history(
            "q",
            &q(
                None,
                Some(StreamPosition {
                    offset: 3,
                    epoch: "other".into(),
                }),
                false,
            ),
            META,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnrecoverablePosition);
    assert_eq!(err.error_code().code, 112);
    assert!(!err.is_temporary());
}

/// The stream is trimmed approximately (whole nodes), yet every read shows
/// exactly the newest `history_size` publications, whatever the query, and
/// a smaller size takes effect at the next publish.
#[tokio::test]
async fn history_is_exactly_the_history_size() {
    let server = RedisServer::start();
    let (e, _rx) = engine(config(vec![server.url()]), "n1").await;
    let o = opts(100, 60_000, 60_000);
    let mut epoch = String::new();
    for n in 1..=250 {
        epoch = publish(&e, "big", n, &o).await.1;
    }
    let all = e
        .history("big", &HistoryQuery::default(), META)
        .await
        .unwrap();
    assert_eq!(all.position.offset, 250);
    assert_eq!(offsets(&all), (151..=250).collect::<Vec<_>>());
    let q = |since: Option<u64>, limit: Option<usize>, reverse: bool| HistoryQuery {
        limit,
        since: since.map(|offset| StreamPosition {
            offset,
            epoch: epoch.clone(),
        }),
        reverse,
    };
    let get = |q: HistoryQuery| {
        let e = e.clone();
        async move { offsets(&e.history("big", &q, META).await.unwrap()) }
    };
    assert_eq!(
        get(q(None, None, true)).await,
        (151..=250).rev().collect::<Vec<_>>()
    );
    assert_eq!(get(q(None, Some(2), false)).await, vec![151, 152]);
    assert_eq!(get(q(None, Some(2), true)).await, vec![250, 249]);
    // Recovery from before the window starts at the window (the gap shows).
    assert_eq!(get(q(Some(120), Some(2), false)).await, vec![151, 152]);
    assert_eq!(get(q(Some(200), Some(2), false)).await, vec![201, 202]);
    assert_eq!(
        get(q(Some(155), None, true)).await,
        vec![154, 153, 152, 151]
    );
    assert_eq!(get(q(Some(140), None, true)).await, Vec::<u64>::new());
    // A smaller size shows at once.
    publish(&e, "big", 251, &opts(10, 60_000, 60_000)).await;
    assert_eq!(
        get(q(None, None, false)).await,
        (242..=251).collect::<Vec<_>>()
    );
}

/// `publish_many`: one call for the publishes of a batch, the results in
/// their order, each channel's offsets in the order given, idempotency
/// within the call, and a Redis that lost its scripts.
async fn publish_many_in_order(e: &RedisEngine, channels: [&str; 2]) {
    let o = opts(100, 60_000, 60_000);
    let keyed = PublishOptions {
        idempotency_key: Some("k".into()),
        ..opts(100, 60_000, 60_000)
    };
    let publishes: Vec<Publish> = (0..40u32)
        .map(|i| Publish {
            channel: channels[(i % 2) as usize],
            data: Bytes::from(format!("{{\"n\":{i}}}")),
            info: None,
            tags: None,
            opts: if i == 10 || i == 30 { &keyed } else { &o },
        })
        .collect();
    let results = e.publish_many(&publishes).await;
    let got: Vec<(u64, bool)> = results
        .iter()
        .map(|r| {
            let r = r.as_ref().unwrap();
            (r.position.as_ref().unwrap().offset, r.suppressed)
        })
        .collect();
    // Channel 0 takes the even ones: 0, 2, … 38 → offsets 1..=20, except
    // that 30 repeats 10's key: suppressed, with 10's offset (6), and the
    // ones after it take one offset less.
    let want: Vec<(u64, bool)> = (0..40u64)
        .map(|i| match i {
            30 => (6, true),
            i if i % 2 == 0 && i > 30 => (i / 2, false),
            i => (i / 2 + 1, false),
        })
        .collect();
    assert_eq!(got, want);
    for ch in channels {
        let h = e.history(ch, &HistoryQuery::default(), META).await.unwrap();
        let texts: Vec<String> = h
            .publications
            .iter()
            .map(|p| String::from_utf8_lossy(&p.json).into_owned())
            .collect();
        let first = if ch == channels[0] { 0 } else { 1 };
        let want: Vec<String> = (first..40)
            .step_by(2)
            .filter(|&i| i != 30)
            .enumerate()
            .map(|(k, i)| format!("{{\"data\":{{\"n\":{i}}},\"offset\":{}}}", k + 1))
            .collect();
        assert_eq!(texts, want);
    }
}

#[tokio::test]
async fn publish_many_keeps_the_order_in_one_round_trip() {
    let server = RedisServer::start();
    let (e, _rx) = engine(config(vec![server.url()]), "a").await;
    publish_many_in_order(&e, ["pm:a", "pm:b"]).await;
    // Scripts flushed (as after a restart): the pipeline loads it first.
    server.cli(&["script", "flush"]);
    let o = opts(100, 60_000, 60_000);
    let publishes: Vec<Publish> = (0..3)
        .map(|_| Publish {
            channel: "pm:a",
            data: Bytes::from_static(b"1"),
            info: None,
            tags: None,
            opts: &o,
        })
        .collect();
    let offsets: Vec<u64> = e
        .publish_many(&publishes)
        .await
        .into_iter()
        .map(|r| r.unwrap().position.unwrap().offset)
        .collect();
    assert_eq!(offsets, [20, 21, 22]);
    // Redis gone: every publish of the call fails, none hangs.
    drop(server);
    let results = e.publish_many(&publishes).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| e.is_temporary())),
        "{results:?}"
    );
}
