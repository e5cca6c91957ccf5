//! Hub subscribers over the fallback transports — HTTP streaming
//! (`http_stream`), SSE and long polling — with the WebSocket client's
//! publisher ([`super::hub`]: [`PUBLISHERS`] keep-alive connections
//! posting to `POST /api/publish`), on one mio loop in one thread.
//!
//! A session opens as centrifuge-js and pushwire.js open it, with
//! browser-sized request heads ([`super::hub_http_wire`]): the connect
//! command (with the bench's token) in the opening request; once its
//! reply names the session, the subscribe commands go to
//! `POST /emulation`, and the session counts as open when the last
//! subscribe reply arrives. Replies and pushes come on the session's
//! stream (one response that never ends), or for long polling in the
//! answers to its polls: one poll is held per session, on the session's
//! own keep-alive connection, and the next goes out as soon as one is
//! answered, acknowledging the last batch. Server pings (`{}`) are
//! answered with a pong posted to `/emulation`.
//!
//! `/emulation` posts go out on [`EMULATORS`] keep-alive connections
//! shared by every session, one request in flight on each
//! ([`super::hub_emulation`]; a browser would open one per page: the
//! bytes counted are the same, the generator's sockets fewer). The bytes on the wire counted are every
//! byte the sessions' connections and the emulation connections read and
//! wrote while sessions were open (HTTP heads included), not the
//! publisher's, which is the same whatever the transport.

use std::io::{self, Read};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::http_conn::{HttpConn, Response};
use super::hub::{API_KEY, PUBLISHERS};
use super::hub_emulation::Emulators;
use super::hub_http_wire::{
    emulation_request, number_field, poll_request, string_field, HttpTransport, StreamItem,
    StreamReader,
};
use super::latency::Histogram;
use super::pace::Pace;
use super::publisher::{Publisher, Route};
use super::stamp::{self, Clock};
use super::DeliveryClient;
use crate::engine::{Counters, SourceAddresses};
use crate::error::BenchError;

/// Keep-alive connections carrying every session's `/emulation` posts.
pub const EMULATORS: usize = 16;
/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);
/// Sessions opening at once.
const OPEN_CONCURRENCY: usize = 256;
/// The first session's token.
const FIRST_SESSION: usize = PUBLISHERS + EMULATORS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    /// The opening request is out; its connect reply awaited.
    Opening,
    /// Subscribes posted; their replies awaited.
    Joining,
    Open,
    Gone,
}

/// One session.
struct Session {
    conn: HttpConn,
    phase: Phase,
    /// The stream's reader (not for long polling).
    reader: Option<StreamReader>,
    /// The session and node named by the connect reply.
    session: Box<str>,
    node: Box<str>,
    /// Long polling: the last batch processed.
    ack: u64,
    /// The connect reply asked for pongs.
    pong: bool,
}

/// What the client measured since the last [`DeliveryClient::reset`].
#[derive(Debug, Default, Clone)]
pub struct HubHttpStats {
    /// Latency of every publication delivered.
    pub latency: Histogram,
    /// Publication pushes received by sessions.
    pub deliveries: u64,
    /// Publications sent (API requests).
    pub published: u64,
    /// Server pings received.
    pub pings: u64,
    /// Polls answered (long polling).
    pub polls: u64,
    /// Sessions the server ended (disconnect push, end of the stream).
    pub closed_by_server: u64,
    /// Bytes read by the sessions' connections while open (the
    /// emulation connections' are added in [`DeliveryClient::bytes_down`]).
    pub bytes_in: u64,
    /// Bytes written by them (the same).
    pub bytes_out: u64,
}

