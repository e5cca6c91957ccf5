//! The opening handshake (RFC 6455 section 4) for both roles.

mod client;
mod error;
mod server;

pub use client::{generate_key, parse_response, ClientRequest, ServerResponse};
pub use error::HandshakeError;
pub use server::{parse_request, ClientOffer, RequestHead, ServerAccept};

use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID every `Sec-WebSocket-Accept` is derived with.
const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The most headers a handshake may carry.
pub const MAX_HEADERS: usize = 64;

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
///
/// ```
/// use pushwire_proto::ws::handshake::accept_key;
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Splits a comma-separated header value into trimmed, non-empty
/// elements (RFC 9110 section 5.6.1).
///
/// ```
/// let items: Vec<&str> = pushwire_proto::ws::handshake::list_items(" a, ,b ;x=1").collect();
/// assert_eq!(items, ["a", "b ;x=1"]);
/// ```
pub fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_vectors() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            accept_key(b"sN9cRrP/n9NdMgdcy2VJFQ=="),
            "fFBooB7FAkLlXgRSz0BT3v4hq5s="
        );
    }
}
