//! Drill 3, graceful restart: N WebSocket clients subscribed with
//! recovery to one channel that a backend keeps publishing into through
//! the API; the server gets SIGHUP. With `--restart handover` (the
//! default) it runs with `--handover`: a new `pushwire serve` takes the
//! listening socket over at once and the old one ends its connections
//! over the restart spread (`--spread`, seconds, default 20). With
//! `--restart exit` a new `pushwire serve` is started on the same port
//! once the old one has exited. The clients behave as
//! centrifuge-js 5.x does: they answer the server's close frame, then
//! reconnect after its backoff (`backoff(step, min, max)` in its
//! `build/index.js`: `min + randomInt(0, min(max, min·2^step))`, capped at
//! `max`; defaults `minReconnectDelay` 500 ms and `maxReconnectDelay`
//! 20 s; the first delay is in [min, 2·min]) and resubscribe with
//! `recover`, the offset and the epoch they had.
//!
//! Measured: the close code and reason each client got, the fraction
//! that finished the close handshake (the server's FIN after the
//! client's close reply), reconnections per second after the SIGHUP, how
//! many clients recovered, and, against every publication the API
//! accepted, what each client received: exactly once and in order, or
//! lost, duplicated, reordered. On the memory engine history does not
//! survive the process, so recovery is expected to fail (`recovered:
//! false`, a new epoch) and the loss is reported; on Redis
//! (`--engine redis`, a `redis-server` started here) history survives and
//! no accepted publication may be lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::hub::{self, now_us, Line};
use crate::publisher::{self, Accepted};
use crate::server::{free_port, Redis, Server, ServerSpec};
use crate::stats::{per_second, Checks};
use crate::ws::Incoming;
use crate::Args;

const NS: &str = "rs";

/// centrifuge-js's `backoff(step, min, max)`.
fn backoff(step: u32, min: u64, max: u64) -> u64 {
    let step = step.min(31);
    let interval = fastrand::u64(0..=max.min(min.saturating_mul(1u64 << step)));
    max.min(min + interval)
}

#[derive(Default)]
struct Outcome {
    joined: bool,
    start: (String, u64),
    /// (epoch, offset) of every publication received, in order.
    got: Vec<(String, u64)>,
    close: Option<(u16, String)>,
    handshake: bool,
    /// Milliseconds from the SIGHUP to the resubscribe reply.
    reconnect_ms: Option<u64>,
    attempts: u32,
    recovered: Option<bool>,
}

/// Runs the drill for each engine asked; false when a check failed.
pub async fn run(args: &Args) -> bool {
    let mut ok = true;
    for engine in args.str("engine", "memory,redis").split(',') {
        ok &= one(args, engine).await;
    }
    ok
}

