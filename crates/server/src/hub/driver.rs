//! The task that owns the sans-IO [`pushwire_hub::Hub`]: transports and
//! the server API send it [`Command`]s, and it polls the hub's WebSockets
//! itself ([`Sockets`]); after each batch of them it writes what each
//! WebSocket is to send, moves what each streaming response is to send
//! into that response's [`Outlet`], and it sleeps until the hub's next
//! deadline (pings, expiries).
//!
//! One task, so every hub operation is atomic: a recovering subscribe
//! cannot miss or duplicate a publication made meanwhile.
//!
//! Server API answers go out after the round's deliveries: the HTTP task
//! that waits for one is then the last task woken, and the runtime runs
//! it next (its LIFO slot) rather than behind every subscriber the round
//! woke.

use std::collections::HashMap;
use std::future::poll_fn;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;
use pushwire_hub::api::{ApiOutcome, ApiResponse, ApiTicket};
use pushwire_hub::engine::{
    BrokerReply, BrokerRequest, BrokerTicket, ClusterNotice, NODE_INFO_LIFETIME, SURVEY_TIMEOUT,
};
use pushwire_hub::proxy::{ProxyFailure, ProxyOutcome, ProxyTicket};
use pushwire_hub::{ConnId, Hub, Stats, Timestamp, Transport};
use pushwire_proto::{CloseCode, CloseFrame};
use pushwire_redis::EngineEvent;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::deadline::DeadlineTimer;
use super::engine::{EngineInbox, EngineIo};
use super::long_poll::ForwardedPoll;
use super::metrics::{Metrics, TransportKind};
use super::outlet::{Close, Outlet};
use super::proxy::{ConnMeta, ProxyClient};
use super::sockets::{SocketEvent, Sockets, WRITE_CHUNK};
use crate::http::connection::ConnectionInfo;
use crate::upgrade::UpgradedStream;
use crate::ws::WebSocket;

/// Commands the driver takes in one go before it delivers.
const BATCH: usize = 256;

/// Most publishes sent to the engine as one pipeline.
const PUBLISH_PIPELINE: usize = 256;

/// What transports and the server API ask of the hub.
pub(crate) enum Command {
    /// A WebSocket upgraded on `/connection/websocket` or
    /// `/connection/uni_websocket`: the driver polls it from now on.
    Adopt {
        ws: Box<WebSocket<UpgradedStream>>,
        transport: Transport,
        /// The transport's name and the client headers the proxy forwards.
        meta: ConnMeta,
        /// The HTTP connection, when a pushwire server accepted it.
        info: Option<ConnectionInfo>,
    },
    /// A streaming transport opened: the hub answers with the
    /// connection's handle.
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
    /// `session` (`\n`-joined, as a bidirectional frame), held by `node`.
    /// A session of another node is forwarded there through the engine;
    /// an unknown one is ignored: its stream has ended.
    SessionFrame {
        session: String,
        node: String,
        frame: Bytes,
    },
    /// A unidirectional transport's connect request.
    UniConnect { conn: ConnId, request: Bytes },
    /// The connection wrote what it took and has room for more.
    Refill(ConnId),
    /// The transport ended.
    Closed(ConnId),
    /// A long-poll request for a session `node` holds: sent there through
    /// the engine; `answer` gets what it answered.
    ForwardPoll {
        node: String,
        request: Bytes,
        answer: oneshot::Sender<Bytes>,
    },
    /// The answer to a long-poll request that node `origin` forwarded here.
    PollAnswer {
        origin: String,
        id: u64,
        answer: Bytes,
    },
    /// A server API call (the key was checked already).
    Api {
        method: String,
        body: Bytes,
        answer: oneshot::Sender<ApiResponse>,
    },
    /// The hub's counters.
    Stats { answer: oneshot::Sender<Stats> },
    /// The node stops: the other nodes are told (remote engine); `done`
    /// hears once they were, or at once without an engine.
    Leave { done: oneshot::Sender<()> },
}

/// The current time as the hub counts it.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// A backend proxy call's outcome, from the task that made it.
type ProxyReply = (ProxyTicket, ProxyOutcome);

