//! Settings of a WebSocket connection, each with a documented default.

use std::time::Duration;

use pushwire_proto::ws::deflate::DeflateConfig;
use pushwire_proto::Limits;

/// Settings of a WebSocket connection.
///
/// The defaults bound what a peer can make a connection hold and for how
/// long: 1 MiB per frame and per message (see [`Limits`]), 30 s for a
/// message to arrive whole, and a ping after 30 s of silence that must be
/// answered within 20 s. Each is a field with a builder method.
///
/// ```
/// use std::time::Duration;
/// use pushwire::WebSocketConfig;
/// let config = WebSocketConfig::default().ping_interval(Some(Duration::from_secs(20)));
/// assert_eq!(config.max_write_buffer, 4 << 20);
/// assert_eq!(config.message_timeout, Some(Duration::from_secs(30)));
/// assert_eq!(WebSocketConfig::default().ping_interval, Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebSocketConfig {
    /// Limits on received frames, messages and handshakes.
    pub limits: Limits,
    /// permessage-deflate to offer (client) or accept (server); `None`
    /// turns compression off. Default: on, with [`DeflateConfig::default`].
    pub deflate: Option<DeflateConfig>,
    /// Bytes that may wait in the write buffer: beyond it, `send` waits
    /// for the peer to read and `try_send` fails. Default: 4 MiB.
    pub max_write_buffer: usize,
    /// How long the close handshake may take before the connection is
    /// dropped. Default: 5 s.
    pub close_timeout: Duration,
    /// How long an opening handshake may take. Default: 10 s.
    pub handshake_timeout: Duration,
    /// How long a data message may take to arrive whole, from when it is
    /// first found waiting for more bytes (a frame's payload still
    /// arriving, or a fragmented message its last fragment) to its last
    /// byte; control frames between its fragments do not extend it. A
    /// message still incomplete then closes the connection with 1008
    /// (policy violation: RFC 6455 itself allows any pause, so this is the
    /// server's policy, not a protocol error), which frees what it held.
    /// `None` sets no limit. Default: 30 s (a 1 MiB message at 35 KB/s).
    pub message_timeout: Option<Duration>,
    /// Send a ping after this long without receiving anything; `None`
    /// sends none, and a silent peer is then kept as long as its socket
    /// lasts. Default: 30 s (a ping goes out after 30 to 60 s of silence).
    pub ping_interval: Option<Duration>,
    /// With `ping_interval`, how long to wait for any frame after a ping
    /// before the peer is declared dead: the connection is closed with
    /// 1001 (going away) and dropped, and receiving fails with a timeout
    /// error. Default: 20 s.
    pub pong_timeout: Duration,
}

impl WebSocketConfig {
    /// Sets [`WebSocketConfig::limits`](#structfield.limits).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`WebSocketConfig::deflate`](#structfield.deflate).
    #[must_use]
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }

    /// Sets [`WebSocketConfig::max_write_buffer`](#structfield.max_write_buffer).
    #[must_use]
    pub fn max_write_buffer(mut self, max_write_buffer: usize) -> Self {
        self.max_write_buffer = max_write_buffer;
        self
    }

    /// Sets [`WebSocketConfig::close_timeout`](#structfield.close_timeout).
    #[must_use]
    pub fn close_timeout(mut self, close_timeout: Duration) -> Self {
        self.close_timeout = close_timeout;
        self
    }

    /// Sets [`WebSocketConfig::handshake_timeout`](#structfield.handshake_timeout).
    #[must_use]
    pub fn handshake_timeout(mut self, handshake_timeout: Duration) -> Self {
        self.handshake_timeout = handshake_timeout;
        self
    }

    /// Sets [`WebSocketConfig::message_timeout`](#structfield.message_timeout).
    #[must_use]
    pub fn message_timeout(mut self, message_timeout: Option<Duration>) -> Self {
        self.message_timeout = message_timeout;
        self
    }

    /// Sets [`WebSocketConfig::ping_interval`](#structfield.ping_interval).
    #[must_use]
    pub fn ping_interval(mut self, ping_interval: Option<Duration>) -> Self {
        self.ping_interval = ping_interval;
        self
    }

    /// Sets [`WebSocketConfig::pong_timeout`](#structfield.pong_timeout).
    #[must_use]
    pub fn pong_timeout(mut self, pong_timeout: Duration) -> Self {
        self.pong_timeout = pong_timeout;
        self
    }
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            limits: Limits::default(),
            deflate: Some(DeflateConfig::default()),
            max_write_buffer: 4 << 20,
            close_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            message_timeout: Some(Duration::from_secs(30)),
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(20),
        }
    }
}
