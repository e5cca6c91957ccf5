//! The publisher of the HTTP scenarios: one keep-alive connection posting
//! timestamped messages ([`super::stamp`]) to `POST /publish` (SSE, long
//! polling; every answer must be `202`) or to the hub's `POST
//! /api/publish` ([`Route::hub`]: `X-API-Key`, `{"channel":…,"data":…}`,
//! answered `200` `{"result":{…}}`), one request in flight; publications
//! that fall due meanwhile wait and are stamped when sent, so a slow
//! server lowers the rate reached instead of inflating the latency.
//! Failures are counted in the caller's [`Counters`], never fatal.

use std::io;
use std::net::SocketAddr;

use mio::{Interest, Registry, Token};

use super::http_conn::{ConnPhase, HttpConn};
use super::stamp::{self, Clock};
use crate::engine::Counters;

/// Where and how publications are posted.
#[derive(Debug, Clone)]
pub struct Route {
    /// The request target.
    path: &'static str,
    /// Extra header lines, each ending in `\r\n`.
    headers: String,
    /// The content type.
    content_type: &'static str,
    /// Publish into this hub channel: the body is `{"channel":…,"data":"<message>"}`.
    hub_channel: Option<String>,
    /// The status every answer must have.
    status: u16,
}

impl Route {
    /// `POST /publish` of `pushwire serve`'s push demo (and Bun's SSE
    /// peer): the message as a `text/plain` body, answered 202.
    pub fn push_demo() -> Self {
        Route {
            path: "/publish",
            headers: String::new(),
            content_type: "text/plain",
            hub_channel: None,
            status: 202,
        }
    }

    /// The hub's server API: `POST /api/publish` with `X-API-Key: key`
    /// into `channel`, the message as a JSON string in `data`, answered
    /// 200 with a `result` (an `error` counts as a protocol error).
    pub fn hub(key: &str, channel: &str) -> Self {
        Route {
            path: "/api/publish",
            headers: format!("X-API-Key: {key}\r\n"),
            content_type: "application/json",
            hub_channel: Some(channel.to_owned()),
            status: 200,
        }
    }

    /// The request body carrying a message of `size` bytes stamped `ns`:
    /// for the hub, a JSON string of `size` bytes (quotes included).
    fn body(&self, ns: u64, size: usize) -> String {
        match &self.hub_channel {
            None => stamp::stamped(ns, size),
            Some(channel) => format!(
                r#"{{"channel":"{channel}","data":"{}"}}"#,
                stamp::stamped(ns, size.saturating_sub(2))
            ),
        }
    }
}

/// A publisher connection.
pub struct Publisher {
    conn: Option<HttpConn>,
    busy: bool,
    due: u64,
    host: String,
    message_size: usize,
    route: Route,
}

impl Publisher {
    /// Starts connecting from `source` to `addr` and registers the socket
    /// under `token`; messages will be `message_size` bytes, posted to
    /// `POST /publish`.
    pub fn connect(
        source: SocketAddr,
        addr: SocketAddr,
        message_size: usize,
        registry: &Registry,
        token: Token,
    ) -> io::Result<Self> {
        Self::connect_to(
            Route::push_demo(),
            source,
            addr,
            message_size,
            registry,
            token,
        )
    }

    /// The same, posting along `route`.
    pub fn connect_to(
        route: Route,
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
            route,
        })
    }

    /// Whether the connection is established (and not lost).
    pub fn is_connected(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|conn| conn.phase == ConnPhase::Ready)
    }

    /// Whether it is connected and has no request in flight.
    pub fn is_idle(&self) -> bool {
        !self.busy && self.is_connected()
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
        let body = self.route.body(clock.now_ns(), self.message_size);
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\n{}Content-Type: {}\r\nContent-Length: {}\r\n\r\n{body}",
            self.route.path,
            self.host,
            self.route.headers,
            self.route.content_type,
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
                    if response.status != self.route.status
                        || (self.route.hub_channel.is_some()
                            && !response.body.starts_with(b"{\"result\""))
                    {
                        counters.protocol_errors += 1;
                        counters.note(format!(
                            "POST {} answered {} {}",
                            self.route.path,
                            response.status,
                            String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
                        ));
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
