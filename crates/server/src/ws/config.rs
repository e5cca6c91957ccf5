//! Settings of a WebSocket connection, each with a documented default.

use std::time::Duration;

use pushwire_proto::deflate::DeflateConfig;
use pushwire_proto::Limits;

/// Settings of a WebSocket connection.
///
/// ```
/// use std::time::Duration;
/// use pushwire::WebSocketConfig;
/// let config = WebSocketConfig {
///     ping_interval: Some(Duration::from_secs(20)),
///     ..WebSocketConfig::default()
/// };
/// assert_eq!(config.max_write_buffer, 4 << 20);
/// ```
#[derive(Debug, Clone)]
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
