//! Counters and gauges the IO layer exports (e.g. to Prometheus).

/// The hub's counters (monotonic, `_total`) and gauges (current values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Transports opened.
    pub connections_opened_total: u64,
    /// Connections authenticated.
    pub connects_total: u64,
    /// Transports open now.
    pub connections: u64,
    /// Subscriptions now (all connections).
    pub subscriptions: u64,
    /// Channels with at least one subscriber now.
    pub channels: u64,
    /// Commands processed.
    pub commands_total: u64,
    /// Publications accepted (client and API).
    pub publications_total: u64,
    /// Publications queued to subscribers.
    pub deliveries_total: u64,
    /// Publications dropped from queues (`drop_oldest`) or replaced (`latest_only`).
    pub queue_drops_total: u64,
    /// Connections closed with 3008 `slow`.
    pub slow_disconnects_total: u64,
    /// Disconnects decided by the hub, any code.
    pub disconnects_total: u64,
    /// Channel links of a remote engine ended because publications may have
    /// been missed (a gap, a new epoch, a failed position check, a lost
    /// connection); their subscribers recovered.
    pub link_breaks_total: u64,
}
