//! Idle memory: the growth of the server's resident memory (VmRSS) when N
//! connections have done the upgrade and nothing else, divided by N.
//! Every run starts a fresh server, so nothing freed by an earlier run is
//! reused. Kernel socket buffers are not in RSS and not counted.
//! Connections come from 127.0.0.2 onwards (one process holds at most
//! ~19,000 sockets here, so 15,000 fit in the generator).

use std::time::Duration;

use pushwire_proto::Message;

use super::{Group, Sample, Scenario, ScenarioSpec, Unit};
use crate::engine::{Engine, Plan, Target};
use crate::error::BenchError;
use crate::payload::json_like;
use crate::procfs;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The idle-memory scenarios.
pub const IDLE: Group = Group {
    id: "idle-memory",
    title: "Idle memory per connection (server RSS delta)",
};

/// How many connections may be connecting at once.
const OPEN_CONCURRENCY: usize = 256;

/// One idle-memory scenario.
pub struct IdleMemory {
    spec: ScenarioSpec,
    connections: usize,
}

/// Idle memory at 1,000 and 15,000 connections.
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    [settings.scale(1_000, 50), settings.scale(15_000, 300)]
        .into_iter()
        .map(|connections| {
            Box::new(IdleMemory {
                spec: ScenarioSpec {
                    id: format!("idle-{connections}"),
                    group: IDLE,
                    title: format!("{connections} idle connections"),
                    unit: Unit::BytesPerConnection,
                    deflate: false,
                    fresh_server_per_run: true,
                },
                connections,
            }) as Box<dyn Scenario>
        })
        .collect()
}

impl Scenario for IdleMemory {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(json_like(20))
    }

    fn warm_up(&self, _: &mut ServerProcess, _: &Settings) -> Result<(), BenchError> {
        Ok(())
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let settle = if settings.quick {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(1000)
        };
        let target = Target {
            addr: server.addr,
            message: self.probe_message(),
            offer_deflate: false,
        };
        let mut engine = Engine::new(target, Plan::Hold)?;
        std::thread::sleep(settle / 2);
        let before = server.resident_bytes()?;
        let server_cpu = server.cpu_time()?;
        let own_cpu = procfs::own_cpu_time()?;
        let started = std::time::Instant::now();
        engine.open(self.connections, OPEN_CONCURRENCY, settings.scale_timeout())?;
        // Let the server finish whatever the last upgrades started.
        engine.run_for(settle);
        if !server.is_running() {
            return Err(BenchError::Peer(format!(
                "{} exited while holding connections",
                server.peer
            )));
        }
        let after = server.resident_bytes()?;
        let open = engine.open_connections();
        let sample = Sample {
            value: (after as f64 - before as f64) / open.max(1) as f64,
            work: open as u64,
            wall_secs: started.elapsed().as_secs_f64(),
            server_cpu_secs: server.cpu_time()?.saturating_sub(server_cpu).as_secs_f64(),
            generator_cpu_secs: procfs::own_cpu_time()?
                .saturating_sub(own_cpu)
                .as_secs_f64(),
            counters: engine.counters().clone(),
            metrics: Vec::new(),
        };
        engine.close_all();
        Ok(sample)
    }
}
