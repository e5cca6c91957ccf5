//! What an open connection does: the one knob that makes the same engine
//! serve the echo, idle-memory and handshake-rate scenarios.

/// The behaviour of every connection of an [`super::Engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Stay open and send nothing (idle memory).
    Hold,
    /// Keep `in_flight` messages outstanding while the engine is sending:
    /// closed loop with 1, pipelined with more.
    Echo {
        /// Messages sent and not yet echoed, per connection.
        in_flight: usize,
    },
    /// Upgrade, one echo, the close handshake (the client sends close,
    /// waits for the server's close frame and for the server to close the
    /// TCP connection), then a new connection in its place.
    Cycle,
}
