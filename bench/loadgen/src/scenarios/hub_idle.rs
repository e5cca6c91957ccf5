//! Idle memory of the hub: the growth of the server's resident memory
//! (VmRSS) over N idle hub connections, each authenticated with a token
//! (HS256, `pushwire token`), subscribed to two channels, with server
//! pings on (the hub's default: `{}` every 25 s, pongs expected), divided
//! by N. Read twice: once every connection is subscribed and the server
//! has settled ("idle"), and again after every connection has received a
//! server ping and answered it (metric `after ping B/conn`; the full run
//! waits out the ping interval, the quick one skips it).
//!
//! Side by side, the broadcast servers (`pushwire echo --broadcast`, Bun)
//! hold bare upgraded WebSocket connections, as in
//! [`super::idle_memory`] (what the hub's connection state costs on top
//! of a WebSocket), and Socket.IO holds connections joined to its room,
//! answering its pings. Every run starts a fresh server (probed first, which
//! warms it up); kernel socket buffers are not in RSS.

use std::time::{Duration, Instant};

use pushwire_proto::Message;

use super::{Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::clients::hub::{self, HubClient};
use crate::engine::{Engine, Plan, Target};
use crate::error::BenchError;
use crate::peers::{PubSubProtocol, ServerRole};
use crate::probe::ProbeReport;
use crate::procfs;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The hub idle-memory scenarios.
pub const HUB_IDLE: Group = Group {
    id: "hub-idle-memory",
    title: "Idle memory per hub connection (token, 2 channels, pings) against bare WebSockets",
};

/// How many connections may be connecting at once (broadcast servers).
const OPEN_CONCURRENCY: usize = 256;
/// The hub's default server ping interval (`client.ping_interval`).
const PING_INTERVAL: Duration = Duration::from_secs(25);

/// How far each hub connection goes before it idles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Upgraded on `/connection/websocket`, no connect.
    Upgraded,
    /// Connected with a token, no subscription.
    Connected,
    /// Connected and subscribed to this many channels (1 or 2).
    Subscribed(usize),
}

/// One hub idle-memory scenario.
pub struct HubIdle {
    spec: ScenarioSpec,
    connections: usize,
    stage: Stage,
}

/// Idle memory at 10,000 hub connections (subscribed to 2 channels), and
/// the breakdown for the hub alone: only upgraded, connected, subscribed
/// to 1 channel (`-upgraded`, `-connected`, `-1ch`).
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    let connections = settings.scale(10_000, 200);
    [
        (Stage::Subscribed(2), "", "idle connections"),
        (
            Stage::Upgraded,
            "-upgraded",
            "hub WebSockets, upgraded only",
        ),
        (
            Stage::Connected,
            "-connected",
            "hub connections, connected, no subscription",
        ),
        (
            Stage::Subscribed(1),
            "-1ch",
            "hub connections subscribed to 1 channel",
        ),
    ]
    .into_iter()
    .map(|(stage, suffix, what)| {
        Box::new(HubIdle {
            spec: ScenarioSpec {
                id: format!("hub-idle-{connections}{suffix}"),
                group: HUB_IDLE,
                title: format!("{connections} {what}"),
                unit: Unit::BytesPerConnection,
                deflate: false,
                fresh_server_per_run: true,
            },
            connections,
            stage,
        }) as Box<dyn Scenario>
    })
    .collect()
}

impl Scenario for HubIdle {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(crate::clients::stamp::stamped(1, 100))
    }

    fn server_role(&self) -> ServerRole {
        // The breakdown is the hub's alone.
        if self.stage == Stage::Subscribed(2) {
            ServerRole::PubSub
        } else {
            ServerRole::HubOnly
        }
    }

    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        match (server.protocol, &server.token) {
            (PubSubProtocol::Hub, Some(token)) => hub::probe(server.addr, token, 100),
            (PubSubProtocol::SocketIo, _) => hub::probe_socket_io(server.addr, 100),
            _ => crate::probe::probe(server.addr, &self.probe_message(), false),
        }
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
            Duration::from_millis(2000)
        };
        std::thread::sleep(settle / 2);
        let before = server.resident_bytes()?;
        let server_cpu = server.cpu_time()?;
        let own_cpu = procfs::own_cpu_time()?;
        let started = Instant::now();
        let per_conn =
            |after: u64, open: usize| (after as f64 - before as f64) / open.max(1) as f64;
        let (value, open, counters, metrics) = match (server.protocol, server.token.clone()) {
            (PubSubProtocol::Hub | PubSubProtocol::SocketIo, token) => {
                let channels: &[&str] = match self.stage {
                    Stage::Subscribed(2) => &[hub::CHANNEL, hub::CHANNEL_2],
                    Stage::Subscribed(_) => &[hub::CHANNEL],
                    Stage::Upgraded | Stage::Connected => &[],
                };
                let mut client = match token {
                    Some(token) => HubClient::new(server.addr, &token, channels, 100)?,
                    None => HubClient::socket_io(server.addr, 100)?,
                };
                if self.stage == Stage::Upgraded {
                    client.upgrade_only();
                }
                client.without_publishers();
                client.open(self.connections, settings.scale_timeout())?;
                client.idle(settle);
                let open = client.subscribed();
                let idle = per_conn(server.resident_bytes()?, open);
                let mut metrics = Vec::new();
                // Unconnected WebSockets get no pings (and are closed
                // after client.stale_close_delay).
                if !settings.quick && self.stage != Stage::Upgraded {
                    // Every connection gets a ping within the interval.
                    client.idle(PING_INTERVAL + settle);
                    metrics.push(Metric::new(
                        "after ping B/conn",
                        per_conn(server.resident_bytes()?, client.subscribed()),
                    ));
                    metrics.push(Metric::new("pings answered", client.stats.pings as f64));
                }
                metrics.push(Metric::new(
                    "closed by server",
                    client.stats.closed_by_server as f64,
                ));
                (idle, open, client.counters.clone(), metrics)
            }
            _ => {
                let target = Target {
                    addr: server.addr,
                    message: self.probe_message(),
                    offer_deflate: false,
                };
                let mut engine = Engine::new(target, Plan::Hold)?;
                engine.open(self.connections, OPEN_CONCURRENCY, settings.scale_timeout())?;
                engine.run_for(settle);
                let open = engine.open_connections();
                let idle = per_conn(server.resident_bytes()?, open);
                let counters = engine.counters().clone();
                engine.close_all();
                (idle, open, counters, Vec::new())
            }
        };
        if !server.is_running() {
            return Err(BenchError::Peer(format!(
                "{} exited while holding connections",
                server.peer
            )));
        }
        Ok(Sample {
            value,
            work: open as u64,
            wall_secs: started.elapsed().as_secs_f64(),
            server_cpu_secs: server.cpu_time()?.saturating_sub(server_cpu).as_secs_f64(),
            generator_cpu_secs: procfs::own_cpu_time()?
                .saturating_sub(own_cpu)
                .as_secs_f64(),
            counters,
            metrics,
        })
    }
}
