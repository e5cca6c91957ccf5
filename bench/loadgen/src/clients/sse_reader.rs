//! Reads the response to `GET /events` as it arrives: the head (status
//! `200`, `Content-Type: text/event-stream`), then the body, chunked
//! ([`super::chunked`]) or delimited by the connection's end, as a
//! `text/event-stream` of events. Per event it hands out what the
//! benchmark needs: the `id` as a number, the timestamp at the start of
//! the first `data` line ([`super::stamp`]), and whether the event type
//! is `reset`; comment-only blocks (heartbeats) are reported as such. It
//! keeps only the first bytes of each line, so 15,000 streams cost little
//! memory; the full parser of pushwire-proto checks the servers in
//! [`super::sse_probe`]. Lines end in LF, CR LF or CR, as the standard
//! allows.

use super::chunked::{self, ChunkedDecoder};
use super::stamp::{self, STAMP_LEN};

/// The most bytes a response head may take.
const MAX_HEAD: usize = 16 * 1024;
/// Bytes kept of each line: `data: ` and a stamp, or `id: ` and 20 digits.
const LINE_HEAD: usize = 32;

/// What the reader found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseItem {
    /// The response head arrived and announces an event stream.
    Opened,
    /// An event was dispatched (a blank line ended a block with data).
    Event {
        /// The block's `id` field, if it had a numeric one.
        id: Option<u64>,
        /// The timestamp at the start of its data, if there was one.
        stamp: Option<u64>,
        /// Its type was `reset` (pushwire: messages were lost before it).
        reset: bool,
    },
    /// A block of comments only (a heartbeat).
    Comment,
    /// The body ended (the server ended the stream).
    Ended,
}

/// The response is not an event stream, or its body is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAStream(pub String);

/// Where the reader is in the response.
#[derive(Debug)]
enum Phase {
    /// Collecting the head.
    Head(Vec<u8>),
    /// In the body; `None` when it runs until the connection closes.
    Body(Option<ChunkedDecoder>),
    /// The body ended.
    Ended,
}

/// The event block being received.
#[derive(Debug, Default, Clone, Copy)]
struct Block {
    id: Option<u64>,
    stamp: Option<u64>,
    has_data: bool,
    reset: bool,
    comment: bool,
}

/// Incremental reader of one `GET /events` response.
#[derive(Debug)]
pub struct SseReader {
    phase: Phase,
    line: [u8; LINE_HEAD],
    /// Bytes of the current line seen (only the first [`LINE_HEAD`] kept).
    line_len: usize,
    /// The last line ended in CR: an LF next is part of that ending.
    skip_lf: bool,
    block: Block,
}

impl Default for SseReader {
    fn default() -> Self {
        SseReader {
            phase: Phase::Head(Vec::new()),
            line: [0; LINE_HEAD],
            line_len: 0,
            skip_lf: false,
            block: Block::default(),
        }
    }
}

impl SseReader {
    /// Consumes bytes read from the connection, calling `item` for what
    /// they complete.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut item: impl FnMut(SseItem),
    ) -> Result<(), NotAStream> {
        if let Phase::Head(head) = &mut self.phase {
            let seen = head.len();
            head.extend_from_slice(data);
            let from = seen.saturating_sub(3);
            let Some(end) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
                if head.len() > MAX_HEAD {
                    return Err(NotAStream("response head too long".to_owned()));
                }
                return Ok(());
            };
            let head_len = from + end + 4;
            let chunked = check_head(&head[..head_len])?;
            data = &data[head_len - seen..];
            self.phase = Phase::Body(chunked.then(ChunkedDecoder::default));
            item(SseItem::Opened);
        }
        let Phase::Body(decoder) = &mut self.phase else {
            return if data.is_empty() {
                Ok(())
            } else {
                Err(NotAStream("bytes after the end of the stream".to_owned()))
            };
        };
        match decoder {
            Some(decoder) => {
                let mut lines = Lines {
                    line: &mut self.line,
                    line_len: &mut self.line_len,
                    skip_lf: &mut self.skip_lf,
                    block: &mut self.block,
                };
                decoder
                    .feed(data, |body| lines.feed(body, &mut item))
                    .map_err(|chunked::Malformed(why)| NotAStream(why.to_owned()))?;
                if decoder.is_done() {
                    self.phase = Phase::Ended;
                    item(SseItem::Ended);
                }
            }
            None => Lines {
                line: &mut self.line,
                line_len: &mut self.line_len,
                skip_lf: &mut self.skip_lf,
                block: &mut self.block,
            }
            .feed(data, &mut item),
        }
        Ok(())
    }
}

/// The line state of a reader, borrowed while its chunk decoder is too.
struct Lines<'a> {
    line: &'a mut [u8; LINE_HEAD],
    line_len: &'a mut usize,
    skip_lf: &'a mut bool,
    block: &'a mut Block,
}

