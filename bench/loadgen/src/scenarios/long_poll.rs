//! Long-polling delivery (issue 4, scenario 6), on the fan-out method:
//! N clients hold `GET /poll?cursor=N&timeout_ms=25000` on `pushwire
//! serve` (browser-like request heads), one publisher posts timestamped
//! 50 B messages to `POST /publish` at a fixed rate, and each client
//! re-polls as soon as it is answered. The number is deliveries per
//! second at the clients; the metrics add latency from publish to the
//! response, polls answered, messages per poll and bytes per delivery.
//!
//! SSE fan-out on the same method, against the same log streamed by
//! `GET /events`, is [`super::sse_fanout`].

use std::net::SocketAddr;
use std::time::Duration;

use pushwire_proto::Message;

use super::delivery_window::DeliveryWindow;
use super::poll_client::{PollClient, PollMode};
use super::{delivery_metrics, old_vs_new, Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The long-polling scenarios.
pub const LONG_POLL: Group = Group {
    id: "long-poll",
    title: "Long-polling delivery (pushwire serve: POST /publish, GET /poll)",
};

/// Bytes per publication.
const MESSAGE_SIZE: usize = 50;

/// One long-polling scenario.
pub struct LongPoll {
    spec: ScenarioSpec,
    clients: usize,
    rate: f64,
}

/// 1,000 clients at 10 and 100 publications per second, 15,000 at 10.
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    [
        (settings.scale(1_000, 50), 10.0),
        (settings.scale(1_000, 50), 100.0),
        (settings.scale(15_000, 200), 10.0),
    ]
    .into_iter()
    .map(|(clients, rate)| {
        Box::new(LongPoll {
            spec: ScenarioSpec {
                id: format!("long-poll-{clients}-{rate}ps"),
                group: LONG_POLL,
                title: format!("{clients} long-polling clients, {rate} pub/s"),
                unit: Unit::DeliveriesPerSecond,
                deflate: false,
                // Pollers start at cursor 0: on a log that already holds
                // earlier runs' messages their first poll would return
                // the whole retained window, which is not delivery.
                fresh_server_per_run: true,
            },
            clients,
            rate,
        }) as Box<dyn Scenario>
    })
    .collect()
}

impl Scenario for LongPoll {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(super::stamp::stamped(1, MESSAGE_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::HttpPush
    }

    fn probe(&self, addr: SocketAddr) -> Result<ProbeReport, BenchError> {
        old_vs_new::probe_push(addr)
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
        let mut client = PollClient::open(
            server.addr,
            self.clients,
            PollMode::Long,
            MESSAGE_SIZE,
            settings.scale_timeout(),
        )?;
        let ramp = Duration::from_millis(if settings.quick { 200 } else { 1000 });
        client.run(self.rate, ramp);
        client.reset();
        let window = DeliveryWindow::time(server, || client.run(self.rate, settings.duration))?;
        let stats = &client.stats;
        let n = stats.deliveries.max(1) as f64;
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
                "msgs per poll",
                stats.deliveries as f64 / stats.polls.max(1) as f64,
            ),
            Metric::new("B/delivery", (stats.bytes_up + stats.bytes_down) as f64 / n),
            Metric::new("log resets", stats.resets as f64),
        ]);
        Ok(window.sample(stats.deliveries, client.counters.clone(), metrics))
    }
}
