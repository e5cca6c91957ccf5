//! Broadcast fan-out (issue 4, scenario 5): N WebSocket subscribers, one
//! publisher connection sending timestamped ~50 B text messages at 10,
//! 100 or 1,000 per second to a broadcast server (every message to every
//! connection, the sender included: `pushwire echo --broadcast`, Bun's
//! `server.publish` plus a send to the sender, Node `ws` looping over its
//! clients). The number is deliveries per second at the subscribers; the
//! metrics table adds the latency from publish to read (p50, p99, max),
//! the publication rate reached and the share of expected deliveries that
//! arrived. A variant leaves 1% of the subscribers not reading.

use std::net::SocketAddr;
use std::time::Duration;

use pushwire_proto::Message;

use super::delivery_window::DeliveryWindow;
use super::fanout_client::FanoutClient;
use super::{delivery_metrics, Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The fan-out scenarios.
pub const FANOUT: Group = Group {
    id: "fanout",
    title: "Broadcast fan-out over WebSocket (deliveries/s; latency in the metrics table)",
};

/// Bytes per publication.
pub const MESSAGE_SIZE: usize = 50;

/// One fan-out scenario.
pub struct Fanout {
    spec: ScenarioSpec,
    readers: usize,
    stalled: usize,
    rate: f64,
}

/// 15,000 subscribers at 10 and 100 publications per second, at 100 per
/// second with 1% of them not reading, and at 1,000 per second.
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    let subscribers = settings.scale(15_000, 200);
    let stalled = subscribers / 100;
    // The overload (1,000 pub/s) last: a server may still be draining it.
    [(10.0, 0), (100.0, 0), (100.0, stalled), (1000.0, 0)]
        .into_iter()
        .map(|(rate, stalled)| {
            let (id, title) = if stalled == 0 {
                (
                    format!("fanout-{subscribers}-{rate}ps"),
                    format!("{subscribers} subscribers, {rate} pub/s"),
                )
            } else {
                (
                    format!("fanout-{subscribers}-{rate}ps-1pct-stalled"),
                    format!("{subscribers} subscribers, {rate} pub/s, {stalled} not reading"),
                )
            };
            Box::new(Fanout {
                spec: ScenarioSpec {
                    id,
                    group: FANOUT,
                    title,
                    unit: Unit::DeliveriesPerSecond,
                    deflate: false,
                    fresh_server_per_run: false,
                },
                readers: subscribers - stalled,
                stalled,
                rate,
            }) as Box<dyn Scenario>
        })
        .collect()
}

impl Scenario for Fanout {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(super::stamp::stamped(1, MESSAGE_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::Broadcast
    }

    fn probe(&self, addr: SocketAddr) -> Result<ProbeReport, BenchError> {
        // Alone on the server, a broadcast comes back to its sender: an echo.
        crate::probe::probe(addr, &self.probe_message(), false)
    }

    fn warm_up(&self, server: &mut ServerProcess, settings: &Settings) -> Result<(), BenchError> {
        if settings.warmup.is_zero() {
            return Ok(());
        }
        let short = Settings {
            duration: settings.warmup,
            ..settings.clone()
        };
        self.measure(server, &short).map(|_| ())
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let mut client = FanoutClient::new(server.addr, MESSAGE_SIZE)?;
        client.open(self.readers, self.stalled, settings.scale_timeout())?;
        // Ramp: let the stalled subscribers' windows fill and the server settle.
        let ramp = settings.ramp.max(Duration::from_millis(if settings.quick {
            100
        } else {
            1000
        }));
        client.run(self.rate, ramp);
        client.reset();
        let window = DeliveryWindow::time(server, || client.run(self.rate, settings.duration))?;
        let stats = &client.stats;
        let expected = stats.published as f64 * self.readers as f64;
        let mut metrics = delivery_metrics(
            &stats.latency,
            stats.published,
            stats.deliveries,
            expected,
            window.wall,
        );
        metrics.push(Metric::new(
            "subscribers closed by server",
            stats.closed_by_server as f64,
        ));
        Ok(window.sample(stats.deliveries, client.counters.clone(), metrics))
    }
}
