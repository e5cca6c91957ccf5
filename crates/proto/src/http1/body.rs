//! Reading an HTTP/1.1 request body off the bytes read ahead: a fixed
//! `Content-Length`, or `Transfer-Encoding: chunked` (RFC 9112 section 7.1)
//! with its trailer section. Sans-IO: it consumes what is buffered and
//! asks for more.
//!
//! Strict where a lenient reading could differ from another server's: a
//! chunk-size line is hex digits and well-formed extensions and nothing
//! else, every line ends in CRLF, and the trailer section carries no
//! framing, routing or connection field.
//!
//! ```
//! use bytes::BytesMut;
//! use pushwire_proto::http1::{BodyDecoder, Framing, Piece};
//! let mut buf = BytesMut::from(&b"5;ext=1\r\nhello\r\n0\r\n\r\nNEXT"[..]);
//! let mut body = BodyDecoder::new(Framing::Chunked);
//! assert_eq!(body.decode(&mut buf).unwrap(), Some(Piece::Data("hello".into())));
//! assert_eq!(body.decode(&mut buf).unwrap(), Some(Piece::End));
//! assert!(body.is_ended());
//! assert_eq!(&buf[..], b"NEXT", "the next request stays");
//! assert!(BodyDecoder::new(Framing::Chunked).decode(&mut BytesMut::from(&b"5 \r\n"[..])).is_err());
//! ```

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::{has_bare_line_break, Framing};

/// The longest chunk-size line (with its extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// The most fields a trailer section may have.
const MAX_TRAILERS: usize = 32;

/// Fields a trailer section must not carry (RFC 9110 section 6.5.1):
/// those that frame the message, route it or control the connection. A
/// reader that merged them into the header section would see another
/// message; the body is refused instead.
const FORBIDDEN_TRAILERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "trailer",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "expect",
];

/// The next piece of a body.
#[derive(Debug, PartialEq)]
pub enum Piece {
    /// Bytes of the body.
    Data(Bytes),
    /// The trailer section, which ends a chunked body that has one.
    Trailers(HeaderMap),
    /// The end of the body.
    End,
}

/// Why a body cannot be read: its framing is malformed, and the
/// connection cannot go on (what follows could not be told apart from
/// the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyError(&'static str);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body: {}", self.0)
    }
}

impl std::error::Error for BodyError {}

impl From<BodyError> for std::io::Error {
    fn from(e: BodyError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Reads one request body, framed as its head says.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
}

/// Where a body's reading stands.
#[derive(Debug)]
enum State {
    /// Bytes left of a `Content-Length` body.
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Bytes left of the current chunk.
    ChunkData(u64),
    /// Expecting the CRLF after a chunk's data.
    ChunkEnd,
    /// Expecting the trailer section after the last chunk.
    Trailers,
    /// The end was handed out.
    Ended,
}

impl BodyDecoder {
    /// A decoder for a body of this framing.
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty => State::Length(0),
            Framing::Length(len) => State::Length(len),
            Framing::Chunked => State::ChunkSize,
        };
        BodyDecoder { state }
    }

    /// Whether the end was handed out.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// The bytes left of a `Content-Length` body; `None` for a chunked
    /// one, whose length is not known.
    pub fn length_left(&self) -> Option<u64> {
        match self.state {
            State::Length(left) => Some(left),
            State::Ended => Some(0),
            _ => None,
        }
    }

    /// The next piece from `buf` (consuming it), or `None` when more
    /// bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Piece>, BodyError> {
        let state = &mut self.state;
        loop {
            match state {
                State::Length(0) => {
                    *state = State::Ended;
                    return Ok(Some(Piece::End));
                }
                State::Length(left) | State::ChunkData(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= take as u64;
                    if let State::ChunkData(0) = state {
                        *state = State::ChunkEnd;
                    }
                    return Ok(Some(Piece::Data(buf.split_to(take).freeze())));
                }
                State::ChunkSize => {
                    let Some(line) = take_line(buf, MAX_CHUNK_LINE)? else {
                        return Ok(None);
                    };
                    *state = match chunk_size(&line)? {
                        0 => State::Trailers,
                        size => State::ChunkData(size),
                    };
                }
                State::ChunkEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(invalid("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    *state = State::ChunkSize;
                }
                State::Trailers => {
                    let Some(trailers) = trailers(buf)? else {
                        return Ok(None);
                    };
                    *state = State::Ended;
                    return Ok(Some(if trailers.is_empty() {
                        Piece::End
                    } else {
                        Piece::Trailers(trailers)
                    }));
                }
                State::Ended => return Ok(None),
            }
        }
    }
}

