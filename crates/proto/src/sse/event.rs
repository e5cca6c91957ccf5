//! The encoder: one [`Event`] to `text/event-stream` bytes.

use bytes::{BufMut, Bytes, BytesMut};

/// One event of an event stream, built field by field, encoded with
/// [`encode`](Event::encode).
///
/// Framing is kept intact whatever the input:
///
/// - `data` and comments may span lines: each line (split at CR LF, LF
///   or a lone CR) becomes its own `data:` or `:` line, and a parser joins
///   the data lines back with LF. (CR LF and lone CR thus arrive as LF,
///   as the standard's parser leaves no other choice.)
/// - `id` and `event` are single-line by nature, so CR and LF are
///   **stripped** from them, and so is NUL from `id` (a browser ignores an
///   `id` field containing NUL). Stripping, rather than an error, keeps the
///   builder infallible; pass values without those characters to have
///   them sent verbatim.
///
/// An event with neither data nor a comment still carries its `id`,
/// `event` and `retry` fields; a browser then updates its last event ID
/// and reconnection time without dispatching anything.
///
/// ```
/// use pushwire_proto::sse::Event;
///
/// let event = Event::new().id("1\n2").event("tick").data("a\r\nb").retry(1000);
/// assert_eq!(
///     &event.encode()[..],
///     b"retry: 1000\nid: 12\nevent: tick\ndata: a\ndata: b\n\n"
/// );
/// assert_eq!(&Event::comment("keep-alive").encode()[..], b": keep-alive\n\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
    retry: Option<u64>,
    comment: Option<String>,
}

impl Event {
    /// An empty event; add fields with the builder methods.
    pub fn new() -> Self {
        Event::default()
    }

    /// An event holding only `data`.
    pub fn data_only(data: impl Into<String>) -> Self {
        Event::new().data(data)
    }

    /// A comment-only event, as sent for heartbeats; clients ignore it.
    pub fn comment(text: impl Into<String>) -> Self {
        Event::new().with_comment(text)
    }

    /// Sets the event ID (the client's `lastEventId`, sent back as
    /// `Last-Event-ID` when it reconnects). CR, LF and NUL are stripped.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(strip(id.into(), &['\r', '\n', '\0']));
        self
    }

    /// Sets the event type (the `EventSource` listener it reaches;
    /// `message` when unset). CR and LF are stripped.
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(strip(event.into(), &['\r', '\n']));
        self
    }

    /// Sets the data; multi-line data is sent as several `data:` lines.
    /// Empty data still makes an event (a `data:` line with nothing after).
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Sets the client's reconnection time, in milliseconds.
    pub fn retry(mut self, milliseconds: u64) -> Self {
        self.retry = Some(milliseconds);
        self
    }

    /// Adds a comment (may span lines), sent before the fields.
    pub fn with_comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    /// The event ID, if set.
    pub fn get_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The data, if set.
    pub fn get_data(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// Encodes the event, ending with the blank line that dispatches it.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode_to(&mut out);
        out.freeze()
    }

    /// Appends the encoded event to `out`.
    pub fn encode_to(&self, out: &mut BytesMut) {
        if let Some(comment) = &self.comment {
            for line in lines(comment) {
                field(out, "", line);
            }
        }
        if let Some(retry) = self.retry {
            field(out, "retry", &retry.to_string());
        }
        if let Some(id) = &self.id {
            field(out, "id", id);
        }
        if let Some(event) = &self.event {
            field(out, "event", event);
        }
        if let Some(data) = &self.data {
            for line in lines(data) {
                field(out, "data", line);
            }
        }
        out.put_u8(b'\n');
    }

    fn encoded_len_hint(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 8);
        text(&self.id) + text(&self.event) + text(&self.data) + text(&self.comment) + 24
    }
}

/// Writes `name: value\n` (`: value\n` for a comment).
fn field(out: &mut BytesMut, name: &str, value: &str) {
    out.reserve(name.len() + value.len() + 3);
    out.put_slice(name.as_bytes());
    out.put_u8(b':');
    // One space is always written: a parser strips exactly one, so a
    // value that itself begins with a space survives.
    if !(name.is_empty() && value.is_empty()) {
        out.put_u8(b' ');
    }
    out.put_slice(value.as_bytes());
    out.put_u8(b'\n');
}

/// Splits at CR LF, LF and lone CR; an empty text is one empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

fn strip(mut value: String, forbidden: &[char]) -> String {
    if value.contains(forbidden) {
        value.retain(|c| !forbidden.contains(&c));
    }
    value
}
