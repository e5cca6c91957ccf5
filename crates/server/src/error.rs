//! The error type of the pushwire IO layer.

use pushwire_proto::ws::handshake::HandshakeError;
use pushwire_proto::{CloseCode, ProtocolError};

/// An error from a WebSocket connection or handshake.
///
/// Opaque on purpose: ask it what it is with the `is_*` predicates.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Io(std::io::Error),
    Protocol(ProtocolError),
    Handshake(HandshakeError),
    Closed,
    Timeout(&'static str),
    Url(String),
    Tls(String),
}

impl Error {
    pub(crate) fn closed() -> Self {
        Error { kind: Kind::Closed }
    }

    pub(crate) fn timeout(what: &'static str) -> Self {
        Error {
            kind: Kind::Timeout(what),
        }
    }

    pub(crate) fn url(what: impl Into<String>) -> Self {
        Error {
            kind: Kind::Url(what.into()),
        }
    }

    pub(crate) fn tls(what: impl std::fmt::Display) -> Self {
        Error {
            kind: Kind::Tls(what.to_string()),
        }
    }

    /// The socket failed, or the peer vanished without a close frame.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io(_))
    }

    /// The peer broke the protocol or a configured limit; the connection
    /// was closed with [`Error::close_code`].
    pub fn is_protocol(&self) -> bool {
        matches!(self.kind, Kind::Protocol(_))
    }

    /// The opening handshake failed.
    pub fn is_handshake(&self) -> bool {
        matches!(self.kind, Kind::Handshake(_))
    }

    /// The connection is closed: nothing more can be sent.
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, Kind::Closed)
    }

    /// A deadline passed: handshake, close handshake, or keepalive pong.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, Kind::Timeout(_))
    }

    /// The URL given to the client was not a `ws://` or `wss://` URL it
    /// can connect to.
    pub fn is_url(&self) -> bool {
        matches!(self.kind, Kind::Url(_))
    }

    /// TLS failed: certificate or key files, or the TLS handshake.
    pub fn is_tls(&self) -> bool {
        matches!(self.kind, Kind::Tls(_))
    }

    /// The close code sent because of this error, for protocol errors.
    pub fn close_code(&self) -> Option<CloseCode> {
        match &self.kind {
            Kind::Protocol(e) => Some(e.close_code()),
            _ => None,
        }
    }

    /// The handshake failure, for handshake errors.
    pub fn handshake(&self) -> Option<&HandshakeError> {
        match &self.kind {
            Kind::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Io(e) => write!(f, "io error: {e}"),
            Kind::Protocol(e) => write!(f, "protocol error: {e}"),
            Kind::Handshake(e) => write!(f, "handshake failed: {e}"),
            Kind::Closed => f.write_str("connection closed"),
            Kind::Timeout(what) => write!(f, "timed out: {what}"),
            Kind::Url(what) => write!(f, "invalid URL: {what}"),
            Kind::Tls(what) => write!(f, "TLS: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Io(e) => Some(e),
            Kind::Protocol(e) => Some(e),
            Kind::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error { kind: Kind::Io(e) }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error {
            kind: Kind::Protocol(e),
        }
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error {
            kind: Kind::Handshake(e),
        }
    }
}
