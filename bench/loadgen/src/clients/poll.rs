//! The HTTP polling client against `pushwire serve`: one publisher
//! connection posting timestamped messages to `POST /publish` at a fixed
//! rate (one request in flight; publications due meanwhile wait and are
//! stamped when sent), and N pollers on `GET /poll?cursor=N&timeout_ms=T`
//! sending browser-like request heads (~450 B: user agent, accept,
//! referer, cookie). A poller either long-polls (a new request as soon as
//! a response arrives) or polls like Ajax on a timer (`timeout_ms=0`
//! every interval). Latency is read from the timestamps in the response
//! bodies; the pollers' bytes both ways are counted. One mio loop, one
//! thread; errors are counted, never fatal.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::http_conn::{ConnPhase, HttpConn, Response};
use super::latency::Histogram;
use super::pace::Pace;
use super::stamp::{self, Clock};
use super::DeliveryClient;
use crate::engine::Counters;
use crate::error::BenchError;

/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);
/// Connects in progress at once while opening.
const OPEN_CONCURRENCY: usize = 256;
/// How long a long poll is held at most (the browser client's default).
const LONG_POLL_TIMEOUT_MS: u64 = 25_000;

/// How the pollers poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PollMode {
    /// A new held request as soon as the last one is answered.
    Long,
    /// `timeout_ms=0` every `interval` (the first after a random phase).
    Timer(Duration),
}

/// What the client measured since the last reset.
#[derive(Debug, Default, Clone)]
pub struct PollStats {
    /// Latency of every message a poller received.
    pub latency: Histogram,
    /// Messages received by pollers.
    pub deliveries: u64,
    /// Poll requests answered.
    pub polls: u64,
    /// Publications sent.
    pub published: u64,
    /// Pollers' bytes sent (request heads).
    pub bytes_up: u64,
    /// Pollers' bytes received (response heads and bodies).
    pub bytes_down: u64,
    /// Responses with `"reset":true` (a poller fell out of the log's window).
    pub resets: u64,
}

struct Poller {
    conn: HttpConn,
    cursor: u64,
    in_flight: bool,
    next_at: Instant,
}

/// A publisher and N pollers against `pushwire serve`.
pub struct PollClient {
    poll: Poll,
    events: Events,
    /// Token 0 is the publisher; token i + 1 is poller i.
    publisher: Option<HttpConn>,
    publisher_busy: bool,
    publications_due: u64,
    pollers: Vec<Option<Poller>>,
    mode: PollMode,
    host: String,
    scratch: Vec<u8>,
    clock: Clock,
    message_size: usize,
    connected: usize,
    /// Errors.
    pub counters: Counters,
    /// Measurements since the last reset.
    pub stats: PollStats,
}

impl PollClient {
    /// Connects a publisher and `pollers` pollers to `addr` and waits
    /// until all are connected.
    pub fn open(
        addr: SocketAddr,
        pollers: usize,
        mode: PollMode,
        message_size: usize,
        timeout: Duration,
    ) -> Result<Self, BenchError> {
        let mut client = PollClient {
            poll: Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?,
            events: Events::with_capacity(4096),
            publisher: None,
            publisher_busy: false,
            publications_due: 0,
            pollers: Vec::with_capacity(pollers),
            mode,
            host: addr.to_string(),
            scratch: vec![0; 256 * 1024],
            clock: Clock::new(),
            message_size,
            connected: 0,
            counters: Counters::default(),
            stats: PollStats::default(),
        };
        let deadline = Instant::now() + timeout;
        let total = pollers + 1;
        let mut started = 0;
        let mut pending = 0usize;
        while client.connected < total {
            while started < total && pending < OPEN_CONCURRENCY {
                let host = 2 + (started % 253) as u8;
                let source = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, host), 0));
                let mut conn = HttpConn::connect(source, addr)
                    .map_err(|e| BenchError::io(format!("connecting from {source}"), e))?;
                client
                    .poll
                    .registry()
                    .register(
                        &mut conn.stream,
                        Token(started),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .map_err(|e| BenchError::io("registering a socket", e))?;
                if started == 0 {
                    client.publisher = Some(conn);
                } else {
                    client.pollers.push(Some(Poller {
                        conn,
                        cursor: 0,
                        in_flight: false,
                        next_at: Instant::now(),
                    }));
                }
                started += 1;
                pending += 1;
            }
            let before = client.connected;
            client.turn(POLL_SLICE);
            pending -= client.connected - before;
            if client.counters.errors() > 0 || Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "connected {} of {total} HTTP clients; last error: {}",
                    client.connected,
                    client.counters.last_error.as_deref().unwrap_or("timed out")
                )));
            }
        }
        // Spread the timer pollers' phases over one interval.
        if let PollMode::Timer(interval) = mode {
            let now = Instant::now();
            let n = client.pollers.len().max(1) as u32;
            for (i, poller) in client.pollers.iter_mut().flatten().enumerate() {
                poller.next_at = now + interval * (i as u32) / n;
            }
        }
        Ok(client)
    }
}