/// Runs the hub until every sender of `commands` is gone. With a remote
/// `engine`, the hub's broker requests go to it, and its replies and
/// events come in between commands; with a backend `proxy`, so do the
/// proxy calls and their outcomes.
pub(crate) async fn run(
    hub: Hub,
    mut commands: mpsc::Receiver<Command>,
    metrics: Arc<Metrics>,
    engine: Option<(EngineIo, EngineInbox)>,
    proxy: Option<Arc<ProxyClient>>,
    poll_server: Option<mpsc::UnboundedSender<ForwardedPoll>>,
) {
    let (engine, mut engine_replies, mut engine_events) = match engine {
        Some((io, inbox)) => (Some(io), Some(inbox.replies), inbox.events),
        None => (None, None, None),
    };
    // Proxy calls run on tasks of their own and answer here; at most
    // `client.proxy.max_pending` are out at once (the hub's bound).
    let (proxy_replies, mut proxy_outcomes) = mpsc::unbounded_channel();
    let mut driver = Driver {
        hub,
        metrics: metrics.clone(),
        outlets: Vec::new(),
        sockets: Sockets::new(metrics.clone()),
        socket_events: Vec::new(),
        due: Vec::new(),
        ready: Vec::new(),
        answers: Vec::new(),
        pending_api: HashMap::new(),
        engine,
        forwarded_polls: HashMap::new(),
        next_forwarded_poll: 0,
        poll_server,
        proxy,
        proxy_headers: HashMap::new(),
        proxy_replies,
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut replies = Vec::with_capacity(BATCH);
    let mut events = Vec::with_capacity(BATCH);
    let mut outcomes: Vec<ProxyReply> = Vec::new();
    let mut deadline = DeadlineTimer::new();
    loop {
        deadline.set(driver.hub.poll_timeout());
        tokio::select! {
            received = commands.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    // Every sender is gone: the hub stops.
                    break;
                }
            }
            _ = recv_replies(engine_replies.as_mut(), &mut replies) => {}
            received = recv_events(engine_events.as_mut(), &mut events) => {
                if received == 0 {
                    // The engine stopped: nothing more will come from it.
                    engine_events = None;
                }
            }
            _ = proxy_outcomes.recv_many(&mut outcomes, BATCH) => {}
            () = poll_fn(|cx| driver.sockets.poll_wait(cx)) => {}
            () = deadline.fired() => {}
        }
        let started = Instant::now();
        let now = now();
        for (ticket, reply) in replies.drain(..) {
            driver.hub.handle_broker_reply(now, ticket, reply);
        }
        for event in events.drain(..) {
            driver.event(now, event);
        }
        for (ticket, outcome) in outcomes.drain(..) {
            driver.hub.handle_proxy_reply(now, ticket, outcome);
        }
        for command in batch.drain(..) {
            driver.handle(now, command);
        }
        driver.poll_sockets(now);
        if driver.hub.poll_timeout().is_some_and(|due| due <= now) {
            driver.hub.handle_timeout(now);
        }
        driver.send_to_engine();
        driver.log_cluster_notices();
        driver.start_proxy_calls();
        driver.deliver(now);
        driver.write_sockets(now);
        driver.answer();
        metrics.round(started.elapsed());
        // The driver reads and writes every hub WebSocket: between its
        // rounds it lets the other tasks of its thread run, and the
        // runtime look for I/O (server API requests among it).
        tokio::task::yield_now().await;
    }
    for (_, sink) in driver.outlets.iter().flatten() {
        if let Sink::Outlet(outlet) = sink {
            outlet.end();
        }
    }
    driver.sockets.close_all();
}

/// The engine's next replies; never, without an engine.
async fn recv_replies(
    replies: Option<&mut mpsc::UnboundedReceiver<(BrokerTicket, BrokerReply)>>,
    out: &mut Vec<(BrokerTicket, BrokerReply)>,
) -> usize {
    match replies {
        Some(replies) => replies.recv_many(out, BATCH).await,
        None => std::future::pending().await,
    }
}

