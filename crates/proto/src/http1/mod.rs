//! Parsing an HTTP/1.x request head (RFC 9112 sections 2 to 6) into
//! [`http::request::Parts`], with what the connection needs to know:
//! how the body is delimited, whether the connection stays open, and
//! whether the client asks for an upgrade or a `100 Continue`.
//!
//! It is strict where a lenient reading could differ from another
//! server's on the way (request smuggling, RFC 9112 section 11.2): every
//! line ends in CRLF (a bare CR or LF is refused), `Host` is required
//! once and valid ([`valid_host`]), a request target is in origin-form
//! (`/…`), absolute-form, `*` (OPTIONS) or authority-form (CONNECT),
//! `chunked` is the one and last transfer coding, `Content-Length` values
//! agree, and an upgrade request carries no content. What it refuses is
//! answered `400` (`501` for an unknown transfer coding, `505` for
//! another major version) and the connection closes.
//!
//! This is the parser of a server's requests; the lenient one of a
//! WebSocket handshake on a raw stream, which keeps header names as sent
//! and asks for nothing but HTTP/1.1, is
//! [`handshake::parse_request`](crate::ws::handshake::parse_request).
//!
//! ```
//! use pushwire_proto::http1::{self, Framing};
//! let raw = b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
//! assert!(http1::is_complete(raw, 0));
//! let (len, head) = http1::parse(raw).unwrap().expect("complete");
//! assert_eq!((len, head.framing), (raw.len() - 5, Framing::Length(5)));
//! assert_eq!(head.parts.uri, "/chat");
//! assert!(head.keep_alive && !head.upgrade);
//! ```

mod body;
mod host;

pub use body::{BodyDecoder, BodyError, Piece};
pub use host::valid_host;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING, UPGRADE};
use http::{
    request, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version,
};

/// The most header fields a request may have.
pub const MAX_HEADERS: usize = 100;

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub struct Head {
    /// Method, URI, version and header fields. The URI and the header
    /// values share one copy of the head's bytes.
    pub parts: request::Parts,
    /// How the body is delimited.
    pub framing: Framing,
    /// The client lets the connection stay open after this exchange.
    pub keep_alive: bool,
    /// `Connection: upgrade` with an `Upgrade` header.
    pub upgrade: bool,
    /// `Expect: 100-continue` on a request with a body.
    pub expect_continue: bool,
}

/// Why a head is refused: answered with its status, then the
/// connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Malformed: `400 Bad Request`.
    Malformed(&'static str),
    /// Longer than the server allows, or too many fields: `431`.
    TooLarge,
    /// A transfer coding other than `chunked`: `501 Not Implemented`.
    UnknownCoding,
    /// A well-formed version of another major number than 1 (later
    /// minor versions of HTTP/1 are served as HTTP/1.1):
    /// `505 HTTP Version Not Supported`. A malformed one (`http/1.1`,
    /// `HTTP/1.10`) is [`HeadError::Malformed`].
    Version,
}

