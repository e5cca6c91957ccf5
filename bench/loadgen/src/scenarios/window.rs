//! A measurement window: counters and CPU times at its start, turned into
//! a [`Sample`] at its end.

use std::time::{Duration, Instant};

use super::Sample;
use crate::engine::{Counters, Engine};
use crate::error::BenchError;
use crate::procfs;
use crate::server::ServerProcess;

/// The state at the start of a timed window.
pub struct Window {
    started: Instant,
    server_cpu: Duration,
    generator_cpu: Duration,
    counters: Counters,
}

impl Window {
    /// Opens a window now.
    pub fn open(engine: &Engine, server: &ServerProcess) -> Result<Self, BenchError> {
        Ok(Window {
            started: Instant::now(),
            server_cpu: server.cpu_time()?,
            generator_cpu: procfs::own_cpu_time()?,
            counters: engine.counters().clone(),
        })
    }

    /// Closes the window; `work` picks the unit of work out of the
    /// counters, and the value is work per second.
    pub fn close(
        self,
        engine: &Engine,
        server: &ServerProcess,
        work: impl Fn(&Counters) -> u64,
    ) -> Result<Sample, BenchError> {
        let wall = self.started.elapsed().as_secs_f64();
        let server_cpu = server.cpu_time()?.saturating_sub(self.server_cpu);
        let generator_cpu = procfs::own_cpu_time()?.saturating_sub(self.generator_cpu);
        let now = engine.counters();
        let done = work(now) - work(&self.counters);
        let mut delta = Counters {
            replies: now.replies - self.counters.replies,
            cycles: now.cycles - self.counters.cycles,
            upgrades: now.upgrades - self.counters.upgrades,
            connect_errors: now.connect_errors - self.counters.connect_errors,
            upgrade_errors: now.upgrade_errors - self.counters.upgrade_errors,
            deflate_declined: now.deflate_declined - self.counters.deflate_declined,
            io_errors: now.io_errors - self.counters.io_errors,
            protocol_errors: now.protocol_errors - self.counters.protocol_errors,
            unexpected_closes: now.unexpected_closes - self.counters.unexpected_closes,
            last_error: None,
        };
        if delta.errors() > 0 {
            delta.last_error = now.last_error.clone();
        }
        Ok(Sample {
            value: done as f64 / wall,
            work: done,
            wall_secs: wall,
            server_cpu_secs: server_cpu.as_secs_f64(),
            generator_cpu_secs: generator_cpu.as_secs_f64(),
            counters: delta,
            metrics: Vec::new(),
        })
    }
}
