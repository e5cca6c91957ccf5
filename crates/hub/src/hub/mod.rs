//! The hub: connections, channels and the broker behind one `&mut self`.

mod cluster;
mod commands;
mod held;
mod proxy;
mod remote;
mod subscribe;
mod subscribers;
mod timers;
mod users;

pub(crate) use commands::{history_query, ttl_secs};
pub(crate) use held::Held;
pub(crate) use proxy::Auth;
pub(crate) use subscribe::SubParams;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::broker::{Broker, MemoryBroker};
use crate::channel::{NamespaceOptions, Namespaces};
use crate::client::{Client, State, Transport};
use crate::config::{ConfigError, HubConfig};
use crate::engine::state::Remote;
use crate::engine::{BrokerRequest, BrokerTicket};
use crate::jwt::{TokenError, TokenVerifier};
use crate::outbox::{Outbox, Queued};
use crate::protocol::{reply, split_frame, Command, Disconnect, ErrorCode, UnsubscribeCode};
use crate::stats::Stats;
use crate::time::Timestamp;
use subscribers::Subscribers;

/// A connection's handle. Stale handles (of closed connections) are ignored
/// by every method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    /// The connection's slot: no two open connections share one, and a
    /// closed connection's slot is reused by a later one (whose handle
    /// differs). An IO layer can index its per-connection state by it.
    pub fn slot(self) -> usize {
        self.index as usize
    }
}

/// The subscribers of one channel on this node.
#[derive(Debug)]
pub(crate) struct ChannelSubs {
    pub name: Arc<str>,
    pub opts: Arc<NamespaceOptions>,
    pub subscribers: Subscribers,
}

/// The sans-IO hub. See the crate doc for how an IO layer drives it.
pub struct Hub {
    pub(crate) cfg: HubConfig,
    pub(crate) namespaces: Namespaces,
    pub(crate) verifier: TokenVerifier,
    pub(crate) broker: Box<dyn Broker>,
    rng: StdRng,
    slots: Vec<Option<Client>>,
    /// Each slot's outbox, apart from the slots so that a publication's
    /// delivery walks a dense table (see [`Outbox`]).
    outboxes: Vec<Outbox>,
    generations: Vec<u32>,
    free: Vec<u32>,
    pub(crate) users: users::Users,
    /// Client ids and sessions → connection.
    pub(crate) by_client: HashMap<Arc<str>, ConnId>,
    pub(crate) by_session: HashMap<String, ConnId>,
    pub(crate) channels: HashMap<Arc<str>, ChannelSubs>,
    timers: BinaryHeap<Reverse<(Timestamp, ConnId)>>,
    next_broker_tick: Timestamp,
    ready: Vec<ConnId>,
    pub(crate) stats: Stats,
    pub(crate) started: Timestamp,
    pub(crate) node_id: String,
    /// Per connection, the commands that wait behind one in progress.
    pub(crate) held: HashMap<ConnId, VecDeque<Held>>,
    /// Whether any backend proxy is on.
    pub(crate) proxy_on: bool,
    pub(crate) proxy: proxy::ProxyState,
    /// The remote engine's side, when there is one.
    pub(crate) remote: Option<Remote>,
}

/// A publish that is done (in-memory engine) or sent to the remote engine.
pub(crate) enum Publishing {
    Done(crate::broker::PublishResult),
    Sent(BrokerTicket),
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("connections", &self.stats.connections)
            .field("channels", &self.channels.len())
            .finish()
    }
}

/// How often the broker's expiry runs.
const BROKER_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// The version announced in connect results.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) enum Fail {
    Error(ErrorCode),
    Disconnect((u32, &'static str)),
}

impl From<ErrorCode> for Fail {
    fn from(e: ErrorCode) -> Self {
        Fail::Error(e)
    }
}

/// A connection token that does not verify, and a subscription token on
/// `sub_refresh`: expired → error 109 (the client refreshes it), invalid →
/// disconnect 3500. (A subscription token on `subscribe` maps its own way.)
impl From<TokenError> for Fail {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Expired => Fail::Error(ErrorCode::TOKEN_EXPIRED),
            TokenError::Invalid(_) => Fail::Disconnect(Disconnect::INVALID_TOKEN),
        }
    }
}

