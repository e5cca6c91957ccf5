//! Drill 1, slow consumers: N subscribers of one channel (or spread over
//! `--channels` rooms, ten consecutive subscribers to a room), a tenth of
//! which stop reading their socket (with a small receive buffer, so the
//! backlog lands in the server soon), while a backend publishes at a
//! fixed rate through the API, round the rooms. Run once per
//! slow-consumer policy:
//!
//! * `disconnect`: the non-readers are closed with 3008 (counted by
//!   `pushwire_slow_disconnects_total`, and seen as close 3008 or the end
//!   of the connection once they read again);
//! * `drop_oldest`: the non-readers get unsubscribe 2500 once they read
//!   again, and never a silent gap in offsets before it.
//!
//! Either way the server's RSS must stay under its baseline (all
//! subscribed, nothing published) plus connections × the namespace's
//! queue bound plus the history it keeps (channels × up to
//! [`HISTORY_SIZE`] publications), and the readers must receive every publication with p99
//! publish-to-receive under the given bound. Pings are set far apart
//! (120 s) so that only the queue bound acts on the non-readers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::hub::{self, now_us, Line};
use crate::publisher;
use crate::server::{free_port, Server, ServerSpec};
use crate::stats::{mib, percentile, Checks};
use crate::ws::Incoming;
use crate::Args;

/// The receive buffer of a non-reader's socket.
const NON_READER_RCVBUF: u32 = 4096;

/// Publications kept in each channel's history.
const HISTORY_SIZE: usize = 100;

/// What the hub keeps per publication besides its data (JSON framing,
/// offsets, the history entry): a generous allowance for the bound.
const PUBLICATION_OVERHEAD: usize = 512;

#[derive(Default)]
struct Outcome {
    reader: bool,
    /// The index of its channel.
    channel: usize,
    joined: bool,
    /// Publications received.
    pubs: u64,
    latencies: Vec<u64>,
    close: Option<u16>,
    eof: bool,
    unsubscribe: Option<u64>,
    disconnect: Option<u64>,
    /// An offset gap not announced by unsubscribe 2500.
    silent_gap: bool,
}

/// Runs the drill; false when a check failed.
pub async fn run(args: &Args) -> bool {
    let subs = args.usize("subs", 500);
    let channels = args.usize("channels", 1).max(1);
    let rate = args.f64("rate", 200.0);
    let secs = args.f64("seconds", 8.0);
    let pad = args.usize("pad", 1000);
    let queue = args.usize("queue", 64 << 10);
    let p99_ms = args.f64("p99-ms", 50.0);
    let mut ok = true;
    for policy in args.str("policy", "disconnect,drop_oldest").split(',') {
        println!(
            "== slow consumers: {subs} subscribers ({} never read) in {channels} channel(s), {rate}/s × {pad} B for {secs} s, queue {queue} B, policy {policy}",
            subs / 10
        );
        let load = Load {
            subs,
            channels,
            rate,
            secs,
            pad,
        };
        ok &= one(&load, queue, p99_ms, policy).await;
    }
    ok
}

/// Who subscribes and what is published.
struct Load {
    subs: usize,
    channels: usize,
    rate: f64,
    secs: f64,
    pad: usize,
}

