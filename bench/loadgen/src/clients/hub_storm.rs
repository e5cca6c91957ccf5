//! The recovery-storm client: N hub connections (Centrifugo's client
//! protocol v2, JSON, on `/connection/websocket`) that subscribe to one
//! channel with history, note their stream position, leave cleanly, and
//! come back all at once asking to recover what they missed (the brief's
//! section 7). One mio loop in one thread, like [`super::hub`].
//!
//! 1. [`StormClient::join`]: each connection upgrades and sends, in one
//!    frame,
//!
//!    ```text
//!    {"id":1,"connect":{"token":"…"}}
//!    {"id":2,"subscribe":{"channel":"storm:bench"}}
//!    ```
//!
//!    and keeps the `offset` and `epoch` of the subscribe reply (the
//!    channel must be `recoverable`), at most [`JOIN_CONCURRENCY`] joining
//!    at once.
//! 2. [`StormClient::leave`]: each sends a close frame (1000) and waits
//!    for the server's close or the end of the stream.
//! 3. [`StormClient::storm`]: every connection is started in one burst,
//!    as fast as this thread can open sockets, and each sends, once
//!    upgraded,
//!
//!    ```text
//!    {"id":1,"connect":{"token":"…"}}
//!    {"id":2,"subscribe":{"channel":"storm:bench","recover":true,"offset":O,"epoch":"E"}}
//!    ```
//!
//!    A client has recovered when its subscribe reply says
//!    `"recovered":true` with the epoch it knew, and the publications
//!    after its offset up to the stream's top have arrived, each once, in
//!    order, with no gap: in the reply's `publications`, then (had the
//!    server sent some separately) as publication pushes. Each offset is
//!    checked against the next expected one; a missing, repeated or
//!    out-of-order publication, a `recovered:false`, another epoch, an
//!    error reply or a disconnect is a recovery failure.
//!
//! Replies are parsed with serde (borrowed, the publications' `data`
//! skipped); server pings (`{}`) are answered with pongs when the connect
//! reply asked for them.

use std::io::{self, Read};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use pushwire_proto::Message;

use super::hub::{start_connect, FrameEvent, Malformed, MessageReader, PATH};
use super::hub_lines::{flush, Line, SubscribeResult};
use super::latency::Histogram;
use crate::engine::{Counters, SourceAddresses};
use crate::error::BenchError;
use crate::wire::handshake::{Upgrade, UpgradeStatus};
use crate::wire::outgoing;
use crate::wire::rng::Rng;

/// Connections joining at once in [`StormClient::join`] (the storm
/// itself has no such limit).
pub const JOIN_CONCURRENCY: usize = 256;
/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);
/// Sockets opened between two calls of the storm's `tick` while opening.
const TICK_EVERY: usize = 64;

/// A position in a channel's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The offset of the last publication the client has.
    pub offset: u64,
    /// The stream's epoch.
    pub epoch: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Upgrading,
    /// Connect and subscribe sent, the subscribe reply awaited.
    Joining,
    /// Subscribed (joined), or, in a storm, the reply came and
    /// publications are still awaited.
    Subscribed,
    /// Recovered (or failed to, and counted): the storm is over for it.
    Done,
    /// A close frame sent, the server's close awaited.
    Closing,
    Gone,
}

/// What the connections do once subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Note the position of a plain subscribe.
    Join,
    /// Recover up to `top` (the stream's last offset).
    Recover { top: u64 },
}

/// One connection of client `index`.
struct Conn {
    stream: TcpStream,
    phase: Phase,
    upgrade: Upgrade,
    head: Vec<u8>,
    frames: MessageReader,
    out: Vec<u8>,
    out_pos: usize,
    /// The connect reply asked for pongs.
    pong: bool,
    /// When its connect was started.
    started: Instant,
    /// The next publication offset expected while recovering.
    next_offset: u64,
}

/// What a storm measured.
#[derive(Debug, Clone)]
pub struct StormOutcome {
    /// From the first connect to the start of the last (all at once: the
    /// generator's burst).
    pub opening: Duration,
    /// From the first connect to the last client recovered (or failed).
    pub all_done: Duration,
    /// Per client, from its own connect to its recovery.
    pub per_client: Histogram,
    /// Clients that recovered every missed publication.
    pub recovered: usize,
    /// Clients that did not recover (a failed check of the module's, or a
    /// connection that failed).
    pub failures: u64,
    /// Publications received (in replies and pushes) and checked.
    pub publications: u64,
}

