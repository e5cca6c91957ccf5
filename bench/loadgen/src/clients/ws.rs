//! The WebSocket fan-out client: N subscribers and one publisher on one
//! mio loop (one thread). The publisher sends timestamped text messages
//! ([`super::stamp`]) at a fixed rate; every subscriber reads the
//! broadcasts and records their latency against the same clock. A chosen
//! number of subscribers stop reading once upgraded (a small receive
//! buffer, so their TCP window closes soon) to see whether a stuck client
//! hurts the others. Subscribers come from 127.0.0.2 onwards, so 15,000
//! of them never run out of ports. No I/O error stops the loop: each is
//! counted in [`Counters`].

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use pushwire_proto::Message;
use socket2::{Domain, Protocol, Socket, Type};

use super::latency::Histogram;
use super::pace::Pace;
use super::stamp::{self, Clock};
use super::stamp_reader::{FrameEvent, StampReader};
use super::DeliveryClient;
use crate::engine::Counters;
use crate::error::BenchError;
use crate::wire::handshake::{Upgrade, UpgradeStatus};
use crate::wire::outgoing;
use crate::wire::rng::Rng;

/// Linux's EINPROGRESS: a non-blocking connect has started.
const EINPROGRESS: i32 = 115;
/// Receive buffer of a subscriber that stops reading.
const STALLED_RCVBUF: usize = 4096;
/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);
/// Connects or upgrades in progress at once while opening.
const OPEN_CONCURRENCY: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Upgrading,
    Open,
    Gone,
}

/// One client connection (subscriber or publisher).
struct Client {
    stream: TcpStream,
    phase: Phase,
    upgrade: Upgrade,
    head: Vec<u8>,
    reader: StampReader,
    /// Reads after the upgrade (false: a stalled subscriber).
    reading: bool,
    publisher: bool,
    out: Vec<u8>,
    out_pos: usize,
    bytes_out: u64,
}

/// What the client measured since the last [`DeliveryClient::reset`].
#[derive(Debug, Default, Clone)]
pub struct WsStats {
    /// Latency of every delivery to a reading subscriber.
    pub latency: Histogram,
    /// Messages received by reading subscribers.
    pub deliveries: u64,
    /// Publications sent.
    pub published: u64,
    /// Subscribers the server closed (e.g. 1008 for a slow one).
    pub closed_by_server: u64,
    /// Bytes read by subscribers (not the publisher).
    pub subscriber_bytes_in: u64,
    /// Bytes written by subscribers.
    pub subscriber_bytes_out: u64,
}

/// N subscribers and a publisher connected to a broadcast server.
pub struct WsClient {
    poll: Poll,
    events: Events,
    clients: Vec<Option<Client>>,
    addr: SocketAddr,
    host: String,
    scratch: Vec<u8>,
    rng: Rng,
    clock: Clock,
    next_source: u8,
    message_size: usize,
    /// Open connections.
    open: usize,
    /// Connections connecting or upgrading.
    pending: usize,
    /// Errors (connect, upgrade, I/O, protocol).
    pub counters: Counters,
    /// Measurements since the last reset.
    pub stats: WsStats,
}

impl WsClient {
    /// A client for the broadcast server at `addr`, publishing messages of
    /// `message_size` bytes.
    pub fn new(addr: SocketAddr, message_size: usize) -> Result<Self, BenchError> {
        Ok(WsClient {
            poll: Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?,
            events: Events::with_capacity(4096),
            clients: Vec::new(),
            addr,
            host: addr.to_string(),
            scratch: vec![0; 256 * 1024],
            rng: Rng::from_clock(),
            clock: Clock::new(),
            next_source: 2,
            message_size,
            open: 0,
            pending: 0,
            counters: Counters::default(),
            stats: WsStats::default(),
        })
    }

