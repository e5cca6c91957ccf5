//! Field blocks across CONTINUATION frames, and the floods of them that
//! end a connection.

use super::super::super::frame::{flag, kind};
use super::super::super::ErrorCode;
use super::super::ConnectionConfig;
use super::driver::{block, data, fragment, Driver};

fn get_block() -> Vec<u8> {
    block(&[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "localhost"),
    ])
}

#[test]
fn a_block_split_across_continuations_opens_the_stream() {
    let mut d = Driver::default_config();
    let block = get_block();
    let (a, rest) = block.split_at(3);
    let (b, c) = rest.split_at(5);
    let mut wire = fragment(kind::HEADERS, 1, a, flag::END_STREAM);
    wire.extend(fragment(kind::CONTINUATION, 1, b, 0));
    wire.extend(fragment(kind::CONTINUATION, 1, c, flag::END_HEADERS));
    let opened = d.open(&wire);
    assert_eq!(opened.request.method(), http::Method::GET);
    assert!(opened.end_stream);
}

#[test]
fn a_block_interrupted_by_another_frame_ends_the_connection() {
    let mut d = Driver::default_config();
    let mut wire = fragment(kind::HEADERS, 1, &get_block()[..3], flag::END_STREAM);
    wire.extend(data(1, b"x", false));
    d.feed(&wire);
    assert_eq!(d.goaway(), Some((0, ErrorCode::PROTOCOL_ERROR)));
}

#[test]
fn a_continuation_without_headers_ends_the_connection() {
    let mut d = Driver::default_config();
    d.feed(&fragment(
        kind::CONTINUATION,
        1,
        &get_block(),
        flag::END_HEADERS,
    ));
    assert_eq!(d.goaway(), Some((0, ErrorCode::PROTOCOL_ERROR)));
}

#[test]
fn a_continuation_on_another_stream_ends_the_connection() {
    let mut d = Driver::default_config();
    let block = get_block();
    let mut wire = fragment(kind::HEADERS, 1, &block[..3], flag::END_STREAM);
    wire.extend(fragment(
        kind::CONTINUATION,
        3,
        &block[3..],
        flag::END_HEADERS,
    ));
    d.feed(&wire);
    assert_eq!(d.goaway(), Some((0, ErrorCode::PROTOCOL_ERROR)));
}

#[test]
fn continuation_floods_end_the_connection() {
    // Too many frames, each empty.
    let config = ConnectionConfig {
        max_continuations: 8,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    let mut wire = fragment(kind::HEADERS, 1, &[], 0);
    for _ in 0..8 {
        wire.extend(fragment(kind::CONTINUATION, 1, &[], 0));
    }
    d.feed(&wire);
    assert_eq!(d.goaway(), Some((0, ErrorCode::ENHANCE_YOUR_CALM)));
    // Too many bytes, in few frames.
    let mut d = Driver::default_config();
    let mut wire = fragment(kind::HEADERS, 1, &[], 0);
    for _ in 0..3 {
        wire.extend(fragment(kind::CONTINUATION, 1, &[0; 16 << 10], 0));
    }
    d.feed(&wire);
    assert_eq!(d.goaway(), Some((0, ErrorCode::ENHANCE_YOUR_CALM)));
}

#[test]
fn an_undecodable_block_ends_the_connection() {
    let mut d = Driver::default_config();
    // An index far beyond both tables.
    d.feed(&fragment(
        kind::HEADERS,
        1,
        &[0xff, 0xff, 0x7f],
        flag::END_HEADERS | flag::END_STREAM,
    ));
    assert_eq!(d.goaway(), Some((0, ErrorCode::COMPRESSION_ERROR)));
}
