//! The hub client: N subscribers of one channel of `pushwire serve`'s hub
//! (Centrifugo's client protocol v2, JSON, over `/connection/websocket`)
//! and a publisher posting to the server API (`POST /api/publish` with
//! `X-API-Key`, [`Route::hub`]), on one mio loop in one thread. The
//! publisher is a backend's: [`PUBLISHERS`] keep-alive connections (the
//! workers of a web app), each with one request in flight; a publication
//! falls due on schedule and goes out, stamped, on the first idle one, so
//! the publication rate holds while the server answers within
//! `PUBLISHERS` intervals, and a server answering slower shows as a lower
//! rate sent.
//!
//! Each subscriber upgrades, then sends its connect (with a token) and
//! its subscribe `\n`-joined in one frame:
//!
//! ```text
//! {"id":1,"connect":{"token":"…"}}
//! {"id":2,"subscribe":{"channel":"bench"}}
//! ```
//!
//! and counts as open once the subscribe reply arrived. It answers the
//! server's pings (`{}`) with a pong (`{}`) when the connect reply said
//! `"pong":true`, reads every frame whole (the hub may `\n`-join several
//! pushes in one), and for each publication push
//! (`{"push":{"channel":"bench","pub":{"data":"t=… m=…","offset":N}}}`)
//! reads the publisher's timestamp ([`super::stamp`]) out of `data`: the
//! latency from publish (the API request's send time) to read, on the
//! same clock. An error reply, a disconnect push or a close frame is
//! counted; nothing stops the loop.
//!
//! The same client speaks Socket.IO (engine.io v4's WebSocket transport,
//! [`HubClient::socket_io`]), the peer most users would otherwise pick:
//! after the upgrade on `/socket.io/?EIO=4&transport=websocket` the
//! server sends its open packet (`0{…}`), the client connects to the
//! default namespace (`40`), is open once the server acknowledges
//! (`40{…}`; the peer's server joins it to the room), answers pings (`2`)
//! with pongs (`3`), and reads events `42["m","t=… m=…"]`; its publisher
//! posts the message to the peer's `POST /publish`.
//!
//! The bench's hub configuration ([`config_json`]: the HMAC secret, the
//! API key, the channels) lives here too, so the server and its clients
//! agree on it; [`probe`] proves a server speaks the protocol before it is
//! measured.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use pushwire_proto::Message;
use socket2::{Domain, Protocol, Socket, Type};

use super::latency::Histogram;
use super::pace::Pace;
use super::publisher::{Publisher, Route};
use super::stamp::{self, Clock};
use super::DeliveryClient;
use crate::engine::{Counters, SourceAddresses};
use crate::error::BenchError;
use crate::probe::ProbeReport;
use crate::wire::handshake::{Upgrade, UpgradeStatus};
use crate::wire::outgoing;
use crate::wire::rng::Rng;

/// `client.token.hmac_secret_key` of the bench's hub (HS256, 32+ bytes).
pub const SECRET: &str = "pushwire-bench-hmac-secret-0123456789abcdef";
/// `http_api.key` of the bench's hub.
pub const API_KEY: &str = "pushwire-bench-api-key";
/// The fan-out channel: no namespace, no history (as a broadcast).
pub const CHANNEL: &str = "bench";
/// A second channel, for clients subscribed to two (idle memory).
pub const CHANNEL_2: &str = "bench2";
/// A channel with history (100 publications, 300 s) and recovery: the
/// publish-rate benchmarks publish into it.
pub const HISTORY_CHANNEL: &str = "hist:bench";
/// The recovery storm's channel: its own namespace `storm`, with history
/// of 1,000 publications for 300 s and recovery forced, so the 100
/// publications a storm's clients missed are kept with a margin.
pub const STORM_CHANNEL: &str = "storm:bench";
/// The hub's WebSocket endpoint.
pub const PATH: &str = "/connection/websocket";
/// Socket.IO's WebSocket endpoint (engine.io v4).
pub const SOCKET_IO_PATH: &str = "/socket.io/?EIO=4&transport=websocket";
/// The event Socket.IO's peer emits publications as: the start of each.
const SOCKET_IO_EVENT: &[u8] = br#"42["m",""#;

/// Which protocol the subscribers speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// Centrifugo's client protocol v2 (JSON).
    Hub,
    /// Socket.IO v4 over engine.io's WebSocket transport.
    SocketIo,
}