/// N hub clients of one channel, through a join, a leave and a storm.
pub struct StormClient {
    poll: Poll,
    events: Events,
    /// Token i is client i's current connection.
    conns: Vec<Option<Conn>>,
    /// Client i's position, once it joined.
    positions: Vec<Option<Position>>,
    mode: Mode,
    addr: SocketAddr,
    host: String,
    token: String,
    channel: String,
    sources: SourceAddresses,
    scratch: Vec<u8>,
    rng: Rng,
    /// Connections not yet `Done` or `Gone` in the current step.
    busy: usize,
    /// Clients that reached `Subscribed` (join) or `Done` (storm).
    reached: usize,
    /// Recovery results of the current storm.
    recovered: usize,
    failures: u64,
    publications: u64,
    per_client: Histogram,
    last_done: Option<Instant>,
    /// Server pings answered.
    pub pings: u64,
    /// Errors (connect, upgrade, I/O, protocol, recovery failures).
    pub counters: Counters,
}

impl StormClient {
    /// Clients of the hub at `addr`, connecting with `token`, of `channel`.
    pub fn new(addr: SocketAddr, token: &str, channel: &str) -> Result<Self, BenchError> {
        Ok(StormClient {
            poll: Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?,
            events: Events::with_capacity(4096),
            conns: Vec::new(),
            positions: Vec::new(),
            mode: Mode::Join,
            addr,
            host: addr.to_string(),
            token: token.to_owned(),
            channel: channel.to_owned(),
            sources: SourceAddresses::default(),
            scratch: vec![0; 256 * 1024],
            rng: Rng::from_clock(),
            busy: 0,
            reached: 0,
            recovered: 0,
            failures: 0,
            publications: 0,
            per_client: Histogram::default(),
            last_done: None,
            pings: 0,
            counters: Counters::default(),
        })
    }