async fn one(args: &Args, engine: &str) -> bool {
    let clients = args.usize("clients", 500);
    let rate = args.f64("rate", 100.0);
    let min = args.u64("min-delay", 500);
    let max = args.u64("max-delay", 20_000);
    let before = args.f64("before", 3.0);
    println!("== graceful restart ({engine}): {clients} clients, {rate} publications/s, reconnect backoff {min}–{max} ms");
    let mut checks = Checks::default();
    let redis = if engine == "redis" {
        match Redis::start().await {
            Ok(r) => Some(r),
            Err(e) => {
                checks.check(false, format!("redis-server starts: {e}"));
                return checks.finish("restart");
            }
        }
    } else {
        None
    };
    let extra = match &redis {
        Some(r) => json!({"engine": {"type": "redis", "redis": {"address": r.addr.to_string()}}}),
        None => json!({}),
    };
    let handover = match args.str("restart", "handover").as_str() {
        "handover" => true,
        "exit" => false,
        other => {
            checks.check(false, format!("--restart is handover or exit, not {other}"));
            return checks.finish("restart");
        }
    };
    let spread = args.f64("spread", 20.0);
    let spec = ServerSpec {
        config: hub::config(
            vec![hub::namespace(NS, 100_000, 1 << 20, "disconnect")],
            "25s",
            "8s",
            extra,
        ),
        name: format!("restart-{engine}"),
        args: match handover {
            true => vec![
                "--handover".into(),
                "--restart-spread".into(),
                spread.to_string(),
            ],
            false => vec![],
        },
    };
    let port = free_port().unwrap_or(0);
    let server = match Server::start(&spec, port).await {
        Ok(s) => s,
        Err(e) => {
            checks.check(false, format!("server starts: {e}"));
            return checks.finish("restart");
        }
    };
    let addr = server.addr;
    let channel = format!("{NS}:restart-{}", fastrand::u32(..));
    let stop = Arc::new(AtomicBool::new(false));
    let sighup_us = Arc::new(AtomicU64::new(u64::MAX));
    let joined = Arc::new(AtomicUsize::new(0));
    let back = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(128));
    let mut tasks = JoinSet::new();
    for i in 0..clients {
        let (channel, stop, sighup_us, joined, back, gate) = (
            channel.clone(),
            stop.clone(),
            sighup_us.clone(),
            joined.clone(),
            back.clone(),
            gate.clone(),
        );
        tasks.spawn(async move {
            let mut out = Outcome::default();
            let permit = gate.acquire_owned().await;
            let Ok(mut conn) = hub::subscribe(addr, hub::source(i), &channel, None, None).await
            else {
                return out;
            };
            drop(permit);
            out.joined = true;
            joined.fetch_add(1, Ordering::Relaxed);
            let mut epoch = conn.subscribed["epoch"].as_str().unwrap_or("").to_owned();
            let mut offset = conn.subscribed["offset"].as_u64().unwrap_or(0);
            out.start = (epoch.clone(), offset);
            let mut reconnected = false;
            loop {
                let quiet = Duration::from_secs(3);
                let message = match tokio::time::timeout(quiet, conn.ws.recv()).await {
                    Err(_) if stop.load(Ordering::Relaxed) => break,
                    Err(_) => continue,
                    Ok(Ok(Incoming::Text(m))) => m,
                    Ok(other) => {
                        if reconnected {
                            break; // a second drop: not part of this drill
                        }
                        if let Ok(Incoming::Close(code, reason)) = other {
                            out.close = Some((code, reason));
                            out.handshake =
                                conn.ws.finish_close(code, Duration::from_secs(5)).await;
                        }
                        drop(conn);
                        // Reconnect as centrifuge-js does.
                        let mut step = 0;
                        conn = loop {
                            tokio::time::sleep(Duration::from_millis(backoff(step, min, max)))
                                .await;
                            step += 1;
                            out.attempts = step;
                            let since = Some((offset, epoch.as_str()));
                            if let Ok(c) =
                                hub::subscribe(addr, hub::source(i), &channel, since, None).await
                            {
                                break c;
                            }
                            if step > 12 {
                                return out;
                            }
                        };
                        reconnected = true;
                        back.fetch_add(1, Ordering::Relaxed);
                        out.reconnect_ms =
                            Some(now_us().saturating_sub(sighup_us.load(Ordering::Relaxed)) / 1000);
                        let s = &conn.subscribed;
                        let recovered = s["recovered"].as_bool().unwrap_or(false);
                        out.recovered = Some(recovered);
                        if !recovered {
                            epoch = s["epoch"].as_str().unwrap_or("").to_owned();
                            offset = s["offset"].as_u64().unwrap_or(0);
                        }
                        for p in s["publications"].as_array().into_iter().flatten() {
                            offset = p["offset"].as_u64().unwrap_or(0);
                            out.got.push((epoch.clone(), offset));
                        }
                        for line in std::mem::take(&mut conn.early) {
                            if let Line::Pub { offset: o, .. } = line {
                                offset = o;
                                out.got.push((epoch.clone(), o));
                            }
                        }
                        continue;
                    }
                };
                for line in hub::lines(&message) {
                    match hub::parse_line(line) {
                        Line::Ping => {
                            let _ = conn.ws.send_text("{}").await;
                        }
                        Line::Pub { offset: o, .. } => {
                            offset = o;
                            out.got.push((epoch.clone(), o));
                        }
                        _ => {}
                    }
                }
            }
            out
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60 + clients as u64 / 50);
    while joined.load(Ordering::Relaxed) < clients && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let n_joined = joined.load(Ordering::Relaxed);
    checks.check(
        n_joined == clients,
        format!("{n_joined} of {clients} clients joined"),
    );
    let publishing = tokio::spawn(publisher::run(
        addr,
        vec![channel.clone()],
        rate,
        100,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs_f64(before)).await;
    sighup_us.store(now_us(), Ordering::Relaxed);
    let _ = server.signal("HUP");
    // Held until the end, then stopped by its drop.
    let restarted: Option<Box<dyn Send>> = match handover {
        true => handed_over(&mut checks, server, &spec, spread, &sighup_us)
            .await
            .map(|s| Box::new(s) as Box<dyn Send>),
        false => restarted(&mut checks, server, &spec, port, &sighup_us)
            .await
            .map(|s| Box::new(s) as Box<dyn Send>),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while back.load(Ordering::Relaxed) < n_joined && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let published = publishing.await.unwrap_or_default();
    let mut outcomes = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(o) = r {
            outcomes.push(o);
        }
    }
    drop(restarted);
    drop(redis);
    // Reconnects spread over the restart spread: about 1/spread of the
    // clients in any one second, 10% at most (the bound) for a
    // spread of 15 s or more; everyone within a second or two without one.
    let per_second_bound = match handover {
        true => (1.5 / spread.max(1.0)).max(0.10),
        false => 1.0,
    };
    report(
        &mut checks,
        engine,
        &outcomes,
        &published.accepted,
        published.failed,
        n_joined,
        per_second_bound,
    );
    checks.finish(&format!("restart/{engine}"))
}

/// The old server exits by itself once the new one serves and its own
/// connections are closed; returns the new one.
async fn handed_over(
    checks: &mut Checks,
    mut server: Server,
    spec: &ServerSpec,
    spread: f64,
    sighup_us: &AtomicU64,
) -> Option<Successor> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let served = crate::http::get(server.addr, "/healthz", Duration::from_secs(2))
        .await
        .is_ok_and(|r| r.status == 200);
    checks.check(served, "the port answered 500 ms after SIGHUP".to_string());
    let exited = server
        .wait_exit(Duration::from_secs_f64(30.0 + spread))
        .await;
    let down_ms = (now_us() - sighup_us.load(Ordering::Relaxed)) / 1000;
    checks.check(
        exited,
        format!("the old server exited {down_ms} ms after SIGHUP"),
    );
    let successor = Successor::find(spec);
    checks.check(
        successor.is_some(),
        "the new server runs (pgrep found it)".to_string(),
    );
    successor
}

/// Waits for the old server to exit, then starts a new one on its port.
async fn restarted(
    checks: &mut Checks,
    mut server: Server,
    spec: &ServerSpec,
    port: u16,
    sighup_us: &AtomicU64,
) -> Option<Server> {
    let exited = server.wait_exit(Duration::from_secs(30)).await;
    let down_ms = (now_us() - sighup_us.load(Ordering::Relaxed)) / 1000;
    checks.check(
        exited,
        format!("the server exited {down_ms} ms after SIGHUP"),
    );
    drop(server);
    let mut restarted = None;
    for _ in 0..50 {
        match Server::start(spec, port).await {
            Ok(s) => {
                restarted = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let up_ms = (now_us() - sighup_us.load(Ordering::Relaxed)) / 1000;
    checks.check(
        restarted.is_some(),
        format!("a new server answered on the same port {up_ms} ms after SIGHUP"),
    );
    restarted
}

/// The `pushwire serve` a hand-over started (found by its config file's
/// path on its command line); killed when dropped.
struct Successor(u32);

impl Successor {
    fn find(spec: &ServerSpec) -> Option<Successor> {
        let config = crate::server::config_path(spec);
        let out = std::process::Command::new("pgrep")
            .args(["-f", &format!("serve .*--config {}", config.display())])
            .output()
            .ok()?;
        let pids = String::from_utf8_lossy(&out.stdout);
        // taskset execs pushwire: one process, whichever was started.
        pids.split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .next()
            .map(Successor)
    }
}

impl Drop for Successor {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.0.to_string())
            .status();
    }
}

fn report(
    checks: &mut Checks,
    engine: &str,
    outcomes: &[Outcome],
    accepted: &[Accepted],
    failed: u64,
    n: usize,
    per_second_bound: f64,
) {
    let joined: Vec<&Outcome> = outcomes.iter().filter(|o| o.joined).collect();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for o in &joined {
        let k = match &o.close {
            Some((c, r)) => format!("close {c} {r:?}"),
            None => "no close frame (connection dropped)".into(),
        };
        *codes.entry(k).or_default() += 1;
    }
    for (k, v) in &codes {
        println!("  {v} × {k}");
    }
    let reconnect_code =
        |c: u16| c == 1012 || c == 1001 || (3000..3500).contains(&c) || (4000..4500).contains(&c);
    let hinted = joined
        .iter()
        .filter(|o| o.close.as_ref().is_some_and(|(c, _)| reconnect_code(*c)))
        .count();
    checks.check(
        hinted == n,
        format!("{hinted} of {n} got a close code that says reconnect"),
    );
    let hs = joined.iter().filter(|o| o.handshake).count();
    let frac = hs as f64 / n.max(1) as f64;
    checks.check(
        frac >= 0.99,
        format!("{:.1}% finished the close handshake (≥ 99%)", frac * 100.0),
    );
    let times: Vec<u64> = joined.iter().filter_map(|o| o.reconnect_ms).collect();
    let hist = per_second(&times);
    let line: Vec<String> = hist.iter().map(|(s, c)| format!("{s}s:{c}")).collect();
    println!("  reconnects per second after SIGHUP: {}", line.join(" "));
    let peak = hist.values().copied().max().unwrap_or(0);
    let attempts: u32 = joined.iter().map(|o| o.attempts).max().unwrap_or(0);
    let share = peak as f64 / n.max(1) as f64;
    println!("  most attempts by one client {attempts}");
    checks.check(
        share <= per_second_bound,
        format!(
            "peak {peak} reconnects in one second = {:.1}% of clients (≤ {:.0}%)",
            share * 100.0,
            per_second_bound * 100.0
        ),
    );
    checks.check(
        times.len() == n,
        format!("{} of {n} reconnected", times.len()),
    );
    // Every accepted publication after a client's start, against what it got.
    let mut by_epoch: HashMap<&str, Vec<u64>> = HashMap::new();
    for a in accepted {
        by_epoch.entry(a.epoch.as_str()).or_default().push(a.offset);
    }
    let epochs: Vec<&str> = {
        let mut e: Vec<(&str, u64)> = accepted
            .iter()
            .map(|a| (a.epoch.as_str(), a.sent_us))
            .collect();
        e.sort_by_key(|x| x.1);
        let mut seen = Vec::new();
        for (ep, _) in e {
            if !seen.contains(&ep) {
                seen.push(ep);
            }
        }
        seen
    };
    println!(
        "  the API accepted {} publications in {} epoch(s) ({failed} requests failed while the server was down)",
        accepted.len(),
        epochs.len()
    );
    let (mut recovered, mut exact_recovered, mut exact_all) = (0, 0, 0);
    let (mut lost, mut dup, mut disorder) = (0usize, 0usize, 0usize);
    for o in &joined {
        let mut expected: Vec<(String, u64)> = Vec::new();
        for ep in &epochs {
            for &off in &by_epoch[ep] {
                if *ep != o.start.0 || off > o.start.1 {
                    expected.push((ep.to_string(), off));
                }
            }
        }
        let exact = o.got == expected;
        let got: std::collections::HashSet<&(String, u64)> = o.got.iter().collect();
        lost += expected.iter().filter(|e| !got.contains(e)).count();
        dup += o.got.len() - got.len();
        disorder += o
            .got
            .windows(2)
            .filter(|w| w[0].0 == w[1].0 && w[1].1 <= w[0].1)
            .count();
        if o.recovered == Some(true) {
            recovered += 1;
            exact_recovered += exact as usize;
        }
        exact_all += exact as usize;
    }
    println!(
        "  recovered:true {recovered} of {n}; exactly once in order: {exact_all} of {n} ({exact_recovered} of the recovered); publications lost {lost}, duplicated {dup}, out of order {disorder} (summed over clients)"
    );
    checks.check(
        exact_recovered == recovered,
        format!("every recovered client got every accepted publication exactly once, in order ({exact_recovered} of {recovered})"),
    );
    if engine == "redis" {
        checks.check(
            recovered == n,
            format!("on Redis every client recovered ({recovered} of {n})"),
        );
        checks.check(
            lost == 0 && dup == 0 && disorder == 0,
            "on Redis no accepted publication was lost, duplicated or reordered",
        );
    }
}
