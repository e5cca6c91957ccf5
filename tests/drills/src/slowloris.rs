//! Drill 4, slowloris (issue 22, "Known attacks"): N connections send
//! the start of a request head and never finish it. Each must be closed
//! at the server's header timeout (`header_read_timeout`, 10 s by
//! default: `crates/server/src/http/server.rs`), the server's memory must
//! stay bounded (at most `--per-conn-kib` per attacking connection over
//! its baseline), and a real client — a hub WebSocket connect and
//! subscribe, a publication through the API, received — must still be
//! served while the attack holds its connections. The server runs with
//! its default connection limits (16,384 in all, 1,024 per address); the
//! attack comes from 64 loopback addresses.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::hub::{self, Line, API_KEY};
use crate::server::{free_port, Server, ServerSpec};
use crate::stats::{mib, percentile, Checks};
use crate::ws::{self, Incoming};
use crate::Args;

/// Runs the drill; false when a check failed.
pub async fn run(args: &Args) -> bool {
    let n = args.usize("connections", 1000);
    let timeout = args.f64("header-timeout", 10.0);
    let per_conn_kib = args.u64("per-conn-kib", 32);
    println!("== slowloris: {n} connections that never finish a request head; header timeout {timeout} s");
    let mut checks = Checks::default();
    let spec = ServerSpec {
        config: hub::config(
            vec![hub::namespace("sl", 10, 1 << 20, "disconnect")],
            "25s",
            "8s",
            serde_json::json!({}),
        ),
        name: "slowloris".into(),
        args: vec![],
    };
    let server = match Server::start(&spec, free_port().unwrap_or(0)).await {
        Ok(s) => s,
        Err(e) => {
            checks.check(false, format!("server starts: {e}"));
            return checks.finish("slowloris");
        }
    };
    let addr = server.addr;
    let baseline = server.rss();
    let opened = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for i in 0..n {
        let (opened, gate) = (opened.clone(), gate.clone());
        tasks.spawn(async move {
            let permit = gate.acquire_owned().await;
            let Ok(mut s) = ws::tcp(addr, hub::source(i), None).await else {
                return None;
            };
            let head =
                format!("GET /connection/websocket HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: slow");
            if s.write_all(head.as_bytes()).await.is_err() {
                return None;
            }
            let sent = Instant::now();
            drop(permit);
            opened.fetch_add(1, Ordering::Relaxed);
            let mut sink = [0u8; 1024];
            let answer = tokio::time::timeout(Duration::from_secs(60), async {
                let mut got = Vec::new();
                loop {
                    match s.read(&mut sink).await {
                        Ok(0) | Err(_) => return got,
                        Ok(k) => got.extend_from_slice(&sink[..k]),
                    }
                }
            })
            .await;
            let waited = sent.elapsed().as_millis() as u64;
            Some((
                waited,
                answer
                    .ok()
                    .map(|g| String::from_utf8_lossy(&g[..g.len().min(12)]).into_owned()),
            ))
        });
    }
    while opened.load(Ordering::Relaxed) < n && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_s = started.elapsed().as_secs_f64();
    let n_open = opened.load(Ordering::Relaxed);
    checks.check(
        n_open == n,
        format!("{n_open} of {n} attacking connections opened in {open_s:.1} s"),
    );
    let held = server.metric("pushwire_http_open_connections").await;
    let rss_attack = server.rss();
    // A real client, served during the attack.
    let real = tokio::time::timeout(Duration::from_secs(8), real_client(addr)).await;
    let real_ok = matches!(real, Ok(Ok(_)));
    let real_ms = match &real {
        Ok(Ok(ms)) => *ms,
        _ => 0.0,
    };
    let attack_left = Duration::from_secs_f64(timeout).saturating_sub(started.elapsed());
    checks.check(
        real_ok,
        format!(
            "a real client (WebSocket connect + subscribe + a publication received) was served during the attack in {real_ms:.1} ms{}",
            if let Ok(Err(e)) = &real { format!(": {e}") } else { String::new() }
        ),
    );
    checks.check(
        !attack_left.is_zero() || !real_ok,
        "the real client ran while the attack held its connections",
    );
    let mut max_rss = rss_attack;
    let mut waits = Vec::new();
    let mut answers: std::collections::BTreeMap<String, usize> = Default::default();
    loop {
        tokio::select! {
            r = tasks.join_next() => match r {
                Some(Ok(Some((ms, answer)))) => {
                    waits.push(ms);
                    let k = match answer {
                        Some(a) if a.is_empty() => "closed without an answer".to_owned(),
                        Some(a) => format!("answered {a:?} and closed"),
                        None => "still open after 60 s".to_owned(),
                    };
                    *answers.entry(k).or_default() += 1;
                }
                Some(_) => {}
                None => break,
            },
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                max_rss = max_rss.max(server.rss());
            }
        }
    }
    let (p0, p50, p100) = (
        percentile(&mut waits, 0.0),
        percentile(&mut waits, 50.0),
        percentile(&mut waits, 100.0),
    );
    for (k, v) in &answers {
        println!("  {v} × {k}");
    }
    let growth = max_rss.saturating_sub(baseline);
    println!(
        "  http connections held at the peak {held}; rss baseline {:.1} MiB, under attack {:.1} MiB, max {:.1} MiB ({:.0} B per attacking connection)",
        mib(baseline),
        mib(rss_attack),
        mib(max_rss),
        growth as f64 / n.max(1) as f64
    );
    println!(
        "  closed after min {:.1} s, median {:.1} s, max {:.1} s",
        p0 as f64 / 1e3,
        p50 as f64 / 1e3,
        p100 as f64 / 1e3
    );
    checks.check(
        waits.len() == n_open,
        format!(
            "all {} attacking connections were closed by the server",
            waits.len()
        ),
    );
    checks.check(
        p0 as f64 >= timeout * 1e3 - 1000.0 && p100 as f64 <= timeout * 1e3 + 5000.0,
        format!("each closed at the header timeout ({timeout} s, −1 s/+5 s)"),
    );
    checks.check(
        growth <= n as u64 * per_conn_kib * 1024,
        format!(
            "memory bounded: +{:.1} MiB ≤ {n} × {per_conn_kib} KiB",
            mib(growth)
        ),
    );
    // Every attacking connection's slot must be given back.
    let mut after = server.metric("pushwire_http_open_connections").await;
    let settle = Instant::now();
    while after > 1.0 && settle.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = server.metric("pushwire_http_open_connections").await;
    }
    checks.check(
        after <= 1.0,
        format!("open HTTP connections back to the metrics request alone ({after}) within 5 s"),
    );
    checks.finish("slowloris")
}

/// Connects, subscribes, publishes through the API and waits for the
/// publication; returns the milliseconds it took.
async fn real_client(addr: std::net::SocketAddr) -> std::io::Result<f64> {
    let t = Instant::now();
    let localhost = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let mut c = hub::subscribe(addr, localhost, "sl:real", None, None).await?;
    let mut api = crate::http::Conn::new(addr);
    let body = br#"{"channel":"sl:real","data":{"t":1}}"#;
    let r = api
        .request(
            "POST",
            "/api/publish",
            &[("X-API-Key", API_KEY), ("Content-Type", "application/json")],
            body,
        )
        .await?;
    if r.status != 200 {
        return Err(std::io::Error::other(format!(
            "publish answered {}",
            r.status
        )));
    }
    loop {
        match c.ws.recv().await? {
            Incoming::Text(m) => {
                if hub::lines(&m).any(|l| matches!(hub::parse_line(l), Line::Pub { .. })) {
                    return Ok(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            Incoming::Close(code, reason) => {
                return Err(std::io::Error::other(format!("closed {code} {reason}")))
            }
        }
    }
}
