//! Fan-out (issue 4, scenarios 5 and 6), one scenario whatever the
//! transport: N receivers subscribed to a server, one publisher sending
//! timestamped 50 B messages ([`stamp`]) at 10, 100 or 1,000 per second,
//! every message to every receiver. The number is deliveries per second
//! at the receivers; the metrics table adds the latency from publish to
//! read (mean, p50, p99, max), the publication rate reached, the share of
//! expected deliveries that arrived, and what the transport adds:
//!
//! - [`Transport::WebSocket`]: subscribers of a broadcast server (every
//!   message to every connection, the sender included: `pushwire echo
//!   --broadcast`, Bun's `server.publish` plus a send to the sender, Node
//!   `ws` looping over its clients), the publisher a connection of its
//!   own; a variant leaves 1% of the subscribers not reading. Adds the
//!   subscribers the server closed.
//! - [`Transport::Sse`]: clients holding `GET /events` (browser-like
//!   `EventSource` request heads), the publisher posting to `POST
//!   /publish`; every stream carries every message as an `id: <cursor>` /
//!   `data: <message>` event. Servers: `pushwire serve` and Bun
//!   (`bench/peers/node/bun-sse.js`). Adds bytes per delivery (chunk
//!   framing and event fields), `reset` events and messages lost (gaps in
//!   the ids).
//! - [`Transport::LongPoll`]: clients holding `GET
//!   /poll?cursor=N&timeout_ms=25000` on `pushwire serve` (browser-like
//!   request heads) and polling again as soon as answered, the publisher
//!   posting to `POST /publish`. Adds messages per poll, bytes per
//!   delivery and log resets.
//!
//! - [`Transport::Hub`]: the hub (`pushwire serve`) side by side with the
//!   broadcast servers and Socket.IO, 100 B publications: the hub's
//!   subscribers speak Centrifugo's client protocol (connect with a token,
//!   subscribe to one channel, pongs) and its publisher posts to `POST
//!   /api/publish` from 8 keep-alive connections ([`crate::clients::hub`]);
//!   Socket.IO's clients join a room and its publisher posts to the peer's
//!   `POST /publish` the same way; the broadcast servers' clients are
//!   those of [`Transport::WebSocket`]. Adds the subscribers the server
//!   closed and bytes per delivery.
//!
//! Each transport has its own group (one table and chart) and ids:
//! `fanout-N-Rps`, `sse-fanout-N-Rps`, `long-poll-N-Rps`,
//! `hub-fanout-N-Rps`.

use std::time::Duration;

use pushwire_proto::Message;

use super::delivery_window::DeliveryWindow;
use super::{delivery_metrics, Group, Metric, Sample, Scenario, ScenarioSpec, Unit};
use crate::clients::hub::{self, HubClient};
use crate::clients::poll::{PollClient, PollMode};
use crate::clients::sse::SseClient;
use crate::clients::ws::WsClient;
use crate::clients::{poll_probe, sse_probe, stamp, DeliveryClient};
use crate::error::BenchError;
use crate::peers::{PubSubProtocol, ServerRole};
use crate::probe::ProbeReport;
use crate::server::ServerProcess;
use crate::settings::Settings;

/// The WebSocket fan-out scenarios.
pub const FANOUT: Group = Group {
    id: "fanout",
    title: "Broadcast fan-out over WebSocket (deliveries/s; latency in the metrics table)",
};

/// The SSE fan-out scenarios.
pub const SSE_FANOUT: Group = Group {
    id: "sse-fanout",
    title: "SSE fan-out (POST /publish, GET /events)",
};

/// The long-polling scenarios.
pub const LONG_POLL: Group = Group {
    id: "long-poll",
    title: "Long-polling delivery (pushwire serve: POST /publish, GET /poll)",
};

/// The hub against the broadcast servers.
pub const HUB_FANOUT: Group = Group {
    id: "hub-fanout",
    title:
        "Fan-out through the hub (Centrifugo protocol, POST /api/publish) against broadcast servers",
};

