//! Flow control both ways (RFC 9113 section 5.2, 6.9): what the windows
//! let out, what a WINDOW_UPDATE or SETTINGS lets out next, and the
//! updates and overflows that are errors.

use std::task::Poll;

use bytes::Bytes;

use super::super::super::frame::Frame;
use super::super::super::{ErrorCode, Settings};
use super::super::{ConnectionConfig, Event};
use super::driver::{data, get, post, settings, window_update, Driver};

/// The DATA frames among `frames`: stream, length, end of stream.
fn data_frames(frames: &[Frame]) -> Vec<(u32, usize, bool)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data {
                stream_id,
                data,
                end_stream,
                ..
            } => Some((*stream_id, data.len(), *end_stream)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stream_window_of_zero_holds_data_until_an_update() {
    let mut d = Driver::default_config();
    d.feed(&settings(Settings {
        initial_window_size: Some(0),
        ..Default::default()
    }));
    d.open(&get(1));
    d.conn
        .send_head(1, http::StatusCode::OK, &http::HeaderMap::new(), false);
    d.conn
        .send_data(1, Bytes::from_static(b"hello"), true, None)
        .unwrap();
    assert!(data_frames(&d.sent()).is_empty(), "no window");
    assert!(d.conn.poll_room(1).is_pending(), "data still queued");
    assert_eq!(d.conn.stream_buffered(), 5);
    d.take_events();
    d.feed(&window_update(1, 3));
    assert_eq!(data_frames(&d.sent()), [(1, 3, false)]);
    assert!(d.take_events().is_empty(), "the writer waits for all of it");
    d.feed(&window_update(1, 100));
    assert_eq!(data_frames(&d.sent()), [(1, 2, true)]);
    assert_eq!(d.take_events(), [Event::StreamWritable(1)]);
}

#[test]
fn the_connection_window_is_shared_and_reopened() {
    let mut d = Driver::default_config();
    for id in [1, 3] {
        d.open(&get(id));
        d.conn
            .send_data(id, Bytes::from(vec![0; 40_000]), true, None)
            .unwrap();
    }
    // 65,535 bytes, in frames no larger than the peer's 16 KiB.
    let sent = data_frames(&d.sent());
    assert_eq!(sent.iter().map(|f| f.1).sum::<usize>(), 65_535);
    assert!(sent.iter().all(|f| f.1 <= 16 << 10));
    d.feed(&window_update(0, 100_000));
    let sent = data_frames(&d.sent());
    assert_eq!(sent.iter().map(|f| f.1).sum::<usize>(), 80_000 - 65_535);
    assert_eq!(sent.last().map(|f| f.2), Some(true));
}

#[test]
fn a_larger_initial_window_lets_queued_data_out() {
    let mut d = Driver::default_config();
    d.feed(&settings(Settings {
        initial_window_size: Some(10),
        ..Default::default()
    }));
    d.open(&get(1));
    d.conn
        .send_data(1, Bytes::from_static(b"0123456789abcdef"), true, None)
        .unwrap();
    assert_eq!(data_frames(&d.sent()), [(1, 10, false)]);
    d.feed(&settings(Settings {
        initial_window_size: Some(100),
        ..Default::default()
    }));
    let sent = d.sent();
    assert_eq!(data_frames(&sent), [(1, 6, true)]);
    assert!(sent.contains(&Frame::SettingsAck));
}

#[test]
fn window_overflows_are_errors() {
    // A stream's window past 2^31-1: the stream is reset.
    let mut d = Driver::default_config();
    d.open(&get(1));
    d.feed(&window_update(1, (1 << 31) - 1));
    assert_eq!(d.resets(), [(1, ErrorCode::FLOW_CONTROL_ERROR)]);
    assert!(d.conn.ended().is_none());
    // The connection's: the connection ends.
    d.feed(&window_update(0, (1 << 31) - 1));
    assert_eq!(d.goaway(), Some((1, ErrorCode::FLOW_CONTROL_ERROR)));
    // SETTINGS that push an open stream's window past it.
    let mut d = Driver::default_config();
    d.open(&get(1));
    d.feed(&window_update(1, (1 << 31) - 1 - 65_535));
    d.feed(&settings(Settings {
        initial_window_size: Some(65_536),
        ..Default::default()
    }));
    assert_eq!(d.goaway(), Some((1, ErrorCode::FLOW_CONTROL_ERROR)));
}

#[test]
fn data_beyond_the_receive_windows_is_refused() {
    let config = ConnectionConfig {
        stream_window: 100,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    d.open(&post(1));
    d.feed(&data(1, &[0; 101], false));
    assert_eq!(d.resets(), [(1, ErrorCode::FLOW_CONTROL_ERROR)]);

    let config = ConnectionConfig {
        connection_window: 65_535,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    d.open(&post(1));
    d.feed(&data(1, &[0; 60_000], false));
    d.feed(&data(1, &[0; 6_000], false));
    assert_eq!(d.goaway(), Some((1, ErrorCode::FLOW_CONTROL_ERROR)));
}

#[test]
fn reading_returns_the_window() {
    let config = ConnectionConfig {
        stream_window: 1000,
        ..Default::default()
    };
    let mut d = Driver::new(config);
    d.open(&post(1));
    d.feed(&data(1, &[7; 600], false));
    assert!(d.sent().is_empty(), "nothing read yet");
    let Poll::Ready(Some(Ok(read))) = d.conn.poll_data(1) else {
        panic!("data expected");
    };
    assert_eq!(read.len(), 600);
    assert!(d.sent().contains(&Frame::WindowUpdate {
        stream_id: 1,
        increment: 600,
    }));
}

#[test]
fn frames_never_exceed_the_peers_frame_size() {
    let mut d = Driver::default_config();
    d.feed(&settings(Settings {
        max_frame_size: Some(16 << 10),
        ..Default::default()
    }));
    d.open(&get(1));
    // A head whose block needs CONTINUATION frames.
    let mut headers = http::HeaderMap::new();
    for i in 0..40 {
        let name = http::HeaderName::try_from(format!("x-h{i}")).unwrap();
        headers.insert(
            name,
            http::HeaderValue::from_str(&"v".repeat(1000)).unwrap(),
        );
    }
    d.conn.send_head(1, http::StatusCode::OK, &headers, false);
    d.conn
        .send_data(1, Bytes::from(vec![1; 50_000]), true, None)
        .unwrap();
    // Decoding checks each frame against 16 KiB.
    let sent = d.sent();
    assert!(sent.iter().any(|f| matches!(f, Frame::Continuation { .. })));
    assert_eq!(
        data_frames(&sent).iter().map(|f| f.1).sum::<usize>(),
        50_000
    );
}
