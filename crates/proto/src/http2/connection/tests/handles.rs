//! What the streams' handles see: events when what they wait for
//! changes, the output's limit, resets when the last handle goes, and
//! the request-body clock.

use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::super::super::ErrorCode;
use super::super::{ConnectionConfig, Event, StreamError};
use super::driver::{data, get, post, rst, Driver};

#[test]
fn a_waiting_reader_hears_of_data_once() {
    let mut d = Driver::default_config();
    d.open(&post(1));
    assert!(d.conn.poll_data(1).is_pending());
    assert!(d.take_events().is_empty());
    d.feed(&data(1, b"a", false));
    d.feed(&data(1, b"b", false));
    assert_eq!(d.take_events(), [Event::StreamReadable(1)], "one wake-up");
    assert_eq!(
        d.conn.poll_data(1),
        Poll::Ready(Some(Ok(Bytes::from_static(b"a"))))
    );
    assert_eq!(
        d.conn.poll_data(1),
        Poll::Ready(Some(Ok(Bytes::from_static(b"b"))))
    );
    assert!(d.conn.poll_data(1).is_pending());
    d.feed(&data(1, b"", true));
    assert_eq!(d.take_events(), [Event::StreamReadable(1)]);
    assert_eq!(d.conn.poll_data(1), Poll::Ready(None));
}

#[test]
fn a_reset_wakes_reader_and_writer() {
    let mut d = Driver::default_config();
    d.open(&post(1));
    assert!(d.conn.poll_data(1).is_pending());
    assert!(d.conn.poll_reset(1).is_pending());
    d.feed(&rst(1, ErrorCode::CANCEL));
    let mut events = d.take_events();
    events.sort_by_key(|e| matches!(e, Event::StreamWritable(_)));
    assert_eq!(events, [Event::StreamReadable(1), Event::StreamWritable(1)]);
    assert_eq!(d.conn.poll_reset(1), Poll::Ready(ErrorCode::CANCEL));
    assert_eq!(
        d.conn.poll_data(1),
        Poll::Ready(Some(Err(StreamError::Reset(ErrorCode::CANCEL))))
    );
}

#[test]
fn the_connections_end_wakes_every_waiting_handle() {
    let mut d = Driver::default_config();
    d.open(&post(1));
    d.open(&post(3));
    assert!(d.conn.poll_data(1).is_pending());
    assert!(d.conn.poll_reset(3).is_pending());
    d.conn.end("closed by the client");
    let mut events = d.take_events();
    events.sort_by_key(|e| match e {
        Event::StreamReadable(id) | Event::StreamWritable(id) => *id,
    });
    assert_eq!(events, [Event::StreamReadable(1), Event::StreamWritable(3)]);
    assert_eq!(
        d.conn.poll_data(1),
        Poll::Ready(Some(Err(StreamError::ConnectionEnded(
            "closed by the client"
        ))))
    );
    assert!(d.conn.send_data(3, Bytes::new(), true, None).is_err());
    assert!(d.conn.is_done());
}

