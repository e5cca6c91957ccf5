//! The load engine: one thread, one epoll instance (through mio), edge
//! triggered, every connection a small state machine. It opens
//! connections, keeps them echoing, holding or cycling according to its
//! [`Plan`], and counts what happens. Nothing in it panics on I/O errors:
//! a failed connection is counted in [`Counters`] and dropped.

mod connection;
pub mod counters;
pub mod plan;
mod source_addr;

use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Interest, Poll, Token};
use pushwire_proto::ws::deflate::DeflateParams;
use pushwire_proto::Message;

use crate::error::BenchError;
use crate::wire::frame_reader::Tally;
use crate::wire::handshake::{Upgrade, UpgradeStatus};
use crate::wire::outgoing;
use crate::wire::rng::Rng;
use connection::{ConnectState, Connection, Phase};
pub use counters::Counters;
pub use plan::Plan;
pub use source_addr::SourceAddresses;

/// Bytes read per `read` call (one buffer shared by all connections).
const READ_BUFFER: usize = 256 * 1024;
/// Longest single wait in epoll, so deadlines are noticed.
const POLL_SLICE: Duration = Duration::from_millis(5);

/// What the engine connects to and sends.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// The message every connection echoes.
    pub message: Message,
    /// Offer permessage-deflate in the upgrade.
    pub offer_deflate: bool,
}

/// A single-threaded client holding many WebSocket connections.
pub struct Engine {
    poll: Poll,
    events: Events,
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    scratch: Vec<u8>,
    target: Target,
    host: String,
    plan: Plan,
    sources: SourceAddresses,
    rng: Rng,
    close_frame: Vec<u8>,
    sending: bool,
    /// Connections not yet open (connecting or upgrading).
    pending: usize,
    /// Open connections (including those closing).
    open: usize,
    /// Cycle plan: how many connections to keep going at once.
    cycle_concurrency: usize,
    counters: Counters,
}

impl Engine {
    /// An engine with no connections yet.
    pub fn new(target: Target, plan: Plan) -> Result<Self, BenchError> {
        let poll = Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?;
        let mut rng = Rng::from_clock();
        let close_frame = outgoing::close_frame(rng.mask_key());
        Ok(Engine {
            poll,
            events: Events::with_capacity(1024),
            slots: Vec::new(),
            free: Vec::new(),
            scratch: vec![0; READ_BUFFER],
            host: target.addr.to_string(),
            target,
            plan,
            sources: SourceAddresses::default(),
            rng,
            close_frame,
            sending: false,
            pending: 0,
            open: 0,
            cycle_concurrency: 0,
            counters: Counters::default(),
        })
    }

    /// The totals so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Open connections.
    pub fn open_connections(&self) -> usize {
        self.open
    }

