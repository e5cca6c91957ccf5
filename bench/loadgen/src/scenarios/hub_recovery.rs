//! The hub's recovery storm: N clients that were subscribed to one channel
//! with history come back at the same moment, each 100 publications
//! behind, and ask to recover them (Centrifugo's client protocol v2,
//! section 7 of the brief: subscribe with `recover`, `offset`, `epoch`).
//! The hub alone (no other peer has the protocol).
//!
//! One run, on a fresh server (probed first):
//!
//! 1. A first publication into [`hub::STORM_CHANNEL`] (namespace `storm`:
//!    history 1,000 for 300 s, recovery forced) through `POST
//!    /api/publish`, so the stream and its epoch exist.
//! 2. N clients connect with the token and subscribe ([`StormClient::join`],
//!    256 at a time); each notes the position (offset, epoch) of its
//!    subscribe reply, which must be the first publication's.
//! 3. Every client leaves cleanly (close frame 1000, the server's close
//!    awaited); then 100 publications of 100 B go in through one `POST
//!    /api/batch`, whose replies must carry the next 100 offsets. After
//!    a pause the server's RSS is read: the baseline. Its peak (`VmHWM`)
//!    is reset to it through `/proc/PID/clear_refs`.
//! 4. The storm ([`StormClient::storm`]): every client's socket is opened
//!    in one burst, as fast as the generator can (`open all ms`), and each
//!    sends connect + subscribe with `recover:true`, its offset and epoch
//!    in one frame once upgraded. The scenario's number is the time from
//!    the first connect to the last client having its subscribe reply with
//!    `recovered:true` and all 100 missed publications, in order, each
//!    once (checked by offset; a client that fails a check counts as not
//!    recovered and as an error of the run, so a clean run shows 0);
//!    per client, the time from its own connect (`p50 ms`, `p99 ms`,
//!    `max ms`). Server CPU time is taken over the same span, and so are
//!    the kernel's counts of connections the listen queue had no room for
//!    (`listen overflows`) and of SYNs sent again (`SYN retransmits`;
//!    both count the whole machine's loopback, which others share).
//!    The `-paced` variant reconnects the same clients at most
//!    [`PACED`] at a time instead (a client starts when another has
//!    recovered): what the hub takes when no SYN waits for a
//!    retransmission.
//! 5. Memory: the server's RSS is sampled every [`SAMPLE_EVERY`] from the
//!    generator's loop during the storm and a short hold after it, and the
//!    peak (`peak MiB`) is the larger of the samples' maximum (`sampled
//!    peak MiB`) and `VmHWM` (the kernel's own high-water mark, when it
//!    could be reset); `peak growth MiB` and `peak B/client` are over the
//!    baseline. The baseline holds what the allocator kept of the first
//!    connections (freed, not returned), so the RSS of the fresh server
//!    (`fresh MiB`, after the probe) and with the N clients first joined
//!    (`joined MiB`) are reported as well. `held B/client` is the growth
//!    once every client has recovered and the hold is over (N subscribed,
//!    idle connections). The hold also catches a publication delivered
//!    again after the recovery (an error).

use std::time::{Duration, Instant};

use pushwire_proto::Message;

use super::{Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::clients::api_call;
use crate::clients::hub::{self, STORM_CHANNEL};
use crate::clients::hub_storm::StormClient;
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::procfs;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The recovery-storm scenarios.
pub const HUB_RECOVERY: Group = Group {
    id: "hub-recovery",
    title: "Recovery storm: hub clients reconnecting at once, each 100 publications behind",
};

/// Publications each client missed.
const MISSED: u64 = 100;
/// Bytes of data per publication (a JSON string).
const DATA_SIZE: usize = 100;
/// How often the server's RSS is sampled during the storm.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// Timeout of one API request.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// Reconnecting clients at a time in the paced variant (50 in a quick
/// run, so that the pacing is exercised): under the listen backlog of
/// `pushwire serve` (128, as `ss -ltn` shows), so no connection waits for
/// a SYN retransmission.
const PACED: usize = 100;

/// One recovery-storm scenario.
pub struct HubRecovery {
    spec: ScenarioSpec,
    clients: usize,
    /// `None`: all at once; otherwise at most this many reconnecting.
    at_a_time: Option<usize>,
}

/// The storm of 10,000 clients (200 in a quick run), all at once, and
/// the same clients reconnecting at most [`PACED`] at a time (`-paced`).
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    let clients = settings.scale(10_000, 200);
    let paced = settings.scale(PACED, 50);
    [
        (None, String::new(), "at once".to_owned()),
        (
            Some(paced),
            "-paced".to_owned(),
            format!("at most {paced} at a time"),
        ),
    ]
    .into_iter()
    .map(|(at_a_time, suffix, how)| {
        Box::new(HubRecovery {
            spec: ScenarioSpec {
                id: format!("hub-recovery-storm-{clients}{suffix}"),
                group: HUB_RECOVERY,
                title: format!(
                    "{clients} hub clients reconnecting {how}, {MISSED} publications behind: \
                     time until all recovered"
                ),
                unit: Unit::RecoveryMs,
                deflate: false,
                fresh_server_per_run: true,
            },
            clients,
            at_a_time,
        }) as Box<dyn Scenario>
    })
    .collect()
}