    /// Connects the publisher (first) and `readers + stalled` subscribers
    /// and waits until all are upgraded.
    pub fn open(
        &mut self,
        readers: usize,
        stalled: usize,
        timeout: Duration,
    ) -> Result<(), BenchError> {
        let total = 1 + readers + stalled;
        let deadline = Instant::now() + timeout;
        let mut started = 0;
        while self.open < total {
            while started < total && self.pending < OPEN_CONCURRENCY {
                let publisher = started == 0;
                let reading = publisher || started <= readers;
                self.connect(publisher, reading);
                started += 1;
            }
            if self.counters.errors() > (total as u64 / 10).max(10) || Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "opened {} of {total} connections ({}); last error: {}",
                    self.open,
                    if Instant::now() > deadline {
                        "timed out"
                    } else {
                        "too many failures"
                    },
                    self.counters.last_error.as_deref().unwrap_or("none")
                )));
            }
            if started == total && self.pending == 0 && self.open < total {
                return Err(BenchError::Peer(format!(
                    "opened {} of {total} connections; last error: {}",
                    self.open,
                    self.counters.last_error.as_deref().unwrap_or("none")
                )));
            }
            self.turn(POLL_SLICE);
        }
        Ok(())
    }
}

impl DeliveryClient for WsClient {
    /// Starts measuring afresh.
    fn reset(&mut self) {
        self.stats = WsStats::default();
    }