/// Linux's EINPROGRESS: a non-blocking connect has started.
const EINPROGRESS: i32 = 115;
/// The publisher's keep-alive connections.
pub const PUBLISHERS: usize = 8;
/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);
/// Connects, upgrades and joins in progress at once while opening.
const OPEN_CONCURRENCY: usize = 256;
/// The largest message a subscriber accepts (the hub's frames are far
/// smaller; a larger one is a protocol error).
const MAX_MESSAGE: usize = 1 << 20;
/// A message buffer that grew past this is given back after use.
const KEEP_CAPACITY: usize = 4096;

/// The bench's hub configuration, with Centrifugo v6's key names: HS256
/// tokens, the API key, authenticated clients may subscribe to channels
/// without a namespace (the fan-out channel) and to the `hist` namespace
/// (history 100 publications for 300 s, recovery forced) and `storm`
/// (history 1,000 for 300 s, recovery forced: the recovery storm's). Server
/// pings keep their default (every 25 s, pongs expected).
pub fn config_json() -> String {
    format!(
        r#"{{
  "client": {{"token": {{"hmac_secret_key": "{SECRET}"}}}},
  "http_api": {{"key": "{API_KEY}"}},
  "channel": {{
    "without_namespace": {{"allow_subscribe_for_client": true}},
    "namespaces": [
      {{"name": "hist", "history_size": 100, "history_ttl": "300s",
        "force_recovery": true, "allow_subscribe_for_client": true}},
      {{"name": "storm", "history_size": 1000, "history_ttl": "300s",
        "force_recovery": true, "allow_subscribe_for_client": true}}
    ]
  }}
}}
"#
    )
}

/// [`config_json`] with the Redis engine at `redis`
/// (`"engine": {"type": "redis", "redis": {"address": "127.0.0.1:PORT"}}`,
/// Centrifugo v6's names): the config of every node of the bench's hub on
/// Redis.
pub fn redis_config_json(redis: SocketAddr) -> String {
    let mut config: serde_json::Value =
        serde_json::from_str(&config_json()).expect("the bench's hub config is JSON");
    config["engine"] = serde_json::json!({
        "type": "redis",
        "redis": {"address": redis.to_string()},
    });
    let mut text = serde_json::to_string_pretty(&config).expect("a JSON value prints");
    text.push('\n');
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Upgrading,
    /// Connect and subscribe sent, replies awaited.
    Joining,
    Open,
    Gone,
}

/// One subscriber connection.
struct Subscriber {
    stream: TcpStream,
    phase: Phase,
    upgrade: Upgrade,
    head: Vec<u8>,
    frames: MessageReader,
    /// The connect reply asked for pongs.
    pong: bool,
    out: Vec<u8>,
    out_pos: usize,
    bytes_out: u64,
}

/// What the client measured since the last [`DeliveryClient::reset`].
#[derive(Debug, Default, Clone)]
pub struct HubStats {
    /// Latency of every publication delivered.
    pub latency: Histogram,
    /// Publication pushes received by subscribers.
    pub deliveries: u64,
    /// Publications sent (API requests).
    pub published: u64,
    /// Server pings received.
    pub pings: u64,
    /// Subscribers the server disconnected (disconnect push, close frame,
    /// end of stream).
    pub closed_by_server: u64,
    /// Bytes read by subscribers.
    pub bytes_in: u64,
    /// Bytes written by subscribers.
    pub bytes_out: u64,
}

/// N hub subscribers and an API publisher.
pub struct HubClient {
    dialect: Dialect,
    poll: Poll,
    events: Events,
    /// Tokens 0 to `PUBLISHERS - 1`.
    publishers: Vec<Publisher>,
    /// Publications due and not sent yet.
    due: u64,
    /// Token `PUBLISHERS + i` is subscriber i.
    subscribers: Vec<Option<Subscriber>>,
    /// Where subscribers connect, in turn (`addr` alone unless spread).
    sub_addrs: Vec<SocketAddr>,
    /// The connect + subscribe text (empty: the subscriber only upgrades).
    join: String,
    /// Commands in `join`: the reply to the last one opens a subscriber.
    join_commands: usize,
    /// The expected start of a publication push in `channel`.
    pub_prefix: Vec<u8>,
    sources: SourceAddresses,
    scratch: Vec<u8>,
    rng: Rng,
    clock: Clock,
    /// Subscribed connections.
    open: usize,
    /// Connections connecting, upgrading or joining.
    pending: usize,
    /// Errors (connect, upgrade, I/O, protocol, error replies).
    pub counters: Counters,
    /// Measurements since the last reset.
    pub stats: HubStats,
}

