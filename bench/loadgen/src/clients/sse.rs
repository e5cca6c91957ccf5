//! The SSE fan-out client: one [`Publisher`] posting timestamped messages
//! to `POST /publish` at a fixed rate and N subscribers each holding
//! `GET /events` (a browser-like `EventSource` request head), on one mio
//! loop in one thread. Subscribers read their streams with
//! [`SseReader`] and record each event's latency against the publisher's
//! clock; they check that event ids follow each other (a gap is a lost
//! message) and count `reset` events and heartbeats. Subscribers come
//! from 127.0.0.2 onwards ([`SourceAddresses`]), so 15,000 of them never
//! run out of ports. Errors are counted, never fatal.

use std::io::{self, Read};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::http_conn::{ConnPhase, HttpConn};
use super::latency::Histogram;
use super::pace::Pace;
use super::publisher::Publisher;
use super::sse_reader::{SseItem, SseReader};
use super::stamp::Clock;
use super::DeliveryClient;
use crate::engine::{Counters, SourceAddresses};
use crate::error::BenchError;

/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);
/// Streams being opened (connecting or awaiting their head) at once.
const OPEN_CONCURRENCY: usize = 256;

/// What the client measured since the last reset.
#[derive(Debug, Default, Clone)]
pub struct SseStats {
    /// Latency of every stamped event a subscriber received.
    pub latency: Histogram,
    /// Events with data received by subscribers.
    pub deliveries: u64,
    /// Publications sent.
    pub published: u64,
    /// Subscribers' bytes sent.
    pub bytes_up: u64,
    /// Subscribers' bytes received (chunk framing and event fields included).
    pub bytes_down: u64,
    /// `reset` events (a subscriber fell behind the server's log).
    pub resets: u64,
    /// Event ids skipped: messages a subscriber never received.
    pub lost: u64,
    /// Comment-only blocks (heartbeats).
    pub heartbeats: u64,
}

struct Subscriber {
    conn: HttpConn,
    reader: SseReader,
    /// The id of the last event received (0: none yet).
    last_id: u64,
}

/// A publisher and N event-stream subscribers.
pub struct SseClient {
    poll: Poll,
    events: Events,
    /// Token 0.
    publisher: Publisher,
    /// Token i + 1 is subscriber i.
    subscribers: Vec<Option<Subscriber>>,
    scratch: Vec<u8>,
    clock: Clock,
    /// Subscribers whose response head arrived.
    opened: usize,
    /// Errors.
    pub counters: Counters,
    /// Measurements since the last reset.
    pub stats: SseStats,
}

impl SseClient {
    /// Connects a publisher of `message_size`-byte messages and
    /// `subscribers` event streams to `addr`, and waits until every
    /// stream's response head arrived (from then on the server sends
    /// each of them every publication).
    pub fn open(
        addr: SocketAddr,
        subscribers: usize,
        message_size: usize,
        timeout: Duration,
    ) -> Result<Self, BenchError> {
        let poll = Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?;
        let mut sources = SourceAddresses::default();
        let source = SocketAddr::V4(SocketAddrV4::new(sources.next_addr(), 0));
        let publisher = Publisher::connect(source, addr, message_size, poll.registry(), Token(0))
            .map_err(|e| {
            BenchError::io(format!("connecting the publisher from {source}"), e)
        })?;
        let mut client = SseClient {
            poll,
            events: Events::with_capacity(4096),
            publisher,
            subscribers: Vec::with_capacity(subscribers),
            scratch: vec![0; 256 * 1024],
            clock: Clock::new(),
            opened: 0,
            counters: Counters::default(),
            stats: SseStats::default(),
        };
        let request = events_request(&addr.to_string());
        let deadline = Instant::now() + timeout;
        while client.opened < subscribers || !client.publisher.is_connected() {
            while client.subscribers.len() < subscribers
                && client.subscribers.len() - client.opened < OPEN_CONCURRENCY
            {
                let source = SocketAddr::V4(SocketAddrV4::new(sources.next_addr(), 0));
                let mut conn = HttpConn::connect(source, addr)
                    .map_err(|e| BenchError::io(format!("connecting from {source}"), e))?;
                client
                    .poll
                    .registry()
                    .register(
                        &mut conn.stream,
                        Token(client.subscribers.len() + 1),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .map_err(|e| BenchError::io("registering a socket", e))?;
                conn.send(request.as_bytes())
                    .map_err(|e| BenchError::io("queueing GET /events", e))?;
                client.subscribers.push(Some(Subscriber {
                    conn,
                    reader: SseReader::default(),
                    last_id: 0,
                }));
            }
            client.turn(POLL_SLICE);
            if client.counters.errors() > 0 || Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "opened {} of {subscribers} event streams; last error: {}",
                    client.opened,
                    client.counters.last_error.as_deref().unwrap_or("timed out")
                )));
            }
        }
        Ok(client)
    }
}

