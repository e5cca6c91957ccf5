//! Stream states (RFC 9113 section 5.1): idle, open, half-closed,
//! closed, and the frames each refuses.

use super::super::super::frame::Frame;
use super::super::super::ErrorCode;
use super::super::closed::CLOSED_STREAMS_KEPT;
use super::driver::{data, get, post, request, rst, window_update, Driver};

#[test]
fn frames_on_closed_streams_get_the_reaction_of_who_closed_them() {
    let mut d = Driver::default_config();
    // Both sides end stream 1: DATA after that ends the connection.
    d.open(&get(1));
    d.conn
        .send_head(1, http::StatusCode::OK, &http::HeaderMap::new(), true);
    d.conn.release_ref(1);
    // The client resets stream 3: DATA after that resets it again.
    d.open(&post(3));
    d.feed(&rst(3, ErrorCode::CANCEL));
    d.conn.release_ref(3);
    // The server resets stream 5: DATA the client sent before it knew
    // is dropped.
    d.open(&post(5));
    d.conn.reset(5, ErrorCode::CANCEL);
    d.conn.release_ref(5);
    d.sent();

    d.feed(&data(5, b"late", true));
    assert!(d.resets().is_empty(), "ignored");
    d.feed(&data(3, b"late", true));
    assert_eq!(d.resets(), [(3, ErrorCode::STREAM_CLOSED)]);
    d.feed(&data(1, b"late", true));
    assert_eq!(d.goaway(), Some((5, ErrorCode::STREAM_CLOSED)));
    assert!(d.conn.ended().is_some());
}

#[test]
fn headers_on_a_lower_stream_never_opened_end_the_connection() {
    let mut d = Driver::default_config();
    d.open(&post(7));
    d.feed(&get(5));
    assert_eq!(d.goaway(), Some((7, ErrorCode::PROTOCOL_ERROR)));
}

#[test]
fn only_the_last_closed_streams_are_remembered() {
    let mut d = Driver::default_config();
    for i in 0..=CLOSED_STREAMS_KEPT as u32 {
        let id = 1 + 2 * i;
        d.open(&post(id));
        d.conn.reset(id, ErrorCode::CANCEL);
        d.conn.release_ref(id);
    }
    d.sent();
    // The newest is remembered as reset by the server: ignored.
    d.feed(&data(1 + 2 * CLOSED_STREAMS_KEPT as u32, b"late", true));
    assert!(d.resets().is_empty(), "ignored");
    // The oldest is forgotten: DATA on it gets STREAM_CLOSED.
    d.feed(&data(1, b"late", true));
    assert_eq!(d.resets(), [(1, ErrorCode::STREAM_CLOSED)]);
}

#[test]
fn frames_on_idle_streams_end_the_connection() {
    for wire in [
        data(1, b"x", false),
        rst(3, ErrorCode::CANCEL),
        window_update(5, 1),
    ] {
        let mut d = Driver::default_config();
        d.feed(&wire);
        assert_eq!(d.goaway(), Some((0, ErrorCode::PROTOCOL_ERROR)));
    }
}

#[test]
fn even_stream_identifiers_end_the_connection() {
    let mut d = Driver::default_config();
    d.feed(&get(2));
    assert_eq!(d.goaway(), Some((0, ErrorCode::PROTOCOL_ERROR)));
}

#[test]
fn data_after_the_clients_end_stream_resets_the_half_closed_stream() {
    let mut d = Driver::default_config();
    d.open(&get(1));
    d.feed(&data(1, b"more", false));
    assert_eq!(d.resets(), [(1, ErrorCode::STREAM_CLOSED)]);
    assert!(d.conn.ended().is_none(), "a stream error only");
}

#[test]
fn a_stream_the_server_half_closed_still_receives() {
    let mut d = Driver::default_config();
    d.open(&post(1));
    d.conn
        .send_head(1, http::StatusCode::OK, &http::HeaderMap::new(), true);
    assert!(d.conn.has_stream(1));
    d.feed(&data(1, b"body", true));
    assert!(d.resets().is_empty());
    assert_eq!(
        d.conn.poll_data(1),
        std::task::Poll::Ready(Some(Ok(bytes::Bytes::from_static(b"body"))))
    );
    assert_eq!(d.conn.poll_data(1), std::task::Poll::Ready(None));
    d.conn.release_ref(1);
    assert!(!d.conn.has_streams(), "closed: both sides ended");
}

#[test]
fn a_body_short_of_its_content_length_resets_the_stream() {
    let mut d = Driver::default_config();
    d.open(&request(1, "POST", &[("content-length", "10")], false));
    d.feed(&data(1, b"short", true));
    assert_eq!(d.resets(), [(1, ErrorCode::PROTOCOL_ERROR)]);
}

#[test]
fn more_streams_than_allowed_are_refused() {
    let config = super::super::ConnectionConfig {
        max_concurrent_streams: 2,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    d.open(&post(1));
    d.open(&post(3));
    assert!(d.feed(&post(5)).is_empty());
    assert_eq!(d.resets(), [(5, ErrorCode::REFUSED_STREAM)]);
    // A closed stream no longer counts.
    d.conn.reset(1, ErrorCode::CANCEL);
    d.open(&post(7));
}

#[test]
fn rapid_resets_end_the_connection() {
    let config = super::super::ConnectionConfig {
        reset_allowance: 10,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    for i in 0..10 {
        let id = 1 + 2 * i;
        d.open(&post(id));
        d.feed(&rst(id, ErrorCode::CANCEL));
        d.conn.release_ref(id);
    }
    assert!(d.conn.ended().is_none(), "within the allowance");
    d.open(&post(21));
    d.feed(&rst(21, ErrorCode::CANCEL));
    assert_eq!(d.goaway(), Some((21, ErrorCode::ENHANCE_YOUR_CALM)));
}

#[test]
fn a_request_with_fields_beyond_the_list_size_is_answered_431() {
    let config = super::super::ConnectionConfig {
        max_header_list_size: 100,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    let long = "x".repeat(200);
    assert!(d
        .feed(&request(1, "GET", &[("x-long", &long)], true))
        .is_empty());
    let sent = d.sent();
    assert!(matches!(
        sent.as_slice(),
        [Frame::Headers {
            stream_id: 1,
            end_stream: true,
            ..
        }]
    ));
    assert!(d.conn.ended().is_none());
}

/// Found by the `http2_connection` fuzz target: a malformed PRIORITY
/// frame on an idle stream resets it (RST_STREAM, `FRAME_SIZE_ERROR`, as
/// h2spec expects); HEADERS on it afterwards opened a stream the server
/// had closed, and its response followed the reset.
#[test]
fn a_stream_reset_while_idle_is_not_opened_later() {
    let mut d = Driver::default_config();
    let mut wire = Vec::new();
    super::super::super::frame::put_header(
        &mut wire,
        super::super::super::frame::kind::PRIORITY,
        0,
        1,
        4,
    );
    wire.extend_from_slice(&[0; 4]);
    d.feed(&wire);
    assert_eq!(d.resets(), [(1, ErrorCode::FRAME_SIZE_ERROR)]);
    assert!(d.feed(&post(1)).is_empty(), "not opened");
    assert!(d.sent().is_empty());
    assert!(d.conn.ended().is_none());
    // The next stream opens as usual.
    d.open(&get(3));
}
