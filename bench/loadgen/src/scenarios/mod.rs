//! Scenarios: what is measured, one file each, all behind the
//! [`Scenario`] trait, so a new one is a new file plus a line in [`all`].
//! The runner handles peers, warm-up, repetition, interleaving and
//! reporting. The clients they drive are in [`crate::clients`] (fan-out
//! and old-vs-new) and [`crate::engine`] (echo, handshakes, idle memory);
//! fan-out is one scenario parametrised by its transport
//! ([`Transport`]).

mod delivery_window;
mod echo;
mod fanout;
mod handshake_rate;
mod hub_api;
mod hub_fallback;
mod hub_idle;
mod hub_recovery;
mod hub_resubscribe;
mod idle_memory;
mod metric;
mod old_vs_new;
pub(crate) mod sched_cpu;
mod window;

use std::time::Duration;

use pushwire_proto::Message;
use serde::Serialize;

use crate::engine::Counters;
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::server::ServerProcess;
use crate::settings::Settings;
pub use fanout::Transport;
pub use metric::{delivery_metrics, Metric};
pub use window::Window;

/// A family of scenarios that share a table and a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Group {
    /// File-name-safe id (`echo`, `echo-deflate`, ...).
    pub id: &'static str,
    /// Heading in the report.
    pub title: &'static str,
}

/// What a scenario's number measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Echoed messages per second.
    MessagesPerSecond,
    /// Completed connect-upgrade-echo-close cycles per second.
    HandshakesPerSecond,
    /// Server memory per connection.
    BytesPerConnection,
    /// Messages delivered to subscribers per second (fan-out).
    DeliveriesPerSecond,
    /// Bytes on the wire at the client per delivered message.
    BytesPerMessage,
    /// Milliseconds until every client of a reconnect storm recovered.
    RecoveryMs,
}

impl Unit {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Unit::MessagesPerSecond => "msgs/s",
            Unit::HandshakesPerSecond => "handshakes/s",
            Unit::BytesPerConnection => "B/conn",
            Unit::DeliveriesPerSecond => "deliveries/s",
            Unit::BytesPerMessage => "B/msg",
            Unit::RecoveryMs => "ms",
        }
    }

    /// What one unit of work is, for "server CPU per ...".
    pub fn work_label(self) -> &'static str {
        match self {
            Unit::MessagesPerSecond => "msg",
            Unit::HandshakesPerSecond => "handshake",
            Unit::BytesPerConnection => "conn",
            Unit::DeliveriesPerSecond | Unit::BytesPerMessage => "delivery",
            Unit::RecoveryMs => "client",
        }
    }

    /// Whether a larger number is better.
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Unit::BytesPerConnection | Unit::BytesPerMessage | Unit::RecoveryMs
        )
    }
}

/// The description of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSpec {
    /// Stable id (`echo-100x20B`), used by `run` and in JSON.
    pub id: String,
    /// The family it belongs to.
    pub group: Group,
    /// Human title.
    pub title: String,
    /// What the number means.
    pub unit: Unit,
    /// Servers run with permessage-deflate on, and the client offers it.
    pub deflate: bool,
    /// Each run needs a server that has done nothing else (memory).
    pub fresh_server_per_run: bool,
}

/// One measured run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// The scenario's number.
    pub value: f64,
    /// Units of work done in the window (messages, handshakes, connections).
    pub work: u64,
    /// Length of the window in seconds.
    pub wall_secs: f64,
    /// Server CPU time (user + system, all threads) in the window, seconds.
    pub server_cpu_secs: f64,
    /// Generator CPU time in the window, seconds.
    pub generator_cpu_secs: f64,
    /// What the engine counted in the window.
    pub counters: Counters,
    /// Further numbers of the run (latency percentiles, bytes, rates),
    /// reported in a table of their own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

impl Sample {
    /// Server CPU time per unit of work, microseconds.
    pub fn server_cpu_us_per_work(&self) -> Option<f64> {
        (self.work > 0).then(|| self.server_cpu_secs * 1e6 / self.work as f64)
    }
}

/// A benchmark scenario.
pub trait Scenario {
    /// What it is.
    fn spec(&self) -> &ScenarioSpec;

    /// The message a peer must echo correctly before being measured.
    fn probe_message(&self) -> Message;

    /// The kind of server the scenario runs against (echo by default);
    /// peers without one are marked n/a.
    fn server_role(&self) -> ServerRole {
        ServerRole::Echo
    }

    /// Proves a freshly started server works before it is measured: by
    /// default one WebSocket connection echoes [`Scenario::probe_message`]
    /// twice, checked byte for byte.
    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        crate::probe::probe(server.addr, &self.probe_message(), self.spec().deflate)
    }

    /// One unrecorded run, to warm caches, allocators and JITs.
    fn warm_up(&self, server: &mut ServerProcess, settings: &Settings) -> Result<(), BenchError> {
        let short = Settings {
            duration: settings.warmup,
            ..settings.clone()
        };
        if settings.warmup > Duration::ZERO {
            self.measure(server, &short)?;
        }
        Ok(())
    }

    /// One measured run against a running server.
    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError>;
}

/// Every scenario, in the order they run (those sharing a server
/// configuration next to each other).
pub fn all(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    let mut list: Vec<Box<dyn Scenario>> = Vec::new();
    for deflate in [false, true] {
        list.extend(echo::variants(settings, deflate));
        if !deflate {
            list.push(Box::new(handshake_rate::HandshakeRate::new(settings)));
        }
    }
    list.extend(idle_memory::variants(settings));
    list.extend(fanout::variants(settings, Transport::WebSocket));
    list.extend(fanout::variants(settings, Transport::LongPoll));
    list.extend(fanout::variants(settings, Transport::Sse));
    list.extend(fanout::variants(settings, Transport::Hub));
    list.extend(hub_idle::variants(settings));
    list.extend(hub_api::variants(settings));
    list.extend(hub_recovery::variants(settings));
    list.extend(hub_resubscribe::variants(settings));
    list.extend(hub_fallback::variants(settings));
    list.extend(old_vs_new::variants(settings));
    list
}