/// The engine's next events (0: it stopped); never, without one.
async fn recv_events(
    events: Option<&mut mpsc::Receiver<EngineEvent>>,
    out: &mut Vec<EngineEvent>,
) -> usize {
    match events {
        Some(events) => events.recv_many(out, BATCH).await,
        None => std::future::pending().await,
    }
}

/// How a control message carrying an `/emulation` frame to the node of its
/// session begins: then the session and `\n`, then the frame.
const FORWARD: &[u8] = b"emulation\n";

/// How a control message carrying a long-poll request to the node of its
/// session begins: then the asking node, `\n`, the request's number there,
/// `\n`, and the request.
const FORWARD_POLL: &[u8] = b"longpoll\n";

/// How the answer to a forwarded long-poll request begins: then its
/// number, `\n`, and the answer.
const POLL_ANSWER: &[u8] = b"longpoll-answer\n";

/// The line before the first `\n`, and the rest.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let split = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..split], &bytes[split + 1..]))
}

/// The session and frame of a forwarded `/emulation` request.
fn forwarded_frame(message: &Bytes) -> Option<(&str, Bytes)> {
    let (session, frame) = split_line(message.strip_prefix(FORWARD)?)?;
    Some((std::str::from_utf8(session).ok()?, message.slice_ref(frame)))
}

/// Where a connection's output goes.
enum Sink {
    /// A streaming response's outlet.
    Outlet(Arc<Outlet>),
    /// A WebSocket of [`Sockets`], by index.
    Socket(u32),
}

struct Driver {
    hub: Hub,
    metrics: Arc<Metrics>,
    /// Where each open connection's output goes, at its slot.
    outlets: Vec<Option<(ConnId, Sink)>>,
    /// The hub's WebSockets.
    sockets: Sockets,
    /// What polling them brought this round, reused.
    socket_events: Vec<SocketEvent>,
    /// The sockets written this round, reused.
    due: Vec<u32>,
    /// Connections with output, reused between rounds.
    ready: Vec<ConnId>,
    /// Server API answers of this round, sent after its deliveries.
    answers: Vec<(oneshot::Sender<ApiResponse>, ApiResponse)>,
    /// Server API calls waiting for the engine.
    pending_api: HashMap<ApiTicket, oneshot::Sender<ApiResponse>>,
    /// The remote engine, if the hub has one.
    engine: Option<EngineIo>,
    /// Long-poll requests sent to other nodes, by number, and the next
    /// number.
    forwarded_polls: HashMap<u64, oneshot::Sender<Bytes>>,
    next_forwarded_poll: u64,
    /// Where long-poll requests other nodes forward here are served.
    poll_server: Option<mpsc::UnboundedSender<ForwardedPoll>>,
    /// The backend proxy's client, when a proxy is on.
    proxy: Option<Arc<ProxyClient>>,
    /// The client headers the proxy forwards, per open connection that
    /// sent some.
    proxy_headers: HashMap<ConnId, Arc<HeaderMap>>,
    proxy_replies: mpsc::UnboundedSender<ProxyReply>,
}

impl Driver {
    /// Opens a hub connection of `transport` named and headed by `meta`.
    fn open(&mut self, now: Timestamp, transport: Transport, meta: ConnMeta) -> ConnId {
        let conn = self.hub.open(now, transport);
        self.hub.set_transport_name(conn, meta.name);
        if let Some(headers) = meta.headers {
            self.proxy_headers.insert(conn, headers);
        }
        conn
    }

    fn set_sink(&mut self, conn: ConnId, sink: Sink) {
        let slot = conn.slot();
        if self.outlets.len() <= slot {
            self.outlets.resize_with(slot + 1, || None);
        }
        self.outlets[slot] = Some((conn, sink));
    }

    fn handle_frame(&mut self, now: Timestamp, conn: ConnId, frame: &[u8]) {
        let times = &self.metrics.commands.client;
        let mut last = Instant::now();
        self.hub.handle_frame_with(now, conn, frame, |method| {
            let done = Instant::now();
            times.observe(method, done - last);
            last = done;
        });
    }

