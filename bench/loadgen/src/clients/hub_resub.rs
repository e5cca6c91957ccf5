//! The resubscribe client: N hub connections (Centrifugo's client protocol
//! v2, JSON, on `/connection/websocket`) on one node of a hub on Redis,
//! spread over C channels with history and recovery (connection i holds
//! channel `i % C`), and a backend publishing into every channel in
//! rounds through another node's `POST /api/batch`. One mio loop in one
//! thread, like [`super::hub_storm`].
//!
//! Every publication a connection receives is checked by offset against
//! the next one it expects; a gap counts the publications it skipped as
//! lost, an older offset as repeated. When the hub takes a subscription
//! away with an `unsubscribe` push, the connection does what
//! centrifuge-js does on code 2500 (insufficient state): it subscribes
//! again at once with `recover:true` and the offset and epoch it has; the
//! subscribe reply must say `recovered:true` with the same epoch and carry
//! the missed publications, which are checked the same way. An error reply
//! with a temporary code (100) is retried after [`RETRY_AFTER`], as the
//! SDKs do; any other error, `recovered:false`, or a disconnect is a
//! failure.
//!
//! [`ResubClient::watch`] follows the connections after a moment `t0`
//! (the break): a connection is back once, after its last unsubscribe (or
//! after `t0` if it got none), it has received a live publication that
//! follows its offset. At the end ([`ResubClient::settle`]) every
//! connection's offset is compared with the top offset the API answered
//! for its channel: what is missing is lost.

use std::io::{self, Read};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use pushwire_proto::Message;
use serde::Deserialize;

use super::http_conn::{ConnPhase, HttpConn};
use super::hub::{start_connect, FrameEvent, Malformed, MessageReader, API_KEY, PATH};
use super::hub_lines::{flush, Line, Publication, SubscribeResult};
use super::latency::Histogram;
use crate::engine::{Counters, SourceAddresses};
use crate::error::BenchError;
use crate::wire::handshake::{Upgrade, UpgradeStatus};
use crate::wire::outgoing;
use crate::wire::rng::Rng;

/// Connections joining at once while opening.
const JOIN_CONCURRENCY: usize = 256;
/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);
/// How long a subscribe that got a temporary error waits before it is sent again.
pub const RETRY_AFTER: Duration = Duration::from_millis(100);
/// Token of the publisher's connection; subscriber i is token i.
const PUBLISHER: Token = Token(usize::MAX - 1);
/// Bytes of each publication's data (a JSON string, quotes included).
const DATA_SIZE: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Upgrading,
    /// Connect and subscribe sent, the subscribe reply awaited.
    Joining,
    Subscribed,
    /// Unsubscribed by the server, a subscribe with recovery sent (or to
    /// be sent again after a temporary error).
    Resubscribing,
    Gone,
}

/// One subscriber connection.
struct Conn {
    stream: TcpStream,
    phase: Phase,
    upgrade: Upgrade,
    head: Vec<u8>,
    frames: MessageReader,
    out: Vec<u8>,
    out_pos: usize,
    pong: bool,
    channel: usize,
    /// The last offset it has, and the epoch.
    offset: u64,
    epoch: String,
    /// The id of its next command.
    next_id: u32,
    /// A subscribe to send again at this moment (temporary error).
    retry_at: Option<Instant>,
    /// Since the break: its last unsubscribe, resubscribe reply, and the
    /// first live publication after both.
    unsubscribed: Option<Instant>,
    resubscribed: Option<Instant>,
    back: Option<Instant>,
}

/// What a break did to the connections, from `t0`.
#[derive(Debug, Clone, Default)]
pub struct BreakOutcome {
    /// From `t0` to the last connection back.
    pub all_back: Duration,
    /// From `t0` to the last resubscribe reply (zero without any).
    pub all_resubscribed: Duration,
    /// Per connection unsubscribed, `t0` to its resubscribe reply.
    pub resubscribed: Histogram,
    /// Per connection, `t0` to back.
    pub back: Histogram,
    /// Unsubscribe pushes received (code 2500 and others).
    pub unsubscribes: u64,
    /// Of those, with code 2500.
    pub insufficient_state: u64,
    /// Subscribes retried after a temporary error.
    pub retries: u64,
    /// Publications received in resubscribe replies.
    pub recovered_publications: u64,
}

