//! The old way vs the new (issue 4, scenario 7): the same stream of small
//! messages (10 per second, 50 B, from a separate publisher connection)
//! to one client, delivered by Ajax polling every second
//! (`GET /poll?cursor=N&timeout_ms=0`), by long polling (`pushwire
//! serve`), by server-sent events (`pushwire serve`'s `GET /events`, one
//! chunked response carrying an `id:` / `data:` event per message) and by
//! WebSocket (`pushwire echo --broadcast`: the client subscribes, the
//! publisher's messages reach it). The number is bytes on the wire at the
//! client socket per delivered message, both directions, HTTP heads
//! included (browser-like ~450 B request heads for the polls; the
//! WebSocket upgrade and the event stream's request and response heads
//! are left out, as they are paid once per session). The metrics add the
//! server's CPU time per delivered message (from
//! `/proc/PID/task/*/schedstat`, nanoseconds; publishing included) and
//! the delivery latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushwire_proto::Message;

use super::{sched_cpu, Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::clients::latency::Histogram;
use crate::clients::poll::{PollClient, PollMode};
use crate::clients::sse::SseClient;
use crate::clients::ws::WsClient;
use crate::clients::{poll_probe, sse_probe, stamp, DeliveryClient};
use crate::engine::Counters;
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::procfs;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The old-vs-new scenarios.
pub const OLD_VS_NEW: Group = Group {
    id: "old-vs-new",
    title: "Polling vs long polling vs SSE vs WebSocket: bytes on the wire per delivered message",
};

/// Bytes per message.
const MESSAGE_SIZE: usize = 50;
/// Messages per second.
const RATE: f64 = 10.0;

/// How the client gets its messages.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Transport {
    /// `timeout_ms=0` every second.
    AjaxPolling,
    /// Held `/poll` requests.
    LongPolling,
    /// One `GET /events` stream.
    ServerSentEvents,
    /// A WebSocket subscriber of a broadcast server.
    WebSocket,
}

/// One transport's run.
pub struct OldVsNew {
    spec: ScenarioSpec,
    transport: Transport,
}

/// Ajax polling every second, long polling, SSE, WebSocket.
pub fn variants(_: &Settings) -> Vec<Box<dyn Scenario>> {
    [
        (
            Transport::AjaxPolling,
            "wire-ajax-polling-1s",
            "Ajax polling every 1 s",
        ),
        (Transport::LongPolling, "wire-long-polling", "long polling"),
        (
            Transport::ServerSentEvents,
            "wire-sse",
            "server-sent events",
        ),
        (Transport::WebSocket, "wire-websocket", "WebSocket"),
    ]
    .into_iter()
    .map(|(transport, id, title)| {
        Box::new(OldVsNew {
            spec: ScenarioSpec {
                id: id.to_owned(),
                group: OLD_VS_NEW,
                title: format!("{title}: 10 msgs/s × 50 B to one client"),
                unit: Unit::BytesPerMessage,
                deflate: false,
                // The event-stream servers would otherwise be the ones
                // that just held the SSE fan-out's 15,000 streams (Bun has
                // no polling server in between): their threads winding
                // down then skew the live-thread CPU sum of `sched_cpu`.
                fresh_server_per_run: transport == Transport::ServerSentEvents,
            },
            transport,
        }) as Box<dyn Scenario>
    })
    .collect()
}

/// What one run measured, whatever the transport.
struct Measured {
    latency: Histogram,
    deliveries: u64,
    bytes_up: u64,
    bytes_down: u64,
    requests: u64,
    counters: Counters,
}

impl OldVsNew {
    fn window(&self, settings: &Settings) -> Duration {
        if settings.quick {
            Duration::from_millis(1500)
        } else {
            Duration::from_secs(10)
        }
    }