    fn handle(&mut self, now: Timestamp, command: Command) {
        match command {
            Command::Adopt {
                ws,
                transport,
                meta,
                info,
            } => {
                let conn = self.open(now, transport, meta);
                let kind = TransportKind::websocket(&transport);
                let index = self.sockets.adopt(*ws, conn, kind, info);
                self.set_sink(conn, Sink::Socket(index));
            }
            Command::Open {
                transport,
                meta,
                outlet,
                opened,
            } => {
                let conn = self.open(now, transport, meta);
                if opened.send(conn).is_ok() {
                    self.set_sink(conn, Sink::Outlet(outlet));
                } else {
                    self.hub.close(now, conn);
                }
            }
            Command::Frame { conn, frame } => self.handle_frame(now, conn, &frame),
            Command::SessionFrame {
                session,
                node,
                frame,
            } => self.session_frame(now, &session, &node, frame),
            Command::UniConnect { conn, request } => {
                self.hub.handle_uni_connect(now, conn, &request)
            }
            Command::Refill(conn) => self.flush(now, conn),
            Command::ForwardPoll {
                node,
                request,
                answer,
            } => self.forward_poll(&node, request, answer),
            Command::PollAnswer { origin, id, answer } => {
                if let Some(engine) = &self.engine {
                    let mut message = POLL_ANSWER.to_vec();
                    message.extend_from_slice(format!("{id}\n").as_bytes());
                    message.extend_from_slice(&answer);
                    engine.forward(&origin, message.into());
                }
            }
            Command::Closed(conn) => self.closed(now, conn),
            Command::Api {
                method,
                body,
                answer,
            } => {
                let started = Instant::now();
                let outcome = self.hub.api_request(now, &method, &body);
                self.metrics
                    .commands
                    .api
                    .observe(&method, started.elapsed());
                match outcome {
                    ApiOutcome::Done(response) => self.answers.push((answer, response)),
                    ApiOutcome::Pending(ticket) => {
                        self.pending_api.insert(ticket, answer);
                    }
                }
            }
            Command::Stats { answer } => {
                let _ = answer.send(self.hub.stats().clone());
            }
            Command::Leave { done } => self.leave(done),
        }
    }

    /// Tells the other nodes that this one stops, and `done` once the
    /// engine carried that out.
    fn leave(&mut self, done: oneshot::Sender<()>) {
        if self.engine.is_none() {
            let _ = done.send(());
            return;
        }
        // What was waiting goes the usual way (links and unlinks in order).
        self.send_broker_requests();
        self.hub.leave_cluster();
        let requests = std::iter::from_fn(|| self.hub.poll_broker()).collect();
        if let Some(engine) = &self.engine {
            engine.carry_out_then(requests, done);
        }
    }

    /// Logs what the hub learnt about the other nodes.
    fn log_cluster_notices(&mut self) {
        while let Some(notice) = self.hub.poll_cluster_notice() {
            match notice {
                ClusterNotice::NodeJoined { uid } => tracing::info!("node {uid} joined"),
                ClusterNotice::NodeLeft { uid } => tracing::info!("node {uid} left"),
                ClusterNotice::NodeLost { uid } => {
                    tracing::warn!("node {uid} lost: no report from it for {NODE_INFO_LIFETIME:?}")
                }
                ClusterNotice::SurveyIncomplete { missing } => tracing::warn!(
                    "channels: answered without node(s) {} (no answer within {SURVEY_TIMEOUT:?})",
                    missing.join(", ")
                ),
                other => tracing::debug!("{other:?}"),
            }
        }
    }

    /// Hands an engine event to the hub.
    fn event(&mut self, now: Timestamp, event: EngineEvent) {
        match event {
            EngineEvent::Publication {
                channel,
                publication,
                epoch,
            } => self
                .hub
                .handle_broker_publication(now, &channel, publication, &epoch),
            EngineEvent::Join { channel, info } => self.hub.handle_broker_join(&channel, &info),
            EngineEvent::Leave { channel, info } => self.hub.handle_broker_leave(&channel, &info),
            EngineEvent::Control(message) => self.control(now, message),
            EngineEvent::Lost { channels } => self.hub.handle_broker_lost(&channels),
            _ => {}
        }
    }

