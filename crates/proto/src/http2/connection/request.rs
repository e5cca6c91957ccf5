//! An HTTP/2 request's header fields as an `http::Request` (RFC 9113
//! section 8.3), and a trailer section's as a `HeaderMap`.

use super::super::hpack::Header;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, Method, Request, Uri, Version};

/// A request decoded from its field block, and the body length it
/// announced.
#[derive(Debug)]
pub struct DecodedRequest {
    /// The request's head.
    pub request: Request<()>,
    /// `content-length`, which the DATA frames must add up to.
    pub content_length: Option<u64>,
    /// `:protocol` of an extended CONNECT (RFC 8441), such as
    /// `websocket`.
    pub protocol: Option<String>,
}

/// Why a request is malformed: its stream is reset with
/// `PROTOCOL_ERROR` (section 8.1.1).
pub type Malformed = &'static str;

/// The request that a HEADERS block's `fields` make.
pub fn request_from_fields(fields: Vec<Header>) -> Result<DecodedRequest, Malformed> {
    let mut method = None;
    let mut scheme = None;
    let mut authority = None;
    let mut path = None;
    let mut protocol = None;
    let mut headers = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let Some(pseudo) = field.name.strip_prefix(b":") else {
            let (name, value) = regular_field(field)?;
            headers.append(name, value);
            continue;
        };
        if !headers.is_empty() {
            return Err("pseudo-header after a regular field");
        }
        let slot = match pseudo {
            b"method" => &mut method,
            b"scheme" => &mut scheme,
            b"authority" => &mut authority,
            b"path" => &mut path,
            b"protocol" => &mut protocol,
            _ => return Err("unknown pseudo-header"),
        };
        if slot.replace(field.value).is_some() {
            return Err("pseudo-header repeated");
        }
    }
    let method = Method::from_bytes(&method.ok_or("no :method")?).map_err(|_| "bad :method")?;
    if let (Some(authority), Some(host)) = (&authority, headers.get(HOST)) {
        // Section 8.3.1: both name the same origin.
        if !host.as_bytes().eq_ignore_ascii_case(authority) {
            return Err("host differs from :authority");
        }
    }
    let connect = method == Method::CONNECT;
    if protocol.is_some() && !connect {
        return Err(":protocol on a request other than CONNECT");
    }
    let mut uri = Uri::builder();
    if connect && protocol.is_none() {
        // A plain CONNECT names its target in `:authority` alone.
        if scheme.is_some() || path.is_some() {
            return Err(":scheme or :path in a CONNECT");
        }
        uri = uri.authority(parse_authority(
            authority.ok_or("CONNECT without :authority")?,
        )?);
    } else {
        let path = path.filter(|path| !path.is_empty()).ok_or("no :path")?;
        // An origin-form target, or `*` for OPTIONS (section 8.3.1).
        if !(path.starts_with(b"/") || (method == Method::OPTIONS && path == "*")) {
            return Err("bad :path");
        }
        let scheme = scheme.ok_or("no :scheme")?;
        // An origin server serves its own schemes only.
        if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
            return Err(":scheme not http or https");
        }
        if let Some(authority) = authority {
            uri = uri
                .scheme(&scheme[..])
                .authority(parse_authority(authority)?);
        } else if protocol.is_some() {
            return Err("extended CONNECT without :authority");
        }
        uri = uri.path_and_query(PathAndQuery::from_maybe_shared(path).map_err(|_| "bad :path")?);
    }
    let content_length = content_length(&headers)?;
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri.build().map_err(|_| "bad request target")?;
    *request.version_mut() = Version::HTTP_2;
    *request.headers_mut() = headers;
    let protocol = match protocol {
        Some(protocol) => Some(
            std::str::from_utf8(&protocol)
                .map_err(|_| "bad :protocol")?
                .to_owned(),
        ),
        None => None,
    };
    Ok(DecodedRequest {
        request,
        content_length,
        protocol,
    })
}

/// The request's `content-length`: digits only, and every value the
/// same (RFC 9110 section 8.6), as fields of their own or a list.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, Malformed> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let digits = item.trim_ascii();
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err("bad content-length");
            }
            let parsed = digits.iter().try_fold(0u64, |len, &digit| {
                len.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
            });
            let parsed = parsed.ok_or("content-length too large")?;
            if length
                .replace(parsed)
                .is_some_and(|before| before != parsed)
            {
                return Err("content-length values differ");
            }
        }
    }
    Ok(length)
}

/// `:authority`: a host and an optional port, with no userinfo
/// (section 8.3.1).
fn parse_authority(authority: Bytes) -> Result<Authority, Malformed> {
    if authority.contains(&b'@') {
        return Err(":authority with userinfo");
    }
    let parsed = Authority::from_maybe_shared(authority).map_err(|_| "bad :authority")?;
    let host_end = parsed.as_str().rfind(']').unwrap_or(0);
    if let Some((_, port)) = parsed.as_str()[host_end..].rsplit_once(':') {
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err("bad :authority port");
        }
    }
    if parsed.host().is_empty() {
        return Err("empty :authority");
    }
    Ok(parsed)
}

/// A trailer section's fields: regular fields only.
pub fn trailers_from_fields(fields: Vec<Header>) -> Result<HeaderMap, Malformed> {
    let mut trailers = HeaderMap::with_capacity(fields.len());
    for field in fields {
        if field.name.starts_with(b":") {
            return Err("pseudo-header in trailers");
        }
        let (name, value) = regular_field(field)?;
        trailers.append(name, value);
    }
    Ok(trailers)
}

