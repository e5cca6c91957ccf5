//! The hub's fallback transports beside its WebSocket (issue 20,
//! "Numbers"): the same hub (`pushwire serve`), the same clients
//! (authenticated with the bench's token), one scenario per transport —
//! WebSocket ([`crate::clients::hub`]), HTTP streaming, SSE and long
//! polling ([`crate::clients::hub_http`]) — so each table reads down the
//! transports:
//!
//! - **idle memory** (`hub-fallback-idle-N-T`): the growth of the
//!   server's resident memory over N sessions, each subscribed to two
//!   channels, divided by N, once all are open and the server settled
//!   (as [`super::hub_idle`]); a long-poll session counts its state
//!   between polls plus the poll it holds. A fresh server per run.
//! - **fan-out** (`hub-fallback-N-Rps-T`): N subscribers of one channel,
//!   R publications/s of 100 B through `POST /api/publish` (8 keep-alive
//!   connections); deliveries/s, publish-to-receive latency, and the
//!   bytes on the wire per delivery both ways.
//! - **bytes per delivered message** (`hub-fallback-bytes-N-Rps-T`): the
//!   fan-out's run, its number the bytes the subscribers' sockets read
//!   and wrote in the window (HTTP heads of polls and of `/emulation`
//!   posts included, the publisher's excluded) per delivery.
//!
//! Every fallback scenario runs on a fresh server: a long-poll session
//! outlives its client by the session timeout (50 s), and would still be
//! fed in the next run.

use std::time::{Duration, Instant};

use pushwire_proto::Message;

use super::delivery_window::DeliveryWindow;
use super::{delivery_metrics, Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::clients::hub::{self, HubClient};
use crate::clients::hub_http::{self, HubHttpClient};
use crate::clients::hub_http_wire::HttpTransport;
use crate::clients::{stamp, DeliveryClient};
use crate::error::BenchError;
use crate::peers::ServerRole;
use crate::probe::ProbeReport;
use crate::procfs;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// Idle memory per session, by transport.
pub const IDLE: Group = Group {
    id: "hub-fallback-idle",
    title: "Idle memory per hub session by transport (token, 2 channels)",
};

/// Fan-out to 1,000 subscribers, by transport.
pub const FANOUT_FEW: Group = Group {
    id: "hub-fallback-fanout-few",
    title: "Fan-out through the hub by transport, 1,000 subscribers (quick: 50; deliveries/s)",
};

/// Fan-out to 10,000 subscribers, by transport.
pub const FANOUT_MANY: Group = Group {
    id: "hub-fallback-fanout-many",
    title: "Fan-out through the hub by transport, 10,000 subscribers (quick: 200; deliveries/s)",
};

/// Bytes on the wire per delivered message, by transport.
pub const BYTES: Group = Group {
    id: "hub-fallback-bytes",
    title: "Bytes on the wire per delivered message by transport (both directions)",
};

/// Bytes per publication (its `data`, a JSON string, quotes included).
const MESSAGE_SIZE: usize = 100;

/// How a scenario's clients reach the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    WebSocket,
    Http(HttpTransport),
}

impl Via {
    const ALL: [Via; 4] = [
        Via::WebSocket,
        Via::Http(HttpTransport::HttpStream),
        Via::Http(HttpTransport::Sse),
        Via::Http(HttpTransport::LongPoll),
    ];

    /// The end of its scenarios' ids.
    fn id(self) -> &'static str {
        match self {
            Via::WebSocket => "ws",
            Via::Http(HttpTransport::HttpStream) => "http-stream",
            Via::Http(HttpTransport::Sse) => "sse",
            Via::Http(HttpTransport::LongPoll) => "long-poll",
        }
    }

    /// What it is called in titles.
    fn title(self) -> &'static str {
        match self {
            Via::WebSocket => "WebSocket",
            Via::Http(HttpTransport::HttpStream) => "HTTP streaming",
            Via::Http(HttpTransport::Sse) => "SSE",
            Via::Http(HttpTransport::LongPoll) => "long polling",
        }
    }

    fn probe(self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        let token = token(server)?;
        match self {
            Via::WebSocket => hub::probe(server.addr, &token, MESSAGE_SIZE),
            Via::Http(transport) => hub_http::probe(server.addr, transport, &token, MESSAGE_SIZE),
        }
    }
}