impl HubClient {
    /// A client of the hub at `addr`: subscribers connect with `token`
    /// and subscribe to `channel`s; the publisher posts `message_size`
    /// bytes of `data` (a JSON string) into the first.
    pub fn new(
        addr: SocketAddr,
        token: &str,
        channels: &[&str],
        message_size: usize,
    ) -> Result<Self, BenchError> {
        let channel = channels.first().copied().unwrap_or(CHANNEL);
        let mut join = format!(r#"{{"id":1,"connect":{{"token":"{token}"}}}}"#);
        for (i, channel) in channels.iter().enumerate() {
            join.push_str(&format!(
                "\n{{\"id\":{},\"subscribe\":{{\"channel\":\"{channel}\"}}}}",
                i + 2
            ));
        }
        let pub_prefix = format!(r#"{{"push":{{"channel":"{channel}","pub":{{"data":""#);
        let route = Route::hub(API_KEY, channel);
        Self::with(
            Dialect::Hub,
            addr,
            route,
            join,
            pub_prefix.into_bytes(),
            message_size,
        )
    }

    /// A Socket.IO client of the peer at `addr` (its subscribers join
    /// its room; the publisher posts `message_size`-byte messages to its
    /// `POST /publish`).
    pub fn socket_io(addr: SocketAddr, message_size: usize) -> Result<Self, BenchError> {
        let route = Route::push_demo();
        let prefix = SOCKET_IO_EVENT.to_vec();
        Self::with(
            Dialect::SocketIo,
            addr,
            route,
            String::new(),
            prefix,
            message_size,
        )
    }

    fn with(
        dialect: Dialect,
        addr: SocketAddr,
        route: Route,
        join: String,
        pub_prefix: Vec<u8>,
        message_size: usize,
    ) -> Result<Self, BenchError> {
        let poll = Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?;
        let mut sources = SourceAddresses::default();
        let mut publishers = Vec::with_capacity(PUBLISHERS);
        for i in 0..PUBLISHERS {
            let source = SocketAddr::V4(SocketAddrV4::new(sources.next_addr(), 0));
            let route = route.clone();
            let publisher =
                Publisher::connect_to(route, source, addr, message_size, poll.registry(), Token(i))
                    .map_err(|e| {
                        BenchError::io(format!("connecting a publisher from {source}"), e)
                    })?;
            publishers.push(publisher);
        }
        Ok(HubClient {
            dialect,
            poll,
            events: Events::with_capacity(4096),
            publishers,
            due: 0,
            subscribers: Vec::new(),
            sub_addrs: vec![addr],
            join_commands: join.lines().count(),
            join,
            pub_prefix,
            sources,
            scratch: vec![0; 256 * 1024],
            rng: Rng::from_clock(),
            clock: Clock::new(),
            open: 0,
            pending: 0,
            counters: Counters::default(),
            stats: HubStats::default(),
        })
    }

    /// Connects `subscribers` subscribers and waits until every one is
    /// subscribed and the publisher connected.
    pub fn open(&mut self, subscribers: usize, timeout: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        let mut started = 0;
        while self.open < subscribers || !self.publishers.iter().all(Publisher::is_connected) {
            while started < subscribers && self.pending < OPEN_CONCURRENCY {
                self.connect();
                started += 1;
            }
            let failed = self.counters.errors() > 0;
            if failed
                || Instant::now() > deadline
                || (started == subscribers && self.pending == 0 && self.open < subscribers)
            {
                return Err(BenchError::Peer(format!(
                    "subscribed {} of {subscribers} hub clients ({}); last error: {}",
                    self.open,
                    if failed { "failed" } else { "timed out" },
                    self.counters.last_error.as_deref().unwrap_or("none")
                )));
            }
            self.turn(POLL_SLICE);
        }
        Ok(())
    }

    /// Subscriber i connects to `nodes[i % nodes.len()]` (the nodes of a
    /// hub on a shared engine); the publisher stays on the first address.
    pub fn spread_over(&mut self, nodes: &[SocketAddr]) {
        if !nodes.is_empty() {
            self.sub_addrs = nodes.to_vec();
        }
    }

    /// Subscribers only upgrade, and count as open then (idle memory of
    /// a WebSocket on the hub's endpoint before its connect).
    pub fn upgrade_only(&mut self) {
        self.join.clear();
        self.join_commands = 0;
    }

    /// Closes the publisher's connections (for a run that only holds
    /// subscribers: the server may close idle keep-alive connections).
    pub fn without_publishers(&mut self) {
        self.publishers.clear();
    }

    /// Subscribed connections.
    pub fn subscribed(&self) -> usize {
        self.open
    }

    /// Serves the connections (pings, pushes) for `duration` without
    /// publishing.
    pub fn idle(&mut self, duration: Duration) {
        let end = Instant::now() + duration;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            self.turn(left.min(Duration::from_millis(50)));
        }
    }
}

impl DeliveryClient for HubClient {
    fn reset(&mut self) {
        self.stats = HubStats::default();
    }