    /// Opens connections until `count` are open, with at most
    /// `concurrency` connects or upgrades in progress at once (so a
    /// server's listen backlog never overflows).
    pub fn open(
        &mut self,
        count: usize,
        concurrency: usize,
        timeout: Duration,
    ) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        let failures_before = self.counters.errors();
        while self.open < count {
            let mut launched = 0;
            while self.open + self.pending < count
                && self.pending < concurrency
                && launched < concurrency
            {
                self.connect();
                launched += 1;
            }
            if self.counters.errors() - failures_before > (count as u64 / 10).max(10) {
                return Err(self.open_failure(count, "too many failures"));
            }
            if Instant::now() > deadline {
                return Err(self.open_failure(count, &format!("timed out after {timeout:?}")));
            }
            self.turn(POLL_SLICE);
        }
        Ok(())
    }

    fn open_failure(&self, count: usize, why: &str) -> BenchError {
        BenchError::Peer(format!(
            "opened {} of {count} connections ({why}); last error: {}",
            self.open,
            self.counters.last_error.as_deref().unwrap_or("none")
        ))
    }

    /// Starts the echo loop: every open connection sends up to its
    /// `in_flight` messages, and each reply is answered with a new one.
    pub fn start_sending(&mut self) {
        self.sending = true;
        let Plan::Echo { in_flight } = self.plan else {
            return;
        };
        for index in 0..self.slots.len() {
            let Some(mut conn) = self.slots[index].take() else {
                continue;
            };
            let keep = conn.phase != Phase::Open || self.top_up_echo(&mut conn, in_flight);
            self.put_back(index, conn, keep);
        }
    }

    /// Cycle plan: keeps `concurrency` connect-echo-close cycles going.
    pub fn start_cycling(&mut self, concurrency: usize) {
        self.cycle_concurrency = concurrency;
    }

    /// Serves events until `duration` has passed.
    pub fn run_for(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        loop {
            if self.plan == Plan::Cycle {
                let mut launched = 0;
                while self.open + self.pending < self.cycle_concurrency
                    && launched < self.cycle_concurrency
                {
                    self.connect();
                    launched += 1;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            self.turn((deadline - now).min(POLL_SLICE));
        }
    }

    /// Closes every connection (the kernel sends FIN, or RST where unread
    /// bytes remain) and stops cycling.
    pub fn close_all(&mut self) {
        self.cycle_concurrency = 0;
        self.sending = false;
        self.slots.clear();
        self.free.clear();
        self.open = 0;
        self.pending = 0;
    }

    /// Starts one connection from the next source address.
    fn connect(&mut self) {
        let source = SocketAddr::V4(SocketAddrV4::new(self.sources.next_addr(), 0));
        let upgrade = Upgrade::new(&self.host, self.target.offer_deflate, &mut self.rng);
        let mut conn = match Connection::connect(source, self.target.addr, upgrade) {
            Ok(conn) => conn,
            Err(e) => {
                self.counters.connect_errors += 1;
                self.counters.note(format!("connect from {source}: {e}"));
                return;
            }
        };
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        if let Err(e) = self.poll.registry().register(
            &mut conn.stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.counters.connect_errors += 1;
            self.counters.note(format!("registering a socket: {e}"));
            self.free.push(index);
            return;
        }
        self.pending += 1;
        self.slots[index] = Some(conn);
    }

    /// One epoll wait and the events it returned.
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
            self.handle(event);
        }
        self.events = events;
    }

    fn handle(&mut self, event: &Event) {
        let index = event.token().0;
        let Some(mut conn) = self.slots.get_mut(index).and_then(Option::take) else {
            return;
        };
        let keep = self.drive(&mut conn, event);
        self.put_back(index, conn, keep);
    }

    /// Returns a connection to its slot, or releases it.
    fn put_back(&mut self, index: usize, conn: Connection, keep: bool) {
        if keep {
            self.slots[index] = Some(conn);
            return;
        }
        match conn.phase {
            Phase::Connecting | Phase::Upgrading => self.pending -= 1,
            Phase::Open | Phase::Closing => self.open -= 1,
        }
        self.free.push(index);
        // Dropping the stream closes it and removes it from epoll.
    }

    /// Reacts to readiness; false when the connection is finished.
    fn drive(&mut self, conn: &mut Connection, event: &Event) -> bool {
        let readable = event.is_readable() || event.is_read_closed() || event.is_error();
        let writable = event.is_writable() || event.is_error();
        if conn.phase == Phase::Connecting {
            if !writable && !readable {
                return true;
            }
            match conn.connect_state() {
                ConnectState::Pending => return true,
                ConnectState::Failed(e) => {
                    self.counters.connect_errors += 1;
                    self.counters.note(format!("connect: {e}"));
                    return false;
                }
                ConnectState::Connected => conn.phase = Phase::Upgrading,
            }
        }
        if writable {
            if let Err(e) = conn.flush() {
                return self.io_failure(conn, "write", e);
            }
        }
        if readable {
            return self.read_all(conn, event.is_read_closed() || event.is_error());
        }
        true
    }

    /// Reads until the socket is empty. A short read means it is (TCP
    /// hands over all it has), unless the peer also closed: then read on
    /// to see the end of the stream.
    fn read_all(&mut self, conn: &mut Connection, drain: bool) -> bool {
        let mut scratch = std::mem::take(&mut self.scratch);
        let keep = loop {
            match conn.read(&mut scratch) {
                Ok(0) => break self.on_eof(conn),
                Ok(n) => {
                    if !self.on_bytes(conn, &scratch[..n]) {
                        break false;
                    }
                    if n < scratch.len() && !drain {
                        break true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                Err(e) => break self.io_failure(conn, "read", e),
            }
        };
        self.scratch = scratch;
        keep
    }

    fn io_failure(&mut self, conn: &Connection, what: &str, e: io::Error) -> bool {
        if conn.phase == Phase::Closing && conn.got_close {
            // A reset after the close handshake still completes the cycle.
            self.counters.cycles += 1;
            return false;
        }
        self.counters.io_errors += 1;
        self.counters.note(format!("{what}: {e}"));
        false
    }

    fn on_eof(&mut self, conn: &Connection) -> bool {
        if conn.phase == Phase::Closing && conn.got_close {
            self.counters.cycles += 1;
        } else {
            self.counters.unexpected_closes += 1;
            self.counters.note(format!(
                "server closed the connection while {:?}",
                conn.phase
            ));
        }
        false
    }

    fn on_bytes(&mut self, conn: &mut Connection, bytes: &[u8]) -> bool {
        match conn.phase {
            Phase::Connecting => true,
            Phase::Upgrading => {
                conn.response.extend_from_slice(bytes);
                match conn.upgrade.check(&conn.response) {
                    UpgradeStatus::Incomplete => true,
                    UpgradeStatus::Refused(reason) => {
                        self.counters.upgrade_errors += 1;
                        self.counters.note(reason);
                        false
                    }
                    UpgradeStatus::Accepted { head_len, deflate } => {
                        let rest = conn.response.split_off(head_len);
                        conn.response = Vec::new();
                        self.on_open(conn, deflate.as_ref())
                            && (rest.is_empty() || self.on_frames(conn, &rest))
                    }
                }
            }
            Phase::Open | Phase::Closing => self.on_frames(conn, bytes),
        }
    }

    fn on_open(&mut self, conn: &mut Connection, deflate: Option<&DeflateParams>) -> bool {
        self.pending -= 1;
        self.open += 1;
        conn.phase = Phase::Open;
        self.counters.upgrades += 1;
        if self.target.offer_deflate && deflate.is_none() {
            self.counters.deflate_declined += 1;
            self.counters.note("the server declined permessage-deflate");
        }
        if self.plan == Plan::Hold {
            return true;
        }
        conn.frame = outgoing::message_frame(&self.target.message, self.rng.mask_key(), deflate);
        match self.plan {
            Plan::Hold => true,
            Plan::Echo { in_flight } => !self.sending || self.top_up_echo(conn, in_flight),
            Plan::Cycle => {
                conn.outstanding = 1;
                self.send(conn, 1)
            }
        }
    }

    fn top_up_echo(&mut self, conn: &mut Connection, in_flight: usize) -> bool {
        let missing = in_flight.saturating_sub(conn.outstanding);
        if missing == 0 {
            return true;
        }
        conn.outstanding += missing;
        self.send(conn, missing)
    }

    fn send(&mut self, conn: &mut Connection, count: usize) -> bool {
        match conn.send_frames(count) {
            Ok(()) => true,
            Err(e) => self.io_failure(conn, "write", e),
        }
    }

    fn on_frames(&mut self, conn: &mut Connection, bytes: &[u8]) -> bool {
        let mut tally = Tally::default();
        conn.reader.feed(bytes, &mut tally);
        if tally.malformed {
            self.counters.protocol_errors += 1;
            self.counters.note("the server sent an invalid frame");
            return false;
        }
        let replies = tally.messages as usize;
        if replies > 0 {
            self.counters.replies += replies as u64;
            conn.outstanding = conn.outstanding.saturating_sub(replies);
            match self.plan {
                Plan::Hold => {}
                Plan::Echo { .. } if self.sending => {
                    conn.outstanding += replies;
                    if !self.send(conn, replies) {
                        return false;
                    }
                }
                Plan::Echo { .. } => {}
                Plan::Cycle if conn.phase == Phase::Open => {
                    conn.phase = Phase::Closing;
                    let close_frame = std::mem::take(&mut self.close_frame);
                    let sent = conn.send_bytes(&close_frame);
                    self.close_frame = close_frame;
                    if let Err(e) = sent {
                        return self.io_failure(conn, "write", e);
                    }
                }
                Plan::Cycle => {}
            }
        }
        if tally.close {
            if conn.phase == Phase::Closing {
                conn.got_close = true;
            } else {
                self.counters.unexpected_closes += 1;
                self.counters.note("the server sent a close frame");
                return false;
            }
        }
        true
    }
}
