//! Settings of a WebSocket connection, each with a documented default.

use std::time::Duration;

use pushwire_proto::deflate::DeflateConfig;
use pushwire_proto::Limits;

/// Settings of a WebSocket connection.
///
/// ```
/// use std::time::Duration;
/// use pushwire::WebSocketConfig;
/// let config = WebSocketConfig::default().ping_interval(Some(Duration::from_secs(20)));
/// assert_eq!(config.max_write_buffer, 4 << 20);
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
    /// Send a ping after this long without receiving anything; `None`
    /// sends none. Default: `None`.
    pub ping_interval: Option<Duration>,
    /// With `ping_interval`, how long to wait for any frame after a ping
    /// before the peer is declared dead and the connection dropped.
    /// Default: 20 s.
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
            ping_interval: None,
            pong_timeout: Duration::from_secs(20),
        }
    }
}
