//! The `POST /emulation` connections of [`super::hub_http`]: a few
//! keep-alive HTTP/1.1 connections that carry every session's later
//! commands (subscribes, pongs), one request in flight on each, the
//! requests queued until one is idle. The server closes a keep-alive
//! connection that waits too long for its next request (its header read
//! timeout); as a browser does, a closed idle connection is replaced by a
//! new one, and only a connection lost with a request in flight counts as
//! an error. Every byte each way is counted (the bytes on the wire of the
//! emulation transports include these posts).

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};

use mio::{Interest, Registry, Token};

use super::http_conn::{ConnPhase, HttpConn};
use crate::engine::{Counters, SourceAddresses};

/// One connection.
struct Conn {
    http: HttpConn,
    /// A request is in flight.
    busy: bool,
}

/// The `/emulation` connections, tokens `first_token..first_token + N`.
pub(super) struct Emulators {
    conns: Vec<Option<Conn>>,
    queue: VecDeque<Vec<u8>>,
    addr: SocketAddr,
    first_token: usize,
    sources: SourceAddresses,
    /// Bytes read, in total.
    pub bytes_in: u64,
    /// Bytes written, in total.
    pub bytes_out: u64,
    /// Posts answered, in total.
    pub posts: u64,
}

impl Emulators {
    /// Starts `count` connections to `addr`, registered from `first_token`.
    pub fn connect(
        addr: SocketAddr,
        registry: &Registry,
        first_token: usize,
        count: usize,
    ) -> io::Result<Self> {
        let mut emulators = Emulators {
            conns: Vec::with_capacity(count),
            queue: VecDeque::new(),
            addr,
            first_token,
            sources: SourceAddresses::default(),
            bytes_in: 0,
            bytes_out: 0,
            posts: 0,
        };
        for at in 0..count {
            let conn = emulators.open(registry, at)?;
            emulators.conns.push(Some(conn));
        }
        Ok(emulators)
    }

    fn open(&mut self, registry: &Registry, at: usize) -> io::Result<Conn> {
        let source = SocketAddr::V4(SocketAddrV4::new(self.sources.next_addr(), 0));
        let mut http = HttpConn::connect(source, self.addr)?;
        registry.register(
            &mut http.stream,
            Token(self.first_token + at),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Conn { http, busy: false })
    }

    /// Whether `token` is one of these connections': its index.
    pub fn index(&self, token: usize) -> Option<usize> {
        token
            .checked_sub(self.first_token)
            .filter(|&at| at < self.conns.len())
    }

    /// Whether every connection is established.
    pub fn connected(&self) -> bool {
        self.conns
            .iter()
            .flatten()
            .all(|conn| conn.http.phase == ConnPhase::Ready)
    }

    /// Queues a request and sends what idle connections take.
    pub fn post(&mut self, request: Vec<u8>, counters: &mut Counters) {
        self.queue.push_back(request);
        self.pump(counters);
    }

    /// Whether requests are waiting.
    pub fn waiting(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Hands queued requests to idle connections.
    pub fn pump(&mut self, counters: &mut Counters) {
        for slot in &mut self.conns {
            let Some(conn) = slot else { continue };
            if conn.busy || conn.http.phase != ConnPhase::Ready {
                continue;
            }
            let Some(request) = self.queue.pop_front() else {
                return;
            };
            conn.busy = true;
            let before = conn.http.bytes_out;
            let result = conn.http.send(&request);
            self.bytes_out += conn.http.bytes_out - before;
            if let Err(e) = result {
                counters.io_errors += 1;
                counters.note(format!("/emulation write: {e}"));
                *slot = None;
            }
        }
    }

    /// Handles a readiness event of connection `at`.
    pub fn drive(
        &mut self,
        at: usize,
        readable: bool,
        writable: bool,
        registry: &Registry,
        scratch: &mut [u8],
        counters: &mut Counters,
    ) {
        let Some(Some(conn)) = self.conns.get_mut(at) else {
            return;
        };
        let http = &mut conn.http;
        let (before_in, before_out) = (http.bytes_in, http.bytes_out);
        let result = (|| {
            if http.phase == ConnPhase::Connecting
                && (!(readable || writable) || !http.check_connected()?)
            {
                return Ok(Vec::new());
            }
            http.flush()?;
            if readable {
                http.read_responses(scratch)
            } else {
                Ok(Vec::new())
            }
        })();
        self.bytes_in += http.bytes_in - before_in;
        self.bytes_out += http.bytes_out - before_out;
        match result {
            Ok(responses) => {
                for response in responses {
                    conn.busy = false;
                    self.posts += 1;
                    if response.status != 204 {
                        counters.protocol_errors += 1;
                        counters.note(format!(
                            "POST /emulation answered {} {}",
                            response.status,
                            String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
                        ));
                    }
                }
            }
            Err(e) => {
                let idle = !conn.busy && conn.http.phase == ConnPhase::Ready;
                if !(idle && e.kind() == io::ErrorKind::UnexpectedEof) {
                    counters.io_errors += 1;
                    counters.note(format!("/emulation connection: {e}"));
                }
                let _ = registry.deregister(&mut conn.http.stream);
                self.conns[at] = None;
                // A new connection in its place, as a browser opens one.
                match self.open(registry, at) {
                    Ok(conn) => self.conns[at] = Some(conn),
                    Err(e) => {
                        counters.connect_errors += 1;
                        counters.note(format!("reconnecting for /emulation: {e}"));
                    }
                }
            }
        }
        if !self.queue.is_empty() {
            self.pump(counters);
        }
    }
}
