use proptest::prelude::*;

use super::*;

fn parse_all(chunks: &[&[u8]]) -> Vec<Received> {
    let mut parser = Parser::new();
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk).unwrap();
        out.extend(parser.by_ref());
    }
    out
}

fn messages(items: Vec<Received>) -> Vec<MessageEvent> {
    items
        .into_iter()
        .filter_map(|item| match item {
            Received::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn message(event: &str, data: &str, id: &str) -> MessageEvent {
    MessageEvent {
        event: event.into(),
        data: data.into(),
        id: id.into(),
    }
}

#[test]
fn encodes_every_field() {
    let event = Event::new()
        .with_comment("hello\nthere")
        .retry(1000)
        .id("42")
        .event("tick")
        .data("{\"n\":42}");
    assert_eq!(
        &event.encode()[..],
        b": hello\n: there\nretry: 1000\nid: 42\nevent: tick\ndata: {\"n\":42}\n\n"
    );
    assert_eq!(&Event::comment("").encode()[..], b":\n\n");
    assert_eq!(&Event::data_only("").encode()[..], b"data: \n\n");
    assert_eq!(&Event::new().encode()[..], b"\n");
}

#[test]
fn multi_line_data_splits_at_every_line_ending() {
    let wire = Event::data_only("a\r\nb\rc\nd\n").encode();
    assert_eq!(&wire[..], b"data: a\ndata: b\ndata: c\ndata: d\ndata: \n\n");
    assert_eq!(
        messages(parse_all(&[&wire])),
        [message("message", "a\nb\nc\nd\n", "")]
    );
}

#[test]
fn id_and_event_names_are_stripped_of_line_breaks_and_nul() {
    let event = Event::new().id("a\r\nb\0c").event("x\ny\rz").data("d");
    assert_eq!(event.get_id(), Some("abc"));
    assert_eq!(&event.encode()[..], b"id: abc\nevent: xyz\ndata: d\n\n");
}

#[test]
fn leading_spaces_survive() {
    let wire = Event::new()
        .data("  two spaces")
        .with_comment(" one")
        .encode();
    let items = parse_all(&[&wire]);
    assert_eq!(items[0], Received::Comment(" one".into()));
    assert_eq!(messages(items), [message("message", "  two spaces", "")]);
}

#[test]
fn parses_the_standards_examples() {
    // "data:test" and "data: test" are the same; a field without colon
    // has an empty value; unknown fields are ignored.
    let items = parse_all(&[b"data:test\n\ndata: test\n\ndata\n\nfoo: bar\ndata: x\n\n"]);
    assert_eq!(
        messages(items),
        [
            message("message", "test", ""),
            message("message", "test", ""),
            message("message", "", ""),
            message("message", "x", ""),
        ]
    );
    // The last event ID persists; an id with NUL is ignored; a block
    // without data dispatches nothing but still sets the ID.
    let items =
        parse_all(&[b"id: 1\ndata: a\n\ndata: b\n\nid: 2\0\ndata: c\n\nid: 3\n\ndata: d\n\n"]);
    assert_eq!(
        messages(items),
        [
            message("message", "a", "1"),
            message("message", "b", "1"),
            message("message", "c", "1"),
            message("message", "d", "3"),
        ]
    );
    // The event type resets after each dispatch, even an empty one.
    let items = parse_all(&[b"event: a\n\nevent: b\ndata: 1\n\ndata: 2\n\n"]);
    assert_eq!(
        messages(items),
        [message("b", "1", ""), message("message", "2", "")]
    );
}

#[test]
fn retry_takes_only_digits() {
    let mut parser = Parser::new();
    parser
        .feed(b"retry: 12a\nretry:\nretry: 300\nretry: -1\n")
        .unwrap();
    assert_eq!(parser.by_ref().collect::<Vec<_>>(), [Received::Retry(300)]);
    assert_eq!(parser.retry(), Some(300));
}

#[test]
fn every_line_ending_even_split_across_chunks() {
    let expected = [message("message", "a\nb", "1")];
    for wire in [
        &b"id: 1\r\ndata: a\r\ndata: b\r\n\r\n"[..],
        b"id: 1\rdata: a\rdata: b\r\r",
        b"id: 1\ndata: a\rdata: b\r\n\n",
    ] {
        for split in 0..=wire.len() {
            let (x, y) = wire.split_at(split);
            assert_eq!(
                messages(parse_all(&[x, y])),
                expected,
                "{wire:?} at {split}"
            );
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(messages(parse_all(&bytes)), expected);
    }
}

#[test]
fn bom_is_skipped_once_even_split() {
    let wire = b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n";
    for split in 0..=wire.len() {
        let (x, y) = wire.split_at(split);
        let got = messages(parse_all(&[x, y]));
        // The second BOM is part of a line: the field name "\u{feff}data"
        // is unknown, so that block dispatches nothing.
        assert_eq!(got, [message("message", "a", "")], "at {split}");
    }
    // A stream that only looks like it starts with a BOM.
    assert_eq!(
        messages(parse_all(&[b"\xEF", b"\xBBdata: z\n\ndata: y\n\n"])),
        [message("message", "y", "")]
    );
}

#[test]
fn an_unfinished_block_is_not_dispatched() {
    assert!(messages(parse_all(&[b"data: a\ndata: b\n"])).is_empty());
}

#[test]
fn invalid_utf8_is_replaced() {
    assert_eq!(
        messages(parse_all(&[b"data: \xFF\xFEok\n\n"])),
        [message("message", "\u{FFFD}\u{FFFD}ok", "")]
    );
}

#[test]
fn an_event_over_the_limit_ends_the_stream() {
    let mut parser = Parser::with_max_event_size(16);
    // Exactly at the limit: the line is 16 bytes, and so is the data.
    parser.feed(b"data: 0123\ndata: 56789a\n\n").unwrap();
    assert_eq!(
        messages(parser.by_ref().collect()),
        [message("message", "0123\n56789a", "")]
    );
    parser.feed(b"data: 0123456789\n\n").unwrap();
    assert_eq!(parser.by_ref().count(), 1);
    // Two data lines within the limit that together pass it.
    let err = parser
        .feed(b"data: 0123456789\ndata: 0123456789\n\n")
        .unwrap_err();
    assert_eq!(err, EventTooLarge { limit: 16 });
    assert_eq!(parser.next(), None, "nothing of the oversized event");
    // Once broken, the stream stays broken.
    assert!(parser.feed(b"data: x\n\n").is_err());
}

#[test]
fn a_line_over_the_limit_fails_before_it_ends() {
    let mut parser = Parser::with_max_event_size(64);
    parser
        .feed(
            b": heartbeat
",
        )
        .unwrap();
    let chunk = [b'a'; 40];
    parser.feed(b"data: ").unwrap();
    parser.feed(&chunk).unwrap();
    // No line ending yet: the line alone passes the limit.
    assert!(parser.feed(&chunk).is_err());
    assert_eq!(parser.next(), Some(Received::Comment("heartbeat".into())));
    assert_eq!(parser.next(), None);
}

fn arbitrary_event() -> impl Strategy<Value = (Option<String>, Option<String>, String)> {
    let text = "[a-z \\r\\n\\u{0}\\u{e9}\\u{1F600}:]{0,20}";
    (
        proptest::option::of(text),
        proptest::option::of("[a-z]{1,8}"),
        text,
    )
}

fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

proptest! {
    /// Whatever the data and however the bytes are cut, what is encoded
    /// is parsed back: data with its line breaks as LF, ids stripped.
    #[test]
    fn encode_then_parse_round_trips(
        events in proptest::collection::vec(arbitrary_event(), 1..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        let mut last_id = String::new();
        for (id, name, data) in &events {
            let mut event = Event::new().data(data.clone());
            if let Some(id) = id {
                event = event.id(id.clone());
                last_id = id.replace(['\r', '\n', '\0'], "");
            }
            if let Some(name) = name {
                event = event.event(name.clone());
            }
            wire.extend_from_slice(&Event::comment("heartbeat").encode());
            wire.extend_from_slice(&event.encode());
            expected.push(message(
                name.as_deref().unwrap_or("message"),
                &normalize_newlines(data),
                &last_id,
            ));
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for cut in cuts {
            chunks.push(&wire[at..cut]);
            at = cut;
        }
        chunks.push(&wire[at..]);
        prop_assert_eq!(messages(parse_all(&chunks)), expected);
    }
}