    fn run(
        &self,
        addr: SocketAddr,
        settings: &Settings,
        during: impl FnOnce(),
    ) -> Result<Measured, BenchError> {
        let timeout = settings.scale_timeout();
        match self.transport {
            Transport::WebSocket => {
                let mut client = WsClient::new(addr, MESSAGE_SIZE)?;
                client.open(1, 0, timeout)?;
                Ok(self.observe(client, settings, during))
            }
            Transport::ServerSentEvents => {
                let client = SseClient::open(addr, 1, MESSAGE_SIZE, timeout)?;
                Ok(self.observe(client, settings, during))
            }
            Transport::AjaxPolling | Transport::LongPolling => {
                let mode = if self.transport == Transport::LongPolling {
                    PollMode::Long
                } else {
                    PollMode::Timer(Duration::from_secs(1))
                };
                let client = PollClient::open(addr, 1, mode, MESSAGE_SIZE, timeout)?;
                Ok(self.observe(client, settings, during))
            }
        }
    }

    /// Ramps `client` up, calls `during` as the window opens, and runs it
    /// for the window.
    fn observe<C: DeliveryClient>(
        &self,
        mut client: C,
        settings: &Settings,
        during: impl FnOnce(),
    ) -> Measured {
        let ramp = Duration::from_millis(if settings.quick { 200 } else { 1000 });
        client.run(RATE, ramp);
        client.reset();
        during();
        client.run(RATE, self.window(settings));
        let mut counters = client.counters().clone();
        counters.replies = client.deliveries();
        Measured {
            latency: client.latency().clone(),
            deliveries: client.deliveries(),
            bytes_up: client.bytes_up(),
            bytes_down: client.bytes_down(),
            requests: client.requests(),
            counters,
        }
    }
}

impl Scenario for OldVsNew {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(stamp::stamped(1, MESSAGE_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        match self.transport {
            Transport::WebSocket => ServerRole::Broadcast,
            Transport::ServerSentEvents => ServerRole::EventStream,
            Transport::AjaxPolling | Transport::LongPolling => ServerRole::HttpPush,
        }
    }

    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        let addr = server.addr;
        match self.transport {
            Transport::WebSocket => crate::probe::probe(addr, &self.probe_message(), false),
            Transport::ServerSentEvents => sse_probe::probe(addr, &stamp::stamped(1, MESSAGE_SIZE)),
            Transport::AjaxPolling | Transport::LongPolling => poll_probe::probe(addr),
        }
    }

    fn warm_up(&self, _: &mut ServerProcess, _: &Settings) -> Result<(), BenchError> {
        // Each run has its own ramp; a 10 msgs/s stream warms nothing more.
        Ok(())
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let mut start: Option<(Instant, Duration, Duration)> = None;
        let pid = server.pid;
        let mut failure = None;
        let measured = self.run(server.addr, settings, || {
            match (sched_cpu::cpu_time(pid), procfs::own_cpu_time()) {
                (Ok(server_cpu), Ok(own)) => {
                    start = Some((Instant::now(), server_cpu, own));
                }
                (Err(e), _) | (_, Err(e)) => failure = Some(e),
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let (started, server_cpu, own_cpu) =
            start.ok_or_else(|| BenchError::Setup("the window never opened".to_owned()))?;
        let wall = started.elapsed().as_secs_f64();
        let server_cpu = sched_cpu::cpu_time(pid)?
            .saturating_sub(server_cpu)
            .as_secs_f64();
        let generator_cpu = procfs::own_cpu_time()?
            .saturating_sub(own_cpu)
            .as_secs_f64();
        let n = measured.deliveries.max(1) as f64;
        let latency = &measured.latency;
        Ok(Sample {
            value: (measured.bytes_up + measured.bytes_down) as f64 / n,
            work: measured.deliveries,
            wall_secs: wall,
            server_cpu_secs: server_cpu,
            generator_cpu_secs: generator_cpu,
            counters: measured.counters,
            metrics: vec![
                Metric::new("delivered", measured.deliveries as f64),
                Metric::new("requests", measured.requests as f64),
                Metric::new("B up/msg", measured.bytes_up as f64 / n),
                Metric::new("B down/msg", measured.bytes_down as f64 / n),
                Metric::new("server CPU µs/msg", server_cpu * 1e6 / n),
                Metric::new("mean ms", latency.mean_ms()),
                Metric::new("p50 ms", latency.quantile_ms(0.5)),
                Metric::new("p99 ms", latency.quantile_ms(0.99)),
                Metric::new("max ms", latency.max_ms()),
            ],
        })
    }
}