/// A regular field, refused if HTTP/2 forbids it (section 8.2).
fn regular_field(field: Header) -> Result<(HeaderName, HeaderValue), Malformed> {
    if field.name.iter().any(u8::is_ascii_uppercase) {
        return Err("uppercase field name");
    }
    let name = HeaderName::from_bytes(&field.name).map_err(|_| "bad field name")?;
    if is_connection_specific(&name, &field.value) {
        return Err("connection-specific field");
    }
    // No whitespace around the value (section 8.2.1); HeaderValue
    // refuses NUL, CR, LF and other control bytes.
    if field
        .value
        .first()
        .is_some_and(|b| matches!(b, b' ' | b'\t'))
        || field
            .value
            .last()
            .is_some_and(|b| matches!(b, b' ' | b'\t'))
    {
        return Err("whitespace around a field value");
    }
    let mut value = HeaderValue::from_maybe_shared(field.value).map_err(|_| "bad field value")?;
    value.set_sensitive(field.never_indexed);
    Ok((name, value))
}

/// The fields that describe an HTTP/1.1 connection, which HTTP/2 does
/// without (section 8.2.2); `te` is allowed as `trailers` only.
fn is_connection_specific(name: &HeaderName, value: &Bytes) -> bool {
    match name.as_str() {
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade" => true,
        "te" => value.as_ref() != b"trailers",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &'static str, value: &'static str) -> Header {
        Header {
            name: Bytes::from_static(name.as_bytes()),
            value: Bytes::from_static(value.as_bytes()),
            never_indexed: false,
        }
    }

    fn get(extra: &[(&'static str, &'static str)]) -> Vec<Header> {
        let mut fields = vec![
            header(":method", "GET"),
            header(":scheme", "https"),
            header(":authority", "example.com"),
            header(":path", "/a?b=c"),
        ];
        fields.extend(extra.iter().map(|&(name, value)| header(name, value)));
        fields
    }

    #[test]
    fn a_get_becomes_a_request_with_its_full_uri() {
        let head = request_from_fields(get(&[("accept", "*/*"), ("content-length", "0")])).unwrap();
        let request = head.request;
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), "https://example.com/a?b=c");
        assert_eq!(request.version(), Version::HTTP_2);
        assert_eq!(request.headers()["accept"], "*/*");
        assert_eq!(head.content_length, Some(0));
    }

    #[test]
    fn extended_connect_carries_its_protocol() {
        let fields = vec![
            header(":method", "CONNECT"),
            header(":protocol", "websocket"),
            header(":scheme", "http"),
            header(":path", "/chat"),
            header(":authority", "localhost"),
        ];
        let decoded = request_from_fields(fields).unwrap();
        assert_eq!(decoded.protocol.as_deref(), Some("websocket"));
        assert_eq!(decoded.request.uri().path(), "/chat");
    }

    #[test]
    fn malformed_requests_are_refused() {
        let cases: Vec<Vec<Header>> = vec![
            get(&[("Accept", "x")]),
            get(&[("connection", "close")]),
            get(&[("te", "gzip")]),
            get(&[("content-length", "ten")]),
            vec![header(":method", "GET"), header(":path", "/")],
            vec![header(":method", "GET"), header(":scheme", "http")],
            vec![
                header(":method", "GET"),
                header("accept", "x"),
                header(":path", "/"),
            ],
            vec![
                header(":method", "GET"),
                header(":method", "GET"),
                header(":scheme", "http"),
                header(":path", "/"),
            ],
            get(&[(":status", "200")]),
            vec![
                header(":method", "GET"),
                header(":protocol", "websocket"),
                header(":scheme", "http"),
                header(":path", "/"),
            ],
            vec![header(":method", "CONNECT"), header(":path", "/")],
            get(&[("content-length", "+4")]),
            get(&[("content-length", "4"), ("content-length", "5")]),
            get(&[("content-length", "4, 5")]),
            get(&[("x-v", " leading")]),
            get(&[("x-v", "trailing\t")]),
            get(&[("host", "elsewhere")]),
            vec![
                header(":method", "GET"),
                header(":scheme", "foo"),
                header(":path", "/"),
            ],
            vec![
                header(":method", "GET"),
                header(":scheme", "http"),
                header(":authority", "user@example.com"),
                header(":path", "/"),
            ],
            vec![
                header(":method", "GET"),
                header(":scheme", "http"),
                header(":authority", "example.com:xyz"),
                header(":path", "/"),
            ],
            vec![
                header(":method", "GET"),
                header(":scheme", "http"),
                header(":path", "relative"),
            ],
        ];
        for fields in cases {
            let names: Vec<_> = fields.iter().map(|f| f.name.clone()).collect();
            assert!(request_from_fields(fields).is_err(), "{names:?}");
        }
        assert!(request_from_fields(get(&[("te", "trailers")])).is_ok());
        let same_twice = get(&[("content-length", "4"), ("content-length", "4, 4")]);
        assert_eq!(
            request_from_fields(same_twice).unwrap().content_length,
            Some(4)
        );
        let ipv6 = vec![
            header(":method", "GET"),
            header(":scheme", "https"),
            header(":authority", "[::1]:8443"),
            header(":path", "/"),
            header("host", "[::1]:8443"),
        ];
        assert!(request_from_fields(ipv6).is_ok());
    }

    #[test]
    fn trailers_refuse_pseudo_headers() {
        assert!(trailers_from_fields(vec![header("grpc-status", "0")]).is_ok());
        assert!(trailers_from_fields(vec![header(":status", "200")]).is_err());
    }
}