/// How long Redis's CPU is watched with nothing published (the hub on Redis).
const REDIS_IDLE_WINDOW: Duration = Duration::from_millis(500);
/// Bytes per publication.
const MESSAGE_SIZE: usize = 50;
/// Bytes per publication through the hub (its `data`, a JSON string, quotes
/// included; the broadcast servers get messages of this size too).
const HUB_MESSAGE_SIZE: usize = 100;

/// How the receivers get the publications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket subscribers of a broadcast server.
    WebSocket,
    /// Server-Sent Events: held `GET /events` streams.
    Sse,
    /// Long polling: held `GET /poll` requests.
    LongPoll,
    /// Subscribers of one channel of the hub, against the broadcast servers.
    Hub,
}

impl Transport {
    /// The family the transport's scenarios report in.
    fn group(self) -> Group {
        match self {
            Transport::WebSocket => FANOUT,
            Transport::Sse => SSE_FANOUT,
            Transport::LongPoll => LONG_POLL,
            Transport::Hub => HUB_FANOUT,
        }
    }

    /// The start of its scenarios' ids.
    fn id_prefix(self) -> &'static str {
        match self {
            Transport::WebSocket => "fanout",
            Transport::Sse => "sse-fanout",
            Transport::LongPoll => "long-poll",
            Transport::Hub => "hub-fanout",
        }
    }

    /// What its receivers are called in titles.
    fn receivers(self) -> &'static str {
        match self {
            Transport::WebSocket | Transport::Hub => "subscribers",
            Transport::Sse => "SSE streams",
            Transport::LongPoll => "long-polling clients",
        }
    }

    /// The server that publishes over it.
    fn server_role(self) -> ServerRole {
        match self {
            Transport::WebSocket => ServerRole::Broadcast,
            Transport::Sse => ServerRole::EventStream,
            Transport::LongPoll => ServerRole::HttpPush,
            Transport::Hub => ServerRole::PubSub,
        }
    }

    /// How long a run publishes before its window opens.
    fn ramp(self, settings: &Settings) -> Duration {
        match self {
            // The hub's first publications to fresh subscribers take their
            // tasks' first wake-ups: longer than a quick run's window.
            Transport::Hub if settings.quick => Duration::from_millis(500),
            // Let the stalled subscribers' windows fill and the server settle.
            Transport::WebSocket | Transport::Hub => {
                settings.ramp.max(Duration::from_millis(if settings.quick {
                    100
                } else {
                    1000
                }))
            }
            Transport::Sse | Transport::LongPoll => {
                Duration::from_millis(if settings.quick { 200 } else { 1000 })
            }
        }
    }
}

/// One fan-out scenario.
pub struct Fanout {
    spec: ScenarioSpec,
    transport: Transport,
    /// Receivers that read.
    readers: usize,
    /// WebSocket subscribers that stop reading once upgraded.
    stalled: usize,
    /// Publications per second.
    rate: f64,
    /// Bytes per publication.
    message_size: usize,
}

/// The scenarios of `transport`. WebSocket: 15,000 subscribers at 10 and
/// 100 publications per second, at 100 with 1% of them not reading, and
/// at 1,000. SSE: 1,000 and 15,000 streams, each at 10 and 100. Long
/// polling: 1,000 clients at 10 and 100, 15,000 at 10.
pub fn variants(settings: &Settings, transport: Transport) -> Vec<Box<dyn Scenario>> {
    let few = settings.scale(1_000, 50);
    let many = settings.scale(15_000, 200);
    // (receivers, publications per second, of the receivers not reading)
    let runs = match transport {
        // The overload (1,000 pub/s) last: a server may still be draining it.
        Transport::WebSocket => vec![
            (many, 10.0, 0),
            (many, 100.0, 0),
            (many, 100.0, many / 100),
            (many, 1000.0, 0),
        ],
        Transport::Sse => vec![
            (few, 10.0, 0),
            (few, 100.0, 0),
            (many, 10.0, 0),
            (many, 100.0, 0),
        ],
        Transport::LongPoll => vec![(few, 10.0, 0), (few, 100.0, 0), (many, 10.0, 0)],
        // 100 pub/s is issue 19's figure; 10 pub/s leaves every server
        // headroom, so latency compares without a saturated core.
        Transport::Hub => vec![(many, 100.0, 0), (many, 10.0, 0)],
    };
    runs.into_iter()
        .map(|(receivers, rate, stalled)| {
            Box::new(Fanout::new(transport, receivers, rate, stalled)) as Box<dyn Scenario>
        })
        .collect()
}

