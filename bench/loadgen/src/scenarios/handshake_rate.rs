//! Handshake rate: a fixed number of clients each loop through TCP
//! connect, upgrade, one 20-byte echo and the close handshake (the client
//! sends close, waits for the server's close frame and for the server to
//! close TCP, as RFC 6455 section 7.1.1 asks). The number is completed
//! cycles per second. Source addresses rotate over 127.0.0.2 onwards, so
//! ephemeral ports never run out.

use pushwire_proto::Message;

use super::{Group, Sample, Scenario, ScenarioSpec, Unit, Window};
use crate::engine::{Engine, Plan, Target};
use crate::error::BenchError;
use crate::payload::json_like;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The handshake scenarios.
pub const HANDSHAKE: Group = Group {
    id: "handshake",
    title: "Handshake rate: connect, upgrade, one echo, close",
};

/// The handshake-rate scenario.
pub struct HandshakeRate {
    spec: ScenarioSpec,
    concurrency: usize,
}

impl HandshakeRate {
    /// The scenario at the scale of `settings`.
    pub fn new(settings: &Settings) -> Self {
        let concurrency = settings.scale(50, 4);
        HandshakeRate {
            spec: ScenarioSpec {
                id: "handshake".to_owned(),
                group: HANDSHAKE,
                title: format!("{concurrency} concurrent clients, 20 B echo"),
                unit: Unit::HandshakesPerSecond,
                deflate: false,
                fresh_server_per_run: false,
            },
            concurrency,
        }
    }
}

impl Scenario for HandshakeRate {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(json_like(20))
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let target = Target {
            addr: server.addr,
            message: self.probe_message(),
            offer_deflate: false,
        };
        let mut engine = Engine::new(target, Plan::Cycle)?;
        engine.start_cycling(self.concurrency);
        engine.run_for(settings.ramp);
        let window = Window::open(&engine, server)?;
        engine.run_for(settings.duration);
        let sample = window.close(&engine, server, |c| c.cycles);
        engine.close_all();
        sample
    }
}
