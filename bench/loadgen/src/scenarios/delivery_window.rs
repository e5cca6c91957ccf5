//! The timed window of a delivery scenario (WebSocket fan-out, long
//! polling, SSE fan-out): wall time and the server's and generator's CPU
//! time around the client's run, turned into a [`Sample`] of deliveries.

use std::time::Instant;

use super::{Metric, Sample};
use crate::engine::Counters;
use crate::error::BenchError;
use crate::procfs;
use crate::server::ServerProcess;

/// What one timed run took.
pub struct DeliveryWindow {
    /// Length of the window in seconds.
    pub wall: f64,
    server_cpu: f64,
    generator_cpu: f64,
    /// CPU seconds of a group's `redis-server` in the window.
    pub redis_cpu: Option<f64>,
}

impl DeliveryWindow {
    /// Times `run`, failing if the server did not survive it.
    pub fn time(server: &mut ServerProcess, run: impl FnOnce()) -> Result<Self, BenchError> {
        let redis = server.redis;
        let redis_cpu = redis.map(|r| r.cpu_time()).transpose()?;
        let server_cpu = server.cpu_time()?;
        let generator_cpu = procfs::own_cpu_time()?;
        let started = Instant::now();
        run();
        let wall = started.elapsed().as_secs_f64();
        let server_cpu = server.cpu_time()?.saturating_sub(server_cpu);
        let generator_cpu = procfs::own_cpu_time()?.saturating_sub(generator_cpu);
        let redis_cpu = match (redis, redis_cpu) {
            (Some(r), Some(before)) => Some(r.cpu_time()?.saturating_sub(before).as_secs_f64()),
            _ => None,
        };
        if let Some(what) = server.exited() {
            return Err(BenchError::Peer(format!("during the run: {what}")));
        }
        Ok(DeliveryWindow {
            wall,
            server_cpu: server_cpu.as_secs_f64(),
            generator_cpu: generator_cpu.as_secs_f64(),
            redis_cpu,
        })
    }

    /// The sample of `deliveries` made in this window: deliveries per
    /// second, counted as the replies of `counters`.
    pub fn sample(self, deliveries: u64, mut counters: Counters, metrics: Vec<Metric>) -> Sample {
        counters.replies = deliveries;
        Sample {
            value: deliveries as f64 / self.wall,
            work: deliveries,
            wall_secs: self.wall,
            server_cpu_secs: self.server_cpu,
            generator_cpu_secs: self.generator_cpu,
            counters,
            metrics,
        }
    }
}