impl Fanout {
    /// `receivers` over `transport` at `rate` publications per second,
    /// `stalled` of them (WebSocket only) not reading.
    fn new(transport: Transport, receivers: usize, rate: f64, stalled: usize) -> Self {
        let prefix = transport.id_prefix();
        let noun = transport.receivers();
        let (id, title) = if stalled == 0 {
            (
                format!("{prefix}-{receivers}-{rate}ps"),
                format!("{receivers} {noun}, {rate} pub/s"),
            )
        } else {
            (
                format!("{prefix}-{receivers}-{rate}ps-1pct-stalled"),
                format!("{receivers} {noun}, {rate} pub/s, {stalled} not reading"),
            )
        };
        Fanout {
            spec: ScenarioSpec {
                id,
                group: transport.group(),
                title,
                unit: Unit::DeliveriesPerSecond,
                deflate: false,
                // Pollers start at cursor 0: on a log that already holds
                // earlier runs' messages their first poll would return
                // the whole retained window, which is not delivery.
                fresh_server_per_run: transport == Transport::LongPoll,
            },
            transport,
            readers: receivers - stalled,
            stalled,
            rate,
            message_size: if transport == Transport::Hub {
                HUB_MESSAGE_SIZE
            } else {
                MESSAGE_SIZE
            },
        }
    }

    /// Ramps `client` up, then times one window of it and turns what it
    /// counted into a sample: the delivery metrics, then `extra`'s.
    fn deliver<C: DeliveryClient>(
        &self,
        server: &mut ServerProcess,
        settings: &Settings,
        mut client: C,
        extra: impl FnOnce(&C) -> Vec<Metric>,
    ) -> Result<Sample, BenchError> {
        // The hub on Redis: what Redis spends without publications (its
        // own timers, the nodes' periodic checks), over a short pause
        // with the subscribers connected, before anything is published.
        let redis_idle = match server.redis {
            Some(redis) => {
                let before = redis.cpu_time()?;
                let started = std::time::Instant::now();
                std::thread::sleep(REDIS_IDLE_WINDOW);
                let cpu = redis.cpu_time()?.saturating_sub(before);
                Some(cpu.as_secs_f64() / started.elapsed().as_secs_f64())
            }
            None => None,
        };
        client.run(self.rate, self.transport.ramp(settings));
        client.reset();
        let window = DeliveryWindow::time(server, || client.run(self.rate, settings.duration))?;
        let expected = client.published() as f64 * self.readers as f64;
        let mut metrics = delivery_metrics(
            client.latency(),
            client.published(),
            client.deliveries(),
            expected,
            window.wall,
        );
        metrics.extend(extra(&client));
        if let (Some(redis_cpu), Some(idle)) = (window.redis_cpu, redis_idle) {
            // The hub on Redis: what Redis itself spent per publication,
            // all of it and above its idle rate.
            let published = client.published().max(1) as f64;
            let above_idle = (redis_cpu - idle * window.wall).max(0.0);
            metrics.push(Metric::new("Redis CPU µs/pub", redis_cpu * 1e6 / published));
            metrics.push(Metric::new(
                "Redis CPU µs/pub over idle",
                above_idle * 1e6 / published,
            ));
            metrics.push(Metric::new("Redis CPU %", 100.0 * redis_cpu / window.wall));
            metrics.push(Metric::new("Redis idle CPU %", 100.0 * idle));
        }
        Ok(window.sample(client.deliveries(), client.counters().clone(), metrics))
    }
}

/// Bytes both ways at the receivers per delivery.
fn bytes_per_delivery(client: &impl DeliveryClient) -> Metric {
    Metric::new(
        "B/delivery",
        (client.bytes_up() + client.bytes_down()) as f64 / client.deliveries().max(1) as f64,
    )
}