impl Hub {
    /// A hub with the in-memory broker. `seed` feeds every random choice
    /// (client ids, sessions, epochs, ping jitter): the IO layer passes
    /// 32 bytes from the OS; tests pass a constant.
    pub fn new(cfg: HubConfig, seed: [u8; 32], now: Timestamp) -> Result<Hub, ConfigError> {
        let mut broker_seed = seed;
        broker_seed[0] ^= 0x5a;
        Hub::with_broker(cfg, Box::new(MemoryBroker::new(broker_seed)), seed, now)
    }

    /// A hub with the given broker.
    pub fn with_broker(
        cfg: HubConfig,
        broker: Box<dyn Broker>,
        seed: [u8; 32],
        now: Timestamp,
    ) -> Result<Hub, ConfigError> {
        cfg.validate()?;
        let verifier = TokenVerifier::new(&cfg.client.token)?;
        let mut rng = StdRng::from_seed(seed);
        let node_id = uuid(&mut rng);
        Ok(Hub {
            held: HashMap::new(),
            proxy_on: cfg.proxy_enabled(),
            proxy: proxy::ProxyState::default(),
            namespaces: Namespaces::new(&cfg.channel),
            cfg,
            verifier,
            broker,
            rng,
            slots: Vec::new(),
            outboxes: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            users: users::Users::default(),
            by_client: HashMap::new(),
            by_session: HashMap::new(),
            channels: HashMap::new(),
            timers: BinaryHeap::new(),
            next_broker_tick: now + BROKER_TICK,
            ready: Vec::new(),
            stats: Stats::default(),
            started: now,
            node_id,
            remote: None,
        })
    }

    /// A hub whose publications, history and presence live in a remote
    /// engine shared with other nodes (see [`crate::engine`]): the IO layer
    /// carries out its requests ([`poll_broker`](Hub::poll_broker)).
    pub fn with_remote_engine(
        cfg: HubConfig,
        seed: [u8; 32],
        now: Timestamp,
    ) -> Result<Hub, ConfigError> {
        let mut hub = Hub::new(cfg, seed, now)?;
        hub.remote = Some(Remote::default());
        Ok(hub)
    }

    /// This node's id (the `uid` of the `info` API, the `node` of
    /// emulation sessions).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The configuration in force.
    pub fn config(&self) -> &HubConfig {
        &self.cfg
    }

    /// Counters and gauges.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Registers a newly opened transport. The connection must send `connect`
    /// (or, unidirectional, its connect request through
    /// [`handle_uni_connect`](Hub::handle_uni_connect)) within
    /// `client.stale_close_delay`, else it is closed with 3502.
    pub fn open(&mut self, now: Timestamp, transport: Transport) -> ConnId {
        let id: Arc<str> = uuid(&mut self.rng).into();
        // A session names its node first, so that any node can tell
        // where to forward a request for it.
        let session = if transport.has_session() {
            format!("{}.{}", self.node_id, uuid(&mut self.rng))
        } else {
            String::new()
        };
        let client = Client::new(id.clone(), session.clone(), transport, now);
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.outboxes.push(Outbox::default());
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        self.outboxes[index as usize] = Outbox::new(transport.is_unidirectional());
        let conn = ConnId {
            index,
            generation: self.generations[index as usize],
        };
        self.slots[index as usize] = Some(client);
        self.by_client.insert(id, conn);
        if !session.is_empty() {
            self.by_session.insert(session, conn);
        }
        self.stats.connections_opened_total += 1;
        self.stats.connections += 1;
        self.schedule(conn);
        conn
    }

    /// Feeds one frame from a bidirectional transport: one or more commands
    /// joined by `\n`, processed in order. Malformed input disconnects this
    /// connection (3501) and never affects another. A unidirectional
    /// connection takes no commands: a frame for one is ignored.
    pub fn handle_frame(&mut self, now: Timestamp, conn: ConnId, frame: &[u8]) {
        self.handle_frame_with(now, conn, frame, |_| {});
    }

