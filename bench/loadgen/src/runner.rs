//! Runs scenarios over peers the same way every time: start each peer's
//! server pinned to the server core, prove it echoes correctly, warm it
//! up, then measure the runs interleaved across peers (run 1 of every
//! peer, then run 2, ...) so a slow moment of a shared machine spreads
//! over all of them instead of hitting one. Every peer's server stays up
//! between its runs, so before each run the runner waits for all of them
//! to leave the server core idle: a server still working off its last run
//! (a fan-out backlog to subscribers that are gone) would otherwise take
//! the core from the one measured. One that is still busy after
//! [`QUIET_DEADLINE`] is stopped, and started afresh when next needed.

use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::peers::{Paths, Peer, ServerRole};
use crate::progress::Progress;
use crate::results::{Cell, CellStatus, ScenarioResult};
use crate::scenarios::Scenario;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The window over which the servers' CPU use is checked before a run.
const QUIET_WINDOW: Duration = Duration::from_millis(250);
/// The most CPU time the servers together may use in that window for the
/// core to count as idle: one clock tick at 100 Hz (4%).
const QUIET_CPU: Duration = Duration::from_millis(10);
/// How long to wait for an idle core before stopping the busy servers.
const QUIET_DEADLINE: Duration = Duration::from_secs(10);

/// A peer taking part, with its server when one is running.
struct Entrant {
    peer: Peer,
    /// Why it cannot run at all.
    unavailable: Option<String>,
    server: Option<ServerProcess>,
}

/// Runs scenarios against a set of peers.
pub struct Runner<'a> {
    settings: &'a Settings,
    paths: &'a Paths,
    entrants: Vec<Entrant>,
    progress: Progress,
}

impl<'a> Runner<'a> {
    /// A runner over `peers`; `unavailable[i]` says why peer `i` cannot run.
    pub fn new(
        settings: &'a Settings,
        paths: &'a Paths,
        peers: Vec<(Peer, Option<String>)>,
        steps: u64,
    ) -> Self {
        Runner {
            settings,
            paths,
            entrants: peers
                .into_iter()
                .map(|(peer, unavailable)| Entrant {
                    peer,
                    unavailable,
                    server: None,
                })
                .collect(),
            progress: Progress::new(steps),
        }
    }

    /// Progress steps a list of scenarios takes over `peers` peers.
    pub fn steps(scenarios: &[Box<dyn Scenario>], peers: usize, settings: &Settings) -> u64 {
        (scenarios.len() * peers * settings.runs) as u64
    }

    /// Runs every scenario in order.
    pub fn run(&mut self, scenarios: &[Box<dyn Scenario>]) -> Vec<ScenarioResult> {
        let results = scenarios
            .iter()
            .map(|s| self.run_scenario(s.as_ref()))
            .collect();
        self.stop_servers();
        self.progress.finish();
        results
    }

    /// Logs a line above the progress bar.
    pub fn log(&self, line: &str) {
        self.progress.log(line);
    }

    fn run_scenario(&mut self, scenario: &dyn Scenario) -> ScenarioResult {
        let spec = scenario.spec().clone();
        let runs = self.settings.runs;
        if spec.fresh_server_per_run {
            self.stop_servers();
        }
        let mut cells = Vec::new();
        let mut active = Vec::new();
        for (index, entrant) in self.entrants.iter().enumerate() {
            let name = entrant.peer.name;
            let cell = if let Some(why) = &entrant.unavailable {
                Cell::skipped(name, CellStatus::Unavailable, why.clone())
            } else if !entrant.peer.supports(scenario.server_role()) {
                Cell::skipped(name, CellStatus::Unsupported, "no server of this kind")
            } else if spec.deflate && !entrant.peer.supports_deflate {
                Cell::skipped(name, CellStatus::Unsupported, "no permessage-deflate")
            } else {
                active.push(index);
                Cell::new(name)
            };
            if cell.status != CellStatus::Measured {
                self.progress.skip(runs as u64);
            }
            cells.push(cell);
        }

        if !spec.fresh_server_per_run {
            active.retain(|&index| match self.prepare(index, scenario) {
                Ok(extensions) => {
                    cells[index].extensions = extensions;
                    true
                }
                Err((status, why)) => {
                    self.progress.log(&format!(
                        "{} · {}: {why}",
                        spec.id, self.entrants[index].peer.name
                    ));
                    cells[index].status = status;
                    cells[index].note = Some(why);
                    self.progress.skip(runs as u64);
                    false
                }
            });
        }

        let mut failures = vec![0usize; self.entrants.len()];
        for run in 0..runs {
            for &index in &active {
                if failures[index] >= 2 {
                    self.progress.step();
                    continue;
                }
                let name = self.entrants[index].peer.name;
                self.progress
                    .doing(format!("{} · {name} · run {}/{runs}", spec.id, run + 1));
                match self.measure_once(index, scenario) {
                    Ok((sample, extensions)) => {
                        if extensions.is_some() {
                            cells[index].extensions = extensions;
                        }
                        cells[index].samples.push(sample);
                    }
                    Err(e) => {
                        failures[index] += 1;
                        self.progress
                            .log(&format!("{} · {name} · run {}: {e}", spec.id, run + 1));
                        cells[index].note = Some(e.to_string());
                    }
                }
                self.progress.step();
            }
        }
        if spec.fresh_server_per_run {
            self.stop_servers();
        }
        for cell in &mut cells {
            cell.finish();
        }
        self.progress
            .log(&format!("done: {} ({})", spec.id, spec.title));
        ScenarioResult {
            unit_label: spec.unit.label(),
            higher_is_better: spec.unit.higher_is_better(),
            spec,
            cells,
        }
    }