async fn one(load: &Load, queue: usize, p99_ms: f64, policy: &str) -> bool {
    let Load {
        subs,
        channels,
        rate,
        secs,
        pad,
    } = *load;
    let mut checks = Checks::default();
    let ns = if policy == "disconnect" {
        "slow"
    } else {
        "lag"
    };
    let config = hub::config(
        vec![hub::namespace(ns, HISTORY_SIZE, queue, policy)],
        "120s",
        "60s",
        serde_json::json!({}),
    );
    let spec = ServerSpec {
        config,
        name: format!("slow-{policy}"),
        args: vec![],
    };
    let server = match Server::start(&spec, free_port().unwrap_or(0)).await {
        Ok(s) => s,
        Err(e) => {
            checks.check(false, format!("server starts: {e}"));
            return checks.finish("slow");
        }
    };
    let addr = server.addr;
    let names: Vec<String> = if channels == 1 {
        vec![format!("{ns}:drill")]
    } else {
        (0..channels).map(|c| format!("{ns}:room{c}")).collect()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let resume = Arc::new(Notify::new());
    let joined = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(128));
    let measure_every = (subs / 200).max(1);
    let mut tasks = JoinSet::new();
    for i in 0..subs {
        let reader = i % 10 != 9;
        let measuring = reader && i % measure_every == 0;
        let index = (i / 10) % channels;
        let (channel, stop, resume, joined, gate) = (
            names[index].clone(),
            stop.clone(),
            resume.clone(),
            joined.clone(),
            gate.clone(),
        );
        tasks.spawn(async move {
            let mut out = Outcome {
                reader,
                channel: index,
                ..Outcome::default()
            };
            let permit = gate.acquire_owned().await;
            let rcvbuf = (!reader).then_some(NON_READER_RCVBUF);
            let mut conn = match hub::subscribe(addr, hub::source(i), &channel, None, rcvbuf).await
            {
                Ok(c) => c,
                Err(_) => return out,
            };
            drop(permit);
            out.joined = true;
            joined.fetch_add(1, Ordering::Relaxed);
            if !reader {
                resume.notified().await;
            }
            let mut last = conn.subscribed["offset"].as_u64().unwrap_or(0);
            let quiet = Duration::from_secs(if reader { 5 } else { 3 });
            loop {
                let next = tokio::time::timeout(quiet, conn.ws.recv()).await;
                let message = match next {
                    Err(_) if reader && !stop.load(Ordering::Relaxed) => continue,
                    Err(_) => break,
                    Ok(Err(_)) => {
                        out.eof = true;
                        break;
                    }
                    Ok(Ok(Incoming::Close(code, _))) => {
                        out.close = Some(code);
                        break;
                    }
                    Ok(Ok(Incoming::Text(m))) => m,
                };
                let at = now_us();
                for line in hub::lines(&message) {
                    match hub::parse_line(line) {
                        Line::Ping => {
                            let _ = conn.ws.send_text("{}").await;
                        }
                        Line::Pub { offset, stamp } => {
                            out.pubs += 1;
                            if offset != last + 1 && out.unsubscribe.is_none() {
                                out.silent_gap = true;
                            }
                            last = offset;
                            if let (true, Some(t)) = (measuring, stamp) {
                                out.latencies.push(at.saturating_sub(t));
                            }
                        }
                        Line::Unsubscribe(code) => out.unsubscribe = Some(code),
                        Line::Disconnect(code) => out.disconnect = Some(code),
                        _ => {}
                    }
                }
            }
            out
        });
    }
    let open_deadline = tokio::time::Instant::now() + Duration::from_secs(60 + subs as u64 / 50);
    while joined.load(Ordering::Relaxed) < subs && tokio::time::Instant::now() < open_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let n_joined = joined.load(Ordering::Relaxed);
    checks.check(
        n_joined == subs,
        format!("{n_joined} of {subs} subscribers joined"),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = server.rss();
    let metrics_before = server.metrics().await.unwrap_or_default();
    let cpu_at = (
        crate::server::cpu_seconds(&server.pid.to_string()),
        crate::server::cpu_seconds("self"),
        std::time::Instant::now(),
    );
    let publishing = tokio::spawn(publisher::run(addr, names.clone(), rate, pad, stop.clone()));
    let mut max_rss = baseline;
    let until = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    while tokio::time::Instant::now() < until {
        max_rss = max_rss.max(server.rss());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let wall = cpu_at.2.elapsed().as_secs_f64();
    let server_cpu = (crate::server::cpu_seconds(&server.pid.to_string()) - cpu_at.0) / wall;
    let drill_cpu = (crate::server::cpu_seconds("self") - cpu_at.1) / wall;
    let published = publishing.await.unwrap_or_default();
    max_rss = max_rss.max(server.rss());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics_after = server.metrics().await.unwrap_or_default();
    resume.notify_waiters();
    let mut outcomes = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(o) = r {
            outcomes.push(o);
        }
    }
    let delta = |name: &str| {
        crate::http::metric(&metrics_after, name).unwrap_or(0.0)
            - crate::http::metric(&metrics_before, name).unwrap_or(0.0)
    };
    let accepted = published.accepted.len() as u64;
    let mut accepted_in = vec![0u64; channels];
    for a in &published.accepted {
        accepted_in[a.channel] += 1;
    }
    let readers: Vec<&Outcome> = outcomes.iter().filter(|o| o.reader && o.joined).collect();
    let slow: Vec<&Outcome> = outcomes.iter().filter(|o| !o.reader && o.joined).collect();
    let mut lat: Vec<u64> = readers
        .iter()
        .flat_map(|o| o.latencies.iter().copied())
        .collect();
    let (p50, p99, pmax) = (
        percentile(&mut lat, 50.0),
        percentile(&mut lat, 99.0),
        percentile(&mut lat, 100.0),
    );
    let complete = readers
        .iter()
        .filter(|o| o.pubs == accepted_in[o.channel])
        .count();
    let readers_cut = readers
        .iter()
        .filter(|o| o.close.is_some() || o.unsubscribe.is_some() || o.disconnect.is_some())
        .count();
    let history: usize = accepted_in
        .iter()
        .map(|&n| (n as usize).min(HISTORY_SIZE) * (pad + PUBLICATION_OVERHEAD))
        .sum();
    let bound = baseline + (n_joined * queue + history) as u64;
    println!(
        "  published {accepted} (failed {}), rss baseline {:.1} MiB, max {:.1} MiB (+{:.1} MiB, {:.0} B per connection), bound {:.1} MiB (history {:.1} MiB)",
        published.failed,
        mib(baseline),
        mib(max_rss),
        mib(max_rss.saturating_sub(baseline)),
        max_rss.saturating_sub(baseline) as f64 / n_joined.max(1) as f64,
        mib(bound),
        mib(history as u64)
    );
    println!(
        "  while publishing: server CPU {:.0}%, the drill's clients {:.0}% (near 100% the clients are the bottleneck and the latency is theirs too)",
        server_cpu * 100.0,
        drill_cpu * 100.0
    );
    println!(
        "  readers: {} with all of their channel's publications, latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({} samples)",
        complete,
        p50 as f64 / 1e3,
        p99 as f64 / 1e3,
        pmax as f64 / 1e3,
        lat.len()
    );
    let slow_disc = delta("pushwire_slow_disconnects_total");
    let drops = delta("pushwire_queue_drops_total");
    let closed3008 = slow.iter().filter(|o| o.close == Some(3008)).count();
    let ended = slow.iter().filter(|o| o.close.is_some() || o.eof).count();
    let unsub2500 = slow.iter().filter(|o| o.unsubscribe == Some(2500)).count();
    let silent = outcomes.iter().filter(|o| o.silent_gap).count();
    println!(
        "  non-readers: {} — close 3008 seen {closed3008}, connection ended {ended}, unsubscribe 2500 seen {unsub2500}; metrics: slow_disconnects +{slow_disc}, queue_drops +{drops}",
        slow.len()
    );
    checks.check(
        accepted > 0,
        format!("the API accepted {accepted} publications"),
    );
    checks.check(
        max_rss <= bound,
        "RSS stayed under baseline + connections × queue bound + history",
    );
    checks.check(
        readers_cut == 0,
        format!("no reader was cut off ({readers_cut})"),
    );
    checks.check(
        complete == readers.len(),
        format!(
            "every reader got every publication ({complete} of {})",
            readers.len()
        ),
    );
    checks.check(
        !lat.is_empty() && (p99 as f64 / 1e3) < p99_ms,
        format!("readers' p99 {:.1} ms < {p99_ms} ms", p99 as f64 / 1e3),
    );
    checks.check(
        silent == 0,
        format!("no silent gap in any subscriber's offsets ({silent})"),
    );
    if policy == "disconnect" {
        checks.check(
            slow_disc as usize >= slow.len() && ended == slow.len(),
            format!(
                "every non-reader was disconnected (3008 counted {slow_disc}, ended {ended} of {})",
                slow.len()
            ),
        );
    } else {
        checks.check(
            unsub2500 == slow.len(),
            format!(
                "every non-reader got unsubscribe 2500 ({unsub2500} of {})",
                slow.len()
            ),
        );
        checks.check(
            ended == 0,
            format!("no non-reader was disconnected ({ended})"),
        );
    }
    checks.finish(&format!("slow/{policy}"))
}
