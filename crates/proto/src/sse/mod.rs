//! Server-Sent Events, as the WHATWG HTML standard defines the
//! `text/event-stream` format (section 9.2, "Server-sent events").
//!
//! - [`Event`] builds one event and encodes it to bytes;
//! - [`Parser`] turns a byte stream, received in arbitrary chunks, back
//!   into [`Received`] items, as a browser's `EventSource` would.
//!
//! Both are pure computation: the `pushwire` crate streams encoded events
//! in an HTTP response, and its client feeds the parser.
//!
//! ```
//! use pushwire_proto::sse::{Event, Parser, Received};
//!
//! let wire = Event::new().id("7").event("tick").data("line 1\nline 2").encode();
//! assert_eq!(&wire[..], b"id: 7\nevent: tick\ndata: line 1\ndata: line 2\n\n");
//!
//! let mut parser = Parser::new();
//! parser.feed(&wire).unwrap();
//! match parser.next() {
//!     Some(Received::Message(message)) => {
//!         assert_eq!((message.id.as_str(), message.event.as_str()), ("7", "tick"));
//!         assert_eq!(message.data, "line 1\nline 2");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

mod event;
mod parser;

pub use event::Event;
pub use parser::{EventTooLarge, MessageEvent, Parser, Received, DEFAULT_MAX_EVENT_SIZE};

/// The media type of an event stream.
pub const CONTENT_TYPE: &str = "text/event-stream";

#[cfg(test)]
mod tests;