impl Scenario for HubRecovery {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(crate::clients::stamp::stamped(1, DATA_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::HubAlone
    }

    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        hub::probe(server.addr, token(server)?, DATA_SIZE)
    }

    fn warm_up(&self, _: &mut ServerProcess, _: &Settings) -> Result<(), BenchError> {
        Ok(())
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let timeout = settings.scale_timeout();
        let settle = if settings.quick {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(1)
        };
        let pid = server.pid;

        // 1. The stream exists.
        let first = api_call::post(server.addr, "publish", &publish_body(), API_TIMEOUT)?;
        let first = published_offset(&first)
            .ok_or_else(|| BenchError::Peer(format!("the first publication: {}", text(&first))))?;

        // 2. Every client subscribes and notes its position.
        let fresh = server.resident_bytes()?;
        let mut client = StormClient::new(server.addr, token(server)?, STORM_CHANNEL)?;
        client.join(self.clients, timeout)?;
        let joined = server.resident_bytes()?;
        let mut epoch = None;
        for (index, position) in client.positions().enumerate() {
            let position = position
                .ok_or_else(|| BenchError::Peer(format!("client {index} has no position")))?;
            let epoch = epoch.get_or_insert_with(|| position.epoch.clone());
            if position.offset != first || &position.epoch != epoch {
                return Err(BenchError::Peer(format!(
                    "client {index} joined at offset {} epoch {:?}, not at the first publication \
                     (offset {first}, epoch {epoch:?})",
                    position.offset, position.epoch
                )));
            }
        }

        // 3. Every client leaves; the publications it will miss.
        client.leave(timeout)?;
        let batch = api_call::post(server.addr, "batch", &batch_body(MISSED), API_TIMEOUT)?;
        let offsets = batch_offsets(&batch).ok_or_else(|| {
            BenchError::Peer(format!("the batch of publications: {}", text(&batch)))
        })?;
        let expected: Vec<u64> = (first + 1..=first + MISSED).collect();
        if offsets != expected {
            return Err(BenchError::Peer(format!(
                "the batch's publications got offsets {offsets:?}, not {}..={}",
                first + 1,
                first + MISSED
            )));
        }
        let top = first + MISSED;
        std::thread::sleep(settle);
        let baseline = server.resident_bytes()?;
        let peak_reset = procfs::reset_peak_resident(pid).is_ok();

        // 4. The storm, the server's memory sampled meanwhile.
        let server_cpu = server.cpu_time()?;
        let own_cpu = procfs::own_cpu_time()?;
        let mut peak = baseline;
        let mut last_sample = Instant::now();
        let mut samples = 0u64;
        let mut sample = || {
            if last_sample.elapsed() >= SAMPLE_EVERY {
                if let Ok(rss) = procfs::resident_bytes(pid) {
                    peak = peak.max(rss);
                    samples += 1;
                }
                last_sample = Instant::now();
            }
        };
        let tcp_before = procfs::tcp_counters()?;
        let outcome = client.storm(top, self.at_a_time, timeout, &mut sample)?;
        let server_cpu = server.cpu_time()?.saturating_sub(server_cpu);
        let own_cpu = procfs::own_cpu_time()?.saturating_sub(own_cpu);
        let tcp_after = procfs::tcp_counters()?;
        let tcp = |name: &str| {
            let count = |counters: &std::collections::HashMap<String, u64>| {
                counters.get(name).copied().unwrap_or(0)
            };
            count(&tcp_after).saturating_sub(count(&tcp_before)) as f64
        };

        // 5. A hold: late duplicates, the memory once all have recovered.
        let late = client.hold(settle, &mut sample);
        let held = server.resident_bytes()?;
        let hwm = if peak_reset {
            procfs::peak_resident_bytes(pid).ok()
        } else {
            None
        };
        let sampled_peak = peak;
        let peak = peak.max(hwm.unwrap_or(0));
        if !server.is_running() {
            return Err(BenchError::Peer(format!(
                "{} exited during the storm",
                server.peer
            )));
        }

        let n = self.clients as f64;
        let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
        let growth = peak.saturating_sub(baseline) as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let metrics = vec![
            Metric::new("open all ms", ms(outcome.opening)),
            Metric::new("p50 ms", outcome.per_client.quantile_ms(0.5)),
            Metric::new("p99 ms", outcome.per_client.quantile_ms(0.99)),
            Metric::new("max ms", outcome.per_client.max_ms()),
            Metric::new("recovered", outcome.recovered as f64),
            Metric::new("not recovered", (outcome.failures + late) as f64),
            Metric::new("pubs checked", outcome.publications as f64),
            Metric::new("fresh MiB", mib(fresh as f64)),
            Metric::new("joined MiB", mib(joined as f64)),
            Metric::new("baseline MiB", mib(baseline as f64)),
            Metric::new("peak MiB", mib(peak as f64)),
            Metric::new("sampled peak MiB", mib(sampled_peak as f64)),
            Metric::new("peak growth MiB", mib(growth)),
            Metric::new("peak B/client", growth / n),
            Metric::new("held B/client", held.saturating_sub(baseline) as f64 / n),
            Metric::new("server CPU ms", ms(server_cpu)),
            Metric::new("listen overflows", tcp("ListenOverflows")),
            Metric::new("SYN retransmits", tcp("TCPSynRetrans")),
            Metric::new("RSS samples", samples as f64),
        ];
        let mut counters = client.counters.clone();
        counters.replies = outcome.publications;
        Ok(Sample {
            value: ms(outcome.all_done),
            work: self.clients as u64,
            wall_secs: outcome.all_done.as_secs_f64(),
            server_cpu_secs: server_cpu.as_secs_f64(),
            generator_cpu_secs: own_cpu.as_secs_f64(),
            counters,
            metrics,
        })
    }
}

