//! The publisher of the SSE scenarios: one keep-alive connection posting
//! timestamped messages ([`super::stamp`]) to `POST /publish`, one request
//! in flight; publications that fall due meanwhile wait and are stamped
//! when sent, so a slow server lowers the rate reached instead of
//! inflating the latency. Every answer must be `202`. Failures are
//! counted in the caller's [`Counters`], never fatal.

use std::io;
use std::net::SocketAddr;

use mio::{Interest, Registry, Token};

use super::http_conn::{ConnPhase, HttpConn};
use super::stamp::{self, Clock};
use crate::engine::Counters;

/// A publisher connection.
pub struct Publisher {
    conn: Option<HttpConn>,
    busy: bool,
    due: u64,
    host: String,
    message_size: usize,
}

impl Publisher {
    /// Starts connecting from `source` to `addr` and registers the socket
    /// under `token`; messages will be `message_size` bytes.
    pub fn connect(
        source: SocketAddr,
        addr: SocketAddr,
        message_size: usize,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Self> {
        let mut conn = HttpConn::connect(source, addr)?;
        registry.register(
            &mut conn.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Publisher {
            conn: Some(conn),
            busy: false,
            due: 0,
            host: addr.to_string(),
            message_size,
        })
    }

    /// Whether the connection is established (and not lost).
    pub fn is_connected(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|conn| conn.phase == ConnPhase::Ready)
    }

    /// Notes that one more publication is due.
    pub fn add_due(&mut self) {
        self.due += 1;
    }

    /// Sends the next due publication, stamped with `clock`, unless one
    /// is still unanswered; returns whether it sent one.
    pub fn publish_if_idle(&mut self, clock: &Clock, counters: &mut Counters) -> bool {
        if self.busy || self.due == 0 || !self.is_connected() {
            return false;
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let body = stamp::stamped(clock.now_ns(), self.message_size);
        let request = format!(
            "POST /publish HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.due -= 1;
        self.busy = true;
        if let Err(e) = conn.send(request.as_bytes()) {
            counters.io_errors += 1;
            counters.note(format!("publisher write: {e}"));
            self.conn = None;
        }
        true
    }

    /// Handles a readiness event of the publisher's socket.
    pub fn drive(
        &mut self,
        readable: bool,
        writable: bool,
        scratch: &mut [u8],
        counters: &mut Counters,
    ) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let result = (|| {
            if conn.phase == ConnPhase::Connecting
                && (!(readable || writable) || !conn.check_connected()?)
            {
                return Ok(Vec::new());
            }
            conn.flush()?;
            if readable {
                conn.read_responses(scratch)
            } else {
                Ok(Vec::new())
            }
        })();
        match result {
            Ok(responses) => {
                for response in responses {
                    if response.status != 202 {
                        counters.protocol_errors += 1;
                        counters.note(format!("POST /publish answered {}", response.status));
                    }
                    self.busy = false;
                }
            }
            Err(e) => {
                counters.io_errors += 1;
                counters.note(format!("publisher: {e}"));
                self.conn = None;
            }
        }
    }
}
