//! The result types every scenario fills and every report reads; they are
//! also the JSON written to `bench/results/results.json`.

use serde::Serialize;

use crate::scenarios::{Sample, ScenarioSpec};
use crate::settings::Settings;
use crate::stats::Summary;

/// One whole invocation.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// `full` or `quick`.
    pub mode: &'static str,
    /// How long the whole run took, seconds.
    pub total_secs: f64,
    /// The machine it ran on.
    pub machine: Machine,
    /// The commit pushwire was built from, and whether `crates/` had
    /// uncommitted changes at the time.
    pub pushwire_source: Option<String>,
    /// Durations and repetitions.
    pub settings: Settings,
    /// The peers and their versions.
    pub peers: Vec<PeerInfo>,
    /// One entry per scenario, in run order.
    pub scenarios: Vec<ScenarioResult>,
}

/// Facts about the machine.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: usize,
    /// `uname -sr`.
    pub kernel: String,
    /// `/proc/loadavg` at the start: other work on a shared machine shows here.
    pub load_average_at_start: String,
}

/// A peer as the report names it.
#[derive(Debug, Serialize)]
pub struct PeerInfo {
    /// Short name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Version, when found.
    pub version: Option<String>,
    /// Why it could not run, when it could not.
    pub unavailable: Option<String>,
}

/// What happened to one peer in one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Measured (at least one run succeeded).
    Measured,
    /// The peer is not installed or built.
    Unavailable,
    /// The peer lacks what the scenario needs (e.g. permessage-deflate).
    Unsupported,
    /// Every run failed.
    Failed,
}

/// One peer in one scenario.
#[derive(Debug, Serialize)]
pub struct Cell {
    /// The peer's name.
    pub peer: String,
    /// Measured or why not.
    pub status: CellStatus,
    /// A failure or remark.
    pub note: Option<String>,
    /// The server's `Sec-WebSocket-Extensions` answer in the probe.
    pub extensions: Option<String>,
    /// Median and spread of the runs' values.
    pub summary: Option<Summary>,
    /// Median server CPU time per unit of work, microseconds.
    pub server_cpu_us_per_work: Option<f64>,
    /// Median server CPU use, percent of one core.
    pub server_cpu_percent: Option<f64>,
    /// Median generator CPU use, percent of one core.
    pub generator_cpu_percent: Option<f64>,
    /// Errors the generator counted over all runs.
    pub errors: u64,
    /// Every measured run.
    pub samples: Vec<Sample>,
}

impl Cell {
    /// A cell not yet measured.
    pub fn new(peer: &str) -> Self {
        Cell {
            peer: peer.to_owned(),
            status: CellStatus::Measured,
            note: None,
            extensions: None,
            summary: None,
            server_cpu_us_per_work: None,
            server_cpu_percent: None,
            generator_cpu_percent: None,
            errors: 0,
            samples: Vec::new(),
        }
    }

    /// A cell that will not be measured, and why.
    pub fn skipped(peer: &str, status: CellStatus, why: impl Into<String>) -> Self {
        Cell {
            status,
            note: Some(why.into()),
            ..Cell::new(peer)
        }
    }

    /// Computes the summaries from the samples.
    pub fn finish(&mut self) {
        if self.status != CellStatus::Measured {
            return;
        }
        let median = |f: &dyn Fn(&Sample) -> Option<f64>| {
            Summary::of(&self.samples.iter().filter_map(f).collect::<Vec<_>>()).map(|s| s.median)
        };
        self.summary = Summary::of(&self.samples.iter().map(|s| s.value).collect::<Vec<_>>());
        self.server_cpu_us_per_work = median(&|s| s.server_cpu_us_per_work());
        self.server_cpu_percent = median(&|s| Some(s.server_cpu_secs / s.wall_secs * 100.0));
        self.generator_cpu_percent = median(&|s| Some(s.generator_cpu_secs / s.wall_secs * 100.0));
        self.errors = self.samples.iter().map(|s| s.counters.errors()).sum();
        if self.summary.is_none() {
            self.status = CellStatus::Failed;
        }
    }

    /// The median, when measured.
    pub fn median(&self) -> Option<f64> {
        self.summary.map(|s| s.median)
    }
}

/// One scenario over every peer.
#[derive(Debug, Serialize)]
pub struct ScenarioResult {
    /// What was measured.
    #[serde(flatten)]
    pub spec: ScenarioSpec,
    /// The unit as a label.
    pub unit_label: &'static str,
    /// Whether a larger number is better.
    pub higher_is_better: bool,
    /// One cell per peer, in registry order.
    pub cells: Vec<Cell>,
}

impl ScenarioResult {
    /// The cell of `peer`.
    pub fn cell(&self, peer: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.peer == peer)
    }

    /// `peer`'s median divided by `reference`'s.
    pub fn ratio(&self, peer: &str, reference: &str) -> Option<f64> {
        let value = self.cell(peer)?.median()?;
        let base = self.cell(reference)?.median()?;
        (base != 0.0).then(|| value / base)
    }
}