fn invalid(why: &'static str) -> BodyError {
    BodyError(why)
}

/// Takes a CRLF-terminated line (without the CRLF) off `buf`.
fn take_line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, BodyError> {
    match buf.windows(2).position(|pair| pair == b"\r\n") {
        Some(end) if end <= max => {
            let line = buf.split_to(end);
            buf.advance(2);
            Ok(Some(line))
        }
        Some(_) => Err(invalid("chunk-size line too long")),
        None if buf.len() > max => Err(invalid("chunk-size line too long")),
        None => Ok(None),
    }
}

/// The size of a chunk-size line (RFC 9112 section 7.1): 1 to 16 hex
/// digits, then nothing but well-formed extensions (which are ignored).
fn chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(invalid("bad chunk size"));
    }
    if !chunk_extensions(&line[digits..]) {
        return Err(invalid("bad chunk size or extension"));
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| invalid("bad chunk size"))?;
    u64::from_str_radix(hex, 16).map_err(|_| invalid("bad chunk size"))
}

/// Whether `ext` is a chunk-ext (RFC 9112 section 7.1.1):
/// `*( BWS ";" BWS name [ BWS "=" BWS value ] )`, the name a token and
/// the value a token or a quoted-string. Anything else (a bare CR or LF,
/// a control byte, whitespace not before `;` or `=`) makes the line
/// unreadable, and a reader that took it another way would see another
/// body.
fn chunk_extensions(mut ext: &[u8]) -> bool {
    fn skip_bws(s: &[u8]) -> &[u8] {
        let ws = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        &s[ws..]
    }
    fn token(s: &[u8]) -> Option<&[u8]> {
        let len = s.iter().take_while(|&&b| is_tchar(b)).count();
        (len > 0).then(|| &s[len..])
    }
    fn quoted_string(s: &[u8]) -> Option<&[u8]> {
        let mut i = 1;
        if s.first() != Some(&b'"') {
            return None;
        }
        loop {
            match *s.get(i)? {
                b'"' => return Some(&s[i + 1..]),
                b'\\' => {
                    let escaped = *s.get(i + 1)?;
                    if !(escaped == b'\t' || escaped == b' ' || escaped >= 0x21 && escaped != 0x7f)
                    {
                        return None;
                    }
                    i += 2;
                }
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => i += 1,
                _ => return None,
            }
        }
    }
    loop {
        if ext.is_empty() {
            return true;
        }
        // Whitespace is only allowed before `;`: not alone after the
        // size (`5 `), nor at the end of the line.
        let Some(rest) = skip_bws(ext).strip_prefix(b";") else {
            return false;
        };
        let Some(rest) = token(skip_bws(rest)) else {
            return false;
        };
        let after_name = skip_bws(rest);
        ext = match after_name.strip_prefix(b"=") {
            Some(value) => {
                let value = skip_bws(value);
                match token(value).or_else(|| quoted_string(value)) {
                    Some(rest) => rest,
                    None => return false,
                }
            }
            None => rest,
        };
        // What follows a name or value is whitespace and `;`, or the
        // end: checked on the next round.
    }
}

