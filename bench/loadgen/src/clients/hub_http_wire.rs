//! What the hub's fallback transports put on the wire, seen from a
//! browser: the request heads (browser-sized: user agent, accept,
//! referer, cookie, origin, as `fetch` and `EventSource` send them from a
//! page of the same origin) for opening an HTTP stream
//! (`POST /connection/http_stream`), an SSE stream
//! (`GET /connection/sse?cf_connect=…`) or a long-poll session
//! (`POST /connection/long_poll`), for a poll
//! (`POST /connection/long_poll?session=…&ack=N`, no body) and for the
//! later commands (`POST /emulation` with `{"session","node","data"}`),
//! and [`StreamReader`], which reads a streaming response (head, chunked
//! body) into the protocol's lines: `\n`-delimited JSON for
//! `http_stream`, the `data:` lines of the events for `sse`.

use super::chunked::{self, ChunkedDecoder};

/// The most bytes a response head may take.
const MAX_HEAD: usize = 16 * 1024;
/// The longest line accepted from a stream (the hub's are far shorter).
const MAX_LINE: usize = 1 << 20;

/// A fallback transport of the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpTransport {
    /// `POST /connection/http_stream`: replies and pushes as lines.
    HttpStream,
    /// `GET /connection/sse?cf_connect=…`: one `data:` event each.
    Sse,
    /// `POST /connection/long_poll`, then held polls with a cursor.
    LongPoll,
}

impl HttpTransport {
    /// Its name in centrifuge-js and pushwire.js.
    pub fn name(self) -> &'static str {
        match self {
            HttpTransport::HttpStream => "http_stream",
            HttpTransport::Sse => "sse",
            HttpTransport::LongPoll => "long_polling",
        }
    }

    /// The request that opens a session with `connect` (the connect
    /// command's JSON).
    pub fn open_request(self, host: &str, connect: &str) -> Vec<u8> {
        match self {
            HttpTransport::HttpStream => post(
                host,
                "/connection/http_stream",
                "application/json",
                connect.as_bytes(),
            ),
            HttpTransport::LongPoll => post(
                host,
                "/connection/long_poll",
                "application/json",
                connect.as_bytes(),
            ),
            HttpTransport::Sse => format!(
                "GET /connection/sse?cf_connect={} HTTP/1.1\r\n\
                 Host: {host}\r\n\
                 Connection: keep-alive\r\n\
                 {BROWSER}\
                 Accept: text/event-stream\r\n\
                 Cache-Control: no-cache\r\n\
                 Referer: http://{host}/chat/general\r\n\
                 {COOKIE}\
                 \r\n",
                percent_encode(connect)
            )
            .into_bytes(),
        }
    }
}

/// The head lines every browser request carries here.
const BROWSER: &str = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
     Accept-Encoding: gzip, deflate, br, zstd\r\n\
     Accept-Language: en-US,en;q=0.9\r\n";
/// The page's cookies (the same as the other HTTP clients').
const COOKIE: &str = "Cookie: sessionid=8f2b6c1e9d4a7f3b5c0e2d1a6b9c8e7f; \
     csrftoken=Jq3xV9mK2pL7nR4tY8wZ1bC6dF0gH5sA\r\n";