    /// Publishes `rate` messages per second for `duration` while the
    /// subscribers read.
    fn run(&mut self, rate: f64, duration: Duration) {
        let mut pace = Pace::new(rate, duration);
        while let Some(tick) = pace.tick() {
            self.due += tick.due;
            self.publish_due();
            self.turn(tick.wait(POLL_SLICE));
        }
    }

    fn latency(&self) -> &Histogram {
        &self.stats.latency
    }

    fn published(&self) -> u64 {
        self.stats.published
    }

    fn deliveries(&self) -> u64 {
        self.stats.deliveries
    }

    fn bytes_up(&self) -> u64 {
        self.stats.bytes_out
    }

    fn bytes_down(&self) -> u64 {
        self.stats.bytes_in
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl HubClient {
    /// Sends the publications due on idle publisher connections.
    fn publish_due(&mut self) {
        for publisher in &mut self.publishers {
            if self.due == 0 {
                return;
            }
            if publisher.is_idle() {
                publisher.add_due();
                if publisher.publish_if_idle(&self.clock, &mut self.counters) {
                    self.stats.published += 1;
                    self.due -= 1;
                }
            }
        }
    }

    fn connect(&mut self) {
        let source = SocketAddr::V4(SocketAddrV4::new(self.sources.next_addr(), 0));
        let path = match self.dialect {
            Dialect::Hub => PATH,
            Dialect::SocketIo => SOCKET_IO_PATH,
        };
        let target = self.sub_addrs[self.subscribers.len() % self.sub_addrs.len()];
        let upgrade = Upgrade::to_target(&target.to_string(), path, false, &mut self.rng);
        let stream = match start_connect(source, target) {
            Ok(stream) => stream,
            Err(e) => {
                self.counters.connect_errors += 1;
                self.counters.note(format!("connect from {source}: {e}"));
                return;
            }
        };
        let index = self.subscribers.len() + PUBLISHERS;
        let mut sub = Subscriber {
            stream,
            phase: Phase::Connecting,
            out: upgrade.request_bytes(),
            upgrade,
            head: Vec::new(),
            frames: MessageReader::default(),
            pong: false,
            out_pos: 0,
            bytes_out: 0,
        };
        if let Err(e) = self.poll.registry().register(
            &mut sub.stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.counters.connect_errors += 1;
            self.counters.note(format!("registering a socket: {e}"));
            return;
        }
        self.pending += 1;
        self.subscribers.push(Some(sub));
    }

    fn turn(&mut self, timeout: Duration) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.counters.io_errors += 1;
                self.counters.note(format!("epoll_wait: {e}"));
            }
            return;
        }
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for event in events.iter() {
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let writable = event.is_writable() || event.is_error();
            let index = event.token().0;
            if let Some(publisher) = self.publishers.get_mut(index) {
                publisher.drive(readable, writable, &mut self.scratch, &mut self.counters);
                continue;
            }
            let Some(at) = index.checked_sub(PUBLISHERS) else {
                continue;
            };
            let Some(mut sub) = self.subscribers.get_mut(at).and_then(Option::take) else {
                continue;
            };
            self.drive(&mut sub, readable, writable);
            if sub.phase != Phase::Gone {
                self.subscribers[at] = Some(sub);
            }
        }
        self.events = events;
    }

