//! The server side of the opening handshake.

use base64::Engine;

use super::{accept_key, list_items, HandshakeError, MAX_HEADERS};
use crate::ws::deflate::{accept_offer, parse_extensions, DeflateConfig, DeflateParams, Extension};

/// A parsed HTTP/1.1 request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/chat?room=1`.
    pub target: String,
    /// Header names (as sent) and values, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RequestHead {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every header as a `(name, value)` pair.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &[u8])> + Clone {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)`: incomplete, read more (unless `buf` already holds
/// `max_bytes`, which fails with [`HandshakeError::TooLarge`]).
///
/// The lenient parser of a handshake on a raw stream: HTTP/1.1 only,
/// header names as sent, no body rules. A server's request heads go
/// through [`http1::parse`](crate::http1::parse).
///
/// ```
/// use pushwire_proto::ws::handshake::parse_request;
/// let raw = b"GET /chat HTTP/1.1\r\nHost: x\r\n\r\nrest";
/// let (head, used) = parse_request(raw, 1024).unwrap().unwrap();
/// assert_eq!((head.method.as_str(), head.target.as_str(), used), ("GET", "/chat", raw.len() - 4));
/// ```
pub fn parse_request(
    buf: &[u8],
    max_bytes: usize,
) -> Result<Option<(RequestHead, usize)>, HandshakeError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(used)) if used <= max_bytes => {
            if req.version != Some(1) {
                return Err(HandshakeError::Malformed("HTTP/1.1 required"));
            }
            let head = RequestHead {
                method: req.method.unwrap_or_default().to_owned(),
                target: req.path.unwrap_or_default().to_owned(),
                headers: req
                    .headers
                    .iter()
                    .map(|h| (h.name.to_owned(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((head, used)))
        }
        Ok(httparse::Status::Complete(_)) => Err(HandshakeError::TooLarge),
        Ok(httparse::Status::Partial) if buf.len() >= max_bytes => Err(HandshakeError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooLarge),
        Err(_) => Err(HandshakeError::Malformed("invalid request head")),
    }
}

/// A valid upgrade request: what the client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOffer {
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// `Sec-WebSocket-Protocol` values, in the client's order of preference.
    pub protocols: Vec<String>,
    /// `Sec-WebSocket-Extensions` offers, in order.
    pub extensions: Vec<Extension>,
}

impl ClientOffer {
    /// Validates an HTTP/1.1 upgrade request from its method and headers.
    ///
    /// ```
    /// use pushwire_proto::ws::handshake::{ClientOffer, HandshakeError};
    /// let headers = [("Upgrade", &b"websocket"[..]), ("Connection", b"keep-alive, Upgrade"),
    ///                ("Sec-WebSocket-Version", b"13"), ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==")];
    /// let offer = ClientOffer::from_headers("GET", headers).unwrap();
    /// assert_eq!(offer.key, "dGhlIHNhbXBsZSBub25jZQ==");
    /// assert_eq!(ClientOffer::from_headers("GET", [("Host", &b"x"[..])]), Err(HandshakeError::NotWebSocket));
    /// ```
    pub fn from_headers<'a>(
        method: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, HandshakeError> {
        let (mut upgrade, mut connection, mut version) = (false, false, None);
        let mut key: Option<&[u8]> = None;
        let mut protocols = Vec::new();
        let mut extensions = String::new();
        for (name, value) in headers {
            let text = std::str::from_utf8(value)
                .map_err(|_| HandshakeError::Malformed("non-UTF-8 header value"))?;
            if name.eq_ignore_ascii_case("upgrade") {
                upgrade |= list_items(text).any(|t| t.eq_ignore_ascii_case("websocket"));
            } else if name.eq_ignore_ascii_case("connection") {
                connection |= list_items(text).any(|t| t.eq_ignore_ascii_case("upgrade"));
            } else if name.eq_ignore_ascii_case("sec-websocket-version") {
                version = Some(text.trim());
            } else if name.eq_ignore_ascii_case("sec-websocket-key") {
                if key.replace(value).is_some() {
                    return Err(HandshakeError::BadRequest("Sec-WebSocket-Key repeated"));
                }
            } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
                protocols.extend(list_items(text).map(str::to_owned));
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                if !extensions.is_empty() {
                    extensions.push(',');
                }
                extensions.push_str(text);
            }
        }
        if !upgrade {
            return Err(HandshakeError::NotWebSocket);
        }
        if method != "GET" {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if !connection {
            return Err(HandshakeError::BadRequest(
                "Connection must include Upgrade",
            ));
        }
        if version != Some("13") {
            return Err(HandshakeError::UnsupportedVersion);
        }
        let key = key.ok_or(HandshakeError::BadRequest("missing Sec-WebSocket-Key"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(key.trim_ascii())
            .map_err(|_| HandshakeError::BadRequest("Sec-WebSocket-Key is not base64"))?;
        if decoded.len() != 16 {
            return Err(HandshakeError::BadRequest(
                "Sec-WebSocket-Key is not 16 bytes",
            ));
        }
        let extensions = if extensions.is_empty() {
            Vec::new()
        } else {
            parse_extensions(&extensions).ok_or(HandshakeError::BadRequest(
                "invalid Sec-WebSocket-Extensions",
            ))?
        };
        Ok(ClientOffer {
            key: String::from_utf8_lossy(key.trim_ascii()).into_owned(),
            protocols,
            extensions,
        })
    }

    /// Chooses a subprotocol (the first of `supported` the client offered,
    /// in the server's order of preference) and, if `deflate` is given,
    /// permessage-deflate parameters.
    pub fn accept(&self, supported: &[&str], deflate: Option<&DeflateConfig>) -> ServerAccept {
        let protocol = supported
            .iter()
            .find(|p| self.protocols.iter().any(|o| o == *p))
            .map(|p| (*p).to_owned());
        ServerAccept {
            accept_key: accept_key(self.key.as_bytes()),
            protocol,
            deflate: deflate.and_then(|config| accept_offer(config, &self.extensions)),
        }
    }
}

/// What the server agreed to: the content of its 101 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAccept {
    /// `Sec-WebSocket-Accept`.
    pub accept_key: String,
    /// The chosen subprotocol.
    pub protocol: Option<String>,
    /// The agreed permessage-deflate parameters.
    pub deflate: Option<DeflateParams>,
}

impl ServerAccept {
    /// The `101 Switching Protocols` response, with `extra` headers.
    ///
    /// ```
    /// use pushwire_proto::ws::handshake::ServerAccept;
    /// let accept = ServerAccept { accept_key: "k".into(), protocol: None, deflate: None };
    /// let response = String::from_utf8(accept.to_response(&[])).unwrap();
    /// assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    /// assert!(response.ends_with("Sec-WebSocket-Accept: k\r\n\r\n"));
    /// ```
    pub fn to_response(&self, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut out = String::with_capacity(160);
        out.push_str(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        );
        if let Some(protocol) = &self.protocol {
            out.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
        }
        if let Some(deflate) = &self.deflate {
            out.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                deflate.to_header()
            ));
        }
        for (name, value) in extra {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!(
            "Sec-WebSocket-Accept: {}\r\n\r\n",
            self.accept_key
        ));
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(raw: &str) -> Result<ClientOffer, HandshakeError> {
        let (head, _) = parse_request(raw.as_bytes(), 16 << 10)?.expect("complete");
        ClientOffer::from_headers(&head.method, head.header_pairs())
    }

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: sN9cRrP/n9NdMgdcy2VJFQ==\r\nSec-WebSocket-Version: 13\r\n";

