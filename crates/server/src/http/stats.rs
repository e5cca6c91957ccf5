//! Counters a running [`Server`](crate::Server) keeps.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of a [`Server`](crate::Server), shared with its
/// connections: read them at any time through [`ServerStats::snapshot`].
///
/// Every counter only grows, except the `open_*` gauges.
///
/// ```
/// let stats = pushwire::server::ServerStats::default();
/// let now = stats.snapshot();
/// assert_eq!(now.extended_connects, 0);
/// assert!(now.to_json().contains("\"extended_connects\":0"));
/// ```
#[derive(Debug, Default)]
pub struct ServerStats {
    connections: AtomicU64,
    open_connections: AtomicU64,
    refused_connections: AtomicU64,
    tls_handshake_failures: AtomicU64,
    h1_requests: AtomicU64,
    h2_requests: AtomicU64,
    h1_upgrades: AtomicU64,
    extended_connects: AtomicU64,
    open_websockets: AtomicU64,
}

/// The counters of [`ServerStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// TCP connections accepted.
    pub connections: u64,
    /// TCP connections being served now (an HTTP/1.1 connection that
    /// became a WebSocket is counted under `open_websockets` instead).
    pub open_connections: u64,
    /// Connections over a limit of [`Server::max_connections`](crate::Server::max_connections)
    /// or [`Server::max_connections_per_ip`](crate::Server::max_connections_per_ip),
    /// answered `503` or `429` and closed.
    pub refused_connections: u64,
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: u64,
    /// Requests received over HTTP/1.x.
    pub h1_requests: u64,
    /// Requests (streams) received over HTTP/2.
    pub h2_requests: u64,
    /// WebSockets accepted by an HTTP/1.1 `Upgrade` (101 sent).
    pub h1_upgrades: u64,
    /// WebSockets accepted by an HTTP/2 extended CONNECT (RFC 8441, 200 sent).
    pub extended_connects: u64,
    /// WebSockets whose stream is still held, over either protocol.
    pub open_websockets: u64,
}

impl StatsSnapshot {
    /// The counters as one JSON object, e.g. for a `/stats` route.
    pub fn to_json(&self) -> String {
        format!(
            concat!(
                "{{\"connections\":{},\"open_connections\":{},\"refused_connections\":{},",
                "\"tls_handshake_failures\":{},",
                "\"h1_requests\":{},\"h2_requests\":{},\"h1_upgrades\":{},",
                "\"extended_connects\":{},\"open_websockets\":{}}}"
            ),
            self.connections,
            self.open_connections,
            self.refused_connections,
            self.tls_handshake_failures,
            self.h1_requests,
            self.h2_requests,
            self.h1_upgrades,
            self.extended_connects,
            self.open_websockets
        )
    }
}

/// Which counter to bump; keeps the fields private.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Connections,
    RefusedConnections,
    TlsHandshakeFailures,
    H1Requests,
    H2Requests,
    H1Upgrades,
    ExtendedConnects,
}

impl ServerStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections: get(&self.connections),
            open_connections: get(&self.open_connections),
            refused_connections: get(&self.refused_connections),
            tls_handshake_failures: get(&self.tls_handshake_failures),
            h1_requests: get(&self.h1_requests),
            h2_requests: get(&self.h2_requests),
            h1_upgrades: get(&self.h1_upgrades),
            extended_connects: get(&self.extended_connects),
            open_websockets: get(&self.open_websockets),
        }
    }

    /// WebSockets accepted by an HTTP/2 extended CONNECT (RFC 8441).
    pub fn extended_connects(&self) -> u64 {
        self.extended_connects.load(Ordering::Relaxed)
    }

    /// WebSockets accepted by an HTTP/1.1 `Upgrade`.
    pub fn h1_upgrades(&self) -> u64 {
        self.h1_upgrades.load(Ordering::Relaxed)
    }

    pub(crate) fn bump(&self, counter: Counter) {
        let c = match counter {
            Counter::Connections => &self.connections,
            Counter::RefusedConnections => &self.refused_connections,
            Counter::TlsHandshakeFailures => &self.tls_handshake_failures,
            Counter::H1Requests => &self.h1_requests,
            Counter::H2Requests => &self.h2_requests,
            Counter::H1Upgrades => &self.h1_upgrades,
            Counter::ExtendedConnects => &self.extended_connects,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an open connection until the guard drops.
    pub(crate) fn connection_guard(self: &std::sync::Arc<Self>) -> Gauge {
        Gauge::new(self.clone(), |s| &s.open_connections)
    }

    /// Counts an open WebSocket until the guard drops.
    pub(crate) fn websocket_guard(self: &std::sync::Arc<Self>) -> Gauge {
        Gauge::new(self.clone(), |s| &s.open_websockets)
    }
}

/// Holds one unit of a gauge; gives it back when dropped.
#[derive(Debug)]
pub(crate) struct Gauge {
    stats: std::sync::Arc<ServerStats>,
    field: fn(&ServerStats) -> &AtomicU64,
}

impl Gauge {
    fn new(stats: std::sync::Arc<ServerStats>, field: fn(&ServerStats) -> &AtomicU64) -> Self {
        field(&stats).fetch_add(1, Ordering::Relaxed);
        Gauge { stats, field }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        (self.field)(&self.stats).fetch_sub(1, Ordering::Relaxed);
    }
}