    fn drive(&mut self, sub: &mut Subscriber, readable: bool, writable: bool) {
        if sub.phase == Phase::Connecting {
            if !readable && !writable {
                return;
            }
            match sub.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return self.fail(sub, "connect", e),
            }
            match sub.stream.peer_addr() {
                Ok(_) => sub.phase = Phase::Upgrading,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.fail(sub, "connect", e),
            }
        }
        if writable || !sub.out.is_empty() {
            self.flush(sub);
            if sub.phase == Phase::Gone {
                return;
            }
        }
        if readable {
            self.read_all(sub);
        }
    }

    fn flush(&mut self, sub: &mut Subscriber) {
        if sub.out.is_empty() {
            return;
        }
        let before = sub.bytes_out;
        let result = flush(sub);
        if matches!(sub.phase, Phase::Joining | Phase::Open) {
            self.stats.bytes_out += sub.bytes_out - before;
        }
        if let Err(e) = result {
            self.fail(sub, "write", e);
        }
    }

    fn read_all(&mut self, sub: &mut Subscriber) {
        let mut scratch = std::mem::take(&mut self.scratch);
        loop {
            match sub.stream.read(&mut scratch) {
                Ok(0) => {
                    self.closed(sub, "the server closed the connection");
                    break;
                }
                Ok(n) => {
                    let now = self.clock.now_ns();
                    self.on_bytes(sub, &scratch[..n], now);
                    if sub.phase == Phase::Gone || n < scratch.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(sub, "read", e);
                    break;
                }
            }
        }
        self.scratch = scratch;
        if !sub.out.is_empty() && sub.phase != Phase::Gone {
            self.flush(sub);
        }
    }

    fn on_bytes(&mut self, sub: &mut Subscriber, bytes: &[u8], now: u64) {
        if sub.phase == Phase::Upgrading {
            sub.head.extend_from_slice(bytes);
            match sub.upgrade.check(&sub.head) {
                UpgradeStatus::Incomplete => return,
                UpgradeStatus::Refused(reason) => {
                    self.counters.upgrade_errors += 1;
                    self.counters.note(reason);
                    self.gone(sub);
                    return;
                }
                UpgradeStatus::Accepted { head_len, .. } => {
                    let rest = sub.head.split_off(head_len);
                    sub.head = Vec::new();
                    sub.phase = Phase::Joining;
                    self.counters.upgrades += 1;
                    if self.dialect == Dialect::Hub {
                        if self.join_commands == 0 {
                            self.mark_open(sub);
                        } else {
                            self.send_text(sub, self.join.clone());
                        }
                    }
                    if !rest.is_empty() {
                        self.on_frames(sub, &rest, now);
                    }
                    return;
                }
            }
        }
        self.stats.bytes_in += bytes.len() as u64;
        self.on_frames(sub, bytes, now);
    }

    fn on_frames(&mut self, sub: &mut Subscriber, bytes: &[u8], now: u64) {
        let mut frames = std::mem::take(&mut sub.frames);
        let result = frames.feed(bytes, |event| match event {
            FrameEvent::Text(payload) => self.on_message(sub, payload, now),
            FrameEvent::Ping(payload) => {
                let pong = Message::Pong(payload.to_vec().into());
                sub.out.extend_from_slice(&outgoing::message_frame(
                    &pong,
                    self.rng.mask_key(),
                    None,
                ));
            }
            FrameEvent::Close(code) => {
                self.closed(sub, &format!("the server sent close {code:?}"));
            }
        });
        frames.trim();
        sub.frames = frames;
        if let Err(Malformed(why)) = result {
            self.counters.protocol_errors += 1;
            self.counters
                .note(format!("the hub sent an invalid frame: {why}"));
            self.gone(sub);
        }
    }

    /// Queues a text message.
    fn send_text(&mut self, sub: &mut Subscriber, text: String) {
        let frame = outgoing::message_frame(&Message::text(text), self.rng.mask_key(), None);
        sub.out.extend_from_slice(&frame);
    }

    /// One text message: `\n`-joined replies and pushes.
    fn on_message(&mut self, sub: &mut Subscriber, payload: &[u8], now: u64) {
        if sub.phase == Phase::Gone {
            return;
        }
        if self.dialect == Dialect::SocketIo {
            return self.on_socket_io_packet(sub, payload, now);
        }
        for line in payload.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            if line == b"{}" {
                self.stats.pings += 1;
                if sub.pong {
                    self.send_text(sub, "{}".to_owned());
                }
            } else if let Some(rest) = line.strip_prefix(&self.pub_prefix[..]) {
                self.stats.deliveries += 1;
                if let Some(sent) = stamp::parse(rest) {
                    self.stats.latency.record(now.saturating_sub(sent));
                }
            } else if line.starts_with(b"{\"push\":") {
                if find(line, b"\"pub\":").is_some() {
                    // A publication of another channel, or laid out
                    // otherwise: find the stamp anywhere.
                    self.stats.deliveries += 1;
                    stamp::scan(line, |sent| {
                        self.stats.latency.record(now.saturating_sub(sent));
                    });
                } else if find(line, b"\"disconnect\":").is_some() {
                    let text = String::from_utf8_lossy(line).into_owned();
                    self.closed(sub, &format!("disconnect push {text}"));
                    return;
                }
            } else if let Some(rest) = line.strip_prefix(b"{\"id\":") {
                self.on_reply(sub, rest, line);
            } else {
                self.counters.protocol_errors += 1;
                self.counters.note(format!(
                    "unexpected message from the hub: {}",
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                ));
            }
        }
    }

    /// One engine.io packet (Socket.IO).
    fn on_socket_io_packet(&mut self, sub: &mut Subscriber, packet: &[u8], now: u64) {
        if let Some(rest) = packet.strip_prefix(&self.pub_prefix[..]) {
            self.stats.deliveries += 1;
            if let Some(sent) = stamp::parse(rest) {
                self.stats.latency.record(now.saturating_sub(sent));
            }
        } else if packet == b"2" {
            self.stats.pings += 1;
            self.send_text(sub, "3".to_owned());
        } else if packet.starts_with(b"0{") {
            // engine.io open: connect to the default namespace.
            self.send_text(sub, "40".to_owned());
        } else if packet.starts_with(b"40") {
            self.mark_open(sub);
        } else if packet.starts_with(b"41") || packet == b"1" {
            self.closed(sub, "Socket.IO disconnect");
        } else {
            self.counters.protocol_errors += 1;
            self.counters.note(format!(
                "unexpected Socket.IO packet: {}",
                String::from_utf8_lossy(&packet[..packet.len().min(200)])
            ));
        }
    }

    /// A reply; `rest` follows `{"id":`.
    fn on_reply(&mut self, sub: &mut Subscriber, rest: &[u8], line: &[u8]) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let body = &rest[digits..];
        if body.starts_with(b",\"connect\":") {
            sub.pong = find(body, b"\"pong\":true").is_some();
            if self.join_commands == 1 {
                self.mark_open(sub);
            }
        } else if body.starts_with(b",\"subscribe\":") {
            // The last subscribe reply makes the subscriber open.
            let id: usize = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            if id == self.join_commands {
                self.mark_open(sub);
            }
        } else {
            self.counters.protocol_errors += 1;
            self.counters.note(format!(
                "hub reply: {}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            ));
        }
    }

    /// A joining subscriber is open.
    fn mark_open(&mut self, sub: &mut Subscriber) {
        if sub.phase == Phase::Joining {
            sub.phase = Phase::Open;
            self.pending -= 1;
            self.open += 1;
        }
    }

    /// The server ended a subscriber: counted for an open one, an error
    /// for one still joining.
    fn closed(&mut self, sub: &mut Subscriber, why: &str) {
        if sub.phase == Phase::Open {
            self.stats.closed_by_server += 1;
        } else {
            self.counters.unexpected_closes += 1;
            self.counters.note(format!("{why} while {:?}", sub.phase));
        }
        self.gone(sub);
    }

    fn fail(&mut self, sub: &mut Subscriber, what: &str, e: io::Error) {
        if sub.phase == Phase::Open {
            self.stats.closed_by_server += 1;
        } else if sub.phase == Phase::Connecting {
            self.counters.connect_errors += 1;
            self.counters.note(format!("{what}: {e}"));
        } else {
            self.counters.io_errors += 1;
            self.counters.note(format!("{what}: {e}"));
        }
        self.gone(sub);
    }

    fn gone(&mut self, sub: &mut Subscriber) {
        match sub.phase {
            Phase::Connecting | Phase::Upgrading | Phase::Joining => self.pending -= 1,
            Phase::Open => self.open -= 1,
            Phase::Gone => return,
        }
        sub.phase = Phase::Gone;
        let _ = self.poll.registry().deregister(&mut sub.stream);
    }
}

