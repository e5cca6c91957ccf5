//! A backend publishing at a fixed rate through the server API
//! (`POST /api/publish`), over a few keep-alive connections each with one
//! request in flight, into one channel or round the channels it is given. Each publication's data is `{"at":<stamp>,"n":<seq>,
//! "p":"<padding>"}`; what the API accepted is kept with its offset and
//! epoch, so a drill can check what subscribers received against it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::http::Conn;
use crate::hub::{now_us, API_KEY};

/// Keep-alive connections the publisher uses at least.
const MIN_CONNECTIONS: usize = 8;

/// Publications a second one connection is asked to carry at most: with
/// one request in flight, a connection carries a publication per round
/// trip, which at high rates (tens of ms on a busy machine) must not be
/// what holds the rate back.
const RATE_PER_CONNECTION: f64 = 50.0;

/// One publication the API accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The index of its channel in the publisher's list.
    pub channel: usize,
    /// Its offset in the channel's stream.
    pub offset: u64,
    /// The stream's epoch.
    pub epoch: String,
    /// When it was sent ([`now_us`]).
    pub sent_us: u64,
}

/// What a publisher did.
#[derive(Debug, Default)]
pub struct Published {
    /// Accepted publications, in offset order per channel and epoch.
    pub accepted: Vec<Accepted>,
    /// Requests that failed (no connection, an error status).
    pub failed: u64,
}

/// Publishes `rate` publications a second of about `pad` bytes, round
/// `channels` (publication `n` into `channels[n % len]`), until `stop` is
/// set.
pub async fn run(
    server: SocketAddr,
    channels: Vec<String>,
    rate: f64,
    pad: usize,
    stop: Arc<AtomicBool>,
) -> Published {
    let mut tasks = JoinSet::new();
    let connections = MIN_CONNECTIONS.max((rate / RATE_PER_CONNECTION).ceil() as usize);
    let period = Duration::from_secs_f64(connections as f64 / rate.max(0.001));
    let padding: Arc<str> = "x".repeat(pad).into();
    let channels: Arc<[String]> = channels.into();
    for k in 0..connections {
        let (channels, stop, padding) = (channels.clone(), stop.clone(), padding.clone());
        tasks.spawn(async move {
            let mut conn = Conn::new(server);
            let mut out = Published::default();
            let start = Instant::now() + period.mul_f64(k as f64 / connections as f64);
            let mut tick = tokio::time::interval_at(start, period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let seq = n * connections as u64 + k as u64;
                let channel = (seq % channels.len() as u64) as usize;
                let sent_us = now_us();
                let body = json!({
                    "channel": channels[channel],
                    "data": {"at": sent_us, "n": seq, "p": &*padding},
                })
                .to_string();
                let headers = [("X-API-Key", API_KEY), ("Content-Type", "application/json")];
                let call = conn.request("POST", "/api/publish", &headers, body.as_bytes());
                match tokio::time::timeout(Duration::from_secs(5), call).await {
                    Ok(Ok(r)) if r.status == 200 => {
                        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                        match v.get("result") {
                            Some(result) => out.accepted.push(Accepted {
                                channel,
                                offset: result["offset"].as_u64().unwrap_or(0),
                                epoch: result["epoch"].as_str().unwrap_or("").to_owned(),
                                sent_us,
                            }),
                            None => out.failed += 1,
                        }
                    }
                    _ => {
                        out.failed += 1;
                        conn = Conn::new(server);
                    }
                }
            }
            out
        });
    }
    let mut all = Published::default();
    while let Some(Ok(part)) = tasks.join_next().await {
        all.accepted.extend(part.accepted);
        all.failed += part.failed;
    }
    all.accepted.sort_by(|a, b| {
        (a.channel, a.epoch.as_str(), a.offset).cmp(&(b.channel, b.epoch.as_str(), b.offset))
    });
    all
}
