//! The client side of the opening handshake.

use base64::Engine;

use super::{accept_key, list_items, HandshakeError, MAX_HEADERS};
use crate::ws::deflate::{
    client_offer, parse_extensions, validate_response, DeflateConfig, DeflateParams,
};

/// Encodes 16 random bytes as a `Sec-WebSocket-Key`.
///
/// ```
/// use pushwire_proto::ws::handshake::generate_key;
/// assert_eq!(generate_key([0; 16]), "AAAAAAAAAAAAAAAAAAAAAA==");
/// ```
pub fn generate_key(nonce: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

/// An upgrade request a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// The `Host` header: host, and port when not the default.
    pub host: String,
    /// The request target: path and query.
    pub target: String,
    /// `Sec-WebSocket-Key`, from [`generate_key`].
    pub key: String,
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// permessage-deflate to offer, if any.
    pub deflate: Option<DeflateConfig>,
    /// More headers (e.g. `Origin`, `Authorization`).
    pub headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// The request head as bytes.
    ///
    /// ```
    /// use pushwire_proto::ws::handshake::ClientRequest;
    /// let req = ClientRequest { host: "example.com".into(), target: "/chat".into(),
    ///     key: "dGhlIHNhbXBsZSBub25jZQ==".into(), protocols: vec![], deflate: None, headers: vec![] };
    /// let text = String::from_utf8(req.encode()).unwrap();
    /// assert!(text.starts_with("GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
            self.target, self.host, self.key
        );
        if !self.protocols.is_empty() {
            out.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.protocols.join(", ")
            ));
        }
        if let Some(deflate) = &self.deflate {
            out.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                client_offer(deflate)
            ));
        }
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
}

/// Parses a response head from the start of `buf`; `Ok(None)`: read more.
pub fn parse_response(
    buf: &[u8],
    max_bytes: usize,
) -> Result<Option<(ServerResponse, usize)>, HandshakeError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut storage);
    match res.parse(buf) {
        Ok(httparse::Status::Complete(used)) if used <= max_bytes => {
            let headers = res
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            Ok(Some((
                ServerResponse {
                    status: res.code.unwrap_or_default(),
                    headers,
                },
                used,
            )))
        }
        Ok(httparse::Status::Complete(_)) => Err(HandshakeError::TooLarge),
        Ok(httparse::Status::Partial) if buf.len() >= max_bytes => Err(HandshakeError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooLarge),
        Err(_) => Err(HandshakeError::Malformed("invalid response head")),
    }
}

impl ServerResponse {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Checks that this response accepts `request`; returns the chosen
    /// subprotocol and the agreed permessage-deflate parameters.
    pub fn validate(
        &self,
        request: &ClientRequest,
    ) -> Result<(Option<String>, Option<DeflateParams>), HandshakeError> {
        let invalid = |what: &str| HandshakeError::InvalidResponse(what.to_owned());
        if self.status != 101 {
            return Err(HandshakeError::Rejected(self.status));
        }
        if !self
            .values("upgrade")
            .flat_map(list_items)
            .any(|t| t.eq_ignore_ascii_case("websocket"))
        {
            return Err(invalid("Upgrade is not websocket"));
        }
        if !self
            .values("connection")
            .flat_map(list_items)
            .any(|t| t.eq_ignore_ascii_case("upgrade"))
        {
            return Err(invalid("Connection does not include Upgrade"));
        }
        let expected = accept_key(request.key.as_bytes());
        if self
            .values("sec-websocket-accept")
            .map(str::trim)
            .ne([expected.as_str()])
        {
            return Err(invalid("Sec-WebSocket-Accept does not match the key"));
        }
        let protocols: Vec<&str> = self
            .values("sec-websocket-protocol")
            .flat_map(list_items)
            .collect();
        let protocol = match protocols.as_slice() {
            [] => None,
            [p] if request.protocols.iter().any(|o| o == p) => Some((*p).to_owned()),
            _ => return Err(invalid("Sec-WebSocket-Protocol was not offered")),
        };
        let extensions = self
            .values("sec-websocket-extensions")
            .collect::<Vec<_>>()
            .join(",");
        let deflate = if extensions.trim().is_empty() {
            None
        } else {
            let parsed = parse_extensions(&extensions)
                .ok_or_else(|| invalid("invalid Sec-WebSocket-Extensions"))?;
            let Some(config) = &request.deflate else {
                return Err(invalid("extension accepted that was not offered"));
            };
            validate_response(config, &parsed)
                .map_err(|e| HandshakeError::InvalidResponse(e.to_string()))?
        };
        Ok((protocol, deflate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ClientRequest {
        ClientRequest {
            host: "h".into(),
            target: "/".into(),
            key: "dGhlIHNhbXBsZSBub25jZQ==".into(),
            protocols: vec!["chat".into()],
            deflate: Some(DeflateConfig::default()),
            headers: vec![("Origin".into(), "http://h".into())],
        }
    }

    fn response(extra: &str) -> ServerResponse {
        let raw = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n");
        parse_response(raw.as_bytes(), 4096).unwrap().unwrap().0
    }

    #[test]
    fn accepts_a_valid_response() {
        let (protocol, deflate) = response("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n")
            .validate(&request())
            .unwrap();
        assert_eq!(protocol.as_deref(), Some("chat"));
        assert_eq!(deflate.unwrap().client_max_window_bits, 10);
        assert_eq!(response("").validate(&request()).unwrap(), (None, None));
    }

    #[test]
    fn rejects_invalid_responses() {
        assert!(response("Sec-WebSocket-Protocol: other\r\n")
            .validate(&request())
            .is_err());
        assert!(response("Sec-WebSocket-Extensions: x-foo\r\n")
            .validate(&request())
            .is_err());
        let mut wrong_key = response("");
        wrong_key
            .headers
            .retain(|(n, _)| n != "Sec-WebSocket-Accept");
        assert!(wrong_key.validate(&request()).is_err());
        let raw = b"HTTP/1.1 403 Forbidden\r\n\r\n";
        let (r, _) = parse_response(raw, 100).unwrap().unwrap();
        assert_eq!(r.validate(&request()), Err(HandshakeError::Rejected(403)));
    }

    #[test]
    fn request_carries_offers() {
        let text = String::from_utf8(request().encode()).unwrap();
        assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
        assert!(text
            .contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
        assert!(text.contains("Origin: http://h\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