/// N subscribers of C channels on one node and a batch publisher on another.
pub struct ResubClient {
    poll: Poll,
    events: Events,
    conns: Vec<Option<Conn>>,
    addr: SocketAddr,
    token: String,
    channels: Vec<String>,
    publisher: HttpConn,
    /// The request publishing one round (every channel once).
    round_request: Vec<u8>,
    round_in_flight: bool,
    rounds_due: u64,
    /// Publications the API accepted.
    pub published: u64,
    /// Per channel, the highest offset the API answered.
    tops: Vec<u64>,
    sources: SourceAddresses,
    scratch: Vec<u8>,
    rng: Rng,
    /// Connections with a subscribe to send again.
    retries_pending: usize,
    /// Connections subscribed.
    subscribed: usize,
    pending: usize,
    /// The moment of the break.
    t0: Option<Instant>,
    outcome: BreakOutcome,
    /// Publications skipped (gaps) and received twice.
    pub lost: u64,
    /// Publications received again (an offset at or below the last).
    pub repeated: u64,
    /// Publications checked.
    pub checked: u64,
    /// Errors (connect, I/O, protocol, failed recoveries).
    pub counters: Counters,
}

impl ResubClient {
    /// Subscribers of the hub node at `addr` (connecting with `token`) over
    /// `channels` channels named `{prefix}{k}`, and a publisher posting
    /// rounds to `POST /api/batch` of the node at `api`.
    pub fn new(
        addr: SocketAddr,
        api: SocketAddr,
        token: &str,
        prefix: &str,
        channels: usize,
    ) -> Result<Self, BenchError> {
        let poll = Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?;
        let mut sources = SourceAddresses::default();
        let source = SocketAddr::V4(SocketAddrV4::new(sources.next_addr(), 0));
        let mut publisher = HttpConn::connect(source, api)
            .map_err(|e| BenchError::io(format!("connecting the publisher to {api}"), e))?;
        poll.registry()
            .register(
                &mut publisher.stream,
                PUBLISHER,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| BenchError::io("registering a socket", e))?;
        let channels: Vec<String> = (0..channels).map(|k| format!("{prefix}{k}")).collect();
        let data = "r".repeat(DATA_SIZE - 2);
        let commands: Vec<String> = channels
            .iter()
            .map(|c| format!(r#"{{"publish":{{"channel":"{c}","data":"{data}"}}}}"#))
            .collect();
        let body = format!(r#"{{"commands":[{}]}}"#, commands.join(","));
        let round_request = format!(
            "POST /api/batch HTTP/1.1\r\nHost: {api}\r\nX-API-Key: {API_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        Ok(ResubClient {
            poll,
            events: Events::with_capacity(4096),
            conns: Vec::new(),
            addr,
            token: token.to_owned(),
            tops: vec![0; channels.len()],
            channels,
            publisher,
            round_request,
            round_in_flight: false,
            rounds_due: 0,
            published: 0,
            sources,
            scratch: vec![0; 256 * 1024],
            rng: Rng::from_clock(),
            retries_pending: 0,
            subscribed: 0,
            pending: 0,
            t0: None,
            outcome: BreakOutcome::default(),
            lost: 0,
            repeated: 0,
            checked: 0,
            counters: Counters::default(),
        })
    }

    /// Publishes one round and waits for its answer (the channels' streams
    /// and epochs exist afterwards).
    pub fn publish_round(&mut self, timeout: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        self.rounds_due += 1;
        while self.rounds_due > 0 || self.round_in_flight {
            self.send_round();
            self.turn(POLL_SLICE);
            if self.counters.errors() > 0 || Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "publishing a round into {} channels: {}",
                    self.channels.len(),
                    self.counters.last_error.as_deref().unwrap_or("timed out")
                )));
            }
        }
        Ok(())
    }

    /// Connects and subscribes `n` subscribers, connection i to channel
    /// `i % C`, and waits until every one is subscribed.
    pub fn open(&mut self, n: usize, timeout: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        while self.conns.len() < n || self.subscribed < n {
            while self.conns.len() < n && self.pending < JOIN_CONCURRENCY {
                self.connect();
            }
            if self.counters.errors() > 0 || Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "subscribed {} of {n} hub clients; last error: {}",
                    self.subscribed,
                    self.counters.last_error.as_deref().unwrap_or("timed out")
                )));
            }
            self.turn(POLL_SLICE);
        }
        Ok(())
    }

    /// Publishes a round every `every` for `duration` while the
    /// connections read (a round still unanswered when the next falls due
    /// delays it).
    pub fn run(&mut self, every: Duration, duration: Duration) {
        self.run_until(every, Instant::now() + duration, |_| false);
    }

    /// Notes the break at `t0`; from now on connections are followed back.
    pub fn mark_break(&mut self, t0: Instant) {
        self.t0 = Some(t0);
        self.outcome = BreakOutcome::default();
        for conn in self.conns.iter_mut().flatten() {
            conn.unsubscribed = None;
            conn.resubscribed = None;
            conn.back = None;
        }
    }

    /// Publishes rounds every `every` until every connection is back and
    /// `quiet` has passed since the last unsubscribe (or the break), or
    /// `timeout` after the break (an error).
    pub fn watch(
        &mut self,
        every: Duration,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<BreakOutcome, BenchError> {
        let t0 = self
            .t0
            .ok_or_else(|| BenchError::Setup("watch before the break".to_owned()))?;
        let deadline = t0 + timeout;
        self.run_until(every, deadline, |client| {
            let last_unsubscribe = client
                .conns
                .iter()
                .flatten()
                .filter_map(|c| c.unsubscribed)
                .max()
                .unwrap_or(t0);
            last_unsubscribe.elapsed() >= quiet && client.back_count() == client.conns.len()
        });
        let back = self.back_count();
        if back < self.conns.len() {
            return Err(BenchError::Peer(format!(
                "{back} of {} hub clients back within {timeout:?} of the break \
                 ({} unsubscribed, {} resubscribed); last error: {}",
                self.conns.len(),
                self.outcome.unsubscribes,
                self.outcome.resubscribed.count(),
                self.counters.last_error.as_deref().unwrap_or("none")
            )));
        }
        let mut outcome = self.outcome.clone();
        for conn in self.conns.iter().flatten() {
            if let Some(at) = conn.back {
                let since = at.saturating_duration_since(t0);
                outcome.all_back = outcome.all_back.max(since);
                outcome.back.record(since.as_nanos() as u64);
            }
            if let Some(at) = conn.resubscribed {
                let since = at.saturating_duration_since(t0);
                outcome.all_resubscribed = outcome.all_resubscribed.max(since);
                outcome.resubscribed.record(since.as_nanos() as u64);
            }
        }
        Ok(outcome)
    }

    /// Stops publishing, waits for the last round's answer, serves the
    /// connections for `hold`, then counts as lost what each connection
    /// lacks of its channel's top offset. Returns the publications lost
    /// over the whole run.
    pub fn settle(&mut self, hold: Duration) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        self.rounds_due = 0;
        while self.round_in_flight && Instant::now() < deadline {
            self.turn(POLL_SLICE);
        }
        let end = Instant::now() + hold;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            self.turn(left.min(Duration::from_millis(10)));
        }
        let mut missing = 0;
        for conn in self.conns.iter().flatten() {
            missing += self.tops[conn.channel].saturating_sub(conn.offset);
        }
        self.lost += missing;
        self.lost
    }

    /// Connections back since the break.
    fn back_count(&self) -> usize {
        self.conns
            .iter()
            .flatten()
            .filter(|c| c.back.is_some())
            .count()
    }

    fn run_until(&mut self, every: Duration, end: Instant, mut done: impl FnMut(&Self) -> bool) {
        let mut next = Instant::now();
        loop {
            let now = Instant::now();
            if now >= end || done(self) {
                return;
            }
            while next <= now {
                self.rounds_due += 1;
                next += every;
            }
            self.send_round();
            self.retry_due(now);
            self.turn((next.min(end) - now).min(POLL_SLICE));
        }
    }

    /// Sends a due round if none is in flight.
    fn send_round(&mut self) {
        if self.round_in_flight || self.rounds_due == 0 || self.publisher.phase != ConnPhase::Ready
        {
            return;
        }
        self.rounds_due -= 1;
        self.round_in_flight = true;
        if let Err(e) = self.publisher.send(&self.round_request) {
            self.counters.io_errors += 1;
            self.counters.note(format!("publisher write: {e}"));
        }
    }

    /// Sends the subscribes whose retry time came.
    fn retry_due(&mut self, now: Instant) {
        if self.retries_pending == 0 {
            return;
        }
        for index in 0..self.conns.len() {
            let Some(mut conn) = self.conns[index].take() else {
                continue;
            };
            if conn.retry_at.is_some_and(|at| at <= now) {
                conn.retry_at = None;
                self.retries_pending -= 1;
                self.outcome.retries += 1;
                self.resubscribe(&mut conn);
                self.flush(index, &mut conn);
            }
            if conn.phase != Phase::Gone {
                self.conns[index] = Some(conn);
            }
        }
    }

    fn connect(&mut self) {
        let index = self.conns.len();
        let source = SocketAddr::V4(SocketAddrV4::new(self.sources.next_addr(), 0));
        let upgrade = Upgrade::to_target(&self.addr.to_string(), PATH, false, &mut self.rng);
        let mut conn = match start_connect(source, self.addr) {
            Ok(stream) => Conn {
                stream,
                phase: Phase::Connecting,
                out: upgrade.request_bytes(),
                upgrade,
                head: Vec::new(),
                frames: MessageReader::default(),
                out_pos: 0,
                pong: false,
                channel: index % self.channels.len(),
                offset: 0,
                epoch: String::new(),
                next_id: 3,
                retry_at: None,
                unsubscribed: None,
                resubscribed: None,
                back: None,
            },
            Err(e) => {
                self.counters.connect_errors += 1;
                self.counters.note(format!("connect from {source}: {e}"));
                self.conns.push(None);
                return;
            }
        };
        if let Err(e) = self.poll.registry().register(
            &mut conn.stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.counters.connect_errors += 1;
            self.counters.note(format!("registering a socket: {e}"));
            self.conns.push(None);
            return;
        }
        self.pending += 1;
        self.conns.push(Some(conn));
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
            if event.token() == PUBLISHER {
                self.drive_publisher(readable, writable);
                continue;
            }
            let index = event.token().0;
            let Some(mut conn) = self.conns.get_mut(index).and_then(Option::take) else {
                continue;
            };
            self.drive(index, &mut conn, readable, writable);
            if conn.phase != Phase::Gone {
                self.conns[index] = Some(conn);
            }
        }
        self.events = events;
    }

    fn drive_publisher(&mut self, readable: bool, writable: bool) {
        let conn = &mut self.publisher;
        let result = (|| {
            if conn.phase == ConnPhase::Connecting
                && (!(readable || writable) || !conn.check_connected()?)
            {
                return Ok(Vec::new());
            }
            conn.flush()?;
            if readable {
                conn.read_responses(&mut self.scratch)
            } else {
                Ok(Vec::new())
            }
        })();
        let responses = match result {
            Ok(responses) => responses,
            Err(e) => {
                self.counters.io_errors += 1;
                self.counters.note(format!("publisher: {e}"));
                return;
            }
        };
        for response in responses {
            self.round_in_flight = false;
            let replies = (response.status == 200)
                .then(|| serde_json::from_slice::<BatchReply>(&response.body).ok())
                .flatten();
            let Some(replies) = replies.filter(|r| r.replies.len() == self.channels.len()) else {
                self.counters.protocol_errors += 1;
                self.counters.note(format!(
                    "POST /api/batch answered {}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
                ));
                continue;
            };
            for (k, reply) in replies.replies.iter().enumerate() {
                match &reply.publish {
                    Some(result) => {
                        self.published += 1;
                        self.tops[k] = self.tops[k].max(result.offset);
                    }
                    None => {
                        self.counters.protocol_errors += 1;
                        self.counters
                            .note(format!("publish into {}: an error", self.channels[k]));
                    }
                }
            }
        }
    }

    fn drive(&mut self, index: usize, conn: &mut Conn, readable: bool, writable: bool) {
        if conn.phase == Phase::Connecting {
            if !readable && !writable {
                return;
            }
            match conn.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return self.fail(index, conn, "connect", e),
            }
            match conn.stream.peer_addr() {
                Ok(_) => conn.phase = Phase::Upgrading,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.fail(index, conn, "connect", e),
            }
        }
        if writable || !conn.out.is_empty() {
            self.flush(index, conn);
        }
        if readable && conn.phase != Phase::Gone {
            self.read_all(index, conn);
        }
    }

    fn flush(&mut self, index: usize, conn: &mut Conn) {
        if let Err(e) = flush(&mut conn.stream, &mut conn.out, &mut conn.out_pos) {
            self.fail(index, conn, "write", e);
        }
    }

    fn read_all(&mut self, index: usize, conn: &mut Conn) {
        let mut scratch = std::mem::take(&mut self.scratch);
        loop {
            match conn.stream.read(&mut scratch) {
                Ok(0) => {
                    self.ended(index, conn, "the server closed the connection");
                    break;
                }
                Ok(n) => {
                    self.on_bytes(index, conn, &scratch[..n]);
                    if conn.phase == Phase::Gone || n < scratch.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(index, conn, "read", e);
                    break;
                }
            }
        }
        self.scratch = scratch;
        if !conn.out.is_empty() && conn.phase != Phase::Gone {
            self.flush(index, conn);
        }
    }

    fn on_bytes(&mut self, index: usize, conn: &mut Conn, bytes: &[u8]) {
        if conn.phase == Phase::Upgrading {
            conn.head.extend_from_slice(bytes);
            match conn.upgrade.check(&conn.head) {
                UpgradeStatus::Incomplete => return,
                UpgradeStatus::Refused(reason) => {
                    self.counters.upgrade_errors += 1;
                    self.counters.note(reason);
                    return self.gone(conn);
                }
                UpgradeStatus::Accepted { head_len, .. } => {
                    let rest = conn.head.split_off(head_len);
                    conn.head = Vec::new();
                    conn.phase = Phase::Joining;
                    self.counters.upgrades += 1;
                    let join = format!(
                        "{{\"id\":1,\"connect\":{{\"token\":\"{}\"}}}}\n\
                         {{\"id\":2,\"subscribe\":{{\"channel\":\"{}\"}}}}",
                        self.token, self.channels[conn.channel]
                    );
                    self.send_text(conn, join);
                    if !rest.is_empty() {
                        self.on_frames(index, conn, &rest);
                    }
                    return;
                }
            }
        }
        self.on_frames(index, conn, bytes);
    }

    fn on_frames(&mut self, index: usize, conn: &mut Conn, bytes: &[u8]) {
        let mut frames = std::mem::take(&mut conn.frames);
        let result = frames.feed(bytes, |event| match event {
            FrameEvent::Text(payload) => self.on_message(index, conn, payload),
            FrameEvent::Ping(payload) => {
                let pong = Message::Pong(payload.to_vec().into());
                let frame = outgoing::message_frame(&pong, self.rng.mask_key(), None);
                conn.out.extend_from_slice(&frame);
            }
            FrameEvent::Close(code) => {
                self.ended(index, conn, &format!("the server sent close {code:?}"))
            }
        });
        frames.trim();
        conn.frames = frames;
        if let Err(Malformed(why)) = result {
            self.protocol_error(format!("client {index}: an invalid frame: {why}"));
            self.gone(conn);
        }
    }

    fn send_text(&mut self, conn: &mut Conn, text: String) {
        let frame = outgoing::message_frame(&Message::text(text), self.rng.mask_key(), None);
        conn.out.extend_from_slice(&frame);
    }

    /// Subscribes again from the connection's position.
    fn resubscribe(&mut self, conn: &mut Conn) {
        let id = conn.next_id;
        conn.next_id += 1;
        let text = format!(
            r#"{{"id":{id},"subscribe":{{"channel":"{}","recover":true,"offset":{},"epoch":"{}"}}}}"#,
            self.channels[conn.channel], conn.offset, conn.epoch
        );
        self.send_text(conn, text);
    }

    /// One text message: `\n`-joined replies and pushes.
    fn on_message(&mut self, index: usize, conn: &mut Conn, payload: &[u8]) {
        for line in payload.split(|&b| b == b'\n') {
            if conn.phase == Phase::Gone {
                return;
            }
            if line.is_empty() {
                continue;
            }
            if line == b"{}" {
                if conn.pong {
                    self.send_text(conn, "{}".to_owned());
                }
                continue;
            }
            let parsed: Line<'_> = match serde_json::from_slice(line) {
                Ok(parsed) => parsed,
                Err(e) => {
                    self.protocol_error(format!(
                        "client {index}: unreadable message ({e}): {}",
                        String::from_utf8_lossy(&line[..line.len().min(200)])
                    ));
                    continue;
                }
            };
            if let Some(error) = parsed.error {
                if error.code == 100 && conn.phase == Phase::Resubscribing {
                    if conn.retry_at.is_none() {
                        self.retries_pending += 1;
                    }
                    conn.retry_at = Some(Instant::now() + RETRY_AFTER);
                } else {
                    self.protocol_error(format!(
                        "client {index}: error reply to command {}: {} {}",
                        parsed.id, error.code, error.message
                    ));
                }
            } else if let Some(connect) = parsed.connect {
                conn.pong = connect.pong;
            } else if let Some(result) = parsed.subscribe {
                self.on_subscribed(index, conn, result);
            } else if let Some(push) = parsed.push {
                if let Some(publication) = push.publication {
                    self.on_publication(index, conn, publication.offset, true);
                } else if let Some(unsubscribe) = push.unsubscribe {
                    self.on_unsubscribe(index, conn, unsubscribe.code);
                } else if push.disconnect.is_some() {
                    let text = String::from_utf8_lossy(line).into_owned();
                    self.ended(index, conn, &format!("push {text}"));
                }
            } else {
                self.protocol_error(format!(
                    "client {index}: unexpected message: {}",
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                ));
            }
        }
    }

    fn on_subscribed(&mut self, index: usize, conn: &mut Conn, result: SubscribeResult<'_>) {
        match conn.phase {
            Phase::Joining => {
                if !result.recoverable || result.epoch.is_empty() {
                    return self.protocol_error(format!(
                        "client {index}: {} is not recoverable",
                        self.channels[conn.channel]
                    ));
                }
                conn.offset = result.offset;
                conn.epoch = result.epoch.into_owned();
                conn.phase = Phase::Subscribed;
                self.pending -= 1;
                self.subscribed += 1;
            }
            Phase::Resubscribing => {
                if !result.recovered || result.epoch != conn.epoch.as_str() {
                    return self.protocol_error(format!(
                        "client {index}: not recovered (recovered {}, epoch {:?}, ours {:?})",
                        result.recovered, result.epoch, conn.epoch
                    ));
                }
                conn.phase = Phase::Subscribed;
                conn.resubscribed = Some(Instant::now());
                self.subscribed += 1;
                for publication in &result.publications {
                    self.outcome.recovered_publications += 1;
                    self.on_publication(index, conn, publication.offset, false);
                }
            }
            _ => self.protocol_error(format!("client {index}: an unexpected subscribe reply")),
        }
    }

    fn on_unsubscribe(&mut self, index: usize, conn: &mut Conn, code: u32) {
        if conn.phase != Phase::Subscribed {
            return self.protocol_error(format!(
                "client {index}: unsubscribe {code} while {:?}",
                conn.phase
            ));
        }
        self.outcome.unsubscribes += 1;
        if code == 2500 {
            self.outcome.insufficient_state += 1;
        }
        conn.phase = Phase::Resubscribing;
        conn.unsubscribed = Some(Instant::now());
        conn.resubscribed = None;
        conn.back = None;
        self.subscribed -= 1;
        self.resubscribe(conn);
    }

    /// A publication: it must follow the connection's offset. A live one
    /// (pushed) after the break, with nothing missing, makes it back.
    fn on_publication(&mut self, index: usize, conn: &mut Conn, offset: u64, live: bool) {
        if conn.phase != Phase::Subscribed {
            return;
        }
        self.checked += 1;
        if offset <= conn.offset {
            self.repeated += 1;
            return self.protocol_error(format!(
                "client {index}: publication {offset} again (it has {})",
                conn.offset
            ));
        }
        if offset > conn.offset + 1 {
            self.lost += offset - conn.offset - 1;
            self.protocol_error(format!(
                "client {index}: publication {offset} after {}: {} lost",
                conn.offset,
                offset - conn.offset - 1
            ));
        }
        conn.offset = offset;
        if live && self.t0.is_some() && conn.back.is_none() {
            conn.back = Some(Instant::now());
        }
    }

    fn protocol_error(&mut self, why: String) {
        self.counters.protocol_errors += 1;
        self.counters.note(why);
    }

    fn ended(&mut self, index: usize, conn: &mut Conn, why: &str) {
        self.counters.unexpected_closes += 1;
        self.counters
            .note(format!("client {index}: {why} while {:?}", conn.phase));
        self.gone(conn);
    }

    fn fail(&mut self, index: usize, conn: &mut Conn, what: &str, e: io::Error) {
        match conn.phase {
            Phase::Connecting => self.counters.connect_errors += 1,
            _ => self.counters.io_errors += 1,
        }
        self.counters.note(format!(
            "client {index}: {what} while {:?}: {e}",
            conn.phase
        ));
        self.gone(conn);
    }

    fn gone(&mut self, conn: &mut Conn) {
        match conn.phase {
            Phase::Connecting | Phase::Upgrading | Phase::Joining => self.pending -= 1,
            Phase::Subscribed => self.subscribed -= 1,
            Phase::Resubscribing => {}
            Phase::Gone => return,
        }
        conn.phase = Phase::Gone;
        let _ = self.poll.registry().deregister(&mut conn.stream);
    }
}

/// `{"replies":[{"publish":{"offset":N,…}} or {"error":…},…]}`.
#[derive(Deserialize)]
struct BatchReply {
    replies: Vec<BatchItem>,
}

#[derive(Deserialize)]
struct BatchItem {
    #[serde(default)]
    publish: Option<Publication>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribe_push_reads_with_its_code() {
        let line = br#"{"push":{"channel":"hist:r1","unsubscribe":{"code":2500,"reason":"insufficient state"}}}"#;
        let parsed: Line<'_> = serde_json::from_slice(line).unwrap();
        assert_eq!(parsed.push.unwrap().unsubscribe.unwrap().code, 2500);
    }

    #[test]
    fn batch_replies_read_offsets_and_errors() {
        let body = br#"{"replies":[{"publish":{"offset":4,"epoch":"e"}},{"error":{"code":100,"message":"internal"}}]}"#;
        let parsed: BatchReply = serde_json::from_slice(body).unwrap();
        assert_eq!(parsed.replies[0].publish.as_ref().unwrap().offset, 4);
        assert!(parsed.replies[1].publish.is_none());
    }
}
