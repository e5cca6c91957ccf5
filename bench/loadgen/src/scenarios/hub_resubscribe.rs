//! The hub on Redis after a node's pub/sub connection to Redis broke:
//! how long until every subscriber of that node is subscribed again and
//! receiving, and what was lost (it must be nothing). The peer
//! `pushwire-hub-redis` alone (two nodes on one `redis-server`).
//!
//! One run, on a fresh group (probed first):
//!
//! 1. One round of publications through node B's `POST /api/batch` into
//!    each of C channels `hist:resub-K` (namespace `hist`: history 100 for
//!    300 s, recovery forced), so every stream and its epoch exist.
//! 2. N subscribers connect to node A, connection i subscribing to channel
//!    `i % C` ([`ResubClient::open`]), and note their offset and epoch.
//! 3. Node B publishes a round into every channel every [`ROUND_EVERY`]
//!    (full run: 1,000 channels, 4,000 publications/s) for a steady second;
//!    every publication each subscriber receives is checked by offset.
//! 4. The break: node A's pub/sub connection(s) to Redis — found by
//!    matching `CLIENT LIST TYPE pubsub` with node A's sockets in /proc —
//!    are killed with `CLIENT KILL ID` (`t0` just before). Redis stays up;
//!    node B and node A's command connections are untouched; publishing
//!    goes on.
//! 5. [`ResubClient::watch`]: whatever the hub does (unsubscribe 2500 and
//!    the client subscribes again with recovery, or the engine
//!    resubscribing by itself) is followed until every subscriber is back
//!    (a live publication that follows its offset after its last
//!    unsubscribe) and no unsubscribe has come for a while. The number is
//!    the time from `t0` to the last subscriber back; the metrics add the
//!    time to the last resubscribe reply, per-subscriber p50/p99, the
//!    unsubscribes received, the publications recovered in the replies,
//!    and the CPU node A and Redis spent meanwhile.
//! 6. Publishing stops; after a hold, each subscriber's offset is compared
//!    with the top offset the API answered for its channel: a publication
//!    missing (or skipped in a gap, or received twice) is counted `lost`
//!    (or `repeated`) and is an error of the run.

use std::time::{Duration, Instant};

use pushwire_proto::Message;

use super::{Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::clients::hub;
use crate::clients::hub_resub::ResubClient;
use crate::clients::metrics_scrape;
use crate::clients::redis_admin::RedisAdmin;
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::procfs;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The resubscribe scenarios.
pub const HUB_RESUBSCRIBE: Group = Group {
    id: "hub-resubscribe",
    title: "The hub on Redis: subscribers back after their node's Redis pub/sub connection broke",
};

/// A round of publications (one per channel) this often.
const ROUND_EVERY: Duration = Duration::from_millis(250);
/// The prefix of the channels (namespace `hist`).
const CHANNEL_PREFIX: &str = "hist:resub-";
/// Node A's counter of channels whose Redis stream it stopped trusting.
const LINK_BREAKS: &str = "pushwire_link_breaks_total";
/// Timeout of the first round.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// One resubscribe scenario.
pub struct HubResubscribe {
    spec: ScenarioSpec,
    subscribers: usize,
    channels: usize,
}

/// 10,000 subscribers over 1,000 channels (quick: 200 over 20).
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    let subscribers = settings.scale(10_000, 200);
    let channels = settings.scale(1_000, 20);
    vec![Box::new(HubResubscribe {
        spec: ScenarioSpec {
            id: format!("hub-redis-resubscribe-{subscribers}x{channels}"),
            group: HUB_RESUBSCRIBE,
            title: format!(
                "{subscribers} subscribers of {channels} channels on node A, its Redis pub/sub \
                 connection killed: time until all are back"
            ),
            unit: Unit::RecoveryMs,
            deflate: false,
            fresh_server_per_run: true,
        },
        subscribers,
        channels,
    })]
}

