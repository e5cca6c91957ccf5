//! Checks that a server really answers polls before it is measured: one
//! Ajax-style poller (`GET /poll?cursor=N&timeout_ms=0` every 10 ms)
//! must get a `200`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::poll::{PollClient, PollMode};
use super::DeliveryClient;
use crate::error::BenchError;
use crate::probe::ProbeReport;

/// Checks that `pushwire serve` answers a poll.
pub fn probe(addr: SocketAddr) -> Result<ProbeReport, BenchError> {
    let mut client = PollClient::open(
        addr,
        1,
        PollMode::Timer(Duration::from_millis(10)),
        0,
        Duration::from_secs(10),
    )?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.stats.polls == 0 && Instant::now() < deadline {
        client.run(1.0, Duration::from_millis(50));
    }
    if client.counters.errors() > 0 || client.stats.polls == 0 {
        return Err(BenchError::Peer(format!(
            "probe of {addr}: GET /poll did not answer 200 ({})",
            client.counters.last_error.as_deref().unwrap_or("no answer")
        )));
    }
    Ok(ProbeReport {
        deflate: None,
        extensions: None,
    })
}