    /// Connects and subscribes `clients` clients, [`JOIN_CONCURRENCY`] at
    /// a time, and notes each one's position.
    pub fn join(&mut self, clients: usize, timeout: Duration) -> Result<(), BenchError> {
        self.mode = Mode::Join;
        self.reached = 0;
        self.conns = (0..clients).map(|_| None).collect();
        self.positions = vec![None; clients];
        let deadline = Instant::now() + timeout;
        let mut started = 0;
        while self.reached < clients {
            while started < clients && self.busy < JOIN_CONCURRENCY {
                self.connect(started);
                started += 1;
            }
            if self.counters.errors() > 0 || Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "subscribed {} of {clients} hub clients ({}); last error: {}",
                    self.reached,
                    if self.counters.errors() > 0 {
                        "failed"
                    } else {
                        "timed out"
                    },
                    self.counters.last_error.as_deref().unwrap_or("none")
                )));
            }
            self.turn(POLL_SLICE);
        }
        Ok(())
    }

    /// The positions the clients noted when they joined.
    pub fn positions(&self) -> impl Iterator<Item = Option<&Position>> {
        self.positions.iter().map(Option::as_ref)
    }

    /// Closes every connection cleanly: a close frame (1000), then the
    /// server's close or the end of the stream awaited.
    pub fn leave(&mut self, timeout: Duration) -> Result<(), BenchError> {
        let key = self.rng.mask_key();
        let close = outgoing::close_frame(key);
        self.busy = 0;
        for (index, slot) in self.conns.iter_mut().enumerate() {
            let Some(conn) = slot else { continue };
            if conn.phase == Phase::Gone {
                *slot = None;
                continue;
            }
            conn.phase = Phase::Closing;
            conn.out.extend_from_slice(&close);
            if let Err(e) = flush(&mut conn.stream, &mut conn.out, &mut conn.out_pos) {
                self.counters.io_errors += 1;
                self.counters
                    .note(format!("client {index}: writing its close: {e}"));
                *slot = None;
                continue;
            }
            self.busy += 1;
        }
        let deadline = Instant::now() + timeout;
        while self.busy > 0 {
            if Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "{} hub clients still open {timeout:?} after their close frame",
                    self.busy
                )));
            }
            self.turn(POLL_SLICE);
        }
        self.conns.iter_mut().for_each(|slot| *slot = None);
        Ok(())
    }

    /// Reconnects every client that joined, each asking to recover from
    /// its position up to `top`: all at once (`at_a_time` `None`: every
    /// socket opened in one burst), or at most `at_a_time` reconnecting
    /// (not yet recovered) at any moment. `tick` is called between epoll
    /// rounds (and every [`TICK_EVERY`] sockets while opening), e.g. to
    /// sample the server's memory. Returns when every client recovered or
    /// failed, or after `timeout` (an error).
    pub fn storm(
        &mut self,
        top: u64,
        at_a_time: Option<usize>,
        timeout: Duration,
        tick: &mut dyn FnMut(),
    ) -> Result<StormOutcome, BenchError> {
        self.mode = Mode::Recover { top };
        self.reached = 0;
        self.recovered = 0;
        self.failures = 0;
        self.publications = 0;
        self.per_client = Histogram::default();
        self.last_done = None;
        let clients: Vec<usize> = (0..self.positions.len())
            .filter(|&i| self.positions[i].is_some())
            .collect();
        let limit = at_a_time.unwrap_or(usize::MAX);
        let start = Instant::now();
        let mut started = 0;
        let mut opening = Duration::ZERO;
        let deadline = start + timeout;
        loop {
            while started < clients.len() && self.busy < limit {
                self.connect(clients[started]);
                started += 1;
                if started % TICK_EVERY == 0 {
                    tick();
                }
                if started == clients.len() {
                    opening = start.elapsed();
                }
            }
            if self.reached == clients.len() || (started == clients.len() && self.busy == 0) {
                break;
            }
            if Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "{} of {} hub clients recovered within {timeout:?} ({} failed); last error: {}",
                    self.recovered,
                    clients.len(),
                    self.failures,
                    self.counters.last_error.as_deref().unwrap_or("none")
                )));
            }
            self.turn(POLL_SLICE);
            tick();
        }
        let all_done = self
            .last_done
            .map(|t| t.duration_since(start))
            .unwrap_or_else(|| start.elapsed());
        // A client whose connection failed never got to `Done`: counted
        // with its I/O error, and here as not recovered.
        Ok(StormOutcome {
            opening,
            all_done,
            per_client: self.per_client.clone(),
            recovered: self.recovered,
            failures: (clients.len() - self.recovered) as u64,
            publications: self.publications,
        })
    }

    /// Serves the connections (pings, and publications, each checked)
    /// for `duration`, calling `tick` between rounds; returns the
    /// recovery failures seen meanwhile (a publication received twice).
    pub fn hold(&mut self, duration: Duration, tick: &mut dyn FnMut()) -> u64 {
        let before = self.failures;
        let end = Instant::now() + duration;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            self.turn(left.min(Duration::from_millis(10)));
            tick();
        }
        self.failures - before
    }

    /// Starts client `index`'s connection.
    fn connect(&mut self, index: usize) {
        let source = SocketAddr::V4(SocketAddrV4::new(self.sources.next_addr(), 0));
        let upgrade = Upgrade::to_target(&self.host, PATH, false, &mut self.rng);
        let stream = match start_connect(source, self.addr) {
            Ok(stream) => stream,
            Err(e) => {
                self.counters.connect_errors += 1;
                self.counters.note(format!("connect from {source}: {e}"));
                return;
            }
        };
        let mut conn = Conn {
            stream,
            phase: Phase::Connecting,
            out: upgrade.request_bytes(),
            upgrade,
            head: Vec::new(),
            frames: MessageReader::default(),
            out_pos: 0,
            pong: false,
            started: Instant::now(),
            next_offset: 0,
        };
        if let Err(e) = self.poll.registry().register(
            &mut conn.stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.counters.connect_errors += 1;
            self.counters.note(format!("registering a socket: {e}"));
            return;
        }
        self.busy += 1;
        self.conns[index] = Some(conn);
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
            if let Err(e) = flush(&mut conn.stream, &mut conn.out, &mut conn.out_pos) {
                return self.fail(index, conn, "write", e);
            }
        }
        if readable {
            self.read_all(index, conn);
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
            if let Err(e) = flush(&mut conn.stream, &mut conn.out, &mut conn.out_pos) {
                self.fail(index, conn, "write", e);
            }
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
                    self.gone(conn);
                    return;
                }
                UpgradeStatus::Accepted { head_len, .. } => {
                    let rest = conn.head.split_off(head_len);
                    conn.head = Vec::new();
                    conn.phase = Phase::Joining;
                    self.counters.upgrades += 1;
                    let join = self.join_text(index);
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

    /// The connect and subscribe commands of client `index`, `\n`-joined.
    fn join_text(&self, index: usize) -> String {
        let mut text = format!(
            "{{\"id\":1,\"connect\":{{\"token\":\"{}\"}}}}\n{{\"id\":2,\"subscribe\":{{\"channel\":\"{}\"",
            self.token, self.channel
        );
        if let (Mode::Recover { .. }, Some(Some(position))) = (self.mode, self.positions.get(index))
        {
            text.push_str(&format!(
                ",\"recover\":true,\"offset\":{},\"epoch\":\"{}\"",
                position.offset, position.epoch
            ));
        }
        text.push_str("}}");
        text
    }

    fn on_frames(&mut self, index: usize, conn: &mut Conn, bytes: &[u8]) {
        let mut frames = std::mem::take(&mut conn.frames);
        let result = frames.feed(bytes, |event| match event {
            FrameEvent::Text(payload) => self.on_message(index, conn, payload),
            FrameEvent::Ping(payload) => {
                let pong = Message::Pong(payload.to_vec().into());
                conn.out.extend_from_slice(&outgoing::message_frame(
                    &pong,
                    self.rng.mask_key(),
                    None,
                ));
            }
            FrameEvent::Close(code) => {
                self.ended(index, conn, &format!("the server sent close {code:?}"));
            }
        });
        frames.trim();
        conn.frames = frames;
        if let Err(Malformed(why)) = result {
            self.counters.protocol_errors += 1;
            self.counters
                .note(format!("the hub sent an invalid frame: {why}"));
            self.gone(conn);
        }
    }

    /// Queues a text message.
    fn send_text(&mut self, conn: &mut Conn, text: String) {
        let frame = outgoing::message_frame(&Message::text(text), self.rng.mask_key(), None);
        conn.out.extend_from_slice(&frame);
    }

    /// One text message: `\n`-joined replies and pushes.
    fn on_message(&mut self, index: usize, conn: &mut Conn, payload: &[u8]) {
        for line in payload.split(|&b| b == b'\n') {
            if conn.phase == Phase::Gone || conn.phase == Phase::Closing {
                return;
            }
            if line.is_empty() {
                continue;
            }
            if line == b"{}" {
                self.pings += 1;
                if conn.pong {
                    self.send_text(conn, "{}".to_owned());
                }
                continue;
            }
            let parsed: Line<'_> = match serde_json::from_slice(line) {
                Ok(parsed) => parsed,
                Err(e) => {
                    self.protocol_error(format!(
                        "client {index}: unreadable message from the hub ({e}): {}",
                        String::from_utf8_lossy(&line[..line.len().min(200)])
                    ));
                    continue;
                }
            };
            if let Some(error) = parsed.error {
                let failed = format!(
                    "client {index}: error reply to command {}: {} {}",
                    parsed.id, error.code, error.message
                );
                self.recovery_failed(conn, failed);
            } else if let Some(connect) = parsed.connect {
                conn.pong = connect.pong;
            } else if let Some(result) = parsed.subscribe {
                self.on_subscribed(index, conn, result);
            } else if let Some(push) = parsed.push {
                if let Some(publication) = push.publication {
                    self.on_publication(index, conn, publication.offset);
                } else if push.disconnect.is_some() || push.unsubscribe.is_some() {
                    let text = String::from_utf8_lossy(line).into_owned();
                    self.ended(index, conn, &format!("push {text}"));
                }
            } else {
                self.protocol_error(format!(
                    "client {index}: unexpected message from the hub: {}",
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                ));
            }
        }
    }

    /// The subscribe reply.
    fn on_subscribed(&mut self, index: usize, conn: &mut Conn, result: SubscribeResult<'_>) {
        if conn.phase != Phase::Joining {
            return self.protocol_error(format!("client {index}: a second subscribe reply"));
        }
        match self.mode {
            Mode::Join => {
                if !result.recoverable || result.epoch.is_empty() {
                    return self.protocol_error(format!(
                        "client {index}: {} is not recoverable (no epoch in the subscribe reply)",
                        self.channel
                    ));
                }
                self.positions[index] = Some(Position {
                    offset: result.offset,
                    epoch: result.epoch.into_owned(),
                });
                conn.phase = Phase::Subscribed;
                self.reached += 1;
                self.busy -= 1;
            }
            Mode::Recover { top } => {
                let Some(position) = self.positions[index].clone() else {
                    return self.protocol_error(format!("client {index} has no position"));
                };
                if !result.recovered || result.epoch != position.epoch.as_str() {
                    return self.recovery_failed(
                        conn,
                        format!(
                            "client {index}: not recovered (recovered {}, epoch {:?}, ours {:?}, offset {})",
                            result.recovered, result.epoch, position.epoch, result.offset
                        ),
                    );
                }
                conn.phase = Phase::Subscribed;
                conn.next_offset = position.offset + 1;
                for publication in &result.publications {
                    self.on_publication(index, conn, publication.offset);
                    if conn.phase == Phase::Done {
                        break;
                    }
                }
                if conn.phase == Phase::Subscribed && conn.next_offset > top {
                    self.recovered_one(conn);
                }
            }
        }
    }

    /// A publication, in the subscribe reply or pushed: it must be the
    /// next offset.
    fn on_publication(&mut self, index: usize, conn: &mut Conn, offset: u64) {
        let Mode::Recover { top } = self.mode else {
            return;
        };
        self.publications += 1;
        if offset != conn.next_offset {
            let what = if offset < conn.next_offset {
                "repeated or out of order"
            } else {
                "a gap"
            };
            return self.recovery_failed(
                conn,
                format!(
                    "client {index}: publication {offset} where {} was expected ({what})",
                    conn.next_offset
                ),
            );
        }
        conn.next_offset += 1;
        if conn.phase == Phase::Subscribed && conn.next_offset > top {
            self.recovered_one(conn);
        }
    }

    /// The client has every missed publication.
    fn recovered_one(&mut self, conn: &mut Conn) {
        let now = Instant::now();
        self.per_client
            .record(now.duration_since(conn.started).as_nanos() as u64);
        self.recovered += 1;
        self.finish(conn, now);
    }

    /// A recovery failure: counted (an error of the run), and the client
    /// is done.
    fn recovery_failed(&mut self, conn: &mut Conn, why: String) {
        self.failures += 1;
        self.protocol_error(why);
        if matches!(conn.phase, Phase::Joining | Phase::Subscribed) {
            self.finish(conn, Instant::now());
        }
    }

    fn finish(&mut self, conn: &mut Conn, now: Instant) {
        conn.phase = Phase::Done;
        self.reached += 1;
        self.busy -= 1;
        self.last_done = Some(now);
    }

    fn protocol_error(&mut self, why: String) {
        self.counters.protocol_errors += 1;
        self.counters.note(why);
    }

    /// The server ended a connection: expected while closing, a failure
    /// before the client recovered, and noted (an unexpected close) after.
    fn ended(&mut self, index: usize, conn: &mut Conn, why: &str) {
        match conn.phase {
            Phase::Closing => {}
            Phase::Joining | Phase::Subscribed if matches!(self.mode, Mode::Recover { .. }) => {
                self.recovery_failed(conn, format!("client {index}: {why} before it recovered"));
            }
            _ => {
                self.counters.unexpected_closes += 1;
                self.counters
                    .note(format!("client {index}: {why} while {:?}", conn.phase));
            }
        }
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
        let busy = match conn.phase {
            Phase::Gone => return,
            Phase::Done => false,
            // Joined clients are no longer counted as busy; recovering
            // ones are until they are done.
            Phase::Subscribed => self.mode != Mode::Join,
            Phase::Connecting | Phase::Upgrading | Phase::Joining | Phase::Closing => true,
        };
        if busy {
            self.busy -= 1;
        }
        conn.phase = Phase::Gone;
        let _ = self.poll.registry().deregister(&mut conn.stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovered_subscribe_reply_reads_with_its_offsets() {
        let line = br#"{"id":2,"subscribe":{"recoverable":true,"epoch":"abcd","publications":[{"data":"x \"y\"","offset":2},{"data":{"k":[1]},"offset":3}],"recovered":true,"offset":1,"positioned":true,"was_recovering":true}}"#;
        let parsed: Line<'_> = serde_json::from_slice(line).unwrap();
        let result = parsed.subscribe.unwrap();
        assert_eq!(parsed.id, 2);
        assert!(result.recovered && result.recoverable);
        assert_eq!(result.epoch, "abcd");
        assert_eq!(result.offset, 1);
        let offsets: Vec<u64> = result.publications.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, [2, 3]);
    }

    #[test]
    fn pushes_and_errors_read() {
        let push: Line<'_> =
            serde_json::from_slice(br#"{"push":{"channel":"c","pub":{"data":"d","offset":7}}}"#)
                .unwrap();
        assert_eq!(push.push.unwrap().publication.unwrap().offset, 7);
        let error: Line<'_> = serde_json::from_slice(
            br#"{"id":2,"error":{"code":112,"message":"unrecoverable position"}}"#,
        )
        .unwrap();
        let error = error.error.unwrap();
        assert_eq!(
            (error.code, &*error.message),
            (112, "unrecoverable position")
        );
        let disconnect: Line<'_> =
            serde_json::from_slice(br#"{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}"#)
                .unwrap();
        assert!(disconnect.push.unwrap().disconnect.is_some());
    }
}