/// The scenarios: idle memory at 10,000 sessions, fan-out to 1,000 and
/// 10,000 subscribers at 10 and 100 publications/s, bytes per message
/// at 1,000 subscribers and 10 publications/s; each for every transport
/// (quick: 200 sessions, 50 and 200 subscribers).
pub fn variants(settings: &Settings) -> Vec<Box<dyn Scenario>> {
    let idle = settings.scale(10_000, 200);
    let few = settings.scale(1_000, 50);
    let many = settings.scale(10_000, 200);
    let mut list: Vec<Box<dyn Scenario>> = Vec::new();
    for via in Via::ALL {
        list.push(Box::new(Idle::new(via, idle)));
    }
    for (group, subscribers) in [(FANOUT_FEW, few), (FANOUT_MANY, many)] {
        for rate in [10.0, 100.0] {
            for via in Via::ALL {
                list.push(Box::new(Fanout::new(group, via, subscribers, rate, false)));
            }
        }
    }
    for via in Via::ALL {
        list.push(Box::new(Fanout::new(BYTES, via, few, 10.0, true)));
    }
    list
}

/// Idle memory per session over one transport.
struct Idle {
    spec: ScenarioSpec,
    via: Via,
    sessions: usize,
}

impl Idle {
    fn new(via: Via, sessions: usize) -> Self {
        Idle {
            spec: ScenarioSpec {
                id: format!("hub-fallback-idle-{sessions}-{}", via.id()),
                group: IDLE,
                title: format!("{sessions} idle sessions, {}", via.title()),
                unit: Unit::BytesPerConnection,
                deflate: false,
                fresh_server_per_run: true,
            },
            via,
            sessions,
        }
    }
}

impl Scenario for Idle {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(stamp::stamped(1, MESSAGE_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::HubOnly
    }

    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        self.via.probe(server)
    }

    fn warm_up(&self, _: &mut ServerProcess, _: &Settings) -> Result<(), BenchError> {
        Ok(())
    }