/// A token character (RFC 9110 section 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The trailer section and the empty line ending it.
fn trailers(buf: &mut BytesMut) -> Result<Option<HeaderMap>, BodyError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILERS];
    let (len, fields) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(parsed)) => parsed,
        Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE * 4 => {
            return Err(invalid("trailer section too long"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(invalid("malformed trailer section")),
    };
    if has_bare_line_break(&buf[..len]) {
        return Err(invalid("bare CR or LF in the trailer section"));
    }
    let mut map = HeaderMap::new();
    for field in fields.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| invalid("malformed trailer name"))?;
        if FORBIDDEN_TRAILERS.contains(&name.as_str()) {
            return Err(invalid(
                "a framing, routing or connection field in the trailers",
            ));
        }
        let value =
            HeaderValue::from_bytes(field.value).map_err(|_| invalid("malformed trailer value"))?;
        map.append(name, value);
    }
    buf.advance(len);
    Ok(Some(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes.
    fn decode_all(
        framing: Framing,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, Piece), BodyError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match decoder.decode(&mut buf)? {
                Some(Piece::Data(data)) => body.extend_from_slice(&data),
                Some(last) => return Ok((body, last)),
                None => {
                    assert!(fed < input.len(), "ran out of input");
                    let end = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn content_length() {
        for step in [1, 3, 100] {
            let (body, last) = decode_all(Framing::Length(5), b"hello", step).unwrap();
            assert_eq!((&body[..], last), (&b"hello"[..], Piece::End));
        }
        let mut buf = BytesMut::from(&b"abcNEXT"[..]);
        let mut decoder = BodyDecoder::new(Framing::Length(3));
        assert_eq!(
            decoder.decode(&mut buf).unwrap(),
            Some(Piece::Data(Bytes::from_static(b"abc")))
        );
        assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Piece::End));
        assert_eq!(&buf[..], b"NEXT", "the next request stays");
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-sum: 12\r\n\r\nGET";
        for step in [1, 2, 7, 1000] {
            let (body, last) = decode_all(Framing::Chunked, &input[..input.len() - 3], step)
                .unwrap_or_else(|e| panic!("step {step}: {e}"));
            assert_eq!(body, b"hello, world");
            let Piece::Trailers(trailers) = last else {
                panic!("no trailers: {last:?}")
            };
            assert_eq!(trailers["x-sum"], "12");
        }
        let (body, last) =
            decode_all(Framing::Chunked, b"A\r\n0123456789\r\n0\r\n\r\n", 4).unwrap();
        assert_eq!((&body[..], last), (&b"0123456789"[..], Piece::End));
    }

    /// Decodes a whole chunked body: its data, or the first error.
    fn decode_chunked(input: &[u8]) -> Result<Vec<u8>, BodyError> {
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        let mut buf = BytesMut::from(input);
        let mut body = Vec::new();
        loop {
            match decoder.decode(&mut buf)? {
                Some(Piece::Data(data)) => body.extend_from_slice(&data),
                Some(_) => return Ok(body),
                None => return Err(BodyError("incomplete")),
            }
        }
    }

    #[test]
    fn well_formed_extensions_are_ignored() {
        for ext in [
            ";a",
            ";a=1",
            " ; a = 1 ",
            ";a=\"q \\\" x\";b;c=d",
            "\t;a\t=\t\"\"",
        ] {
            // (" ; a = 1 " ends with a space: refused below.)
            let input = format!("5{ext}\r\nhello\r\n0\r\n\r\n");
            let result = decode_chunked(input.as_bytes());
            if ext.ends_with(' ') {
                assert!(result.is_err(), "{ext:?}");
            } else {
                assert_eq!(result.unwrap(), b"hello", "{ext:?}");
            }
        }
    }

    #[test]
    fn malformed_chunks_are_errors() {
        for bad in [
            &b"x\r\n"[..],
            b"5\r\nhelloXX",
            b"-1\r\n",
            b"12345678901234567\r\n",
            b"10000000000000000\r\n",
            b"5 garbage\r\nhello\r\n0\r\n\r\n",
            // A chunk size with trailing whitespace.
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"5\t\r\nhello\r\n0\r\n\r\n",
            // Funky chunk extensions: bare LF, bare CR, control bytes,
            // a name that is not a token, an unterminated quote.
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b"5;a\rb\r\nhello\r\n0\r\n\r\n",
            b"5;a\x00\r\nhello\r\n0\r\n\r\n",
            b"5;a=\x01\r\nhello\r\n0\r\n\r\n",
            b"5;\r\nhello\r\n0\r\n\r\n",
            b"5;=1\r\nhello\r\n0\r\n\r\n",
            b"5;a=\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"b\r\nhello\r\n0\r\n\r\n",
            b"5;a b\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n",
            // A chunk line or a trailer line ended by a bare LF.
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\nX: a\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
            // Framing fields in the trailer section.
            b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n",
            b"5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\nhello\r\n0\r\nHost: x\r\n\r\n",
        ] {
            assert!(
                decode_chunked(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut long = BytesMut::from(&[b'1'; MAX_CHUNK_LINE + 10][..]);
        assert!(BodyDecoder::new(Framing::Chunked)
            .decode(&mut long)
            .is_err());
    }
}
