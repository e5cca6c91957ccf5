//! The limits one connection's state enforces.

/// The largest flow-control window (RFC 9113 section 6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

/// What a [`Connection`](super::Connection) announces and enforces.
/// [`ConnectionConfig::clamped`] brings the values within RFC 9113's
/// ranges; [`Connection::new`](super::Connection::new) clamps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`: more streams are refused with
    /// `REFUSED_STREAM`.
    pub max_concurrent_streams: u32,
    /// `SETTINGS_INITIAL_WINDOW_SIZE`: each stream's receive window.
    pub stream_window: u32,
    /// The connection's receive window, 65,535 to 2^31-1.
    pub connection_window: u32,
    /// `SETTINGS_MAX_FRAME_SIZE`, 16 KiB to 16 MiB - 1.
    pub max_frame_size: u32,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`: a request with larger fields is
    /// answered `431`.
    pub max_header_list_size: u32,
    /// Output bytes beyond which streams wait to send and the driver
    /// stops reading ([`Connection::output_backed_up`](super::Connection::output_backed_up)).
    pub output_limit: usize,
    /// The most CONTINUATION frames one field block may take.
    pub max_continuations: usize,
    /// Streams a client may reset before their response is done, beyond
    /// the streams it let finish ("rapid reset", CVE-2023-44487).
    pub reset_allowance: u64,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_concurrent_streams: 256,
            stream_window: 1 << 20,
            connection_window: 4 << 20,
            max_frame_size: 64 << 10,
            max_header_list_size: 16 << 10,
            output_limit: 512 << 10,
            max_continuations: 32,
            reset_allowance: 256,
        }
    }
}

impl ConnectionConfig {
    /// The values brought within what RFC 9113 allows.
    #[must_use]
    pub fn clamped(mut self) -> Self {
        self.stream_window = self.stream_window.min(MAX_WINDOW);
        self.connection_window = self.connection_window.clamp(65_535, MAX_WINDOW);
        self.max_frame_size = self.max_frame_size.clamp(16 << 10, (16 << 20) - 1);
        self
    }
}
