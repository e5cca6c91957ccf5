//! Drill 5, soak (not in the quick run): moderate load for a long time —
//! M WebSocket subscribers that each reconnect after a random 10–60 s
//! (churn), a backend publishing at a steady rate through the API — with
//! the server's RSS and open file descriptors sampled every `--sample`
//! seconds. Checks: RSS flat after warm-up (the last quarter's max at
//! most 1.1 × the second quarter's max) and no descriptor growth (the
//! last sample at most 2 % + 16 above the one at the end of the first
//! quarter).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::hub::{self, Line};
use crate::publisher;
use crate::server::{free_port, Server, ServerSpec};
use crate::stats::{mib, Checks};
use crate::ws::Incoming;
use crate::Args;

/// Runs the drill; false when a check failed.
pub async fn run(args: &Args) -> bool {
    let minutes = args.f64("minutes", 60.0);
    let subs = args.usize("subs", 1000);
    let rate = args.f64("rate", 100.0);
    let sample = args.f64("sample", 10.0);
    println!("== soak: {minutes} min, {subs} subscribers reconnecting every 10–60 s, {rate} publications/s, samples every {sample} s");
    let mut checks = Checks::default();
    let spec = ServerSpec {
        config: hub::config(
            vec![hub::namespace("soak", 100, 1 << 20, "disconnect")],
            "25s",
            "8s",
            serde_json::json!({}),
        ),
        name: "soak".into(),
        args: vec![],
    };
    let server = match Server::start(&spec, free_port().unwrap_or(0)).await {
        Ok(s) => s,
        Err(e) => {
            checks.check(false, format!("server starts: {e}"));
            return checks.finish("soak");
        }
    };
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let reconnects = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(64));
    let mut tasks = JoinSet::new();
    for i in 0..subs {
        let (stop, received, reconnects, failures, gate) = (
            stop.clone(),
            received.clone(),
            reconnects.clone(),
            failures.clone(),
            gate.clone(),
        );
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let permit = gate.acquire().await;
                let conn = hub::subscribe(addr, hub::source(i), "soak:c", None, None).await;
                drop(permit);
                let Ok(mut conn) = conn else {
                    failures.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                };
                reconnects.fetch_add(1, Ordering::Relaxed);
                let life = Instant::now() + Duration::from_millis(fastrand::u64(10_000..60_000));
                while Instant::now() < life && !stop.load(Ordering::Relaxed) {
                    match tokio::time::timeout(Duration::from_secs(1), conn.ws.recv()).await {
                        Err(_) => {}
                        Ok(Ok(Incoming::Text(m))) => {
                            for line in hub::lines(&m) {
                                match hub::parse_line(line) {
                                    Line::Ping => {
                                        let _ = conn.ws.send_text("{}").await;
                                    }
                                    Line::Pub { .. } => {
                                        received.fetch_add(1, Ordering::Relaxed);
                                    }
                                    _ => {}
                                }
                            }
                        }
                        Ok(_) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
        });
    }
    let publishing = tokio::spawn(publisher::run(
        addr,
        vec!["soak:c".into()],
        rate,
        200,
        stop.clone(),
    ));
    let start = Instant::now();
    let total = Duration::from_secs_f64(minutes * 60.0);
    let mut samples: Vec<(f64, u64, usize)> = Vec::new();
    while start.elapsed() < total {
        tokio::time::sleep(Duration::from_secs_f64(sample)).await;
        let (rss, fds) = (server.rss(), server.fds());
        let t = start.elapsed().as_secs_f64();
        println!(
            "  t={t:>6.0} s rss {:.1} MiB fds {fds} received {} connects {} failures {}",
            mib(rss),
            received.load(Ordering::Relaxed),
            reconnects.load(Ordering::Relaxed),
            failures.load(Ordering::Relaxed)
        );
        samples.push((t, rss, fds));
    }
    stop.store(true, Ordering::Relaxed);
    let published = publishing.await.unwrap_or_default();
    tasks.abort_all();
    let q = samples.len() / 4;
    if q == 0 {
        checks.check(
            false,
            "enough samples for quarters (run longer or sample more often)",
        );
        return checks.finish("soak");
    }
    let max_of = |s: &[(f64, u64, usize)]| s.iter().map(|x| x.1).max().unwrap_or(0);
    let (q2, q4) = (
        max_of(&samples[q..2 * q]),
        max_of(&samples[samples.len() - q..]),
    );
    let fd_warm = samples[q - 1].2;
    let fd_last = samples[samples.len() - 1].2;
    println!(
        "  published {} (failed {}); rss max 2nd quarter {:.1} MiB, last quarter {:.1} MiB; fds after warm-up {fd_warm}, at the end {fd_last}",
        published.accepted.len(),
        published.failed,
        mib(q2),
        mib(q4)
    );
    checks.check(
        q4 as f64 <= 1.1 * q2 as f64,
        format!(
            "RSS flat: last quarter max ≤ 1.1 × second quarter max ({:.3}×)",
            q4 as f64 / q2.max(1) as f64
        ),
    );
    checks.check(
        fd_last as f64 <= fd_warm as f64 * 1.02 + 16.0,
        format!("no descriptor growth ({fd_warm} → {fd_last})"),
    );
    checks.check(
        received.load(Ordering::Relaxed) > 0 && !published.accepted.is_empty(),
        "publications flowed",
    );
    checks.finish("soak")
}