    /// Publishes `rate` messages per second for `duration` while serving
    /// the subscribers.
    fn run(&mut self, rate: f64, duration: Duration) {
        let mut pace = Pace::new(rate, duration);
        while let Some(tick) = pace.tick() {
            for _ in 0..tick.due {
                self.publish();
            }
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
        self.stats.subscriber_bytes_out
    }

    fn bytes_down(&self) -> u64 {
        self.stats.subscriber_bytes_in
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl WsClient {
    fn publish(&mut self) {
        let Some(mut client) = self.clients.first_mut().and_then(Option::take) else {
            return;
        };
        if client.phase == Phase::Open {
            let text = stamp::stamped(self.clock.now_ns(), self.message_size);
            let frame = outgoing::message_frame(&Message::text(text), self.rng.mask_key(), None);
            client.out.extend_from_slice(&frame);
            self.stats.published += 1;
            if let Err(e) = flush(&mut client) {
                self.fail(&mut client, "publisher write", e);
            }
        }
        self.clients[0] = Some(client);
    }

    fn connect(&mut self, publisher: bool, reading: bool) {
        let host = self.next_source;
        self.next_source = if host >= 254 { 2 } else { host + 1 };
        let source = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, host), 0));
        let upgrade = Upgrade::new(&self.host, false, &mut self.rng);
        let stream = match start_connect(source, self.addr, !reading) {
            Ok(stream) => stream,
            Err(e) => {
                self.counters.connect_errors += 1;
                self.counters.note(format!("connect from {source}: {e}"));
                return;
            }
        };
        let index = self.clients.len();
        let mut client = Client {
            stream,
            phase: Phase::Connecting,
            out: upgrade.request_bytes(),
            upgrade,
            head: Vec::new(),
            reader: StampReader::default(),
            reading,
            publisher,
            out_pos: 0,
            bytes_out: 0,
        };
        if let Err(e) = self.poll.registry().register(
            &mut client.stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.counters.connect_errors += 1;
            self.counters.note(format!("registering a socket: {e}"));
            return;
        }
        self.pending += 1;
        self.clients.push(Some(client));
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
            let index = event.token().0;
            let Some(mut client) = self.clients.get_mut(index).and_then(Option::take) else {
                continue;
            };
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let writable = event.is_writable() || event.is_error();
            self.drive(&mut client, readable, writable);
            if client.phase != Phase::Gone {
                self.clients[index] = Some(client);
            }
        }
        self.events = events;
    }

    fn drive(&mut self, client: &mut Client, readable: bool, writable: bool) {
        if client.phase == Phase::Connecting {
            if !readable && !writable {
                return;
            }
            match client.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return self.fail(client, "connect", e),
            }
            match client.stream.peer_addr() {
                Ok(_) => client.phase = Phase::Upgrading,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.fail(client, "connect", e),
            }
        }
        if writable || !client.out.is_empty() {
            let before = client.bytes_out;
            let result = flush(client);
            if !client.publisher && client.phase == Phase::Open {
                self.stats.subscriber_bytes_out += client.bytes_out - before;
            }
            if let Err(e) = result {
                return self.fail(client, "write", e);
            }
        }
        if readable && (client.reading || client.phase == Phase::Upgrading) {
            self.read_all(client);
        }
    }

    fn read_all(&mut self, client: &mut Client) {
        let mut scratch = std::mem::take(&mut self.scratch);
        loop {
            match client.stream.read(&mut scratch) {
                Ok(0) => {
                    if client.phase == Phase::Open && !client.publisher {
                        self.stats.closed_by_server += 1;
                    } else {
                        self.counters.unexpected_closes += 1;
                        self.counters.note(format!(
                            "the server closed a connection while {:?}",
                            client.phase
                        ));
                    }
                    self.gone(client);
                    break;
                }
                Ok(n) => {
                    let now = self.clock.now_ns();
                    self.on_bytes(client, &scratch[..n], now);
                    if client.phase == Phase::Gone || n < scratch.len() || !client.reading {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(client, "read", e);
                    break;
                }
            }
        }
        self.scratch = scratch;
    }

    fn on_bytes(&mut self, client: &mut Client, bytes: &[u8], now: u64) {
        if client.phase == Phase::Upgrading {
            client.head.extend_from_slice(bytes);
            match client.upgrade.check(&client.head) {
                UpgradeStatus::Incomplete => return,
                UpgradeStatus::Refused(reason) => {
                    self.counters.upgrade_errors += 1;
                    self.counters.note(reason);
                    self.gone(client);
                    return;
                }
                UpgradeStatus::Accepted { head_len, .. } => {
                    let rest = client.head.split_off(head_len);
                    client.head = Vec::new();
                    client.phase = Phase::Open;
                    self.pending -= 1;
                    self.open += 1;
                    self.counters.upgrades += 1;
                    if !rest.is_empty() && client.reading {
                        self.on_frames(client, &rest, now);
                    }
                    return;
                }
            }
        }
        if !client.publisher {
            self.stats.subscriber_bytes_in += bytes.len() as u64;
        }
        self.on_frames(client, bytes, now);
    }

    fn on_frames(&mut self, client: &mut Client, bytes: &[u8], now: u64) {
        let publisher = client.publisher;
        let stats = &mut self.stats;
        let mut closed = None;
        let result = client.reader.feed(bytes, |event| match event {
            FrameEvent::Data(stamp) if !publisher => {
                stats.deliveries += 1;
                if let Some(sent) = stamp {
                    stats.latency.record(now.saturating_sub(sent));
                }
            }
            FrameEvent::Close(code) => closed = Some(code),
            _ => {}
        });
        if result.is_err() {
            self.counters.protocol_errors += 1;
            self.counters.note("the server sent an invalid frame");
            self.gone(client);
        } else if let Some(code) = closed {
            if publisher {
                self.counters.unexpected_closes += 1;
                self.counters
                    .note(format!("the server closed the publisher ({code:?})"));
            } else {
                self.stats.closed_by_server += 1;
            }
            self.gone(client);
        }
    }

    fn fail(&mut self, client: &mut Client, what: &str, e: io::Error) {
        if client.phase == Phase::Open && !client.publisher && client.reading {
            // A reset of a subscriber the server gave up on.
            self.stats.closed_by_server += 1;
        } else if client.phase == Phase::Connecting {
            self.counters.connect_errors += 1;
            self.counters.note(format!("{what}: {e}"));
        } else {
            self.counters.io_errors += 1;
            self.counters.note(format!("{what}: {e}"));
        }
        self.gone(client);
    }

    fn gone(&mut self, client: &mut Client) {
        match client.phase {
            Phase::Connecting | Phase::Upgrading => self.pending -= 1,
            Phase::Open => self.open -= 1,
            Phase::Gone => return,
        }
        client.phase = Phase::Gone;
        let _ = self.poll.registry().deregister(&mut client.stream);
    }
}

/// A non-blocking connect from `source` with TCP_NODELAY; a small
/// receive buffer when the connection will stop reading.
fn start_connect(
    source: SocketAddr,
    target: SocketAddr,
    small_buffer: bool,
) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    if small_buffer {
        socket.set_recv_buffer_size(STALLED_RCVBUF)?;
    }
    socket.bind(&source.into())?;
    match socket.connect(&target.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// Writes queued bytes until done or the socket is full.
fn flush(client: &mut Client) -> io::Result<()> {
    while client.out_pos < client.out.len() {
        match client.stream.write(&client.out[client.out_pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                client.out_pos += n;
                client.bytes_out += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    client.out.clear();
    client.out_pos = 0;
    Ok(())
}
