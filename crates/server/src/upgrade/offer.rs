//! Reading a WebSocket offer from an `http::Request`: an HTTP/1.1
//! `Upgrade` (RFC 6455 section 4.2.1) or an HTTP/2 extended CONNECT
//! (RFC 8441 section 4).

use http::{HeaderMap, Method, Request, Version};
use pushwire_proto::ws::deflate::parse_extensions;
use pushwire_proto::ws::handshake::{list_items, ClientOffer, HandshakeError};

/// `Ok(None)`: the request asks for no WebSocket.
pub(super) fn read_offer<B>(req: &Request<B>) -> Result<Option<ClientOffer>, HandshakeError> {
    match req.version() {
        Version::HTTP_2 => http2_offer(req),
        Version::HTTP_11 => http1_offer(req),
        Version::HTTP_09 | Version::HTTP_10 => match http1_offer(req) {
            Ok(None) => Ok(None),
            _ => Err(HandshakeError::Malformed("HTTP/1.1 required")),
        },
        _ => Ok(None),
    }
}

fn http1_offer<B>(req: &Request<B>) -> Result<Option<ClientOffer>, HandshakeError> {
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    match ClientOffer::from_headers(req.method().as_str(), headers) {
        Ok(offer) => Ok(Some(offer)),
        Err(HandshakeError::NotWebSocket) => Ok(None),
        Err(e) => Err(e),
    }
}

fn http2_offer<B>(req: &Request<B>) -> Result<Option<ClientOffer>, HandshakeError> {
    if req.method() != Method::CONNECT {
        return Ok(None);
    }
    // A CONNECT without `:protocol` is a tunnel for a proxy: not ours.
    // `:protocol` as pushwire's HTTP/2 server or as hyper's passes it on.
    let extensions = req.extensions();
    let Some(protocol) = extensions
        .get::<h2::ext::Protocol>()
        .map(h2::ext::Protocol::as_str)
        .or_else(|| {
            extensions
                .get::<hyper::ext::Protocol>()
                .map(hyper::ext::Protocol::as_str)
        })
    else {
        return Ok(None);
    };
    if !protocol.eq_ignore_ascii_case("websocket") {
        return Ok(None);
    }
    let headers = req.headers();
    let mut versions = headers.get_all("sec-websocket-version").iter();
    match (versions.next(), versions.next()) {
        (Some(version), None) if version.as_bytes().trim_ascii() == b"13" => {}
        _ => return Err(HandshakeError::UnsupportedVersion),
    }
    let protocols = tokens(headers, "sec-websocket-protocol")?;
    let extensions = tokens(headers, "sec-websocket-extensions")?;
    let extensions = if extensions.is_empty() {
        Vec::new()
    } else {
        parse_extensions(&extensions.join(",")).ok_or(HandshakeError::BadRequest(
            "invalid Sec-WebSocket-Extensions",
        ))?
    };
    Ok(Some(ClientOffer {
        // RFC 8441 has no key: the stream is already the client's own.
        key: String::new(),
        protocols,
        extensions,
    }))
}

/// The comma-separated elements of every `name` header, trimmed.
/// (Extension elements keep their `;` parameters.)
fn tokens(headers: &HeaderMap, name: &str) -> Result<Vec<String>, HandshakeError> {
    let mut out = Vec::new();
    for value in headers.get_all(name) {
        let text = value
            .to_str()
            .map_err(|_| HandshakeError::Malformed("non-ASCII header value"))?;
        out.extend(list_items(text).map(str::to_owned));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h2(headers: &[(&str, &str)], protocol: Option<&str>) -> Request<()> {
        let mut req = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://example.com/chat");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let mut req = req.body(()).unwrap();
        if let Some(protocol) = protocol {
            req.extensions_mut()
                .insert(hyper::ext::Protocol::from_static(match protocol {
                    "websocket" => "websocket",
                    _ => "other",
                }));
        }
        req
    }

    #[test]
    fn http2_extended_connect() {
        let req = h2(
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "chat, superchat"),
                ("sec-websocket-protocol", "v2"),
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; client_max_window_bits",
                ),
            ],
            Some("websocket"),
        );
        let offer = read_offer(&req).unwrap().unwrap();
        assert_eq!(offer.protocols, ["chat", "superchat", "v2"]);
        assert_eq!(offer.extensions.len(), 1);
        assert_eq!(offer.extensions[0].name, "permessage-deflate");
    }

    #[test]
    fn http2_rejections() {
        let no_version = h2(&[], Some("websocket"));
        assert_eq!(
            read_offer(&no_version),
            Err(HandshakeError::UnsupportedVersion)
        );
        let old = h2(&[("sec-websocket-version", "8")], Some("websocket"));
        assert_eq!(read_offer(&old), Err(HandshakeError::UnsupportedVersion));
        let bad_ext = h2(
            &[
                ("sec-websocket-version", "13"),
                ("sec-websocket-extensions", "permessage-deflate; ="),
            ],
            Some("websocket"),
        );
        assert_eq!(read_offer(&bad_ext).unwrap_err().status(), 400);
        // Not WebSocket: a proxy CONNECT, another protocol, a plain GET.
        assert_eq!(read_offer(&h2(&[], None)), Ok(None));
        assert_eq!(read_offer(&h2(&[], Some("other"))), Ok(None));
        let get = Request::builder()
            .version(Version::HTTP_2)
            .body(())
            .unwrap();
        assert_eq!(read_offer(&get), Ok(None));
    }

    #[test]
    fn http1_upgrade() {
        let req = Request::builder()
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        let offer = read_offer(&req).unwrap().unwrap();
        assert_eq!(offer.key, "dGhlIHNhbXBsZSBub25jZQ==");
        let plain = Request::builder().body(()).unwrap();
        assert_eq!(read_offer(&plain), Ok(None));
        let mut old = Request::builder()
            .version(Version::HTTP_10)
            .body(())
            .unwrap();
        *old.headers_mut() = req.headers().clone();
        assert_eq!(read_offer(&old).unwrap_err().status(), 400);
    }
}
