//! How long and how often to measure: the full run and the quick smoke run.

use std::time::Duration;

use serde::Serialize;

/// Durations, repetitions and scale of one invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Tiny counts and durations (a smoke run).
    pub quick: bool,
    /// Measured runs per peer and scenario.
    pub runs: usize,
    /// Length of the unrecorded warm-up run per peer and scenario.
    #[serde(serialize_with = "as_secs")]
    pub warmup: Duration,
    /// Time between starting the load and starting the clock in every run.
    #[serde(serialize_with = "as_secs")]
    pub ramp: Duration,
    /// Length of one measured run.
    #[serde(serialize_with = "as_secs")]
    pub duration: Duration,
    /// The core the servers are pinned to.
    pub server_cpu: usize,
    /// The core the generator is pinned to.
    pub generator_cpu: usize,
}

impl Settings {
    /// Defaults of the full run.
    pub fn full() -> Self {
        Settings {
            quick: false,
            runs: 5,
            warmup: Duration::from_secs(1),
            ramp: Duration::from_millis(300),
            duration: Duration::from_secs(2),
            server_cpu: 0,
            generator_cpu: 1,
        }
    }

    /// Defaults of the quick run.
    pub fn quick() -> Self {
        Settings {
            quick: true,
            runs: 1,
            warmup: Duration::ZERO,
            ramp: Duration::from_millis(20),
            duration: Duration::from_millis(150),
            ..Settings::full()
        }
    }

    /// How long opening a scenario's connections may take.
    pub fn scale_timeout(&self) -> Duration {
        Duration::from_secs(if self.quick { 10 } else { 60 })
    }

    /// `full` in a full run, `quick` in a quick one.
    pub fn scale(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
