//! The task that owns the sans-IO [`pushwire_hub::Hub`]: transports and
//! the server API send it [`Command`]s; after each batch of them it moves
//! what each connection is to send into that connection's [`Outlet`],
//! and it sleeps until the hub's next deadline (pings, expiries).
//!
//! One task, so every hub operation is atomic: a recovering subscribe
//! cannot miss or duplicate a publication made meanwhile.
//!
//! Server API answers go out after the round's deliveries: the HTTP task
//! that waits for one is then the last task woken, and the runtime runs
//! it next (its LIFO slot) rather than behind every subscriber the round
//! woke.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;
use pushwire_hub::api::ApiResponse;
use pushwire_hub::proxy::{ProxyFailure, ProxyOutcome, ProxyTicket};
use pushwire_hub::{ConnId, Hub, Stats, Timestamp, Transport};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::metrics::Metrics;
use super::outlet::{Close, Outlet};
use super::proxy::{ConnMeta, ProxyClient};

/// Commands the driver takes in one go before it delivers.
const BATCH: usize = 256;

/// What transports and the server API ask of the hub.
pub(crate) enum Command {
    /// A transport opened: the hub answers with the connection's handle.
    Open {
        transport: Transport,
        /// The transport's name and the client headers the proxy forwards.
        meta: ConnMeta,
        outlet: Arc<Outlet>,
        opened: oneshot::Sender<ConnId>,
    },
    /// A bidirectional transport received a frame of commands.
    Frame { conn: ConnId, frame: Bytes },
    /// Commands posted to `/emulation` for the emulation session
    /// `session` (`\n`-joined, as a bidirectional frame). An unknown
    /// session is ignored: its stream has ended.
    SessionFrame { session: String, frame: Bytes },
    /// A unidirectional transport's connect request.
    UniConnect { conn: ConnId, request: Bytes },
    /// The connection wrote what it took and has room for more.
    Refill(ConnId),
    /// The transport ended.
    Closed(ConnId),
    /// A server API call (the key was checked already).
    Api {
        method: String,
        body: Bytes,
        answer: oneshot::Sender<ApiResponse>,
    },
    /// The hub's counters.
    Stats { answer: oneshot::Sender<Stats> },
}

/// The current time as the hub counts it.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// A backend proxy call's outcome, from the task that made it.
type ProxyReply = (ProxyTicket, ProxyOutcome);

/// Runs the hub until every sender of `commands` is gone.
pub(crate) async fn run(
    hub: Hub,
    mut commands: mpsc::Receiver<Command>,
    metrics: Arc<Metrics>,
    proxy: Option<Arc<ProxyClient>>,
) {
    // Proxy calls run on tasks of their own and answer here; at most
    // `client.proxy.max_pending` are out at once (the hub's bound).
    let (proxy_replies, mut replies) = mpsc::unbounded_channel();
    let mut driver = Driver {
        hub,
        metrics: metrics.clone(),
        outlets: Vec::new(),
        ready: Vec::new(),
        answers: Vec::new(),
        proxy,
        proxy_headers: HashMap::new(),
        proxy_replies,
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut reply_batch: Vec<ProxyReply> = Vec::new();
    loop {
        let deadline = driver.hub.poll_timeout().map(instant_of);
        tokio::select! {
            received = commands.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    // Every sender is gone: the hub stops.
                    break;
                }
            }
            _ = replies.recv_many(&mut reply_batch, BATCH) => {}
            () = sleep_until(deadline) => {}
        }
        let started = Instant::now();
        let now = now();
        for (ticket, outcome) in reply_batch.drain(..) {
            driver.hub.handle_proxy_reply(now, ticket, outcome);
        }
        for command in batch.drain(..) {
            driver.handle(now, command);
        }
        if driver.hub.poll_timeout().is_some_and(|due| due <= now) {
            driver.hub.handle_timeout(now);
        }
        driver.start_proxy_calls();
        driver.deliver(now);
        driver.answer();
        metrics.round(started.elapsed());
    }
    for (_, outlet) in driver.outlets.iter().flatten() {
        outlet.end();
    }
}

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The runtime's instant at which the wall clock reads `at`.
fn instant_of(at: Timestamp) -> Instant {
    Instant::now() + at.saturating_since(now())
}

struct Driver {
    hub: Hub,
    metrics: Arc<Metrics>,
    /// Each open connection's outlet, at its slot.
    outlets: Vec<Option<(ConnId, Arc<Outlet>)>>,
    /// Connections with output, reused between rounds.
    ready: Vec<ConnId>,
    /// Server API answers of this round, sent after its deliveries.
    answers: Vec<(oneshot::Sender<ApiResponse>, ApiResponse)>,
    /// The backend proxy's client, when a proxy is on.
    proxy: Option<Arc<ProxyClient>>,
    /// The client headers the proxy forwards, per open connection that
    /// sent some.
    proxy_headers: HashMap<ConnId, Arc<HeaderMap>>,
    proxy_replies: mpsc::UnboundedSender<ProxyReply>,
}