impl Lines<'_> {
    fn feed(&mut self, mut body: &[u8], item: &mut impl FnMut(SseItem)) {
        if *self.skip_lf && !body.is_empty() {
            *self.skip_lf = false;
            if body[0] == b'\n' {
                body = &body[1..];
            }
        }
        while !body.is_empty() {
            let Some(end) = body.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.keep(body);
                return;
            };
            self.keep(&body[..end]);
            self.end_line(item);
            let mut next = end + 1;
            if body[end] == b'\r' {
                match body.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => *self.skip_lf = true,
                }
            }
            body = &body[next..];
        }
    }

    /// Keeps what fits of a piece of the current line.
    fn keep(&mut self, piece: &[u8]) {
        let at = (*self.line_len).min(LINE_HEAD);
        let copy = (LINE_HEAD - at).min(piece.len());
        self.line[at..at + copy].copy_from_slice(&piece[..copy]);
        *self.line_len += piece.len();
    }

    fn end_line(&mut self, item: &mut impl FnMut(SseItem)) {
        let kept = &self.line[..(*self.line_len).min(LINE_HEAD)];
        let whole = *self.line_len <= LINE_HEAD;
        *self.line_len = 0;
        if kept.is_empty() {
            let block = std::mem::take(self.block);
            if block.has_data {
                item(SseItem::Event {
                    id: block.id,
                    stamp: block.stamp,
                    reset: block.reset,
                });
            } else if block.comment {
                item(SseItem::Comment);
            }
            return;
        }
        if kept[0] == b':' {
            self.block.comment = true;
            return;
        }
        let (name, value) = match kept.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &kept[colon + 1..];
                (&kept[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (kept, &kept[kept.len()..]),
        };
        match name {
            b"data" => {
                if !self.block.has_data {
                    self.block.stamp = stamp::parse(&value[..value.len().min(STAMP_LEN)]);
                }
                self.block.has_data = true;
            }
            b"id" => {
                self.block.id = if whole {
                    std::str::from_utf8(value).ok().and_then(|v| v.parse().ok())
                } else {
                    None
                };
            }
            b"event" => self.block.reset = whole && value == b"reset",
            _ => {}
        }
    }
}

/// Checks a response head; returns whether the body is chunked.
fn check_head(head: &[u8]) -> Result<bool, NotAStream> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        return Err(NotAStream(format!("GET /events answered {status:?}")));
    }
    let mut event_stream = false;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        if name.eq_ignore_ascii_case("content-type") {
            event_stream = value.starts_with("text/event-stream");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.ends_with("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            return Err(NotAStream(
                "an event stream with a Content-Length".to_owned(),
            ));
        }
    }
    if !event_stream {
        return Err(NotAStream(
            "GET /events is not text/event-stream".to_owned(),
        ));
    }
    Ok(chunked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushwire_proto::sse::Event;

    fn chunk(body: &[u8]) -> Vec<u8> {
        let mut out = format!("{:x}\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        out
    }

    fn read(wire: &[u8], piece: usize) -> Vec<SseItem> {
        let mut reader = SseReader::default();
        let mut items = Vec::new();
        for part in wire.chunks(piece) {
            reader.feed(part, |i| items.push(i)).unwrap();
        }
        items
    }

    #[test]
    fn reads_pushwires_events_split_anywhere() {
        let mut wire = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                         transfer-encoding: chunked\r\n\r\n"
            .to_vec();
        let message = stamp::stamped(42, 50);
        wire.extend(chunk(&Event::new().id("7").data(message.clone()).encode()));
        wire.extend(chunk(&Event::new().event("reset").data("").encode()));
        wire.extend(chunk(b":\n\n"));
        // Two events in one chunk, CR LF and lone CR line ends, a long id.
        wire.extend(chunk(
            format!("id: 8\r\ndata: {message}\r\ndata: more\r\n\r\nid: 123456789012345678901234567890\rdata: x\r\r")
                .as_bytes(),
        ));
        wire.extend(b"0\r\n\r\n");
        let expected = vec![
            SseItem::Opened,
            SseItem::Event {
                id: Some(7),
                stamp: Some(42),
                reset: false,
            },
            SseItem::Event {
                id: None,
                stamp: None,
                reset: true,
            },
            SseItem::Comment,
            SseItem::Event {
                id: Some(8),
                stamp: Some(42),
                reset: false,
            },
            SseItem::Event {
                id: None,
                stamp: None,
                reset: false,
            },
            SseItem::Ended,
        ];
        for piece in [1, 2, 5, 13, 64, wire.len()] {
            assert_eq!(read(&wire, piece), expected, "piece {piece}");
        }
    }

    #[test]
    fn an_unchunked_body_and_a_refused_request() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: 1\ndata: t=00000000000000000005 m=x\n\n";
        assert_eq!(
            read(wire, 3),
            vec![
                SseItem::Opened,
                SseItem::Event {
                    id: Some(1),
                    stamp: Some(5),
                    reset: false,
                },
            ]
        );
        let mut reader = SseReader::default();
        assert!(reader
            .feed(
                b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\n\r\n",
                |_| {}
            )
            .is_err());
    }
}
