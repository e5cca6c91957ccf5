//! The hub's publish API rate: publications per second into a channel
//! with history ([`hub::HISTORY_CHANNEL`]: 100 publications kept for
//! 300 s, recovery forced) through `POST /api/publish` (one publication
//! per request) and through `POST /api/batch` (100 publish commands per
//! request), over keep-alive HTTP/1.1 from 50 connections with one request
//! in flight each ([`ApiLoad`]), and `/api/publish` again with 16 requests
//! in flight on each (HTTP/1.1 pipelining), the server on one core. 100 B of data
//! per publication; no subscribers. Beside the hub, Bun's minimal publish
//! API (`bench/peers/node/bun-api.js`: the same requests and answers, a
//! toy history): what the fastest HTTP server here spends on the
//! exchange itself, the floor under any publish API on this machine.

use pushwire_proto::Message;

use super::{Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::clients::api_load::ApiLoad;
use crate::clients::hub;
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::procfs;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The publish-API scenarios.
pub const HUB_API: Group = Group {
    id: "hub-api",
    title: "The hub's publish API into a channel with history (publications/s)",
};

/// Keep-alive connections posting at once.
const CONNECTIONS: usize = 50;
/// Publish commands per batch request.
const BATCH: usize = 100;
/// Requests in flight per connection in the pipelined variant.
const PIPELINED: usize = 16;
/// Bytes of data per publication.
const DATA_SIZE: usize = 100;

/// One publish-API scenario.
pub struct HubApi {
    spec: ScenarioSpec,
    /// Publications per request through `/api/batch`; 0: `/api/publish`.
    batch: usize,
    /// Requests in flight per connection.
    in_flight: usize,
}

/// `POST /api/publish` (one and 16 in flight) and `POST /api/batch` of 100.
pub fn variants(_: &Settings) -> Vec<Box<dyn Scenario>> {
    [(0, 1), (BATCH, 1), (0, PIPELINED)]
        .into_iter()
        .map(|(batch, in_flight)| {
            let (id, title) = if in_flight > 1 {
                (
                    format!("hub-api-publish-pipelined{in_flight}"),
                    format!(
                        "POST /api/publish, {CONNECTIONS} keep-alive connections, {in_flight} in flight each"
                    ),
                )
            } else if batch == 0 {
                (
                    "hub-api-publish".to_owned(),
                    format!("POST /api/publish, {CONNECTIONS} keep-alive connections"),
                )
            } else {
                (
                    format!("hub-api-batch-{batch}"),
                    format!(
                        "POST /api/batch of {batch} publications, {CONNECTIONS} keep-alive connections"
                    ),
                )
            };
            Box::new(HubApi {
                spec: ScenarioSpec {
                    id,
                    group: HUB_API,
                    title,
                    unit: Unit::MessagesPerSecond,
                    deflate: false,
                    fresh_server_per_run: false,
                },
                batch,
                in_flight,
            }) as Box<dyn Scenario>
        })
        .collect()
}

impl Scenario for HubApi {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(crate::clients::stamp::stamped(1, DATA_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::PublishApi
    }

    /// A hub is probed through its client protocol; every peer then by
    /// one request of the scenario's, answered as the hub answers.
    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        let report = match server.token.as_deref() {
            Some(token) => hub::probe_nodes(&server.nodes, token, DATA_SIZE)?,
            None => ProbeReport::default(),
        };
        let mut load = ApiLoad::open(
            server.addr,
            1,
            self.in_flight,
            hub::HISTORY_CHANNEL,
            DATA_SIZE,
            self.batch,
            std::time::Duration::from_secs(5),
        )?;
        let (answered, _) = load.run(std::time::Duration::from_millis(50));
        if answered == 0 || load.counters.errors() > 0 {
            return Err(BenchError::Peer(format!(
                "{}: no good answer to {}: {}",
                server.peer,
                if self.batch == 0 {
                    "/api/publish"
                } else {
                    "/api/batch"
                },
                load.counters.last_error.as_deref().unwrap_or("none")
            )));
        }
        Ok(report)
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let mut load = ApiLoad::open(
            server.addr,
            CONNECTIONS,
            self.in_flight,
            hub::HISTORY_CHANNEL,
            DATA_SIZE,
            self.batch,
            settings.scale_timeout(),
        )?;
        load.run(settings.ramp);
        let redis = server.redis;
        let redis_cpu = redis.map(|r| r.cpu_time()).transpose()?;
        let node_cpu = super::sched_cpu::cpu_time(server.pid)?;
        let server_cpu = server.cpu_time()?;
        let own_cpu = procfs::own_cpu_time()?;
        let (requests, wall) = load.run(settings.duration);
        let server_cpu = server.cpu_time()?.saturating_sub(server_cpu);
        let node_cpu = super::sched_cpu::cpu_time(server.pid)?.saturating_sub(node_cpu);
        let own_cpu = procfs::own_cpu_time()?.saturating_sub(own_cpu);
        let redis_cpu = match (redis, redis_cpu) {
            (Some(r), Some(before)) => Some(r.cpu_time()?.saturating_sub(before)),
            _ => None,
        };
        if let Some(what) = server.exited() {
            return Err(BenchError::Peer(format!("during the run: {what}")));
        }
        let wall = wall.as_secs_f64();
        let publications = requests * load.per_request();
        let mut counters = load.counters.clone();
        counters.replies = publications;
        let per_pub =
            |cpu: std::time::Duration| cpu.as_secs_f64() * 1e6 / publications.max(1) as f64;
        let mut metrics = vec![
            Metric::new("requests/s", requests as f64 / wall),
            // The node that took the requests (of a group, the first).
            Metric::new("node CPU µs/pub", per_pub(node_cpu)),
            Metric::new("node CPU %", 100.0 * node_cpu.as_secs_f64() / wall),
        ];
        if let Some(redis_cpu) = redis_cpu {
            metrics.push(Metric::new("Redis CPU µs/pub", per_pub(redis_cpu)));
            metrics.push(Metric::new(
                "Redis CPU %",
                100.0 * redis_cpu.as_secs_f64() / wall,
            ));
        }
        Ok(Sample {
            value: publications as f64 / wall,
            work: publications,
            wall_secs: wall,
            server_cpu_secs: server_cpu.as_secs_f64(),
            generator_cpu_secs: own_cpu.as_secs_f64(),
            counters,
            metrics,
        })
    }
}
