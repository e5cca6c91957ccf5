//! Echo throughput: N connections each keep a fixed number of messages in
//! flight (closed loop: one; pipelined: sixteen) and the server echoes
//! them; the number is echoed messages per second. With permessage-deflate
//! the client offers `permessage-deflate; client_max_window_bits` and
//! sends compressed JSON-like text; peers without deflate are marked so.

use pushwire_proto::Message;

use super::{Group, Sample, Scenario, ScenarioSpec, Unit, Window};
use crate::engine::{Engine, Plan, Target};
use crate::error::BenchError;
use crate::payload::json_like;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// Plain echo.
pub const ECHO: Group = Group {
    id: "echo",
    title: "Echo throughput (no compression)",
};
/// Echo with permessage-deflate.
pub const ECHO_DEFLATE: Group = Group {
    id: "echo-deflate",
    title: "Echo throughput with permessage-deflate",
};

/// How many connections may be connecting at once while opening.
const OPEN_CONCURRENCY: usize = 128;

/// One echo scenario.
pub struct Echo {
    spec: ScenarioSpec,
    connections: usize,
    size: usize,
    in_flight: usize,
}

/// The four echo scenarios, plain or with deflate.
pub fn variants(settings: &Settings, deflate: bool) -> Vec<Box<dyn Scenario>> {
    let small = settings.scale(100, 10);
    let large = settings.scale(500, 20);
    [
        (small, 20, 1),
        (large, 1024, 1),
        (large, 16 * 1024, 1),
        (small, 20, 16),
    ]
    .into_iter()
    .map(|(connections, size, in_flight)| {
        Box::new(Echo::new(connections, size, in_flight, deflate)) as Box<dyn Scenario>
    })
    .collect()
}

impl Echo {
    fn new(connections: usize, size: usize, in_flight: usize, deflate: bool) -> Self {
        let size_label = if size >= 1024 {
            format!("{}KiB", size / 1024)
        } else {
            format!("{size}B")
        };
        let mut id = format!(
            "{}echo-{connections}x{size_label}",
            if deflate { "deflate-" } else { "" }
        );
        let mut title = format!("{connections} conns × {size_label}");
        if in_flight > 1 {
            id.push_str(&format!("-pipelined{in_flight}"));
            title.push_str(&format!(", {in_flight} in flight"));
        } else {
            title.push_str(", closed loop");
        }
        if deflate {
            title.push_str(", deflate");
        }
        Echo {
            spec: ScenarioSpec {
                id,
                group: if deflate { ECHO_DEFLATE } else { ECHO },
                title,
                unit: Unit::MessagesPerSecond,
                deflate,
                fresh_server_per_run: false,
            },
            connections,
            size,
            in_flight,
        }
    }
}

impl Scenario for Echo {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(json_like(self.size))
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let target = Target {
            addr: server.addr,
            message: self.probe_message(),
            offer_deflate: self.spec.deflate,
        };
        let mut engine = Engine::new(
            target,
            Plan::Echo {
                in_flight: self.in_flight,
            },
        )?;
        engine.open(self.connections, OPEN_CONCURRENCY, settings.scale_timeout())?;
        engine.start_sending();
        engine.run_for(settings.ramp);
        let window = Window::open(&engine, server)?;
        engine.run_for(settings.duration);
        let sample = window.close(&engine, server, |c| c.replies);
        engine.close_all();
        sample
    }
}