impl DeliveryClient for PollClient {
    /// Starts measuring afresh.
    fn reset(&mut self) {
        self.stats = PollStats::default();
    }

    /// Publishes `rate` messages per second for `duration` while polling.
    fn run(&mut self, rate: f64, duration: Duration) {
        let mut pace = Pace::new(rate, duration);
        while let Some(mut tick) = pace.tick() {
            self.publications_due += tick.due;
            self.publish_if_idle();
            for index in 0..self.pollers.len() {
                if let Some(at) = self.maybe_poll(index, tick.now) {
                    tick.until = tick.until.min(at);
                }
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

    fn requests(&self) -> u64 {
        self.stats.polls
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl PollClient {
    fn publish_if_idle(&mut self) {
        if self.publisher_busy || self.publications_due == 0 {
            return;
        }
        let Some(conn) = self.publisher.as_mut() else {
            return;
        };
        let body = stamp::stamped(self.clock.now_ns(), self.message_size);
        let request = format!(
            "POST /publish HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.publications_due -= 1;
        self.publisher_busy = true;
        self.stats.published += 1;
        if let Err(e) = conn.send(request.as_bytes()) {
            self.counters.io_errors += 1;
            self.counters.note(format!("publisher write: {e}"));
            self.publisher = None;
        }
    }

    /// Sends poller `index`'s next request when it is due; returns when
    /// it will be due, if it is waiting on a timer.
    fn maybe_poll(&mut self, index: usize, now: Instant) -> Option<Instant> {
        let poller = self.pollers[index].as_mut()?;
        if poller.in_flight || poller.conn.phase != ConnPhase::Ready {
            return None;
        }
        let timeout_ms = match self.mode {
            PollMode::Long => LONG_POLL_TIMEOUT_MS,
            PollMode::Timer(interval) => {
                if now < poller.next_at {
                    return Some(poller.next_at);
                }
                // setInterval: the next tick one interval after this one.
                while poller.next_at <= now && !interval.is_zero() {
                    poller.next_at += interval;
                }
                0
            }
        };
        let request = poll_request(&self.host, poller.cursor, timeout_ms);
        poller.in_flight = true;
        let before = poller.conn.bytes_out;
        let sent = poller.conn.send(request.as_bytes());
        self.stats.bytes_up += poller.conn.bytes_out - before;
        if let Err(e) = sent {
            self.counters.io_errors += 1;
            self.counters.note(format!("poll write: {e}"));
            self.pollers[index] = None;
        }
        None
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
        let mut scratch = std::mem::take(&mut self.scratch);
        for event in events.iter() {
            let token = event.token().0;
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let writable = event.is_writable() || event.is_error();
            if token == 0 {
                self.drive_publisher(readable, writable, &mut scratch);
            } else {
                self.drive_poller(token - 1, readable, writable, &mut scratch);
            }
        }
        self.scratch = scratch;
        self.events = events;
    }

    fn drive_publisher(&mut self, readable: bool, writable: bool, scratch: &mut [u8]) {
        let Some(conn) = self.publisher.as_mut() else {
            return;
        };
        match drive(conn, readable, writable, scratch, &mut self.connected) {
            Ok(responses) => {
                for response in responses {
                    if response.status != 202 {
                        self.counters.protocol_errors += 1;
                        self.counters
                            .note(format!("POST /publish answered {}", response.status));
                    }
                    self.publisher_busy = false;
                }
            }
            Err(e) => {
                self.counters.io_errors += 1;
                self.counters.note(format!("publisher: {e}"));
                self.publisher = None;
            }
        }
    }

    fn drive_poller(&mut self, index: usize, readable: bool, writable: bool, scratch: &mut [u8]) {
        let Some(poller) = self.pollers.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let (up, down) = (poller.conn.bytes_out, poller.conn.bytes_in);
        let result = drive(
            &mut poller.conn,
            readable,
            writable,
            scratch,
            &mut self.connected,
        );
        self.stats.bytes_up += poller.conn.bytes_out - up;
        self.stats.bytes_down += poller.conn.bytes_in - down;
        let responses = match result {
            Ok(responses) => responses,
            Err(e) => {
                self.counters.io_errors += 1;
                self.counters.note(format!("poller: {e}"));
                self.pollers[index] = None;
                return;
            }
        };
        if responses.is_empty() {
            return;
        }
        let now = self.clock.now_ns();
        for response in responses {
            poller.in_flight = false;
            if response.status != 200 {
                self.counters.protocol_errors += 1;
                self.counters
                    .note(format!("GET /poll answered {}", response.status));
                continue;
            }
            self.stats.polls += 1;
            let stats = &mut self.stats;
            stats.deliveries += stamp::scan(&response.body, |sent| {
                stats.latency.record(now.saturating_sub(sent));
            }) as u64;
            if contains(&response.body, b"\"reset\":true") {
                self.stats.resets += 1;
            }
            match cursor_of(&response.body) {
                Some(cursor) => poller.cursor = cursor,
                None => {
                    self.counters.protocol_errors += 1;
                    self.counters.note("a /poll response without a cursor");
                }
            }
        }
        if self.mode == PollMode::Long {
            let now = Instant::now();
            self.maybe_poll(index, now);
        }
    }
}

/// Connects, flushes and reads one connection; counts it in `connected`
/// when its connect completes.
fn drive(
    conn: &mut HttpConn,
    readable: bool,
    writable: bool,
    scratch: &mut [u8],
    connected: &mut usize,
) -> io::Result<Vec<Response>> {
    if conn.phase == ConnPhase::Connecting {
        if !(readable || writable) || !conn.check_connected()? {
            return Ok(Vec::new());
        }
        *connected += 1;
    }
    conn.flush()?;
    if readable {
        conn.read_responses(scratch)
    } else {
        Ok(Vec::new())
    }
}

/// A browser-like long-poll or poll request head (~450 bytes).
fn poll_request(host: &str, cursor: u64, timeout_ms: u64) -> String {
    format!(
        "GET /poll?cursor={cursor}&timeout_ms={timeout_ms} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Connection: keep-alive\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
         Accept: application/json, text/plain, */*\r\n\
         Referer: http://{host}/chat/general\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\n\
         Accept-Language: en-US,en;q=0.9\r\n\
         Cookie: sessionid=8f2b6c1e9d4a7f3b5c0e2d1a6b9c8e7f; csrftoken=Jq3xV9mK2pL7nR4tY8wZ1bC6dF0gH5sA\r\n\
         \r\n"
    )
}

/// The number after `"cursor":` in a /poll response.
fn cursor_of(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"cursor\":";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits: Vec<u8> = body[at..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_is_browser_sized_and_cursor_parses() {
        let head = poll_request("127.0.0.1:8080", 12, 0);
        assert!((400..520).contains(&head.len()), "{}", head.len());
        assert_eq!(cursor_of(br#"{"cursor":42,"messages":[]}"#), Some(42));
        assert_eq!(cursor_of(b"{}"), None);
    }
}