    /// A control message: an `/emulation` frame or a long-poll request (or
    /// its answer) forwarded between nodes, or one for the hub.
    fn control(&mut self, now: Timestamp, message: Bytes) {
        if let Some((session, frame)) = forwarded_frame(&message) {
            self.session_frame(now, session, "", frame);
        } else if let Some(rest) = message.strip_prefix(FORWARD_POLL) {
            let forwarded = split_line(rest).and_then(|(origin, rest)| {
                let (id, request) = split_line(rest)?;
                let id = std::str::from_utf8(id).ok()?.parse().ok()?;
                let origin = std::str::from_utf8(origin).ok()?.to_owned();
                Some((origin, id, message.slice_ref(request)))
            });
            if let (Some(forwarded), Some(server)) = (forwarded, &self.poll_server) {
                let _ = server.send(forwarded);
            }
        } else if let Some(rest) = message.strip_prefix(POLL_ANSWER) {
            let answered = split_line(rest).and_then(|(id, answer)| {
                let id: u64 = std::str::from_utf8(id).ok()?.parse().ok()?;
                Some((id, message.slice_ref(answer)))
            });
            if let Some((id, answer)) = answered {
                if let Some(waiting) = self.forwarded_polls.remove(&id) {
                    let _ = waiting.send(answer);
                }
            }
        } else {
            self.hub.handle_broker_control(now, &message);
        }
    }

    /// Sends a long-poll request to the node holding its session.
    fn forward_poll(&mut self, node: &str, request: Bytes, answer: oneshot::Sender<Bytes>) {
        let Some(engine) = &self.engine else {
            return;
        };
        // Requests whose callers stopped waiting are forgotten.
        if self.forwarded_polls.len() >= 1024 {
            self.forwarded_polls
                .retain(|_, waiting| !waiting.is_closed());
        }
        self.next_forwarded_poll += 1;
        let id = self.next_forwarded_poll;
        self.forwarded_polls.insert(id, answer);
        let mut message = FORWARD_POLL.to_vec();
        message.extend_from_slice(format!("{}\n{id}\n", self.hub.node_id()).as_bytes());
        message.extend_from_slice(&request);
        engine.forward(node, message.into());
    }