/// A browser's `fetch` POST from a page of the same origin.
fn post(host: &str, target: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Connection: keep-alive\r\n\
         Content-Length: {}\r\n\
         {BROWSER}\
         Accept: application/json\r\n\
         Content-Type: {content_type}\r\n\
         Origin: http://{host}\r\n\
         Referer: http://{host}/chat/general\r\n\
         {COOKIE}\
         \r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A poll of long-poll session `session` that has processed batch `ack`:
/// no body and no content type, as pushwire.js sends it (a simple
/// request, no preflight).
pub fn poll_request(host: &str, session: &str, ack: u64) -> Vec<u8> {
    format!(
        "POST /connection/long_poll?session={}&ack={ack} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Connection: keep-alive\r\n\
         Content-Length: 0\r\n\
         {BROWSER}\
         Accept: */*\r\n\
         Origin: http://{host}\r\n\
         Referer: http://{host}/chat/general\r\n\
         {COOKIE}\
         \r\n",
        percent_encode(session)
    )
    .into_bytes()
}

/// `POST /emulation` carrying `commands` (`\n`-joined) for `session` on
/// `node`.
pub fn emulation_request(host: &str, session: &str, node: &str, commands: &str) -> Vec<u8> {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    let body = format!(
        r#"{{"session":{},"node":{},"data":{}}}"#,
        quoted(session),
        quoted(node),
        quoted(commands)
    );
    post(host, "/emulation", "application/json", body.as_bytes())
}

/// `text` percent-encoded for a query string (unreserved characters kept).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What a streaming response yielded.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamItem<'a> {
    /// One protocol message (a reply, a push, a ping `{}`).
    Line(&'a [u8]),
    /// The body ended.
    Ended,
}

/// Where the reader is in the response.
#[derive(Debug)]
enum Phase {
    Head(Vec<u8>),
    /// In the body; `None` when it runs until the connection closes.
    Body(Option<ChunkedDecoder>),
    Ended,
}

/// Incremental reader of one streaming response of the hub.
#[derive(Debug)]
pub struct StreamReader {
    sse: bool,
    phase: Phase,
    /// The body's bytes not yet split into lines.
    pending: Vec<u8>,
}

impl StreamReader {
    /// A reader of an `http_stream` (`sse: false`) or `sse` response.
    pub fn new(sse: bool) -> Self {
        StreamReader {
            sse,
            phase: Phase::Head(Vec::new()),
            pending: Vec::new(),
        }
    }

    /// Consumes bytes read from the connection, calling `item` for every
    /// message and for the end of the body.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut item: impl FnMut(StreamItem<'_>),
    ) -> Result<(), String> {
        if let Phase::Head(head) = &mut self.phase {
            let seen = head.len();
            head.extend_from_slice(data);
            let from = seen.saturating_sub(3);
            let Some(end) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
                if head.len() > MAX_HEAD {
                    return Err("response head too long".to_owned());
                }
                return Ok(());
            };
            let head_len = from + end + 4;
            let chunked = check_head(&head[..head_len])?;
            data = &data[head_len - seen..];
            self.phase = Phase::Body(chunked.then(ChunkedDecoder::default));
        }
        let mut ended = false;
        match &mut self.phase {
            Phase::Body(Some(decoder)) => {
                let pending = &mut self.pending;
                decoder
                    .feed(data, |body| pending.extend_from_slice(body))
                    .map_err(|chunked::Malformed(why)| why.to_owned())?;
                ended = decoder.is_done();
            }
            Phase::Body(None) => self.pending.extend_from_slice(data),
            Phase::Ended if data.is_empty() => return Ok(()),
            Phase::Ended | Phase::Head(_) => return Err("bytes after the stream ended".to_owned()),
        }
        let mut start = 0;
        while let Some(at) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let mut line = &self.pending[start..start + at];
            start += at + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if self.sse {
                // `data: <message>`; blank lines end events, `\r\n` opens.
                match line.strip_prefix(b"data:") {
                    Some(rest) => line = rest.strip_prefix(b" ").unwrap_or(rest),
                    None => continue,
                }
            }
            if !line.is_empty() {
                item(StreamItem::Line(line));
            }
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_LINE {
            return Err("a line over 1 MiB".to_owned());
        }
        if self.pending.capacity() > 4096 && self.pending.is_empty() {
            self.pending = Vec::new();
        }
        if ended {
            self.phase = Phase::Ended;
            item(StreamItem::Ended);
        }
        Ok(())
    }
}

/// Checks a streaming response's head; returns whether it is chunked.
fn check_head(head: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("the stream was answered {status:?}"));
    }
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().to_ascii_lowercase().ends_with("chunked");
            }
        }
    }
    Ok(chunked)
}

