//! SSE fan-out (issue 4, scenario 6), on the method of the WebSocket
//! fan-out and long polling: N clients hold `GET /events` (browser-like
//! `EventSource` request heads), one publisher posts timestamped 50 B
//! messages to `POST /publish` at a fixed rate, and every stream carries
//! every message as an `id: <cursor>` / `data: <message>` event. The
//! number is deliveries per second at the clients; the metrics add
//! latency from publish to read, the publication rate reached, the share
//! delivered, bytes per delivery (chunk framing and event fields),
//! `reset` events and messages lost (gaps in the ids). Servers:
//! `pushwire serve` and Bun (`bench/peers/node/bun-sse.js`).

use std::net::SocketAddr;
use std::time::Duration;

use pushwire_proto::Message;

use super::delivery_window::DeliveryWindow;
use super::sse_client::SseClient;
use super::{delivery_metrics, sse_probe, Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The SSE fan-out scenarios.
pub const SSE_FANOUT: Group = Group {
    id: "sse-fanout",
    title: "SSE fan-out (POST /publish, GET /events)",
};

/// Bytes per publication.
const MESSAGE_SIZE: usize = 50;

/// One SSE fan-out scenario.
pub struct SseFanout {
    spec: ScenarioSpec,
    clients: usize,
    rate: f64,
}

/// 1,000 and 15,000 streams, each at 10 and 100 publications per second.
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    [
        (settings.scale(1_000, 50), 10.0),
        (settings.scale(1_000, 50), 100.0),
        (settings.scale(15_000, 200), 10.0),
        (settings.scale(15_000, 200), 100.0),
    ]
    .into_iter()
    .map(|(clients, rate)| {
        Box::new(SseFanout {
            spec: ScenarioSpec {
                id: format!("sse-fanout-{clients}-{rate}ps"),
                group: SSE_FANOUT,
                title: format!("{clients} SSE streams, {rate} pub/s"),
                unit: Unit::DeliveriesPerSecond,
                deflate: false,
                fresh_server_per_run: false,
            },
            clients,
            rate,
        }) as Box<dyn Scenario>
    })
    .collect()
}

impl Scenario for SseFanout {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(super::stamp::stamped(1, MESSAGE_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::EventStream
    }

    fn probe(&self, addr: SocketAddr) -> Result<ProbeReport, BenchError> {
        sse_probe::probe(addr, &super::stamp::stamped(1, MESSAGE_SIZE))
    }

    fn warm_up(&self, _: &mut ServerProcess, _: &Settings) -> Result<(), BenchError> {
        // Each run ramps up before its window.
        Ok(())
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let mut client = SseClient::open(
            server.addr,
            self.clients,
            MESSAGE_SIZE,
            settings.scale_timeout(),
        )?;
        let ramp = Duration::from_millis(if settings.quick { 200 } else { 1000 });
        client.run(self.rate, ramp);
        client.reset();
        let window = DeliveryWindow::time(server, || client.run(self.rate, settings.duration))?;
        let stats = &client.stats;
        let expected = stats.published as f64 * self.clients as f64;
        let mut metrics = delivery_metrics(
            &stats.latency,
            stats.published,
            stats.deliveries,
            expected,
            window.wall,
        );
        metrics.extend([
            Metric::new(
                "B/delivery",
                (stats.bytes_up + stats.bytes_down) as f64 / stats.deliveries.max(1) as f64,
            ),
            Metric::new("resets", stats.resets as f64),
            Metric::new("lost", stats.lost as f64),
        ]);
        Ok(window.sample(stats.deliveries, client.counters.clone(), metrics))
    }
}