/// N hub sessions over a fallback transport, and an API publisher.
pub struct HubHttpClient {
    transport: HttpTransport,
    addr: SocketAddr,
    host: String,
    poll: Poll,
    events: Events,
    publishers: Vec<Publisher>,
    due: u64,
    emulation: Emulators,
    /// The emulation connections' totals at the last reset (bytes in,
    /// bytes out, posts).
    emulation_base: (u64, u64, u64),
    sessions: Vec<Option<Session>>,
    /// The connect command.
    connect: String,
    /// The subscribe commands, `\n`-joined (ids 2, 3, …).
    subscribe: String,
    /// The id of the last subscribe (1: none, the connect opens).
    last_id: u64,
    /// The expected start of a publication push in the first channel.
    pub_prefix: Vec<u8>,
    sources: SourceAddresses,
    scratch: Vec<u8>,
    clock: Clock,
    open: usize,
    pending: usize,
    /// Errors (connect, I/O, protocol, error replies).
    pub counters: Counters,
    /// Measurements since the last reset.
    pub stats: HubHttpStats,
}

impl HubHttpClient {
    /// A client of the hub at `addr` over `transport`: sessions connect
    /// with `token` and subscribe to `channels`; the publisher posts
    /// `message_size` bytes of `data` into the first.
    pub fn new(
        addr: SocketAddr,
        transport: HttpTransport,
        token: &str,
        channels: &[&str],
        message_size: usize,
    ) -> Result<Self, BenchError> {
        let channel = channels.first().copied().unwrap_or(super::hub::CHANNEL);
        let subscribe: Vec<String> = channels
            .iter()
            .enumerate()
            .map(|(i, channel)| {
                format!(
                    r#"{{"id":{},"subscribe":{{"channel":"{channel}"}}}}"#,
                    i + 2
                )
            })
            .collect();
        let poll = Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?;
        let mut sources = SourceAddresses::default();
        let mut publishers = Vec::with_capacity(PUBLISHERS);
        for i in 0..PUBLISHERS {
            let source = SocketAddr::V4(SocketAddrV4::new(sources.next_addr(), 0));
            let publisher = Publisher::connect_to(
                Route::hub(API_KEY, channel),
                source,
                addr,
                message_size,
                poll.registry(),
                Token(i),
            )
            .map_err(|e| BenchError::io(format!("connecting a publisher from {source}"), e))?;
            publishers.push(publisher);
        }
        let emulation = Emulators::connect(addr, poll.registry(), PUBLISHERS, EMULATORS)
            .map_err(|e| BenchError::io("connecting for /emulation", e))?;
        Ok(HubHttpClient {
            transport,
            addr,
            host: addr.to_string(),
            poll,
            events: Events::with_capacity(4096),
            publishers,
            due: 0,
            emulation,
            emulation_base: (0, 0, 0),
            sessions: Vec::new(),
            connect: format!(r#"{{"id":1,"connect":{{"token":"{token}"}}}}"#),
            last_id: 1 + subscribe.len() as u64,
            subscribe: subscribe.join("\n"),
            pub_prefix: format!(r#"{{"push":{{"channel":"{channel}","pub":{{"data":""#)
                .into_bytes(),
            sources,
            scratch: vec![0; 256 * 1024],
            clock: Clock::new(),
            open: 0,
            pending: 0,
            counters: Counters::default(),
            stats: HubHttpStats::default(),
        })
    }

    /// Opens `sessions` sessions and waits until every one is subscribed
    /// and the publisher and emulation connections are connected.
    pub fn open(&mut self, sessions: usize, timeout: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        let mut started = 0;
        while self.open < sessions || !self.connected() {
            while started < sessions && self.pending < OPEN_CONCURRENCY {
                self.start_session();
                started += 1;
            }
            let failed = self.counters.errors() > 0;
            if failed
                || Instant::now() > deadline
                || (started == sessions && self.pending == 0 && self.open < sessions)
            {
                return Err(BenchError::Peer(format!(
                    "opened {} of {sessions} {} sessions ({}); last error: {}",
                    self.open,
                    self.transport.name(),
                    if failed { "failed" } else { "timed out" },
                    self.counters.last_error.as_deref().unwrap_or("none")
                )));
            }
            self.turn(POLL_SLICE);
        }
        Ok(())
    }

    /// Closes the publisher's connections (a run that only holds sessions).
    pub fn without_publishers(&mut self) {
        self.publishers.clear();
    }

    /// Open sessions.
    pub fn opened(&self) -> usize {
        self.open
    }

    /// `/emulation` posts answered since the last reset.
    pub fn emulation_posts(&self) -> u64 {
        self.emulation.posts - self.emulation_base.2
    }

    /// Serves the sessions (pings, polls) for `duration` without publishing.
    pub fn idle(&mut self, duration: Duration) {
        let end = Instant::now() + duration;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            self.turn(left.min(Duration::from_millis(50)));
        }
    }

    fn connected(&self) -> bool {
        self.publishers.iter().all(Publisher::is_connected) && self.emulation.connected()
    }

    fn start_session(&mut self) {
        let source = SocketAddr::V4(SocketAddrV4::new(self.sources.next_addr(), 0));
        let mut conn = match HttpConn::connect(source, self.addr) {
            Ok(conn) => conn,
            Err(e) => {
                self.counters.connect_errors += 1;
                self.counters.note(format!("connect from {source}: {e}"));
                return;
            }
        };
        let token = Token(FIRST_SESSION + self.sessions.len());
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut conn.stream, token, interest)
        {
            self.counters.connect_errors += 1;
            self.counters.note(format!("registering a socket: {e}"));
            return;
        }
        // Queued until the connect completes.
        let request = self.transport.open_request(&self.host, &self.connect);
        let _ = conn.send(&request);
        let reader = match self.transport {
            HttpTransport::HttpStream => Some(StreamReader::new(false)),
            HttpTransport::Sse => Some(StreamReader::new(true)),
            HttpTransport::LongPoll => None,
        };
        self.pending += 1;
        self.sessions.push(Some(Session {
            conn,
            phase: Phase::Connecting,
            reader,
            session: "".into(),
            node: "".into(),
            ack: 0,
            pong: false,
        }));
    }

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