    /// Commands for an emulation session: to it if it is here, else to the
    /// node that holds it.
    fn session_frame(&mut self, now: Timestamp, session: &str, node: &str, frame: Bytes) {
        if let Some(conn) = self.hub.session(session) {
            self.hub.handle_frame(now, conn, &frame);
            return;
        }
        let Some(engine) = &self.engine else {
            return;
        };
        // A session id names its node first, for clients that send no node.
        let node = match node {
            "" => session.split_once('.').map_or("", |(node, _)| node),
            node => node,
        };
        if node.is_empty() || node == self.hub.node_id() {
            return;
        }
        let mut message = Vec::with_capacity(FORWARD.len() + session.len() + 1 + frame.len());
        message.extend_from_slice(FORWARD);
        message.extend_from_slice(session.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(&frame);
        engine.forward(node, message.into());
    }

    /// Hands the engine the hub's broker requests, in the order made.
    fn send_broker_requests(&mut self) {
        if let Some(engine) = &self.engine {
            // The round's publishes go together: one pipeline, in order.
            let mut publishes = Vec::new();
            while let Some((ticket, req)) = self.hub.poll_broker() {
                if matches!(req, BrokerRequest::Publish { .. }) {
                    publishes.push((ticket, req));
                    if publishes.len() == PUBLISH_PIPELINE {
                        engine.carry_out_publishes(std::mem::take(&mut publishes));
                    }
                } else {
                    engine.carry_out(ticket, req);
                }
            }
            engine.carry_out_publishes(publishes);
        }
    }

    /// Sends the hub's broker requests to the engine, and collects the
    /// server API answers that were waiting for it.
    fn send_to_engine(&mut self) {
        self.send_broker_requests();
        while let Some((ticket, response)) = self.hub.poll_api() {
            if let Some(answer) = self.pending_api.remove(&ticket) {
                self.answers.push((answer, response));
            }
        }
    }

    /// The transport of `conn` ended.
    fn closed(&mut self, now: Timestamp, conn: ConnId) {
        if self.remove_sink(conn).is_some() {
            self.hub.close(now, conn);
        }
    }

    fn remove_sink(&mut self, conn: ConnId) -> Option<Sink> {
        self.proxy_headers.remove(&conn);
        sink_of(&self.outlets, conn)?;
        self.outlets[conn.slot()].take().map(|(_, sink)| sink)
    }

    /// Hands the hub what its WebSockets read, and ends the connections
    /// whose WebSocket ended.
    fn poll_sockets(&mut self, now: Timestamp) {
        self.sockets.poll_woken();
        self.handle_socket_events(now);
    }

    /// Writes the next WebSockets due for a write, each with what its
    /// outbox holds.
    fn write_sockets(&mut self, now: Timestamp) {
        let mut due = std::mem::take(&mut self.due);
        self.sockets.take_due(WRITE_CHUNK, &mut due);
        for index in due.drain(..) {
            if let Some(conn) = self.sockets.conn(index) {
                self.flush(now, conn);
            }
        }
        self.due = due;
        self.handle_socket_events(now);
    }

    fn handle_socket_events(&mut self, now: Timestamp) {
        let mut events = std::mem::take(&mut self.socket_events);
        self.sockets.take_events(&mut events);
        for event in events.drain(..) {
            match event {
                SocketEvent::Frame { conn, frame } => self.handle_frame(now, conn, &frame),
                SocketEvent::UniConnect { conn, request } => {
                    self.hub.handle_uni_connect(now, conn, &request)
                }
                SocketEvent::Ended(conn) => self.closed(now, conn),
            }
        }
        self.socket_events = events;
    }

    /// Moves output into the outlets of the connections that have some;
    /// WebSockets with output are due for a write, in turn.
    fn deliver(&mut self, now: Timestamp) {
        self.hub.poll_ready(&mut self.ready);
        let mut ready = std::mem::take(&mut self.ready);
        for conn in ready.drain(..) {
            match sink_of(&self.outlets, conn) {
                Some(Sink::Socket(index)) => self.sockets.mark_due(*index),
                Some(Sink::Outlet(_)) => self.flush(now, conn),
                None => {}
            }
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
                let kind = call.kind;
                let outcome = client.call(call, headers).await;
                if let ProxyOutcome::Failed(failure) = &outcome {
                    tracing::debug!("{} proxy call failed: {}", kind.name(), failure.describe());
                }
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

    /// Moves what fits of `conn`'s outbox to its WebSocket or outlet;
    /// once the hub has decided to disconnect it and nothing is left,
    /// ends it.
    fn flush(&mut self, now: Timestamp, conn: ConnId) {
        let Some(sink) = sink_of(&self.outlets, conn) else {
            return;
        };
        let Some(outbox) = self.hub.outbox(conn) else {
            return;
        };
        let more = match sink {
            Sink::Outlet(outlet) => outlet.fill(outbox),
            Sink::Socket(index) => self.sockets.fill(*index, outbox),
        };
        let Some(disconnect) = outbox.disconnect().filter(|_| !more) else {
            if let Sink::Socket(index) = sink {
                self.sockets.write(*index);
            }
            return;
        };
        let code = u16::try_from(disconnect.code).unwrap_or(3000);
        match sink {
            Sink::Outlet(outlet) => outlet.close(Close {
                code,
                reason: disconnect.reason.clone(),
            }),
            Sink::Socket(index) => {
                let frame = CloseFrame::new(CloseCode::from(code), disconnect.reason.clone());
                self.sockets.close(*index, frame);
            }
        }
        self.remove_sink(conn);
        self.hub.close(now, conn);
    }
}

/// Where the output of `conn` goes, if it is still open.
fn sink_of(outlets: &[Option<(ConnId, Sink)>], conn: ConnId) -> Option<&Sink> {
    match outlets.get(conn.slot()) {
        Some(Some((open, sink))) if *open == conn => Some(sink),
        _ => None,
    }
}
