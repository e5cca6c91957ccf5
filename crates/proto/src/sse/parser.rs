//! The incremental parser: `text/event-stream` bytes, in any chunks, to
//! events, following the standard's "interpreting an event stream".

use std::collections::VecDeque;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The most bytes one line (field name included), or the data of one
/// event, may hold in a [`Parser::new`]: the default message limit of the
/// WebSocket side.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 64 << 20;

/// A line or an event's data passed the parser's limit: the stream is
/// broken off rather than buffered without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge {
    /// The limit, in bytes.
    pub limit: usize,
}

impl std::fmt::Display for EventTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an event-stream line or event is over {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for EventTooLarge {}

/// An event a parser dispatched: what a browser's `EventSource` hands to
/// its listeners as a `MessageEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// The event type: the last `event` field, or `message`.
    pub event: String,
    /// The `data` lines, joined with LF.
    pub data: String,
    /// The last event ID at dispatch (it persists from earlier events
    /// until an `id` field changes it).
    pub id: String,
}

/// What a [`Parser`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// An event was dispatched (a blank line ended a block with data).
    Message(MessageEvent),
    /// A comment line (starting with `:`), without the colon and one
    /// following space; heartbeats arrive as these.
    Comment(String),
    /// A valid `retry` field: the new reconnection time in milliseconds.
    Retry(u64),
}

/// An incremental `text/event-stream` parser.
///
/// Feed it bytes as they arrive, split anywhere, with [`feed`](Parser::feed),
/// then take what it has parsed by iterating: `None` means "feed more"
/// (the iterator is not fused). It follows the WHATWG rules: lines end in
/// CR LF, LF or CR (even split across chunks); a leading byte order mark
/// is skipped; a line without a colon is a field with an empty value; one
/// space after the colon is dropped; unknown fields are ignored; an `id`
/// containing NUL is ignored; `retry` is taken only when all ASCII digits;
/// a blank line dispatches the event unless no `data` was received; a
/// block the stream ends within is never dispatched. Invalid UTF-8 is
/// replaced by U+FFFD.
///
/// ```
/// use pushwire_proto::sse::{Parser, Received};
///
/// let mut parser = Parser::new();
/// parser.feed(b"\xEF\xBB\xBFretry: 500\r\n: hi\r\ndata: a\r")?;
/// parser.feed(b"\ndata\r\n\r\n")?;
/// let items: Vec<Received> = parser.by_ref().collect();
/// assert_eq!(items[0], Received::Retry(500));
/// assert_eq!(items[1], Received::Comment("hi".into()));
/// let Received::Message(message) = &items[2] else { panic!() };
/// assert_eq!((message.event.as_str(), message.data.as_str()), ("message", "a\n"));
/// # Ok::<(), pushwire_proto::sse::EventTooLarge>(())
/// ```
#[derive(Debug)]
pub struct Parser {
    /// The bytes of the line being received.
    line: Vec<u8>,
    /// Whether the start of the stream was checked for a byte order mark
    /// (until then, `line` holds the bytes that may begin one).
    bom_checked: bool,
    /// The previous chunk ended in CR: an LF starting the next one is the
    /// rest of that line ending.
    skip_lf: bool,
    event: String,
    data: String,
    has_data: bool,
    last_event_id: String,
    retry: Option<u64>,
    ready: VecDeque<Received>,
    max_event_size: usize,
    /// A line or an event passed `max_event_size`: nothing more is parsed.
    too_large: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }
}

impl Parser {
    /// A parser at the start of a stream, with the default limit.
    pub fn new() -> Self {
        Parser::default()
    }

    /// A parser whose lines, and events' data, may hold at most `limit` bytes.
    pub fn with_max_event_size(limit: usize) -> Self {
        Parser {
            line: Vec::new(),
            bom_checked: false,
            skip_lf: false,
            event: String::new(),
            data: String::new(),
            has_data: false,
            last_event_id: String::new(),
            retry: None,
            ready: VecDeque::new(),
            max_event_size: limit,
            too_large: false,
        }
    }

    /// The last event ID: what a client sends as `Last-Event-ID` when it
    /// reconnects. Empty until an `id` field arrives.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream asked for, in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Consumes the next chunk of the stream. Fails, now and for every
    /// later chunk, once a line or an event's data passes the limit; what
    /// was parsed before it can still be taken.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), EventTooLarge> {
        while !self.bom_checked && !chunk.is_empty() {
            self.line.push(chunk[0]);
            chunk = &chunk[1..];
            if !BOM.starts_with(&self.line) {
                self.bom_checked = true;
                let seen = std::mem::take(&mut self.line);
                self.feed_lines(&seen);
            } else if self.line.len() == BOM.len() {
                self.bom_checked = true;
                self.line.clear();
            }
        }
        self.feed_lines(chunk);
        if self.too_large {
            self.line = Vec::new();
            self.data = String::new();
            return Err(EventTooLarge {
                limit: self.max_event_size,
            });
        }
        Ok(())
    }

    fn feed_lines(&mut self, mut chunk: &[u8]) {
        if self.skip_lf && !chunk.is_empty() {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\r' || b == b'\n') {
            if self.too_large || self.line.len() + end > self.max_event_size {
                self.too_large = true;
                return;
            }
            self.line.extend_from_slice(&chunk[..end]);
            let line = std::mem::take(&mut self.line);
            self.process_line(&line);
            // Reuse the line's allocation.
            self.line = line;
            self.line.clear();
            let mut next = end + 1;
            if chunk[end] == b'\r' {
                match chunk.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            chunk = &chunk[next..];
        }
        if self.too_large || self.line.len() + chunk.len() > self.max_event_size {
            self.too_large = true;
            return;
        }
        self.line.extend_from_slice(chunk);
    }

    fn process_line(&mut self, line: &[u8]) {
        if line.is_empty() {
            return self.dispatch();
        }
        let line = String::from_utf8_lossy(line);
        if let Some(comment) = line.strip_prefix(':') {
            let comment = comment.strip_prefix(' ').unwrap_or(comment);
            self.ready.push_back(Received::Comment(comment.to_owned()));
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match name {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                // As dispatched: without the LF after the last line.
                if self.data.len() + value.len() > self.max_event_size {
                    self.too_large = true;
                    return;
                }
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_event_id),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Too many digits to fit saturate rather than wrap.
                let ms = value.parse().unwrap_or(u64::MAX);
                self.retry = Some(ms);
                self.ready.push_back(Received::Retry(ms));
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the LF after the last data line
        self.ready.push_back(Received::Message(MessageEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
            id: self.last_event_id.clone(),
        }));
    }
}

impl Iterator for Parser {
    type Item = Received;

    /// The next parsed item, or `None` until more bytes are fed.
    fn next(&mut self) -> Option<Received> {
        self.ready.pop_front()
    }
}