/// Proves the server at `addr` is a hub that takes `token`: one
/// subscriber of [`CHANNEL`], two publications through the API, both
/// delivered with their stamps.
pub fn probe(
    addr: SocketAddr,
    token: &str,
    message_size: usize,
) -> Result<ProbeReport, BenchError> {
    probe_nodes(&[addr], token, message_size)
}

/// The same for the nodes of a hub on a shared engine: one subscriber on
/// each node, the publications posted to the first, so each is delivered
/// across nodes.
pub fn probe_nodes(
    nodes: &[SocketAddr],
    token: &str,
    message_size: usize,
) -> Result<ProbeReport, BenchError> {
    let first = *nodes
        .first()
        .ok_or_else(|| BenchError::Setup("a hub without nodes".to_owned()))?;
    let mut client = HubClient::new(first, token, &[CHANNEL], message_size)?;
    client.spread_over(nodes);
    probe_with(client, nodes.len(), "hub")
}

/// The same for a Socket.IO peer.
pub fn probe_socket_io(addr: SocketAddr, message_size: usize) -> Result<ProbeReport, BenchError> {
    probe_with(HubClient::socket_io(addr, message_size)?, 1, "Socket.IO")
}

fn probe_with(
    mut client: HubClient,
    subscribers: usize,
    what: &str,
) -> Result<ProbeReport, BenchError> {
    client.open(subscribers, Duration::from_secs(10))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let expected = 2 * subscribers as u64;
    client.due = 2;
    while client.stats.deliveries < expected && Instant::now() < deadline {
        client.publish_due();
        client.turn(POLL_SLICE);
        if client.counters.errors() > 0 {
            break;
        }
    }
    // Nothing more arrives.
    client.idle(Duration::from_millis(50));
    if client.stats.deliveries != expected
        || client.stats.latency.count() != expected
        || client.counters.errors() > 0
    {
        return Err(BenchError::Peer(format!(
            "{what} probe of {:?}: {} of {expected} deliveries arrived ({} stamped); last error: {}",
            client.sub_addrs,
            client.stats.deliveries,
            client.stats.latency.count(),
            client.counters.last_error.as_deref().unwrap_or("none")
        )));
    }
    Ok(ProbeReport {
        deflate: None,
        extensions: None,
    })
}