    fn measure(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
    ) -> Result<Sample, BenchError> {
        let settle = Duration::from_millis(if settings.quick { 100 } else { 2000 });
        std::thread::sleep(settle / 2);
        let before = server.resident_bytes()?;
        let server_cpu = server.cpu_time()?;
        let own_cpu = procfs::own_cpu_time()?;
        let started = Instant::now();
        let channels = [hub::CHANNEL, hub::CHANNEL_2];
        let token = token(server)?;
        let timeout = settings.scale_timeout();
        let (open, closed, counters, extra) = match self.via {
            Via::WebSocket => {
                let mut client = HubClient::new(server.addr, &token, &channels, MESSAGE_SIZE)?;
                client.without_publishers();
                client.open(self.sessions, timeout)?;
                client.idle(settle);
                (
                    client.subscribed(),
                    client.stats.closed_by_server,
                    client.counters.clone(),
                    Vec::new(),
                )
            }
            Via::Http(transport) => {
                let mut client =
                    HubHttpClient::new(server.addr, transport, &token, &channels, MESSAGE_SIZE)?;
                client.without_publishers();
                client.open(self.sessions, timeout)?;
                client.idle(settle);
                (
                    client.opened(),
                    client.stats.closed_by_server,
                    client.counters.clone(),
                    vec![Metric::new(
                        "/emulation posts",
                        client.emulation_posts() as f64,
                    )],
                )
            }
        };
        let after = server.resident_bytes()?;
        if !server.is_running() {
            return Err(BenchError::Peer(format!(
                "{} exited while holding sessions",
                server.peer
            )));
        }
        let mut metrics = vec![
            Metric::new("sessions open", open as f64),
            Metric::new("closed by server", closed as f64),
        ];
        metrics.extend(extra);
        Ok(Sample {
            value: (after as f64 - before as f64) / open.max(1) as f64,
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

/// Fan-out over one transport.
struct Fanout {
    spec: ScenarioSpec,
    via: Via,
    subscribers: usize,
    rate: f64,
    /// The number is bytes per delivery (the [`BYTES`] group).
    bytes: bool,
}

impl Fanout {
    fn new(group: Group, via: Via, subscribers: usize, rate: f64, bytes: bool) -> Self {
        let (prefix, unit) = if bytes {
            ("hub-fallback-bytes", Unit::BytesPerMessage)
        } else {
            ("hub-fallback", Unit::DeliveriesPerSecond)
        };
        Fanout {
            spec: ScenarioSpec {
                id: format!("{prefix}-{subscribers}-{rate}ps-{}", via.id()),
                group,
                title: format!("{subscribers} subscribers, {rate} pub/s, {}", via.title()),
                unit,
                deflate: false,
                fresh_server_per_run: via != Via::WebSocket,
            },
            via,
            subscribers,
            rate,
            bytes,
        }
    }

    /// Ramps `client` up, times one window and makes the sample.
    fn deliver<C: DeliveryClient>(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
        mut client: C,
        closed: impl Fn(&C) -> u64,
    ) -> Result<Sample, BenchError> {
        let ramp = Duration::from_millis(if settings.quick { 500 } else { 1000 });
        client.run(self.rate, settings.ramp.max(ramp));
        client.reset();
        let window = DeliveryWindow::time(server, || client.run(self.rate, settings.duration))?;
        let deliveries = client.deliveries();
        let expected = client.published() as f64 * self.subscribers as f64;
        let per_delivery = |bytes: u64| bytes as f64 / deliveries.max(1) as f64;
        let total = per_delivery(client.bytes_up() + client.bytes_down());
        let mut metrics = delivery_metrics(
            client.latency(),
            client.published(),
            deliveries,
            expected,
            window.wall,
        );
        metrics.extend([
            Metric::new("B/delivery", total),
            Metric::new("B up/delivery", per_delivery(client.bytes_up())),
            Metric::new("B down/delivery", per_delivery(client.bytes_down())),
            Metric::new("closed by server", closed(&client) as f64),
        ]);
        if let Via::Http(HttpTransport::LongPoll) = self.via {
            metrics.push(Metric::new(
                "msgs per poll",
                deliveries as f64 / client.requests().max(1) as f64,
            ));
        }
        let mut sample = window.sample(deliveries, client.counters().clone(), metrics);
        if self.bytes {
            sample.value = total;
        }
        Ok(sample)
    }
}

impl Scenario for Fanout {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(stamp::stamped(1, MESSAGE_SIZE))
    }

    fn server_role(&self) -> ServerRole {
        ServerRole::HubOnly
    }

    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        self.via.probe(server)
    }

    fn warm_up(&self, server: &mut ServerProcess, settings: &Settings) -> Result<(), BenchError> {
        // The fallbacks run on a fresh server each time, ramped up.
        if self.via != Via::WebSocket || settings.warmup.is_zero() {
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
        let token = token(server)?;
        let timeout = settings.scale_timeout();
        let channels = [hub::CHANNEL];
        match self.via {
            Via::WebSocket => {
                let mut client = HubClient::new(server.addr, &token, &channels, MESSAGE_SIZE)?;
                client.open(self.subscribers, timeout)?;
                self.deliver(server, settings, client, |c| c.stats.closed_by_server)
            }
            Via::Http(transport) => {
                let mut client =
                    HubHttpClient::new(server.addr, transport, &token, &channels, MESSAGE_SIZE)?;
                client.open(self.subscribers, timeout)?;
                self.deliver(server, settings, client, |c| c.stats.closed_by_server)
            }
        }
    }
}

/// The connection token the hub was started with.
fn token(server: &ServerProcess) -> Result<String, BenchError> {
    server
        .token
        .clone()
        .ok_or_else(|| BenchError::Setup(format!("{} was started without a token", server.peer)))
}
