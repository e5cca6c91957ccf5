//! Redis unreachable, killed and restarted without persistence: calls fail
//! fast with a temporary error, the lost channels are reported, the engine
//! resubscribes by itself and a new epoch appears.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{config, engine, next_pub, wait_for, RedisServer};
use pushwire_hub::broker::PublishOptions;
use pushwire_hub::history::HistoryQuery;
use pushwire_redis::{EngineEvent, RedisEngine};

fn history_opts() -> PublishOptions {
    PublishOptions {
        history_size: 10,
        history_ttl: Duration::from_secs(60),
        history_meta_ttl: Duration::from_secs(60),
        ..Default::default()
    }
}

#[tokio::test]
async fn unreachable_at_start_fails_clearly() {
    // A port nothing listens on (a server started then stopped).
    let mut server = RedisServer::start();
    server.kill();
    let started = Instant::now();
    let err = RedisEngine::connect(config(vec![server.url()]), "n")
        .await
        .unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(err.to_string().contains(&server.port.to_string()), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = RedisEngine::connect(config(vec![]), "n").await.unwrap_err();
    assert!(!err.is_temporary());
}

#[tokio::test]
async fn killed_then_restarted_without_persistence() {
    let mut server = RedisServer::start();
    let mut cfg = config(vec![server.url()]);
    cfg.command_timeout = Duration::from_millis(500);
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, _rx_b) = engine(cfg, "b").await;
    a.subscribe("live").await.unwrap();
    let r = b
        .publish(
            "live",
            Bytes::from_static(b"1"),
            None,
            None,
            &history_opts(),
        )
        .await
        .unwrap();
    let epoch1 = r.position.unwrap().epoch;
    assert_eq!(next_pub(&mut rx_a, "live").await.1, 1);

    server.kill();
    let lost = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Lost { channels } => Some(channels),
        _ => None,
    })
    .await;
    assert_eq!(lost, [Arc::<str>::from("live")]);

    // Every call fails with a temporary error, within the command timeout.
    for _ in 0..3 {
        let started = Instant::now();
        let err = b
            .publish(
                "live",
                Bytes::from_static(b"2"),
                None,
                None,
                &history_opts(),
            )
            .await
            .unwrap_err();
        assert!(err.is_temporary(), "{err}");
        assert!(err.error_code().temporary && err.error_code().code == 100);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let err = a
            .history("live", &HistoryQuery::default(), Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(err.is_temporary(), "{err}");
        assert!(b.presence("live").await.unwrap_err().is_temporary());
    }

    // Subscribing during the outage fails (temporary) and is not kept.
    let err = a.subscribe("later").await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    // Down long enough for several reconnection attempts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();
    let mut lost_again = 0;
    let back = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Resubscribed { channels } => Some(channels),
        EngineEvent::Lost { .. } => {
            lost_again += 1;
            None
        }
        _ => None,
    })
    .await;
    assert_eq!(back, [Arc::<str>::from("live")]);
    assert_eq!(lost_again, 0, "lost is reported once per outage");

    // The command connection comes back by itself too (a few tries at most).
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        match b
            .publish(
                "live",
                Bytes::from_static(b"3"),
                None,
                None,
                &history_opts(),
            )
            .await
        {
            Ok(r) => break r,
            Err(e) => {
                assert!(e.is_temporary(), "{e}");
                assert!(Instant::now() < deadline, "no reconnect: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let pos = r.position.unwrap();
    assert_eq!(pos.offset, 1, "the stream restarted");
    assert_ne!(pos.epoch, epoch1, "a new epoch after the restart");
    let (_, off, epoch) = next_pub(&mut rx_a, "live").await;
    assert_eq!((off, epoch), (1, pos.epoch));
    // Control channels are resubscribed too.
    b.publish_control(Bytes::from_static(b"hi")).await.unwrap();
    wait_for(&mut rx_a, |ev| {
        matches!(ev, EngineEvent::Control(_)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_frozen_redis_is_caught_by_the_health_check() {
    let server = RedisServer::start();
    let mut cfg = config(vec![server.url()]);
    cfg.command_timeout = Duration::from_millis(300);
    cfg.health_check_interval = Duration::from_millis(200);
    let (a, mut rx_a) = engine(cfg.clone(), "a").await;
    let (b, _rx_b) = engine(cfg, "b").await;
    a.subscribe("f").await.unwrap();
    // The sockets stay open: only the health check can tell.
    server.freeze(true);
    let lost = wait_for(&mut rx_a, |ev| match ev {
        EngineEvent::Lost { channels } => Some(channels),
        _ => None,
    })
    .await;
    assert_eq!(lost, [Arc::<str>::from("f")]);
    let err = b
        .publish("f", Bytes::from_static(b"1"), None, None, &history_opts())
        .await
        .unwrap_err();
    assert!(err.is_temporary(), "{err}");
    server.freeze(false);
    wait_for(&mut rx_a, |ev| {
        matches!(ev, EngineEvent::Resubscribed { .. }).then_some(())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match b
            .publish("f", Bytes::from_static(b"2"), None, None, &history_opts())
            .await
        {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    next_pub(&mut rx_a, "f").await;
}
