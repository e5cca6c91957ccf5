//! The instruments the hub's IO layer updates as it runs, for
//! [`Hub::metrics_text`](super::Hub::metrics_text): connections open per
//! transport (an atomic add when a transport opens, a subtract when it
//! ends), the time the driver spends per round and per command. The hub core counts
//! the rest ([`pushwire_hub::Stats`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;

use super::latency::CommandTimes;
use super::stream::Framing;

/// The upper bounds (seconds) of the driver's round-time buckets: 5 µs
/// to 250 ms.
const ROUND_BUCKETS: [f64; 15] = [
    5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
];

/// The transports counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransportKind {
    WebSocket,
    UniWebSocket,
    UniSse,
    UniHttpStream,
    /// Bidirectional emulation over a newline-delimited response.
    HttpStream,
    /// Bidirectional emulation over Server-Sent Events.
    Sse,
    /// Long polling: a session counts from its open to its end (expiry,
    /// close, disconnect), held poll or not.
    LongPoll,
}

impl TransportKind {
    pub(crate) const ALL: [TransportKind; 7] = [
        TransportKind::WebSocket,
        TransportKind::UniWebSocket,
        TransportKind::UniSse,
        TransportKind::UniHttpStream,
        TransportKind::HttpStream,
        TransportKind::Sse,
        TransportKind::LongPoll,
    ];

    /// The `transport` label: the endpoint's last path segment.
    pub(crate) fn label(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "websocket",
            TransportKind::UniWebSocket => "uni_websocket",
            TransportKind::UniSse => "uni_sse",
            TransportKind::UniHttpStream => "uni_http_stream",
            TransportKind::HttpStream => "http_stream",
            TransportKind::Sse => "sse",
            TransportKind::LongPoll => "long_poll",
        }
    }

    /// `/connection/websocket` or `/connection/uni_websocket`.
    pub(crate) fn websocket(transport: &pushwire_hub::Transport) -> Self {
        if transport.is_unidirectional() {
            TransportKind::UniWebSocket
        } else {
            TransportKind::WebSocket
        }
    }

    /// `/connection/{uni_,}sse` or `/connection/{uni_,}http_stream`.
    pub(crate) fn stream(framing: Framing, transport: &pushwire_hub::Transport) -> Self {
        match (framing, transport.is_unidirectional()) {
            (Framing::Sse, true) => TransportKind::UniSse,
            (Framing::Lines, true) => TransportKind::UniHttpStream,
            (Framing::Sse, false) => TransportKind::Sse,
            (Framing::Lines, false) => TransportKind::HttpStream,
        }
    }
}

/// One hub's live instruments, shared by its transports and its driver.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// Connections open now, by [`TransportKind`].
    open: [AtomicU64; TransportKind::ALL.len()],
    /// Connections opened since the start, by [`TransportKind`].
    opened: [AtomicU64; TransportKind::ALL.len()],
    /// Seconds per round of the driver.
    rounds: Histogram,
    /// Seconds per command, by method.
    pub(crate) commands: CommandTimes,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            open: Default::default(),
            opened: Default::default(),
            rounds: Histogram::new(ROUND_BUCKETS),
            commands: CommandTimes::default(),
        }
    }
}

impl Metrics {
    /// A transport opened: counted until [`Metrics::closed`].
    pub(crate) fn opened(&self, kind: TransportKind) {
        self.opened[kind as usize].fetch_add(1, Ordering::Relaxed);
        self.open[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A transport counted by [`Metrics::opened`] ended.
    pub(crate) fn closed(&self, kind: TransportKind) {
        self.open[kind as usize].fetch_sub(1, Ordering::Relaxed);
    }

    /// Connections of `kind` open now.
    pub(crate) fn open_now(&self, kind: TransportKind) -> u64 {
        self.open[kind as usize].load(Ordering::Relaxed)
    }

    /// Connections of `kind` opened since the start.
    pub(crate) fn opened_total(&self, kind: TransportKind) -> u64 {
        self.opened[kind as usize].load(Ordering::Relaxed)
    }

    /// One round of the driver took `elapsed`: the commands it took in one
    /// go, the timers that were due, and moving output into the outlets.
    pub(crate) fn round(&self, elapsed: Duration) {
        self.rounds.observe(elapsed.as_secs_f64());
    }

    /// The rounds' histogram (shares its counts).
    pub(crate) fn rounds(&self) -> Histogram {
        self.rounds.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_are_counted_while_open() {
        let metrics = Metrics::default();
        metrics.opened(TransportKind::WebSocket);
        let uni = pushwire_hub::Transport::uni_sse();
        let emulation = pushwire_hub::Transport::emulation();
        metrics.opened(TransportKind::stream(Framing::Sse, &uni));
        metrics.opened(TransportKind::stream(Framing::Lines, &emulation));
        assert_eq!(metrics.open_now(TransportKind::WebSocket), 1);
        assert_eq!(metrics.open_now(TransportKind::UniSse), 1);
        assert_eq!(metrics.open_now(TransportKind::HttpStream), 1);
        metrics.closed(TransportKind::WebSocket);
        metrics.closed(TransportKind::UniSse);
        metrics.closed(TransportKind::HttpStream);
        for kind in TransportKind::ALL {
            assert_eq!(metrics.open_now(kind), 0, "{kind:?}");
        }
        assert_eq!(metrics.opened_total(TransportKind::WebSocket), 1);
        assert_eq!(metrics.opened_total(TransportKind::UniHttpStream), 0);
    }
}