impl DeliveryClient for SseClient {
    /// Starts measuring afresh.
    fn reset(&mut self) {
        self.stats = SseStats::default();
    }

    /// Publishes `rate` messages per second for `duration` while reading
    /// the streams.
    fn run(&mut self, rate: f64, duration: Duration) {
        let mut pace = Pace::new(rate, duration);
        while let Some(tick) = pace.tick() {
            for _ in 0..tick.due {
                self.publisher.add_due();
            }
            if self
                .publisher
                .publish_if_idle(&self.clock, &mut self.counters)
            {
                self.stats.published += 1;
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
        self.stats.bytes_up
    }

    fn bytes_down(&self) -> u64 {
        self.stats.bytes_down
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl SseClient {
    fn turn(&mut self, timeout: Duration) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.counters.io_errors += 1;
                self.counters.note(format!("epoll_wait: {e}"));
            }
            return;
        }
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        let mut scratch = std::mem::take(&mut self.scratch);
        for event in events.iter() {
            let token = event.token().0;
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let writable = event.is_writable() || event.is_error();
            if token == 0 {
                self.publisher
                    .drive(readable, writable, &mut scratch, &mut self.counters);
                // An answer frees the publisher for the next publication.
                if self
                    .publisher
                    .publish_if_idle(&self.clock, &mut self.counters)
                {
                    self.stats.published += 1;
                }
            } else if let Err(e) =
                self.drive_subscriber(token - 1, readable, writable, &mut scratch)
            {
                self.counters.note(format!("subscriber: {e}"));
                self.subscribers[token - 1] = None;
            }
        }
        self.scratch = scratch;
        self.events = events;
    }

    /// Connects, flushes and reads subscriber `index`; an error ends it
    /// (already counted).
    fn drive_subscriber(
        &mut self,
        index: usize,
        readable: bool,
        writable: bool,
        scratch: &mut [u8],
    ) -> io::Result<()> {
        let Some(subscriber) = self.subscribers.get_mut(index).and_then(Option::as_mut) else {
            return Ok(());
        };
        let conn = &mut subscriber.conn;
        if conn.phase == ConnPhase::Connecting {
            if !(readable || writable) {
                return Ok(());
            }
            match conn.check_connected() {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => {
                    self.counters.connect_errors += 1;
                    return Err(e);
                }
            }
        }
        let before = conn.bytes_out;
        let flushed = conn.flush();
        self.stats.bytes_up += conn.bytes_out - before;
        if let Err(e) = flushed {
            self.counters.io_errors += 1;
            return Err(e);
        }
        if !readable {
            return Ok(());
        }
        let now = self.clock.now_ns();
        loop {
            let n = match conn.stream.read(scratch) {
                Ok(0) => {
                    self.counters.unexpected_closes += 1;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed an event stream",
                    ));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.counters.io_errors += 1;
                    return Err(e);
                }
            };
            conn.bytes_in += n as u64;
            self.stats.bytes_down += n as u64;
            let stats = &mut self.stats;
            let last_id = &mut subscriber.last_id;
            let mut opened = 0;
            let fed = subscriber.reader.feed(&scratch[..n], |item| match item {
                SseItem::Opened => opened += 1,
                SseItem::Event { id, stamp, reset } => {
                    if reset {
                        stats.resets += 1;
                        return;
                    }
                    stats.deliveries += 1;
                    if let Some(sent) = stamp {
                        stats.latency.record(now.saturating_sub(sent));
                    }
                    if let Some(id) = id {
                        if *last_id > 0 && id > *last_id + 1 {
                            stats.lost += id - *last_id - 1;
                        }
                        *last_id = id;
                    }
                }
                SseItem::Comment => stats.heartbeats += 1,
                SseItem::Ended => {}
            });
            self.opened += opened;
            if let Err(e) = fed {
                self.counters.protocol_errors += 1;
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.0));
            }
            if n < scratch.len() {
                // A short read: the socket had no more.
                return Ok(());
            }
        }
    }
}

/// A browser-like `EventSource` request head (~420 bytes), sent once per
/// stream.
fn events_request(host: &str) -> String {
    format!(
        "GET /events HTTP/1.1\r\n\
         Host: {host}\r\n\
         Connection: keep-alive\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
         Accept: text/event-stream\r\n\
         Cache-Control: no-cache\r\n\
         Referer: http://{host}/chat/general\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\n\
         Accept-Language: en-US,en;q=0.9\r\n\
         Cookie: sessionid=8f2b6c1e9d4a7f3b5c0e2d1a6b9c8e7f; csrftoken=Jq3xV9mK2pL7nR4tY8wZ1bC6dF0gH5sA\r\n\
         \r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_is_browser_sized() {
        let head = events_request("127.0.0.1:8080");
        assert!((380..520).contains(&head.len()), "{}", head.len());
    }
}
