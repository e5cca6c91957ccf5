//! Limits on what a peer may send, each with a documented default.

/// Limits applied to every frame and message received.
///
/// ```
/// use pushwire_proto::Limits;
/// let limits = Limits::default().max_message_size(1 << 20);
/// assert_eq!(limits.max_frame_size, 16 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest frame payload accepted; larger frames close with 1009.
    /// Checked on the header, before any payload is buffered.
    /// Default: 16 MiB.
    pub max_frame_size: usize,
    /// The largest message accepted, summed over its fragments and counted
    /// after inflating; larger messages close with 1009. Default: 64 MiB.
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
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 100_000,
            max_handshake_bytes: 16 << 10,
        }
    }
}