impl HeadError {
    /// The status to answer with.
    pub fn status(self) -> StatusCode {
        match self {
            HeadError::Malformed(_) => StatusCode::BAD_REQUEST,
            HeadError::TooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            HeadError::UnknownCoding => StatusCode::NOT_IMPLEMENTED,
            HeadError::Version => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        }
    }
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::Malformed(why) => write!(f, "malformed request: {why}"),
            HeadError::TooLarge => f.write_str("request head too large"),
            HeadError::UnknownCoding => f.write_str("unsupported transfer coding"),
            HeadError::Version => f.write_str("unsupported HTTP version"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Whether `buf` holds a whole head: an empty line after the request
/// line. Looks from `from` on (less three bytes), so that a head
/// arriving in many small reads is scanned once, not once per read.
pub fn is_complete(buf: &[u8], from: usize) -> bool {
    let start = from.saturating_sub(3);
    buf.get(start..).is_some_and(|tail| {
        tail.iter().enumerate().any(|(i, &b)| {
            b == b'\n'
                && match tail.get(i + 1) {
                    Some(b'\n') => true,
                    Some(b'\r') => tail.get(i + 2) == Some(&b'\n'),
                    _ => false,
                }
        })
    })
}

/// What the version at the end of a request line says, when the
/// request-line parser refused it.
enum OtherVersion {
    /// The request line is still arriving.
    Partial,
    /// `HTTP/1.2` to `HTTP/1.9`: where the minor digit sits.
    LaterMinor(usize),
    /// `HTTP/<d>.<d>` with another major number.
    OtherMajor,
    /// Not `HTTP-name "/" DIGIT "." DIGIT` (RFC 9112 section 2.3; the
    /// name is case-sensitive).
    Malformed,
}

/// Reads the version of the request line at the start of `buf`.
fn other_version(buf: &[u8]) -> OtherVersion {
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return OtherVersion::Partial;
    };
    let line = &buf[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let start = line.iter().rposition(|&b| b == b' ').map_or(0, |at| at + 1);
    match &line[start..] {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'2'..=b'9'] => {
            OtherVersion::LaterMinor(line.len() - 1)
        }
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() && *major != b'1' =>
        {
            OtherVersion::OtherMajor
        }
        _ => OtherVersion::Malformed,
    }
}

/// Whether `lines` holds a bare CR or a bare LF: every line of a head or
/// trailer section ends in CRLF (RFC 9112 section 2.2: a bare CR must be
/// refused; a bare LF may be taken for a line end, which this parser
/// does not, so that no front end reads a line this parser does not).
///
/// ```
/// use pushwire_proto::http1::has_bare_line_break;
/// assert!(!has_bare_line_break(b"Host: x\r\n\r\n"));
/// assert!(has_bare_line_break(b"Host: x\n\r\n"));
/// assert!(has_bare_line_break(b"X: a\rb\r\n"));
/// ```
pub fn has_bare_line_break(lines: &[u8]) -> bool {
    lines.iter().enumerate().any(|(i, &b)| match b {
        b'\r' => lines.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || lines[i - 1] != b'\r',
        _ => false,
    })
}

/// Parses the head at the start of `buf`: the head and its length, or
/// `None` if it is not complete yet.
pub fn parse(buf: &[u8]) -> Result<Option<(usize, Head)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => {
            return match other_version(buf) {
                OtherVersion::Partial => Ok(None),
                // RFC 9112 section 2.3: a later minor version of HTTP/1 is
                // served as the highest one implemented, HTTP/1.1.
                OtherVersion::LaterMinor(at) => {
                    let mut as_http11 = buf.to_vec();
                    as_http11[at] = b'1';
                    parse(&as_http11)
                }
                OtherVersion::OtherMajor => Err(HeadError::Version),
                OtherVersion::Malformed => Err(HeadError::Malformed("bad HTTP version")),
            };
        }
        Err(e) => return Err(HeadError::Malformed(parse_error(e))),
    };
    if has_bare_line_break(&buf[..len]) {
        return Err(HeadError::Malformed("bare CR or LF in the head"));
    }
    // One copy of the head, which the URI and header values share: the
    // connection's read buffer is not pinned by a request that lives long.
    let head = Bytes::copy_from_slice(&buf[..len]);
    let within = |part: &[u8]| {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        head.slice(start..start + part.len())
    };
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes())
        .map_err(|_| HeadError::Malformed("bad method"))?;
    let path = req.path.unwrap_or_default();
    let uri = Uri::from_maybe_shared(within(path.as_bytes()))
        .map_err(|_| HeadError::Malformed("bad request target"))?;
    if !valid_target(&method, path, &uri) {
        return Err(HeadError::Malformed("bad request target"));
    }
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for field in req.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| HeadError::Malformed("bad header name"))?;
        let value = HeaderValue::from_maybe_shared(within(field.value))
            .map_err(|_| HeadError::Malformed("bad header value"))?;
        headers.append(name, value);
    }
    // RFC 9112 section 3.2: exactly one Host in HTTP/1.1, at most one
    // in HTTP/1.0, and a valid one.
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(HeadError::Malformed("more than one Host header")),
        (None, _) if version == Version::HTTP_11 => {
            return Err(HeadError::Malformed("HTTP/1.1 needs a Host header"))
        }
        (Some(host), None) if !valid_host(host.as_bytes()) => {
            return Err(HeadError::Malformed("invalid Host header"))
        }
        _ => {}
    }
    let framing = framing(&headers, version)?;
    let keep_alive = if version == Version::HTTP_10 {
        has_token(&headers, CONNECTION, "keep-alive")
    } else {
        !has_token(&headers, CONNECTION, "close")
    };
    let upgrade = version == Version::HTTP_11
        && headers.contains_key(UPGRADE)
        && has_token(&headers, CONNECTION, "upgrade");
    // RFC 9112 section 6.3: the request ends after its content, and what
    // follows belongs to the new protocol. A handshake with content would
    // have its body read as the new protocol's bytes, or the new
    // protocol's bytes taken for its body; it is refused.
    if upgrade && framing != Framing::Empty {
        return Err(HeadError::Malformed("an upgrade request with content"));
    }
    let expect_continue = version == Version::HTTP_11
        && framing != Framing::Empty
        && headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let (parts, ()) = request.into_parts();
    Ok(Some((
        len,
        Head {
            parts,
            framing,
            keep_alive,
            upgrade,
            expect_continue,
        },
    )))
}