/// A non-blocking connect from `source` with TCP_NODELAY.
pub(crate) fn start_connect(source: SocketAddr, target: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&source.into())?;
    match socket.connect(&target.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// Writes queued bytes until done or the socket is full.
fn flush(sub: &mut Subscriber) -> io::Result<()> {
    while sub.out_pos < sub.out.len() {
        match sub.stream.write(&sub.out[sub.out_pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                sub.out_pos += n;
                sub.bytes_out += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    sub.out.clear();
    sub.out_pos = 0;
    Ok(())
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What a finished frame was.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameEvent<'a> {
    /// A whole data message (text or binary), its fragments joined.
    Text(&'a [u8]),
    /// A ping, with its payload.
    Ping(&'a [u8]),
    /// A close frame, with its status code when it has one.
    Close(Option<u16>),
}

/// The byte stream is not a valid stream of server frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Incremental reader of a server's frames that hands out whole
/// messages: a frame header, the message so far and a control frame's
/// payload per connection.
#[derive(Debug, Default)]
pub struct MessageReader {
    header: [u8; 10],
    header_len: u8,
    in_payload: bool,
    remaining: u64,
    /// The current frame is a control frame (its payload goes to `control`).
    control: bool,
    opcode: u8,
    fin: bool,
    /// A data message has started and not finished.
    in_message: bool,
    message: Vec<u8>,
    control_payload: Vec<u8>,
}

impl MessageReader {
    /// Consumes `data`, calling `event` for every message or control
    /// frame it completes.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut event: impl FnMut(FrameEvent<'_>),
    ) -> Result<(), Malformed> {
        while !data.is_empty() {
            if self.in_payload {
                let take = self.remaining.min(data.len() as u64) as usize;
                if self.control {
                    self.control_payload.extend_from_slice(&data[..take]);
                } else {
                    if self.message.len() + take > MAX_MESSAGE {
                        return Err(Malformed("message over 1 MiB"));
                    }
                    self.message.extend_from_slice(&data[..take]);
                }
                self.remaining -= take as u64;
                data = &data[take..];
                if self.remaining == 0 {
                    self.finish(&mut event);
                }
                continue;
            }
            let needed = self.header_needed();
            let take = (needed - usize::from(self.header_len)).min(data.len());
            let at = usize::from(self.header_len);
            self.header[at..at + take].copy_from_slice(&data[..take]);
            self.header_len += take as u8;
            data = &data[take..];
            if usize::from(self.header_len) == self.header_needed() {
                self.start_payload(&mut event)?;
            }
        }
        Ok(())
    }

    /// Gives back a message buffer that grew large.
    pub fn trim(&mut self) {
        if !self.in_message && self.message.capacity() > KEEP_CAPACITY {
            self.message = Vec::new();
        }
    }

    fn header_needed(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        match self.header[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        }
    }

    fn start_payload(&mut self, event: &mut impl FnMut(FrameEvent<'_>)) -> Result<(), Malformed> {
        let (first, second) = (self.header[0], self.header[1]);
        let opcode = first & 0x0f;
        let length = match second & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            127 => u64::from_be_bytes(
                self.header[2..10]
                    .try_into()
                    .map_err(|_| Malformed("length"))?,
            ),
            short => u64::from(short),
        };
        if second & 0x80 != 0 {
            return Err(Malformed("masked server frame"));
        }
        if first & 0x70 != 0 {
            return Err(Malformed("reserved bits set (compressed?)"));
        }
        let control = opcode & 0x08 != 0;
        match opcode {
            0x0 if !self.in_message => return Err(Malformed("continuation without a message")),
            0x1 | 0x2 if self.in_message => return Err(Malformed("new message inside a message")),
            0x0..=0x2 | 0x8..=0xa => {}
            _ => return Err(Malformed("reserved opcode")),
        }
        if control && (length > 125 || first & 0x80 == 0) {
            return Err(Malformed("bad control frame"));
        }
        self.header_len = 0;
        self.control = control;
        self.opcode = opcode;
        self.fin = first & 0x80 != 0;
        if control {
            self.control_payload.clear();
        } else {
            self.in_message = true;
        }
        self.remaining = length;
        self.in_payload = true;
        if length == 0 {
            self.finish(event);
        }
        Ok(())
    }

    fn finish(&mut self, event: &mut impl FnMut(FrameEvent<'_>)) {
        self.in_payload = false;
        if self.control {
            let payload = &self.control_payload[..];
            match self.opcode {
                0x8 => event(FrameEvent::Close(
                    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]])),
                )),
                0x9 => event(FrameEvent::Ping(payload)),
                _ => {}
            }
        } else if self.fin {
            self.in_message = false;
            event(FrameEvent::Text(&self.message));
            self.message.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        if payload.len() < 126 {
            out.push(payload.len() as u8);
        } else {
            out.push(126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn messages_fragments_and_control_frames_split_at_every_size() {
        let long = "x".repeat(300);
        let mut stream = frame(true, 1, b"{}\n{\"id\":1}");
        stream.extend(frame(false, 1, b"hel"));
        stream.extend(frame(true, 9, b"p"));
        stream.extend(frame(true, 0, long.as_bytes()));
        stream.extend(frame(true, 8, &3008u16.to_be_bytes()));
        for chunk in [1, 2, 3, 7, 64, stream.len()] {
            let mut reader = MessageReader::default();
            let mut events: Vec<String> = Vec::new();
            for piece in stream.chunks(chunk) {
                reader
                    .feed(piece, |e| {
                        events.push(match e {
                            FrameEvent::Text(t) => String::from_utf8(t.to_vec()).unwrap(),
                            FrameEvent::Ping(p) => format!("ping {}", String::from_utf8_lossy(p)),
                            FrameEvent::Close(c) => format!("close {c:?}"),
                        })
                    })
                    .unwrap();
            }
            assert_eq!(
                events,
                vec![
                    "{}\n{\"id\":1}".to_owned(),
                    "ping p".to_owned(),
                    format!("hel{long}"),
                    "close Some(3008)".to_owned(),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn the_redis_config_names_its_engine() {
        let addr: SocketAddr = "127.0.0.1:6390".parse().unwrap();
        let value: serde_json::Value = serde_json::from_str(&redis_config_json(addr)).unwrap();
        assert_eq!(value["engine"]["type"], "redis");
        assert_eq!(value["engine"]["redis"]["address"], "127.0.0.1:6390");
        assert_eq!(value["http_api"]["key"], API_KEY);
    }

    #[test]
    fn config_is_json() {
        let value: serde_json::Value = serde_json::from_str(&config_json()).unwrap();
        assert_eq!(value["http_api"]["key"], API_KEY);
        let storm = &value["channel"]["namespaces"][1];
        assert_eq!(
            Some(storm["name"].as_str().unwrap()),
            STORM_CHANNEL.split(':').next()
        );
    }
}