    /// [`Hub::handle_frame`], calling `handled` with each command's
    /// [`Method::name`](crate::protocol::Method::name) once it is handled
    /// (an IO layer times commands with it).
    pub fn handle_frame_with(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        frame: &[u8],
        mut handled: impl FnMut(&'static str),
    ) {
        if self
            .client(conn)
            .map_or(true, |c| c.transport.is_unidirectional())
        {
            return;
        }
        for part in split_frame(frame) {
            match self.client(conn).map(|c| c.state) {
                None | Some(State::Closed) => return,
                _ => {}
            }
            // Behind a command that waits (a pong waits for nothing: it
            // only answers the last ping).
            if part != b"{}" && self.must_hold(conn) {
                self.hold(conn, Held::Part(Bytes::copy_from_slice(part)));
                continue;
            }
            if !self.run_command(now, conn, part, &mut handled) {
                break;
            }
        }
        self.schedule(conn);
    }

    /// Decodes and runs one command; false stops the rest of the frame.
    pub(crate) fn run_command(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        part: &[u8],
        handled: &mut dyn FnMut(&'static str),
    ) -> bool {
        self.stats.commands_total += 1;
        let cmd = match Command::decode(part) {
            Ok(c) => c,
            Err(_) => {
                self.disconnect(conn, Disconnect::BAD_REQUEST, false);
                return false;
            }
        };
        if self.must_wait(now, conn, &cmd) {
            // It runs again once the channel's link is live.
            self.hold_first(conn, Held::Part(Bytes::copy_from_slice(part)));
            return true;
        }
        let method = cmd.method.name();
        let go_on = self.dispatch(now, conn, cmd);
        handled(method);
        go_on
    }

    /// Sends an asynchronous `message` push with `data` (JSON) to a connection.
    pub fn send_message(&mut self, conn: ConnId, data: &serde_json::value::RawValue) {
        if self
            .client(conn)
            .is_some_and(|c| c.state == State::Connected)
        {
            self.send(conn, reply::push_message(data.get().as_bytes()));
        }
    }

    /// The outbox of a connection: drain it when the socket is writable.
    pub fn outbox(&mut self, conn: ConnId) -> Option<&mut Outbox> {
        if !self.is_open(conn) {
            return None;
        }
        self.outboxes.get_mut(conn.index as usize)
    }

    /// The client id of a connection.
    pub fn client_id(&self, conn: ConnId) -> Option<&str> {
        self.client(conn).map(|c| &*c.id)
    }

    /// The connection of an emulation or unidirectional session (for
    /// `/emulation` requests).
    pub fn session(&self, session: &str) -> Option<ConnId> {
        self.by_session.get(session).copied()
    }

    /// Moves into `out` the connections whose outbox got items or a
    /// disconnect since the last call; the IO layer wakes their writers.
    pub fn poll_ready(&mut self, out: &mut Vec<ConnId>) {
        let mut ready = std::mem::take(&mut self.ready);
        for conn in ready.drain(..) {
            if let Some(outbox) = self.outbox(conn) {
                outbox.ready = false;
                out.push(conn);
            }
        }
        self.ready = ready;
    }

    /// The transport is gone (closed by the peer, or by the IO layer after
    /// draining a disconnect). Frees the connection; its handle becomes stale.
    pub fn close(&mut self, now: Timestamp, conn: ConnId) {
        let _ = now;
        if self.client(conn).is_none() {
            return;
        }
        self.cleanup(conn);
        let i = conn.index as usize;
        if let Some(c) = self.slots[i].take() {
            self.by_client.remove(&c.id);
            if !c.session.is_empty() {
                self.by_session.remove(&c.session);
            }
        }
        self.outboxes[i] = Outbox::default();
        self.generations[i] = self.generations[i].wrapping_add(1);
        self.free.push(conn.index);
        self.stats.connections -= 1;
    }

    /// Disconnects a connection with `code`: its subscriptions end at once;
    /// the outbox keeps what was queued (unless `discard`), gets the
    /// disconnect push on transports that have one, and reports the code
    /// through [`Outbox::disconnect`].
    pub fn disconnect_conn(&mut self, conn: ConnId, d: Disconnect) {
        self.disconnect_with(conn, d, false);
    }

    pub(crate) fn disconnect(&mut self, conn: ConnId, d: (u32, &str), discard: bool) {
        self.disconnect_with(conn, Disconnect::new(d), discard)
    }

    fn disconnect_with(&mut self, conn: ConnId, d: Disconnect, discard: bool) {
        match self.client(conn).map(|c| c.state) {
            None | Some(State::Closed) => return,
            _ => {}
        }
        self.cleanup(conn);
        self.stats.disconnects_total += 1;
        if d.code == Disconnect::SLOW.0 {
            self.stats.slow_disconnects_total += 1;
        }
        let Some(c) = self.client_mut(conn) else {
            return;
        };
        c.state = State::Closed;
        let disconnect_push = c.transport.has_disconnect_push();
        let outbox = &mut self.outboxes[conn.index as usize];
        if discard {
            outbox.set_disconnect(d.clone(), true);
        }
        if disconnect_push {
            let mut p = reply::push_disconnect(&d);
            if outbox.bare {
                p = reply::unwrap_push(&p);
            }
            outbox.push_forced(p);
        }
        outbox.set_disconnect(d, false);
        self.mark_ready(conn);
    }

    /// Ends subscriptions and forgets the user mapping (not the slot).
    fn cleanup(&mut self, conn: ConnId) {
        self.proxy_forget(conn);
        self.forget_held(conn);
        self.engine_forget(conn);
        let Some(c) = self.client(conn) else { return };
        if c.state == State::Closed {
            return;
        }
        let channels: Vec<Arc<str>> = c.subs.keys().cloned().collect();
        let (user, place) = (c.user.clone(), c.user_place);
        let connected = c.state == State::Connected;
        for ch in channels {
            self.remove_subscription(conn, &ch, None);
        }
        if connected {
            if let Some(moved) = self.users.remove(&user, conn, place) {
                if let Some(c) = self.client_mut(moved) {
                    c.user_place = place;
                }
            }
        }
        if let Some(c) = self.client_mut(conn) {
            c.state = State::Closed;
        }
    }

    /// Whether `conn` is open: a slot's generation moves on when its
    /// connection closes, so an older handle never matches it. (Asks
    /// nothing of the slot itself, which a delivery does not touch.)
    fn is_open(&self, conn: ConnId) -> bool {
        self.generations.get(conn.index as usize) == Some(&conn.generation)
    }

    pub(crate) fn client(&self, conn: ConnId) -> Option<&Client> {
        if !self.is_open(conn) {
            return None;
        }
        self.slots.get(conn.index as usize)?.as_ref()
    }

    pub(crate) fn client_mut(&mut self, conn: ConnId) -> Option<&mut Client> {
        if !self.is_open(conn) {
            return None;
        }
        self.slots.get_mut(conn.index as usize)?.as_mut()
    }

    pub(crate) fn mark_ready(&mut self, conn: ConnId) {
        let Some(outbox) = self.outbox(conn) else {
            return;
        };
        if !outbox.ready {
            outbox.ready = true;
            self.ready.push(conn);
        }
    }

    /// Queues a reply or control push; a connection whose queue is full is
    /// disconnected with 3008.
    pub(crate) fn send(&mut self, conn: ConnId, bytes: Bytes) {
        let bound = self.cfg.client.queue_max_size;
        let Some(outbox) = self.outbox(conn) else {
            return;
        };
        let bytes = if outbox.bare {
            reply::unwrap_push(&bytes)
        } else {
            bytes
        };
        if outbox.push_control(bytes, bound) {
            self.mark_ready(conn);
        } else {
            self.disconnect(conn, Disconnect::SLOW, true);
        }
    }

    pub(crate) fn random_below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    /// Delivers an encoded publication to the channel's subscribers on this
    /// node: the push is encoded once and the same bytes queued for each.
    pub(crate) fn deliver(&mut self, channel: &str, push: &Bytes) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let bare = reply::unwrap_push(push);
        let name = ch.name.clone();
        let (bound, policy) = (ch.opts.queue_max_size, ch.opts.slow_consumer_policy);
        let mut slow: Vec<ConnId> = Vec::new();
        let mut dropped: Vec<(ConnId, Vec<Arc<str>>)> = Vec::new();
        let mut delivered = 0u64;
        for conn in ch.subscribers.in_slot_order() {
            let Some(outbox) = self.outboxes.get_mut(conn.index as usize) else {
                continue;
            };
            let bytes = if outbox.bare {
                bare.clone()
            } else {
                push.clone()
            };
            match outbox.push_publication(bytes, &name, bound, policy) {
                Queued::Yes => delivered += 1,
                Queued::Overflow => slow.push(conn),
                Queued::Dropped { channels, queued } => {
                    delivered += u64::from(queued);
                    dropped.push((conn, channels));
                }
            }
            if !outbox.ready {
                outbox.ready = true;
                self.ready.push(conn);
            }
        }
        self.stats.deliveries_total += delivered;
        for conn in slow {
            self.disconnect(conn, Disconnect::SLOW, true);
        }
        for (conn, channels) in dropped {
            self.stats.queue_drops_total += channels.len() as u64;
            for ch in channels {
                let server_side = self
                    .client(conn)
                    .and_then(|c| c.subs.get(&ch))
                    .is_some_and(|s| s.server_side);
                if server_side {
                    // A server-side subscription cannot be resubscribed by the
                    // client: reconnecting recovers it.
                    self.disconnect(conn, Disconnect::INSUFFICIENT_STATE, true);
                    break;
                }
                self.remove_subscription(conn, &ch, Some(UnsubscribeCode::InsufficientState));
            }
        }
    }

    /// Sends a push (join, leave, …) to the subscribers of `channel` that
    /// `want` selects; it is encoded once.
    pub(crate) fn broadcast_push(
        &mut self,
        channel: &str,
        push: Bytes,
        want: impl Fn(ConnId, bool) -> bool,
    ) {
        let Some(ch) = self.channels.get(channel) else {
            return;
        };
        let targets: Vec<ConnId> = ch
            .subscribers
            .iter()
            .filter(|&(c, jl)| want(c, jl))
            .map(|(c, _)| c)
            .collect();
        for conn in targets {
            self.send(conn, push.clone());
        }
    }
}

/// A random UUID v4 string.
pub(crate) fn uuid(rng: &mut StdRng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Hub {
    /// Publishes through the broker and delivers to this node's subscribers
    /// (in-memory engine), or sends the publication to the remote engine,
    /// which delivers it to every node.
    pub(crate) fn publish_parts(
        &mut self,
        now: Timestamp,
        channel: &str,
        opts: &NamespaceOptions,
        parts: crate::history::PublicationParts<'_>,
        skip_history: bool,
        idempotency_key: Option<String>,
    ) -> Result<Publishing, ErrorCode> {
        let popts = crate::broker::PublishOptions {
            history_size: opts.history_size,
            history_ttl: opts.history_ttl,
            history_meta_ttl: opts.history_meta_ttl,
            skip_history,
            idempotency_key,
        };
        if let Some(remote) = self.remote.as_mut() {
            let req = BrokerRequest::Publish {
                channel: channel.into(),
                data: Bytes::copy_from_slice(parts.data),
                info: parts.info.map(Bytes::copy_from_slice),
                tags: parts.tags.cloned(),
                opts: popts,
            };
            return Ok(Publishing::Sent(remote.request(req, None)));
        }
        let r = self.broker.publish(now, channel, parts, &popts)?;
        if !r.suppressed {
            self.stats.publications_total += 1;
            self.deliver(channel, &r.publication.push);
        }
        Ok(Publishing::Done(r))
    }
}