/// The JSON string value of `"key":"…"` in `line` (no escapes expected:
/// sessions and node ids are UUIDs).
pub fn string_field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let mut needle = Vec::with_capacity(key.len() + 4);
    needle.push(b'"');
    needle.extend_from_slice(key);
    needle.extend_from_slice(b"\":\"");
    let at = line.windows(needle.len()).position(|w| w == needle)? + needle.len();
    let len = line[at..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&line[at..at + len]).ok()
}

/// The number of `"key":N` in `line`.
pub fn number_field(line: &[u8], key: &[u8]) -> Option<u64> {
    let mut needle = Vec::with_capacity(key.len() + 3);
    needle.push(b'"');
    needle.extend_from_slice(key);
    needle.extend_from_slice(b"\":");
    let at = line.windows(needle.len()).position(|w| w == needle)? + needle.len();
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(body: &[u8]) -> Vec<u8> {
        let mut out = format!("{:x}\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        out
    }

    fn read(sse: bool, wire: &[u8], piece: usize) -> Vec<String> {
        let mut reader = StreamReader::new(sse);
        let mut items = Vec::new();
        for part in wire.chunks(piece) {
            reader
                .feed(part, |item| {
                    items.push(match item {
                        StreamItem::Line(line) => String::from_utf8_lossy(line).into_owned(),
                        StreamItem::Ended => "<end>".to_owned(),
                    })
                })
                .unwrap();
        }
        items
    }

    #[test]
    fn http_stream_lines_split_anywhere() {
        let mut wire = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         transfer-encoding: chunked\r\n\r\n"
            .to_vec();
        wire.extend(chunk(b"{\"id\":1,\"connect\":{}}\n"));
        wire.extend(chunk(
            b"{}\n{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":\"x\"}}}\n",
        ));
        wire.extend(b"0\r\n\r\n");
        for piece in [1, 2, 5, 13, wire.len()] {
            assert_eq!(
                read(false, &wire, piece),
                vec![
                    "{\"id\":1,\"connect\":{}}",
                    "{}",
                    "{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":\"x\"}}}",
                    "<end>"
                ],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn sse_events_are_their_data_lines() {
        let mut wire = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                         transfer-encoding: chunked\r\n\r\n"
            .to_vec();
        wire.extend(chunk(b"\r\n"));
        wire.extend(chunk(b"data: {\"id\":1,\"connect\":{}}\n\ndata: {}\n\n"));
        for piece in [1, 3, wire.len()] {
            assert_eq!(
                read(true, &wire, piece),
                vec!["{\"id\":1,\"connect\":{}}", "{}"],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn a_refused_stream_is_an_error() {
        let mut reader = StreamReader::new(false);
        assert!(reader
            .feed(
                b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n",
                |_| {}
            )
            .is_err());
    }

    #[test]
    fn requests_and_fields() {
        let sse = HttpTransport::Sse.open_request("127.0.0.1:1", r#"{"id":1}"#);
        let text = String::from_utf8(sse).unwrap();
        assert!(text.starts_with("GET /connection/sse?cf_connect=%7B%22id%22%3A1%7D HTTP/1.1\r\n"));
        let post = String::from_utf8(emulation_request("h", "s.1", "n", "{}\n{}")).unwrap();
        assert!(
            post.ends_with(r#"{"session":"s.1","node":"n","data":"{}\n{}"}"#),
            "{post}"
        );
        assert!(post.contains("Content-Length: 44\r\n"), "{post}");
        let line = br#"{"id":1,"connect":{"pong":true,"session":"ab.cd","node":"ab"}}"#;
        assert_eq!(string_field(line, b"session"), Some("ab.cd"));
        assert_eq!(string_field(line, b"node"), Some("ab"));
        assert_eq!(number_field(br#"{"poll":{"seq":12}}"#, b"seq"), Some(12));
        let poll = String::from_utf8(poll_request("h", "ab.cd", 3)).unwrap();
        assert!((400..560).contains(&poll.len()), "{}", poll.len());
    }
}