impl Driver {
    fn handle(&mut self, now: Timestamp, command: Command) {
        match command {
            Command::Open {
                transport,
                meta,
                outlet,
                opened,
            } => {
                let conn = self.hub.open(now, transport);
                self.hub.set_transport_name(conn, meta.name);
                if let Some(headers) = meta.headers {
                    self.proxy_headers.insert(conn, headers);
                }
                if opened.send(conn).is_ok() {
                    let slot = conn.slot();
                    if self.outlets.len() <= slot {
                        self.outlets.resize_with(slot + 1, || None);
                    }
                    self.outlets[slot] = Some((conn, outlet));
                } else {
                    self.hub.close(now, conn);
                }
            }
            Command::Frame { conn, frame } => {
                let times = &self.metrics.commands.client;
                let mut last = Instant::now();
                self.hub.handle_frame_with(now, conn, &frame, |method| {
                    let done = Instant::now();
                    times.observe(method, done - last);
                    last = done;
                });
            }
            Command::SessionFrame { session, frame } => {
                if let Some(conn) = self.hub.session(&session) {
                    self.hub.handle_frame(now, conn, &frame);
                }
            }
            Command::UniConnect { conn, request } => {
                self.hub.handle_uni_connect(now, conn, &request)
            }
            Command::Refill(conn) => self.flush(now, conn),
            Command::Closed(conn) => {
                if self.remove_outlet(conn).is_some() {
                    self.hub.close(now, conn);
                }
            }
            Command::Api {
                method,
                body,
                answer,
            } => {
                let started = Instant::now();
                let response = self.hub.api(now, &method, &body);
                self.metrics
                    .commands
                    .api
                    .observe(&method, started.elapsed());
                self.answers.push((answer, response));
            }
            Command::Stats { answer } => {
                let _ = answer.send(self.hub.stats().clone());
            }
        }
    }

    fn remove_outlet(&mut self, conn: ConnId) -> Option<Arc<Outlet>> {
        self.proxy_headers.remove(&conn);
        outlet_of(&self.outlets, conn)?;
        self.outlets[conn.slot()].take().map(|(_, outlet)| outlet)
    }

    /// Moves output into the outlets of the connections that have some.
    fn deliver(&mut self, now: Timestamp) {
        self.hub.poll_ready(&mut self.ready);
        let mut ready = std::mem::take(&mut self.ready);
        for conn in ready.drain(..) {
            self.flush(now, conn);
        }
        self.ready = ready;
    }

    /// Starts the backend proxy calls the hub asks for, each on a task
    /// of its own that answers through `proxy_replies`.
    fn start_proxy_calls(&mut self) {
        while let Some(call) = self.hub.poll_proxy() {
            let Some(client) = self.proxy.clone() else {
                let failed = ProxyOutcome::Failed(ProxyFailure::Unreachable);
                let _ = self.proxy_replies.send((call.ticket, failed));
                continue;
            };
            let headers = self.proxy_headers.get(&call.conn).cloned();
            let replies = self.proxy_replies.clone();
            tokio::spawn(async move {
                let ticket = call.ticket;
                let outcome = client.call(call, headers).await;
                let _ = replies.send((ticket, outcome));
            });
        }
    }

    /// Sends the round's server API answers.
    fn answer(&mut self) {
        for (answer, response) in self.answers.drain(..) {
            let _ = answer.send(response);
        }
    }

    /// Moves what fits of `conn`'s outbox into its outlet; once the hub
    /// has decided to disconnect it and nothing is left, ends it.
    fn flush(&mut self, now: Timestamp, conn: ConnId) {
        let Some(outlet) = outlet_of(&self.outlets, conn) else {
            return;
        };
        let Some(outbox) = self.hub.outbox(conn) else {
            return;
        };
        if outlet.fill(outbox) {
            return;
        }
        let Some(disconnect) = outbox.disconnect() else {
            return;
        };
        outlet.close(Close {
            code: u16::try_from(disconnect.code).unwrap_or(3000),
            reason: disconnect.reason.clone(),
        });
        self.remove_outlet(conn);
        self.hub.close(now, conn);
    }
}

/// The outlet of `conn`, if it is still open.
fn outlet_of(outlets: &[Option<(ConnId, Arc<Outlet>)>], conn: ConnId) -> Option<&Arc<Outlet>> {
    match outlets.get(conn.slot()) {
        Some(Some((open, outlet))) if *open == conn => Some(outlet),
        _ => None,
    }
}