impl Scenario for Fanout {
    fn spec(&self) -> &ScenarioSpec {
        &self.spec
    }

    fn probe_message(&self) -> Message {
        Message::text(stamp::stamped(1, self.message_size))
    }

    fn server_role(&self) -> ServerRole {
        self.transport.server_role()
    }

    fn probe(&self, server: &ServerProcess) -> Result<ProbeReport, BenchError> {
        let addr = server.addr;
        match self.transport {
            Transport::Hub if server.protocol == PubSubProtocol::Hub => {
                hub::probe_nodes(&server.nodes, &hub_token(server)?, self.message_size)
            }
            Transport::Hub if server.protocol == PubSubProtocol::SocketIo => {
                hub::probe_socket_io(addr, self.message_size)
            }
            // Alone on the server, a broadcast comes back to its sender: an echo.
            Transport::WebSocket | Transport::Hub => {
                crate::probe::probe(addr, &self.probe_message(), false)
            }
            Transport::Sse => sse_probe::probe(addr, &stamp::stamped(1, self.message_size)),
            Transport::LongPoll => poll_probe::probe(addr),
        }
    }

    fn warm_up(&self, server: &mut ServerProcess, settings: &Settings) -> Result<(), BenchError> {
        // Over HTTP each run ramps up before its window.
        if !matches!(self.transport, Transport::WebSocket | Transport::Hub)
            || settings.warmup.is_zero()
        {
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
        let (addr, timeout) = (server.addr, settings.scale_timeout());
        match self.transport {
            Transport::Hub if server.protocol != PubSubProtocol::Broadcast => {
                let mut client = if server.protocol == PubSubProtocol::Hub {
                    let mut client = HubClient::new(
                        addr,
                        &hub_token(server)?,
                        &[hub::CHANNEL],
                        self.message_size,
                    )?;
                    // Over every node of a hub on Redis, the publisher on the first.
                    client.spread_over(&server.nodes);
                    client
                } else {
                    HubClient::socket_io(addr, self.message_size)?
                };
                client.open(self.readers, timeout)?;
                self.deliver(server, settings, client, |client| {
                    vec![
                        Metric::new(
                            "subscribers closed by server",
                            client.stats.closed_by_server as f64,
                        ),
                        bytes_per_delivery(client),
                    ]
                })
            }
            Transport::WebSocket | Transport::Hub => {
                let mut client = WsClient::new(addr, self.message_size)?;
                client.open(self.readers, self.stalled, timeout)?;
                let hub = self.transport == Transport::Hub;
                self.deliver(server, settings, client, |client| {
                    let mut metrics = vec![Metric::new(
                        "subscribers closed by server",
                        client.stats.closed_by_server as f64,
                    )];
                    if hub {
                        metrics.push(bytes_per_delivery(client));
                    }
                    metrics
                })
            }
            Transport::Sse => {
                let client = SseClient::open(addr, self.readers, self.message_size, timeout)?;
                self.deliver(server, settings, client, |client| {
                    vec![
                        bytes_per_delivery(client),
                        Metric::new("resets", client.stats.resets as f64),
                        Metric::new("lost", client.stats.lost as f64),
                    ]
                })
            }
            Transport::LongPoll => {
                let mode = PollMode::Long;
                let client =
                    PollClient::open(addr, self.readers, mode, self.message_size, timeout)?;
                self.deliver(server, settings, client, |client| {
                    vec![
                        Metric::new(
                            "msgs per poll",
                            client.deliveries() as f64 / client.requests().max(1) as f64,
                        ),
                        bytes_per_delivery(client),
                        Metric::new("log resets", client.stats.resets as f64),
                    ]
                })
            }
        }
    }
}

/// The connection token a hub server was started with.
fn hub_token(server: &ServerProcess) -> Result<String, BenchError> {
    server
        .token
        .clone()
        .ok_or_else(|| BenchError::Setup(format!("{} was started without a token", server.peer)))
}