    /// Posts `commands` for `session` to `/emulation`.
    fn emulate(&mut self, session: &Session, commands: &str) {
        let request = emulation_request(&self.host, &session.session, &session.node, commands);
        self.emulation.post(request, &mut self.counters);
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
            } else if let Some(at) = self.emulation.index(index) {
                self.emulation.drive(
                    at,
                    readable,
                    writable,
                    self.poll.registry(),
                    &mut self.scratch,
                    &mut self.counters,
                );
            } else if let Some(at) = index.checked_sub(FIRST_SESSION) {
                let Some(mut session) = self.sessions.get_mut(at).and_then(Option::take) else {
                    continue;
                };
                self.drive(&mut session, readable, writable);
                if session.phase != Phase::Gone {
                    self.sessions[at] = Some(session);
                }
            }
        }
        self.events = events;
        if self.emulation.waiting() {
            self.emulation.pump(&mut self.counters);
        }
    }

    fn drive(&mut self, session: &mut Session, readable: bool, writable: bool) {
        let counted = matches!(session.phase, Phase::Joining | Phase::Open);
        let (before_in, before_out) = (session.conn.bytes_in, session.conn.bytes_out);
        self.drive_inner(session, readable, writable);
        if counted {
            self.stats.bytes_in += session.conn.bytes_in - before_in;
            self.stats.bytes_out += session.conn.bytes_out - before_out;
        }
    }

    fn drive_inner(&mut self, session: &mut Session, readable: bool, writable: bool) {
        if session.phase == Phase::Connecting {
            match session.conn.check_connected() {
                Ok(true) => session.phase = Phase::Opening,
                Ok(false) => return,
                Err(e) => return self.fail(session, "connect", e),
            }
        }
        if writable || session.phase == Phase::Opening {
            if let Err(e) = session.conn.flush() {
                return self.fail(session, "write", e);
            }
        }
        if !readable {
            return;
        }
        if self.transport == HttpTransport::LongPoll {
            match session.conn.read_responses(&mut self.scratch) {
                Ok(responses) => {
                    for response in responses {
                        self.on_batch(session, response);
                        if session.phase == Phase::Gone {
                            return;
                        }
                    }
                }
                Err(e) => self.fail(session, "read", e),
            }
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        loop {
            match session.conn.stream.read(&mut scratch) {
                Ok(0) => {
                    self.closed(session, "the server closed the stream");
                    break;
                }
                Ok(n) => {
                    session.conn.bytes_in += n as u64;
                    self.on_stream_bytes(session, &scratch[..n]);
                    if session.phase == Phase::Gone || n < scratch.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(session, "read", e);
                    break;
                }
            }
        }
        self.scratch = scratch;
    }

    fn on_stream_bytes(&mut self, session: &mut Session, bytes: &[u8]) {
        let now = self.clock.now_ns();
        let Some(mut reader) = session.reader.take() else {
            return;
        };
        let mut ended = false;
        let result = reader.feed(bytes, |item| match item {
            StreamItem::Line(line) => self.on_line(session, line, now),
            StreamItem::Ended => ended = true,
        });
        session.reader = Some(reader);
        if let Err(why) = result {
            self.counters.protocol_errors += 1;
            self.counters
                .note(format!("{} stream: {why}", self.transport.name()));
            self.gone(session);
        } else if ended {
            self.closed(session, "the stream ended");
        }
    }

    /// One answer to a long-poll request: a batch, a final body, or empty.
    fn on_batch(&mut self, session: &mut Session, response: Response) {
        self.stats.polls += 1;
        if response.status != 200 {
            self.counters.protocol_errors += 1;
            self.counters.note(format!(
                "a long poll was answered {} {}",
                response.status,
                String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
            ));
            return self.gone(session);
        }
        let now = self.clock.now_ns();
        let mut lines = response
            .body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty());
        let Some(first) = lines.next() else {
            // Empty: the hold ran out; poll again.
            return self.poll_again(session);
        };
        if !first.starts_with(b"{\"poll\":") {
            // A final body: the session is over.
            self.on_line(session, first, now);
            for line in lines {
                self.on_line(session, line, now);
            }
            return self.closed(session, "a final long-poll body");
        }
        let seq = number_field(first, b"seq").unwrap_or(0);
        if seq > session.ack {
            if seq != session.ack + 1 {
                self.counters.protocol_errors += 1;
                self.counters
                    .note(format!("long poll batch {seq} after {}", session.ack));
            }
            session.ack = seq;
            if session.session.is_empty() {
                if let Some(id) = string_field(first, b"session") {
                    session.session = id.into();
                }
            }
            for line in lines {
                self.on_line(session, line, now);
                if session.phase == Phase::Gone {
                    return;
                }
            }
        }
        self.poll_again(session);
    }

    fn poll_again(&mut self, session: &mut Session) {
        let request = poll_request(&self.host, &session.session, session.ack);
        if let Err(e) = session.conn.send(&request) {
            self.fail(session, "poll write", e);
        }
    }

    /// One protocol message from a session's stream or poll.
    fn on_line(&mut self, session: &mut Session, line: &[u8], now: u64) {
        if session.phase == Phase::Gone {
            return;
        }
        if line == b"{}" {
            self.stats.pings += 1;
            if session.pong {
                self.emulate(session, "{}");
            }
        } else if let Some(rest) = line.strip_prefix(&self.pub_prefix[..]) {
            self.stats.deliveries += 1;
            if let Some(sent) = stamp::parse(rest) {
                self.stats.latency.record(now.saturating_sub(sent));
            }
        } else if line.starts_with(b"{\"push\":") {
            if find(line, b"\"pub\":").is_some() {
                self.stats.deliveries += 1;
                stamp::scan(line, |sent| {
                    self.stats.latency.record(now.saturating_sub(sent));
                });
            } else if find(line, b"\"disconnect\":").is_some() {
                let text = String::from_utf8_lossy(line).into_owned();
                self.closed(session, &format!("disconnect push {text}"));
            }
        } else if let Some(rest) = line.strip_prefix(b"{\"id\":") {
            self.on_reply(session, rest, line);
        } else {
            self.counters.protocol_errors += 1;
            self.counters.note(format!(
                "unexpected message from the hub: {}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            ));
        }
    }

    /// A reply; `rest` follows `{"id":`.
    fn on_reply(&mut self, session: &mut Session, rest: &[u8], line: &[u8]) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let id: u64 = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        let body = &rest[digits..];
        if body.starts_with(b",\"connect\":") && session.phase == Phase::Opening {
            session.pong = find(body, b"\"pong\":true").is_some();
            let (Some(id), node) = (
                string_field(body, b"session"),
                string_field(body, b"node").unwrap_or_default(),
            ) else {
                self.counters.protocol_errors += 1;
                self.counters
                    .note("a connect reply without a session".to_owned());
                return self.gone(session);
            };
            session.session = id.into();
            session.node = node.into();
            session.phase = Phase::Joining;
            if self.last_id == 1 {
                self.mark_open(session);
            } else {
                let subscribe = std::mem::take(&mut self.subscribe);
                self.emulate(session, &subscribe);
                self.subscribe = subscribe;
            }
        } else if body.starts_with(b",\"subscribe\":") {
            if id == self.last_id {
                self.mark_open(session);
            }
        } else {
            self.counters.protocol_errors += 1;
            self.counters.note(format!(
                "hub reply: {}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            ));
        }
    }

    fn mark_open(&mut self, session: &mut Session) {
        if session.phase == Phase::Joining {
            session.phase = Phase::Open;
            self.pending -= 1;
            self.open += 1;
        }
    }

    /// The server ended a session: counted for an open one, an error
    /// for one still opening.
    fn closed(&mut self, session: &mut Session, why: &str) {
        if session.phase == Phase::Open {
            self.stats.closed_by_server += 1;
        } else if session.phase != Phase::Gone {
            self.counters.unexpected_closes += 1;
            self.counters
                .note(format!("{why} while {:?}", session.phase));
        }
        self.gone(session);
    }

    fn fail(&mut self, session: &mut Session, what: &str, e: io::Error) {
        match session.phase {
            Phase::Open => self.stats.closed_by_server += 1,
            Phase::Connecting => {
                self.counters.connect_errors += 1;
                self.counters.note(format!("{what}: {e}"));
            }
            _ => {
                self.counters.io_errors += 1;
                self.counters.note(format!("{what}: {e}"));
            }
        }
        self.gone(session);
    }

    fn gone(&mut self, session: &mut Session) {
        match session.phase {
            Phase::Connecting | Phase::Opening | Phase::Joining => self.pending -= 1,
            Phase::Open => self.open -= 1,
            Phase::Gone => return,
        }
        session.phase = Phase::Gone;
        let _ = self.poll.registry().deregister(&mut session.conn.stream);
    }
}

impl DeliveryClient for HubHttpClient {
    fn reset(&mut self) {
        self.stats = HubHttpStats::default();
        let e = &self.emulation;
        self.emulation_base = (e.bytes_in, e.bytes_out, e.posts);
    }

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
        self.stats.bytes_out + self.emulation.bytes_out - self.emulation_base.1
    }

    fn bytes_down(&self) -> u64 {
        self.stats.bytes_in + self.emulation.bytes_in - self.emulation_base.0
    }

    fn requests(&self) -> u64 {
        self.stats.polls
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}

/// Proves the hub at `addr` serves `transport`: one session subscribed
/// to [`super::hub::CHANNEL`], two publications through the API, both
/// delivered with their stamps.
pub fn probe(
    addr: SocketAddr,
    transport: HttpTransport,
    token: &str,
    message_size: usize,
) -> Result<crate::probe::ProbeReport, BenchError> {
    let mut client =
        HubHttpClient::new(addr, transport, token, &[super::hub::CHANNEL], message_size)?;
    client.open(1, Duration::from_secs(10))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    client.due = 2;
    while client.stats.deliveries < 2 && Instant::now() < deadline {
        client.publish_due();
        client.turn(POLL_SLICE);
        if client.counters.errors() > 0 {
            break;
        }
    }
    client.idle(Duration::from_millis(50));
    if client.stats.deliveries != 2
        || client.stats.latency.count() != 2
        || client.counters.errors() > 0
    {
        return Err(BenchError::Peer(format!(
            "{} probe of {addr}: {} of 2 deliveries arrived ({} stamped); last error: {}",
            transport.name(),
            client.stats.deliveries,
            client.stats.latency.count(),
            client.counters.last_error.as_deref().unwrap_or("none")
        )));
    }
    Ok(crate::probe::ProbeReport {
        deflate: None,
        extensions: None,
    })
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
