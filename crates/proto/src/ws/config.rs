//! Limits on what a peer may send, each with a documented default.

/// Limits applied to every frame and message received.
///
/// The defaults are safe to face the open internet with: a peer can make
/// a connection hold at most about one frame and one message (1 MiB
/// each), however its frames are compressed or fragmented. Raise them for
/// applications that exchange larger messages (an echo server run against
/// the Autobahn suite needs 16 MiB).
///
/// ```
/// use pushwire_proto::Limits;
/// let limits = Limits::default().max_message_size(64 << 10);
/// assert_eq!(limits.max_frame_size, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest frame payload accepted, as it is on the wire (before
    /// inflating); larger frames close with 1009. Checked on the header,
    /// before any payload is buffered. Default: 1 MiB.
    pub max_frame_size: usize,
    /// The largest message accepted, summed over its fragments and counted
    /// after inflating; larger messages close with 1009. A compressed
    /// message is inflated step by step as its frames arrive, and never
    /// into more than this: a deflate bomb stops here (RFC 7692 section 8).
    /// Default: 1 MiB.
    pub max_message_size: usize,
    /// The most fragments one message may have; more close with 1009.
    /// Bounds the work a peer can cause with empty fragments. Default: 100,000.
    pub max_fragments: usize,
    /// The most bytes an opening handshake's request or response head may
    /// take; more get `431` (server) or fail the connect (client).
    /// Default: 16 KiB.
    pub max_handshake_bytes: usize,
}

impl Limits {
    /// Sets [`Limits::max_frame_size`](#structfield.max_frame_size).
    #[must_use]
    pub fn max_frame_size(mut self, max_frame_size: usize) -> Self {
        self.max_frame_size = max_frame_size;
        self
    }

    /// Sets [`Limits::max_message_size`](#structfield.max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, max_message_size: usize) -> Self {
        self.max_message_size = max_message_size;
        self
    }

    /// Sets [`Limits::max_fragments`](#structfield.max_fragments).
    #[must_use]
    pub fn max_fragments(mut self, max_fragments: usize) -> Self {
        self.max_fragments = max_fragments;
        self
    }

    /// Sets [`Limits::max_handshake_bytes`](#structfield.max_handshake_bytes).
    #[must_use]
    pub fn max_handshake_bytes(mut self, max_handshake_bytes: usize) -> Self {
        self.max_handshake_bytes = max_handshake_bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: 1 << 20,
            max_message_size: 1 << 20,
            max_fragments: 100_000,
            max_handshake_bytes: 16 << 10,
        }
    }
}