impl Scenario for HubResubscribe {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(crate::clients::stamp::stamped(1, 100))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::HubEngine
    }

    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        hub::probe_nodes(&server.nodes, token(server)?, 100)
    }

    fn warm_up(&self, _: &mut ServerProcess, _: &Settings) -> Result<(), BenchError> {
        Ok(())
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let redis = server
            .redis
            .ok_or_else(|| BenchError::Setup(format!("{} has no Redis", server.peer)))?;
        let api = *server
            .nodes
            .get(1)
            .ok_or_else(|| BenchError::Setup(format!("{} has one node", server.peer)))?;
        let timeout = settings.scale_timeout();
        let (steady, quiet, hold) = if settings.quick {
            (
                Duration::from_millis(300),
                Duration::from_millis(300),
                Duration::from_millis(300),
            )
        } else {
            (
                Duration::from_secs(1),
                Duration::from_secs(1),
                Duration::from_secs(1),
            )
        };

        // 1–3: streams, subscribers, steady publishing.
        let mut client = ResubClient::new(
            server.addr,
            api,
            token(server)?,
            CHANNEL_PREFIX,
            self.channels,
        )?;
        client.publish_round(API_TIMEOUT)?;
        client.open(self.subscribers, timeout)?;
        client.run(ROUND_EVERY, steady);
        if client.counters.errors() > 0 {
            return Err(BenchError::Peer(format!(
                "before the break: {}",
                client.counters.last_error.as_deref().unwrap_or("errors")
            )));
        }

        // 4. The break: node A's pub/sub connection(s) to Redis.
        let ports = procfs::local_ports_to(server.pid, redis.addr.port())?;
        let mut admin = RedisAdmin::connect(redis.addr)?;
        let targets: Vec<_> = admin
            .pubsub_clients()?
            .into_iter()
            .filter(|c| ports.contains(&c.port))
            .collect();
        if targets.is_empty() {
            return Err(BenchError::Peer(format!(
                "no pub/sub connection of node A (pid {}) found in CLIENT LIST",
                server.pid
            )));
        }
        let link_breaks = metrics_scrape::value(server.addr, LINK_BREAKS)?;
        let published_before = client.published;
        let node_cpu = super::sched_cpu::cpu_time(server.pid)?;
        let redis_cpu = redis.cpu_time()?;
        let own_cpu = procfs::own_cpu_time()?;
        let t0 = Instant::now();
        for target in &targets {
            admin.kill_client(target.id)?;
        }
        let kill_ms = t0.elapsed().as_secs_f64() * 1e3;
        client.mark_break(t0);

        // 5. Until every subscriber is back.
        let outcome = client.watch(ROUND_EVERY, quiet, timeout)?;
        let watched = t0.elapsed();
        let node_cpu = super::sched_cpu::cpu_time(server.pid)?.saturating_sub(node_cpu);
        let redis_cpu = redis.cpu_time()?.saturating_sub(redis_cpu);
        let own_cpu = procfs::own_cpu_time()?.saturating_sub(own_cpu);
        let published = client.published - published_before;

        // 6. What was lost.
        let lost = client.settle(hold);
        let link_breaks = match (
            link_breaks,
            metrics_scrape::value(server.addr, LINK_BREAKS)?,
        ) {
            (Some(before), Some(after)) => after - before,
            _ => f64::NAN,
        };
        if let Some(what) = server.exited() {
            return Err(BenchError::Peer(format!("during the run: {what}")));
        }
        let mut counters = client.counters.clone();
        if lost > 0 && counters.protocol_errors == 0 {
            counters.protocol_errors += 1;
            counters.note(format!("{lost} publications lost"));
        }
        counters.replies = client.checked;

        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let secs = watched.as_secs_f64();
        let metrics = vec![
            Metric::new("all resubscribed ms", ms(outcome.all_resubscribed)),
            Metric::new("resubscribed p50 ms", outcome.resubscribed.quantile_ms(0.5)),
            Metric::new(
                "resubscribed p99 ms",
                outcome.resubscribed.quantile_ms(0.99),
            ),
            Metric::new("back p50 ms", outcome.back.quantile_ms(0.5)),
            Metric::new("back p99 ms", outcome.back.quantile_ms(0.99)),
            Metric::new("unsubscribes", outcome.unsubscribes as f64),
            Metric::new("of them 2500", outcome.insufficient_state as f64),
            Metric::new("subscribes retried", outcome.retries as f64),
            Metric::new("pubs recovered", outcome.recovered_publications as f64),
            Metric::new("lost", lost as f64),
            Metric::new("repeated", client.repeated as f64),
            Metric::new("pubs checked", client.checked as f64),
            Metric::new("pub/s during", published as f64 / secs),
            Metric::new("pub/sub conns killed", targets.len() as f64),
            // The hub's own count of channels it stopped trusting (node A).
            Metric::new("link breaks", link_breaks),
            Metric::new("kill ms", kill_ms),
            Metric::new("node A CPU %", 100.0 * node_cpu.as_secs_f64() / secs),
            Metric::new("Redis CPU %", 100.0 * redis_cpu.as_secs_f64() / secs),
        ];
        Ok(Sample {
            value: ms(outcome.all_back),
            work: self.subscribers as u64,
            wall_secs: secs,
            server_cpu_secs: (node_cpu + redis_cpu).as_secs_f64(),
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
