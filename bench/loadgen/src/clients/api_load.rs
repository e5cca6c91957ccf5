//! Load on the hub's server API: K keep-alive HTTP/1.1 connections, each
//! with one request in flight (a closed loop, as `wrk` does) or N
//! (HTTP/1.1 pipelining: a new request each time an answer arrives), posting
//! `POST /api/publish` (one publication per request) or `POST /api/batch`
//! (`{"commands":[{"publish":{…}},…]}`, B publications per request) into
//! one channel, with `X-API-Key`. Every answer must be `200` with a
//! `result` (publish) or `replies` without an `error` (batch); anything
//! else is counted as an error. Connections come from 127.0.0.2 onwards.

use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::http_conn::{ConnPhase, HttpConn};
use super::hub::API_KEY;
use crate::engine::{Counters, SourceAddresses};
use crate::error::BenchError;

/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(2);

/// K API connections.
pub struct ApiLoad {
    poll: Poll,
    events: Events,
    conns: Vec<HttpConn>,
    /// The request bytes, re-sent as they are.
    request: Vec<u8>,
    /// Publications per request.
    per_request: u64,
    /// Requests in flight per connection.
    in_flight: usize,
    batch: bool,
    scratch: Vec<u8>,
    /// Answered requests.
    answered: u64,
    /// Errors.
    pub counters: Counters,
}

impl ApiLoad {
    /// `connections` connections to the hub at `addr` publishing
    /// `data_size`-byte data (a JSON string) into `channel`, `batch`
    /// publications per request through `/api/batch` (0: `/api/publish`),
    /// `in_flight` requests at a time on each.
    pub fn open(
        addr: SocketAddr,
        connections: usize,
        in_flight: usize,
        channel: &str,
        data_size: usize,
        batch: usize,
        timeout: Duration,
    ) -> Result<Self, BenchError> {
        let poll = Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?;
        let data = format!(
            "\"{}\"",
            super::stamp::stamped(0, data_size.saturating_sub(2))
        );
        let publish = format!(r#"{{"channel":"{channel}","data":{data}}}"#);
        let (path, body) = if batch == 0 {
            ("/api/publish", publish)
        } else {
            let commands = vec![format!(r#"{{"publish":{publish}}}"#); batch].join(",");
            ("/api/batch", format!(r#"{{"commands":[{commands}]}}"#))
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {API_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        let mut load = ApiLoad {
            poll,
            events: Events::with_capacity(1024),
            conns: Vec::with_capacity(connections),
            request,
            per_request: batch.max(1) as u64,
            in_flight: in_flight.max(1),
            batch: batch > 0,
            scratch: vec![0; 64 * 1024],
            answered: 0,
            counters: Counters::default(),
        };
        let mut sources = SourceAddresses::default();
        for i in 0..connections {
            let source = SocketAddr::V4(SocketAddrV4::new(sources.next_addr(), 0));
            let mut conn = HttpConn::connect(source, addr)
                .map_err(|e| BenchError::io(format!("connecting from {source}"), e))?;
            load.poll
                .registry()
                .register(
                    &mut conn.stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| BenchError::io("registering a socket", e))?;
            load.conns.push(conn);
        }
        let deadline = Instant::now() + timeout;
        while load.conns.iter().any(|c| c.phase != ConnPhase::Ready) {
            load.turn(false);
            if load.counters.errors() > 0 || Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "connecting {connections} API clients: {}",
                    load.counters.last_error.as_deref().unwrap_or("timed out")
                )));
            }
        }
        Ok(load)
    }

    /// Publications per request.
    pub fn per_request(&self) -> u64 {
        self.per_request
    }

    /// Every connection posts, its requests in flight, for `duration`;
    /// returns the requests answered and the time they took. The requests
    /// still in flight then are awaited, uncounted, so the next run starts
    /// on idle connections.
    pub fn run(&mut self, duration: Duration) -> (u64, Duration) {
        let before = self.answered;
        let started = Instant::now();
        for i in 0..self.conns.len() {
            for _ in 0..self.in_flight {
                self.send(i);
            }
        }
        let end = started + duration;
        while Instant::now() < end {
            self.turn(true);
        }
        let wall = started.elapsed();
        let answered = self.answered;
        let drain_end = Instant::now() + Duration::from_secs(5);
        let outstanding = (self.conns.len() * self.in_flight) as u64;
        while self.answered - answered < outstanding && Instant::now() < drain_end {
            self.turn(false);
        }
        (answered - before, wall)
    }

    fn send(&mut self, i: usize) {
        if let Err(e) = self.conns[i].send(&self.request) {
            self.error(format!("write: {e}"));
        }
    }

    fn turn(&mut self, resend: bool) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(POLL_SLICE)) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.error(format!("epoll_wait: {e}"));
            }
            return;
        }
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for event in events.iter() {
            let i = event.token().0;
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let writable = event.is_writable() || event.is_error();
            let conn = &mut self.conns[i];
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
            match result {
                Ok(responses) => {
                    for response in responses {
                        let ok = response.status == 200
                            && if self.batch {
                                response.body.starts_with(b"{\"replies\":[")
                                    && !response.body.windows(8).any(|w| w == b"\"error\":")
                            } else {
                                response.body.starts_with(b"{\"result\"")
                            };
                        if !ok {
                            let text = String::from_utf8_lossy(
                                &response.body[..response.body.len().min(200)],
                            )
                            .into_owned();
                            self.counters.protocol_errors += 1;
                            self.counters
                                .note(format!("API answered {}: {text}", response.status));
                        }
                        self.answered += 1;
                        if resend {
                            self.send(i);
                        }
                    }
                }
                Err(e) => self.error(format!("API connection: {e}")),
            }
        }
        self.events = events;
    }

    fn error(&mut self, what: String) {
        self.counters.io_errors += 1;
        self.counters.note(what);
    }
}
