//! Handshake failures and the HTTP status each one is answered with.

/// Why an opening handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request or response head is not valid HTTP/1.1 (400).
    Malformed(&'static str),
    /// The head is larger than `max_handshake_bytes` or has too many headers (431).
    TooLarge,
    /// A plain HTTP request where only WebSocket is served (426).
    NotWebSocket,
    /// The request method is not GET (405).
    MethodNotAllowed,
    /// `Sec-WebSocket-Version` is missing or not 13 (426, offering 13).
    UnsupportedVersion,
    /// A WebSocket header is missing or invalid (400).
    BadRequest(&'static str),
    /// Client side: the server answered with another status than 101.
    Rejected(u16),
    /// Client side: the server's 101 response is not a valid acceptance.
    InvalidResponse(String),
}

impl HandshakeError {
    /// The HTTP status a server answers this failure with.
    ///
    /// ```
    /// use pushwire_proto::ws::handshake::HandshakeError;
    /// assert_eq!(HandshakeError::UnsupportedVersion.status(), 426);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::TooLarge => 431,
            HandshakeError::NotWebSocket | HandshakeError::UnsupportedVersion => 426,
            HandshakeError::MethodNotAllowed => 405,
            HandshakeError::Rejected(status) => *status,
            _ => 400,
        }
    }

    /// The complete HTTP/1.1 response a server sends for this failure;
    /// it closes the connection.
    pub fn to_response(&self) -> Vec<u8> {
        let status = self.status();
        let reason = match status {
            405 => "Method Not Allowed",
            426 => "Upgrade Required",
            431 => "Request Header Fields Too Large",
            _ => "Bad Request",
        };
        let body = format!("{self}\n");
        let mut extra = String::new();
        if status == 426 {
            extra.push_str("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
        }
        if status == 405 {
            extra.push_str("Allow: GET\r\n");
        }
        format!(
            "HTTP/1.1 {status} {reason}\r\n{extra}Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Malformed(what) => write!(f, "malformed HTTP head: {what}"),
            HandshakeError::TooLarge => f.write_str("handshake head too large"),
            HandshakeError::NotWebSocket => {
                f.write_str("this resource requires a WebSocket upgrade")
            }
            HandshakeError::MethodNotAllowed => f.write_str("WebSocket upgrade requires GET"),
            HandshakeError::UnsupportedVersion => {
                f.write_str("unsupported Sec-WebSocket-Version, expected 13")
            }
            HandshakeError::BadRequest(what) => write!(f, "bad WebSocket request: {what}"),
            HandshakeError::Rejected(status) => {
                write!(f, "server rejected the upgrade with status {status}")
            }
            HandshakeError::InvalidResponse(what) => write!(f, "invalid upgrade response: {what}"),
        }
    }
}

impl std::error::Error for HandshakeError {}
