//! Feeds arbitrary bytes to the client-side `text/event-stream` parser
//! (`sse::Parser`) at once, in pieces and byte by byte, and round-trips
//! events built from the input through `sse::Event::encode`.
//!
//! Checks, besides "no panic":
//! - the parser gives the same items, last event ID, reconnection time
//!   and error whatever the pieces (a CR LF may be split, a byte order
//!   mark may be split);
//! - a dispatched event's data never passes the parser's limit, and once
//!   the limit is passed every later `feed` fails;
//! - an event encoded by `Event` parses back to its data (line breaks as
//!   LF), its event type (CR and LF stripped) and its ID (CR, LF and NUL
//!   stripped), and its `retry`.
//!
//! Input layout:
//! - byte 0: bits 0-1 the parser's limit (16, 256, 4,096 bytes or the
//!   default);
//! - byte 1: the seed of the piece sizes (see `common/pieces.rs`);
//! - the rest: the stream as it comes off the wire. For the round trip
//!   it is split at 0xFF bytes into the data, the event type and the ID.
#![no_main]

#[path = "common/pieces.rs"]
mod pieces;

use libfuzzer_sys::fuzz_target;
use pieces::Pieces;
use pushwire_proto::sse::{
    Event, EventTooLarge, MessageEvent, Parser, Received, DEFAULT_MAX_EVENT_SIZE,
};

/// What a parser made of a stream.
#[derive(Debug, PartialEq)]
struct Outcome {
    items: Vec<Received>,
    last_event_id: String,
    retry: Option<u64>,
    error: Option<EventTooLarge>,
}

fn run(limit: usize, pieces: &[&[u8]]) -> Outcome {
    let mut parser = Parser::with_max_event_size(limit);
    let mut items = Vec::new();
    let mut error = None;
    for piece in pieces {
        let result = parser.feed(piece);
        if let Some(e) = error {
            assert_eq!(result, Err(e), "a feed after the limit passed succeeded");
        }
        items.extend(parser.by_ref());
        if let Err(e) = result {
            assert_eq!(e.limit, limit);
            error = Some(e);
        }
    }
    for item in &items {
        if let Received::Message(message) = item {
            assert!(message.data.len() <= limit, "event data over the limit");
        }
    }
    Outcome {
        items,
        last_event_id: parser.last_event_id().to_owned(),
        retry: parser.retry(),
        error,
    }
}

/// An event of the input's parts goes through the encoder and back.
fn round_trip(wire: &[u8]) {
    let mut parts = wire.splitn(3, |&b| b == 0xff).map(String::from_utf8_lossy);
    let data = parts.next().unwrap_or_default().into_owned();
    let event = parts.next().unwrap_or_default().into_owned();
    let id = parts.next().unwrap_or_default().into_owned();
    let retry = wire.len() as u64;
    let encoded = Event::new()
        .id(id.clone())
        .event(event.clone())
        .data(data.clone())
        .retry(retry)
        .encode();

    let mut parser = Parser::new();
    parser.feed(&encoded).expect("within the default limit");
    let items: Vec<Received> = parser.by_ref().collect();
    let strip =
        |s: &str, chars: &[char]| s.chars().filter(|c| !chars.contains(c)).collect::<String>();
    let event = strip(&event, &['\r', '\n']);
    let expected = MessageEvent {
        event: if event.is_empty() {
            "message".into()
        } else {
            event
        },
        data: data.replace("\r\n", "\n").replace('\r', "\n"),
        id: strip(&id, &['\r', '\n', '\0']),
    };
    assert_eq!(
        items,
        [Received::Retry(retry), Received::Message(expected.clone())]
    );
    assert_eq!(parser.last_event_id(), expected.id);
    assert_eq!(parser.retry(), Some(retry));
}

fuzz_target!(|data: &[u8]| {
    let [config, seed, wire @ ..] = data else {
        return;
    };
    let limit = [16, 256, 4096, DEFAULT_MAX_EVENT_SIZE][usize::from(config & 3)];
    let at_once = run(limit, &[wire]);
    let split = Pieces::new(*seed).split(wire);
    assert_eq!(
        run(limit, &split),
        at_once,
        "parsing in pieces differs from at once"
    );
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(
        run(limit, &bytes),
        at_once,
        "parsing byte by byte differs from at once"
    );
    round_trip(wire);
});