#[test]
fn senders_wait_while_the_output_is_backed_up() {
    let config = ConnectionConfig {
        output_limit: 20_000,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    d.open(&get(1));
    d.open(&get(3));
    d.conn
        .send_data(1, Bytes::from(vec![0; 30_000]), false, None)
        .unwrap();
    assert!(d.conn.output_backed_up());
    assert!(d.conn.poll_room(3).is_pending());
    d.sent();
    assert!(d.take_events().is_empty());
    d.conn.output_drained();
    assert_eq!(d.take_events(), [Event::StreamWritable(3)]);
    assert_eq!(d.conn.poll_room(3), Poll::Ready(Ok(())));
}

#[test]
fn sending_after_the_end_is_refused() {
    let mut d = Driver::default_config();
    d.open(&get(1));
    d.conn.send_data(1, Bytes::new(), true, None).unwrap();
    assert_eq!(
        d.conn.send_data(1, Bytes::from_static(b"x"), false, None),
        Err(StreamError::SendEnded)
    );
}

#[test]
fn dropping_the_last_handle_resets_an_unfinished_stream() {
    let mut d = Driver::default_config();
    // Response not done: CANCEL.
    d.open(&get(1));
    d.conn.add_ref(1);
    d.conn.release_ref(1);
    assert!(d.resets().is_empty(), "a handle is left");
    d.conn.release_ref(1);
    assert_eq!(d.resets(), [(1, ErrorCode::CANCEL)]);
    assert_eq!(d.output_readied, 1, "the driver's task is told");
    // Response done, request body not: NO_ERROR (section 8.1).
    d.open(&post(3));
    d.conn
        .send_head(3, http::StatusCode::OK, &http::HeaderMap::new(), true);
    d.conn.release_ref(3);
    assert_eq!(d.resets(), [(3, ErrorCode::NO_ERROR)]);
    assert!(!d.conn.has_streams());
}

#[test]
fn a_stream_still_sending_outlives_its_handles() {
    let mut d = Driver::default_config();
    d.feed(&super::driver::settings(super::super::super::Settings {
        initial_window_size: Some(0),
        ..Default::default()
    }));
    d.open(&get(1));
    d.conn
        .send_data(1, Bytes::from_static(b"tail"), true, None)
        .unwrap();
    d.conn.release_ref(1);
    assert!(d.conn.has_stream(1), "its data waits for the window");
    d.feed(&super::driver::window_update(1, 10));
    assert!(!d.conn.has_streams(), "sent, then removed");
    assert!(d.resets().is_empty());
}

#[test]
fn a_stalled_body_is_reset_once_its_service_waited_long_enough() {
    let mut d = Driver::default_config();
    let timeout = Duration::from_secs(30);
    d.open(&post(1));
    // The service holds the body's handle beside the response's.
    d.conn.add_ref(1);
    let start = Instant::now();
    assert_eq!(d.conn.expire_stalled_bodies(start, timeout), 0);
    assert!(d.conn.poll_data(1).is_pending(), "the service waits");
    assert_eq!(d.conn.expire_stalled_bodies(start, timeout), 0, "armed");
    let later = start + timeout;
    // Progress short of 1 KiB does not disarm the clock.
    d.feed(&data(1, &[0; 100], false));
    let _ = d.conn.poll_data(1);
    assert!(d.conn.poll_data(1).is_pending());
    assert_eq!(d.conn.expire_stalled_bodies(later, timeout), 1);
    assert_eq!(d.resets(), [(1, ErrorCode::CANCEL)]);
}

#[test]
fn a_body_that_keeps_coming_is_not_reset() {
    let mut d = Driver::default_config();
    let timeout = Duration::from_secs(30);
    d.open(&post(1));
    d.conn.add_ref(1);
    let start = Instant::now();
    assert!(d.conn.poll_data(1).is_pending());
    assert_eq!(d.conn.expire_stalled_bodies(start, timeout), 0);
    d.feed(&data(1, &[0; 2048], false));
    let _ = d.conn.poll_data(1);
    assert!(d.conn.poll_data(1).is_pending());
    let later = start + timeout;
    assert_eq!(d.conn.expire_stalled_bodies(later, timeout), 0, "re-armed");
    assert_eq!(
        d.conn.expire_stalled_bodies(later + timeout, timeout),
        1,
        "then stalled"
    );
}

/// Found by the `http2_connection` fuzz target: a head asked for after
/// the stream's END_STREAM went out after it.
#[test]
fn a_head_after_the_streams_end_is_dropped() {
    let mut d = Driver::default_config();
    d.open(&get(1));
    d.conn.add_ref(1);
    d.conn
        .send_data(1, Bytes::from_static(b"body"), true, None)
        .unwrap();
    d.sent();
    d.conn
        .send_head(1, http::StatusCode::OK, &http::HeaderMap::new(), false);
    assert!(d.sent().is_empty(), "nothing after END_STREAM");
    d.open(&get(3));
    d.conn
        .send_head(3, http::StatusCode::OK, &http::HeaderMap::new(), true);
    d.sent();
    d.conn
        .send_head(3, http::StatusCode::OK, &http::HeaderMap::new(), true);
    assert!(d.sent().is_empty(), "one head");
}
