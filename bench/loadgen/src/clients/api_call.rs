//! One request to the hub's server API, waited for: `POST /api/<method>`
//! with `X-API-Key` over a fresh keep-alive HTTP/1.1 connection
//! ([`HttpConn`]), for the steps of a scenario that set a channel up (a
//! first publication, a batch of missed ones) rather than load it.

use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::http_conn::{ConnPhase, HttpConn};
use super::hub::API_KEY;
use crate::error::BenchError;

/// Longest single epoll wait.
const POLL_SLICE: Duration = Duration::from_millis(5);

/// Posts `body` (JSON) to `/api/<method>` of the hub at `addr` from
/// 127.0.0.2 and returns the response body; anything but a `200` within
/// `timeout` is an error.
pub fn post(
    addr: SocketAddr,
    method: &str,
    body: &str,
    timeout: Duration,
) -> Result<Vec<u8>, BenchError> {
    let what = |e: io::Error| BenchError::io(format!("POST /api/{method}"), e);
    let mut poll = Poll::new().map_err(|e| BenchError::io("creating the epoll instance", e))?;
    let source = SocketAddr::V4(SocketAddrV4::new([127, 0, 0, 2].into(), 0));
    let mut conn = HttpConn::connect(source, addr).map_err(what)?;
    poll.registry()
        .register(
            &mut conn.stream,
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(what)?;
    let request = format!(
        "POST /api/{method} HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {API_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.send(request.as_bytes()).map_err(what)?;
    let mut events = Events::with_capacity(8);
    let mut scratch = vec![0; 64 * 1024];
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        poll.poll(&mut events, Some(POLL_SLICE)).map_err(what)?;
        if events.is_empty() {
            continue;
        }
        if conn.phase == ConnPhase::Connecting && !conn.check_connected().map_err(what)? {
            continue;
        }
        conn.flush().map_err(what)?;
        if let Some(response) = conn.read_responses(&mut scratch).map_err(what)?.pop() {
            if response.status != 200 {
                return Err(BenchError::Peer(format!(
                    "POST /api/{method} answered {}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
                )));
            }
            return Ok(response.body);
        }
    }
    Err(BenchError::Peer(format!(
        "POST /api/{method} to {addr}: no answer within {timeout:?}"
    )))
}