    #[test]
    fn accepts_the_seed_note_request() {
        let o = offer(&format!("{GOOD}\r\n")).unwrap();
        let accept = o.accept(&[], None);
        assert_eq!(accept.accept_key, "fFBooB7FAkLlXgRSz0BT3v4hq5s=");
    }

    #[test]
    fn rejects_each_malformed_request_with_its_status() {
        let cases = [
            (GOOD.replace("Upgrade: websocket\r\n", ""), 426),
            (GOOD.replace("GET", "POST"), 405),
            (
                GOOD.replace("Connection: Upgrade", "Connection: keep-alive"),
                400,
            ),
            (GOOD.replace("Version: 13", "Version: 8"), 426),
            (GOOD.replace("Sec-WebSocket-Version: 13\r\n", ""), 426),
            (GOOD.replace("sN9cRrP/n9NdMgdcy2VJFQ==", "c2hvcnQ="), 400),
            (GOOD.replace("sN9cRrP/n9NdMgdcy2VJFQ==", "!!!"), 400),
            (
                GOOD.replace("Sec-WebSocket-Key: sN9cRrP/n9NdMgdcy2VJFQ==\r\n", ""),
                400,
            ),
            (
                format!("{GOOD}Sec-WebSocket-Key: sN9cRrP/n9NdMgdcy2VJFQ==\r\n"),
                400,
            ),
        ];
        for (raw, status) in cases {
            let err = offer(&format!("{raw}\r\n")).unwrap_err();
            assert_eq!(err.status(), status, "{raw}");
            let response = String::from_utf8(err.to_response()).unwrap();
            assert!(response.starts_with(&format!("HTTP/1.1 {status} ")));
            if status == 426 {
                assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));
                assert!(response.contains("Upgrade: websocket\r\n"));
            }
        }
    }

    #[test]
    fn token_lists_and_case() {
        let raw = GOOD
            .replace("Upgrade: websocket", "UPGRADE: foo, WebSocket")
            .replace("Connection: Upgrade", "connection: keep-alive,  upgrade");
        assert!(offer(&format!("{raw}\r\n")).is_ok());
    }

    #[test]
    fn negotiates_protocol_and_deflate() {
        let raw = format!("{GOOD}Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol: v2\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");
        let o = offer(&raw).unwrap();
        let accept = o.accept(&["v2", "superchat"], Some(&DeflateConfig::default()));
        assert_eq!(accept.protocol.as_deref(), Some("v2"));
        let response = String::from_utf8(accept.to_response(&[])).unwrap();
        assert!(response.contains("Sec-WebSocket-Protocol: v2\r\n"));
        assert!(response.contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
        assert_eq!(o.accept(&["mqtt"], None).protocol, None);
    }

    #[test]
    fn head_limits() {
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100));
        assert_eq!(
            parse_request(big.as_bytes(), 50),
            Err(HandshakeError::TooLarge)
        );
        assert_eq!(
            parse_request(&big.as_bytes()[..60], 50),
            Err(HandshakeError::TooLarge)
        );
        assert_eq!(parse_request(&big.as_bytes()[..40], 50), Ok(None));
        let many: String = (0..100).map(|i| format!("H{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            parse_request(raw.as_bytes(), 1 << 20),
            Err(HandshakeError::TooLarge)
        );
        assert!(matches!(
            parse_request(b"GARBAGE\x01\r\n\r\n", 100),
            Err(HandshakeError::Malformed(_))
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.0\r\n\r\n", 100),
            Err(HandshakeError::Malformed(_))
        ));
    }
}