/// Whether the request target has a form the method allows (RFC 9112
/// section 3.2): origin-form (`/path?query`) for any method,
/// absolute-form (`http(s)://authority/…`, without userinfo) for any,
/// asterisk-form (`*`) for OPTIONS, authority-form (`host:port`) for
/// CONNECT.
fn valid_target(method: &Method, target: &str, uri: &Uri) -> bool {
    if target.starts_with('/') {
        return true;
    }
    if target == "*" {
        return method == Method::OPTIONS;
    }
    let Some(authority) = uri.authority() else {
        return false;
    };
    if authority.as_str().contains('@') || !valid_host(authority.as_str().as_bytes()) {
        return false;
    }
    match uri.scheme_str() {
        Some(scheme) => scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"),
        None => method == Method::CONNECT && authority.port().is_some(),
    }
}

fn parse_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "bad header name",
        httparse::Error::HeaderValue => "bad header value",
        httparse::Error::NewLine => "bad line ending",
        httparse::Error::Status | httparse::Error::Token => "bad request line",
        _ => "bad request head",
    }
}

/// How the body is delimited (RFC 9112 section 6.3). A request with both
/// `Transfer-Encoding` and `Content-Length` is refused: the two could be
/// read differently by a proxy in front (request smuggling).
fn framing(headers: &HeaderMap, version: Version) -> Result<Framing, HeadError> {
    if headers.contains_key(TRANSFER_ENCODING) {
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(HeadError::Malformed(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        if version == Version::HTTP_10 {
            return Err(HeadError::Malformed("Transfer-Encoding in HTTP/1.0"));
        }
        let codings: Vec<&[u8]> = list_items(headers, TRANSFER_ENCODING)
            .filter(|coding| !coding.is_empty())
            .collect();
        let chunked = |coding: &[u8]| coding.eq_ignore_ascii_case(b"chunked");
        if codings.iter().filter(|coding| chunked(coding)).count() > 1 {
            // RFC 9112 section 6.1: chunked is applied at most once.
            return Err(HeadError::Malformed("chunked applied more than once"));
        }
        return match codings.as_slice() {
            [coding] if chunked(coding) => Ok(Framing::Chunked),
            [.., last] if chunked(last) => Err(HeadError::UnknownCoding),
            // chunked is not the last coding: the length is unknowable.
            _ => Err(HeadError::Malformed(
                "Transfer-Encoding without final chunked",
            )),
        };
    }
    let mut length = None;
    for item in list_items(headers, CONTENT_LENGTH) {
        let parsed = std::str::from_utf8(item)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(HeadError::Malformed("bad Content-Length"))?;
        if length.is_some_and(|len| len != parsed) {
            return Err(HeadError::Malformed("conflicting Content-Length values"));
        }
        length = Some(parsed);
    }
    Ok(match length {
        None | Some(0) => Framing::Empty,
        Some(len) => Framing::Length(len),
    })
}

/// The elements of every `name` field's comma-separated list, trimmed
/// (empty ones included).
fn list_items(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

/// Whether a comma-separated header holds `token` (case-insensitively).
pub fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    list_items(headers, name).any(|item| item.eq_ignore_ascii_case(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, HeadError> {
        let (len, head) = parse(text.as_bytes())?.expect("complete");
        assert_eq!(len, text.len());
        Ok(head)
    }

    #[test]
    fn a_plain_get() {
        let h = head("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Two: 1\r\nX-Two: 2\r\n\r\n").unwrap();
        assert_eq!(h.parts.method, Method::GET);
        assert_eq!(h.parts.uri, "/a?b=c");
        assert_eq!(h.parts.version, Version::HTTP_11);
        assert_eq!(h.parts.headers.get_all("x-two").iter().count(), 2);
        assert_eq!(h.framing, Framing::Empty);
        assert!(h.keep_alive && !h.upgrade && !h.expect_continue);
    }

    #[test]
    fn a_later_http1_minor_version_is_served_as_http11() {
        let h =
            head("GET / HTTP/1.2\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
                .unwrap();
        assert_eq!(h.parts.version, Version::HTTP_11);
        assert!(h.keep_alive && h.upgrade);
        assert!(
            matches!(parse(b"GET / HTTP/1.9"), Ok(None)),
            "still arriving"
        );
        assert!(
            matches!(
                parse(b"GET / HTTP/1.3\r\n\r\n"),
                Err(HeadError::Malformed(_))
            ),
            "and held to HTTP/1.1's rules: Host is required"
        );
    }

    #[test]
    fn connection_semantics() {
        let get = |version: &str, headers: &str| {
            head(&format!("GET / HTTP/{version}\r\nHost: x\r\n{headers}\r\n")).unwrap()
        };
        assert!(!get("1.1", "Connection: close\r\n").keep_alive);
        assert!(!get("1.0", "").keep_alive);
        assert!(get("1.0", "Connection: Keep-Alive\r\n").keep_alive);
        let up = get(
            "1.1",
            "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n",
        );
        assert!(up.upgrade);
        assert!(!get("1.1", "Upgrade: websocket\r\n").upgrade);
    }

    #[test]
    fn body_framing() {
        let post = |headers: &str| head(&format!("POST / HTTP/1.1\r\nHost: x\r\n{headers}\r\n"));
        assert_eq!(
            post("Content-Length: 5\r\n").unwrap().framing,
            Framing::Length(5)
        );
        assert_eq!(
            post("Content-Length: 5, 5\r\n").unwrap().framing,
            Framing::Length(5)
        );
        assert_eq!(
            post("Transfer-Encoding: chunked\r\n").unwrap().framing,
            Framing::Chunked
        );
        let continued = post("Content-Length: 5\r\nExpect: 100-continue\r\n").unwrap();
        assert!(continued.expect_continue);
        for bad in [
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: -5\r\n",
            "Content-Length: 5x\r\n",
            "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked, gzip\r\n",
        ] {
            assert_eq!(
                post(bad).unwrap_err().status(),
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        let gzip = post("Transfer-Encoding: gzip, chunked\r\n").unwrap_err();
        assert_eq!(gzip, HeadError::UnknownCoding);
    }

    #[test]
    fn partial_and_refused_heads() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost:").unwrap().is_none());
        for hosts in ["", "Host: a\r\nHost: b\r\n"] {
            let text = format!("GET / HTTP/1.1\r\n{hosts}\r\n");
            assert!(
                matches!(parse(text.as_bytes()), Err(HeadError::Malformed(_))),
                "{hosts:?}"
            );
        }
        assert!(
            parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().is_some(),
            "HTTP/1.0 needs none"
        );
        assert_eq!(
            parse(b"GET / HTTP/2.0\r\n\r\n").unwrap_err(),
            HeadError::Version
        );
        assert!(matches!(
            parse(b"GET / HTTP/1.10\r\nHost: x\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET\x01 / HTTP/1.1\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("x-{i}: 1\r\n"))
            .collect();
        let text = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        assert_eq!(parse(text.as_bytes()).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn host_values_are_checked() {
        let get = |host: &str| parse(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        for good in ["x", "127.0.0.1:8080", "[::1]:9", "example.com"] {
            assert!(get(good).unwrap().is_some(), "{good}");
        }
        for bad in ["a, b", "a b", "u@a", "a:xyz", "a/b?c"] {
            assert!(matches!(get(bad), Err(HeadError::Malformed(_))), "{bad}");
        }
        assert!(
            parse(b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n").is_err(),
            "never two, HTTP/1.0 included"
        );
    }

    #[test]
    fn request_targets_need_their_form() {
        let line = |line: &str| parse(format!("{line}\r\nHost: x\r\n\r\n").as_bytes());
        for good in [
            "GET / HTTP/1.1",
            "GET /a?b HTTP/1.1",
            "OPTIONS * HTTP/1.1",
            "GET http://x/a HTTP/1.1",
            "GET HTTPS://x:443 HTTP/1.1",
            "CONNECT x:443 HTTP/1.1",
        ] {
            assert!(line(good).unwrap().is_some(), "{good}");
        }
        for bad in [
            "GET a HTTP/1.1",
            "GET x:80 HTTP/1.1",
            "GET * HTTP/1.1",
            "GET ftp://x/ HTTP/1.1",
            "GET http://u@x/ HTTP/1.1",
            "CONNECT x HTTP/1.1",
        ] {
            assert!(matches!(line(bad), Err(HeadError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn versions_malformed_and_other() {
        let line = |version: &str| parse(format!("GET / {version}\r\nHost: x\r\n\r\n").as_bytes());
        for malformed in [
            "http/1.1",
            "HTTP/1",
            "HTTP/1.1.1",
            "HTTP/11",
            "HTTP/1.x",
            "HTTPS/1.1",
        ] {
            assert!(
                matches!(line(malformed), Err(HeadError::Malformed(_))),
                "{malformed}"
            );
        }
        for other in ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"] {
            assert_eq!(line(other).unwrap_err(), HeadError::Version, "{other}");
        }
    }

    #[test]
    fn bare_cr_and_lf_are_refused() {
        for bad in [
            "GET / HTTP/1.1\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(HeadError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn upgrades_carry_no_content_and_chunked_comes_once() {
        let upgrade = "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n";
        for framing in ["Content-Length: 13\r\n", "Transfer-Encoding: chunked\r\n"] {
            let text = format!("{upgrade}{framing}\r\n");
            assert!(matches!(
                parse(text.as_bytes()),
                Err(HeadError::Malformed(_))
            ));
        }
        let empty = format!("{upgrade}Content-Length: 0\r\n\r\n");
        assert!(parse(empty.as_bytes()).unwrap().unwrap().1.upgrade);
        for twice in ["chunked, chunked", "chunked\r\nTransfer-Encoding: chunked"] {
            let text = format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {twice}\r\n\r\n");
            assert!(
                matches!(parse(text.as_bytes()), Err(HeadError::Malformed(_))),
                "{twice}"
            );
        }
    }

    #[test]
    fn completeness_scan() {
        let text = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(is_complete(text, 0));
        assert!(is_complete(text, text.len() - 1));
        assert!(!is_complete(&text[..text.len() - 1], 0));
        assert!(is_complete(b"GET / HTTP/1.0\n\n", 15));
    }
}