    /// Starts (or reuses) the peer's server, probes it and warms it up.
    /// Returns the extensions answer, or the status and reason to skip.
    fn prepare(
        &mut self,
        index: usize,
        scenario: &dyn Scenario,
    ) -> Result<Option<String>, (CellStatus, String)> {
        let spec = scenario.spec();
        self.progress.doing(format!(
            "{} · {} · starting, probing, warming up",
            spec.id, self.entrants[index].peer.name
        ));
        let failed = |e: BenchError| (CellStatus::Failed, e.to_string());
        let server = self
            .server(index, scenario.server_role(), spec.deflate)
            .map_err(failed)?;
        let report = scenario.probe(server).map_err(failed)?;
        if spec.deflate && report.deflate.is_none() {
            return Err((
                CellStatus::Unsupported,
                "declined permessage-deflate".to_owned(),
            ));
        }
        let settings = self.settings;
        let server = self
            .server(index, scenario.server_role(), spec.deflate)
            .map_err(failed)?;
        scenario.warm_up(server, settings).map_err(failed)?;
        Ok(report.extensions)
    }

    /// One run; with a fresh server when the scenario needs one.
    fn measure_once(
        &mut self,
        index: usize,
        scenario: &dyn Scenario,
    ) -> Result<(crate::scenarios::Sample, Option<String>), BenchError> {
        self.wait_for_idle_core();
        let spec = scenario.spec();
        if spec.fresh_server_per_run {
            self.entrants[index].server = None;
            let server = self.server(index, scenario.server_role(), spec.deflate)?;
            let report = scenario.probe(server)?;
            let settings = self.settings;
            let server = self.server(index, scenario.server_role(), spec.deflate)?;
            let sample = scenario.measure(server, settings)?;
            self.entrants[index].server = None;
            return Ok((sample, report.extensions));
        }
        let settings = self.settings;
        let server = self.server(index, scenario.server_role(), spec.deflate)?;
        Ok((scenario.measure(server, settings)?, None))
    }

    /// The peer's running server with the right deflate setting, started if needed.
    fn server(
        &mut self,
        index: usize,
        role: ServerRole,
        deflate: bool,
    ) -> Result<&mut ServerProcess, BenchError> {
        let settings = self.settings;
        let paths = self.paths;
        let entrant = &mut self.entrants[index];
        let reusable = match &mut entrant.server {
            Some(server) => server.deflate == deflate && server.role == role && server.is_running(),
            None => false,
        };
        if !reusable {
            entrant.server = None;
            entrant.server = Some(ServerProcess::start_as(
                &entrant.peer,
                paths,
                role,
                deflate,
                settings.server_cpu,
            )?);
        }
        entrant
            .server
            .as_mut()
            .ok_or_else(|| BenchError::Setup("server vanished".to_owned()))
    }

    /// Waits until the running servers together use at most [`QUIET_CPU`]
    /// per [`QUIET_WINDOW`]; after [`QUIET_DEADLINE`], stops those still
    /// busy (and says so).
    fn wait_for_idle_core(&mut self) {
        let started = Instant::now();
        loop {
            let before = self.server_cpu_times();
            std::thread::sleep(QUIET_WINDOW);
            let used: Vec<Duration> = self
                .server_cpu_times()
                .iter()
                .zip(&before)
                .map(|(after, before)| after.saturating_sub(*before))
                .collect();
            if used.iter().sum::<Duration>() <= QUIET_CPU {
                return;
            }
            if started.elapsed() >= QUIET_DEADLINE {
                for (entrant, used) in self.entrants.iter_mut().zip(used) {
                    if used > QUIET_CPU / 2 && entrant.server.take().is_some() {
                        self.progress.log(&format!(
                            "{}'s server still used {:.0}% of the server core {QUIET_DEADLINE:?} \
                             after its run: stopped (a fresh one starts when needed)",
                            entrant.peer.name,
                            100.0 * used.as_secs_f64() / QUIET_WINDOW.as_secs_f64()
                        ));
                    }
                }
                return;
            }
        }
    }

    /// Per entrant, the CPU time its running server has used (zero
    /// without one).
    fn server_cpu_times(&self) -> Vec<Duration> {
        self.entrants
            .iter()
            .map(|entrant| {
                entrant
                    .server
                    .as_ref()
                    .and_then(|server| server.cpu_time().ok())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn stop_servers(&mut self) {
        for entrant in &mut self.entrants {
            entrant.server = None;
        }
    }
}