fn token(server: &ServerProcess) -> Result<&str, BenchError> {
    server
        .token
        .as_deref()
        .ok_or_else(|| BenchError::Setup(format!("{} has no token", server.peer)))
}

/// `{"channel":"storm:bench","data":"<100 B>"}`
fn publish_body() -> String {
    let data = crate::clients::stamp::stamped(0, DATA_SIZE - 2);
    format!(r#"{{"channel":"{STORM_CHANNEL}","data":"{data}"}}"#)
}

/// `{"commands":[{"publish":{…}},…]}` of `count` publications.
fn batch_body(count: u64) -> String {
    let publish = format!(r#"{{"publish":{}}}"#, publish_body());
    let commands = vec![publish; count as usize].join(",");
    format!(r#"{{"commands":[{commands}]}}"#)
}

/// The offset of `{"result":{"offset":N,…}}`.
fn published_offset(body: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["result"]["offset"].as_u64()
}

/// The offsets of `{"replies":[{"publish":{"offset":N,…}},…]}`; none if
/// any reply is not a publication's.
fn batch_offsets(body: &[u8]) -> Option<Vec<u64>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["replies"]
        .as_array()?
        .iter()
        .map(|reply| reply["publish"]["offset"].as_u64())
        .collect()
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_are_json_with_100_byte_data() {
        let publish: serde_json::Value = serde_json::from_str(&publish_body()).unwrap();
        assert_eq!(publish["channel"], STORM_CHANNEL);
        assert_eq!(publish["data"].as_str().unwrap().len() + 2, DATA_SIZE);
        let batch: serde_json::Value = serde_json::from_str(&batch_body(3)).unwrap();
        assert_eq!(batch["commands"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn batch_offsets_need_every_reply_to_be_a_publication() {
        let ok = br#"{"replies":[{"publish":{"offset":2,"epoch":"e"}},{"publish":{"offset":3,"epoch":"e"}}]}"#;
        assert_eq!(batch_offsets(ok), Some(vec![2, 3]));
        let failed = br#"{"replies":[{"publish":{"offset":2}},{"error":{"code":102,"message":"unknown channel"}}]}"#;
        assert_eq!(batch_offsets(failed), None);
        assert_eq!(
            published_offset(br#"{"result":{"offset":1,"epoch":"e"}}"#),
            Some(1)
        );
    }
}
