//! The connection's life: its opening SETTINGS, PINGs, the client's
//! GOAWAY, the server's graceful shutdown, idle and failed ends.

use super::super::super::frame::{self, Frame, FrameError};
use super::super::super::{ErrorCode, Settings};
use super::super::{ConnectionConfig, DRAIN_PING, KEEP_ALIVE_PING};
use super::driver::{get, post, settings, Driver};

fn opening_frames(config: ConnectionConfig) -> (Settings, Option<u32>) {
    let mut d = Driver::fresh(config);
    let mut settings = None;
    let mut update = None;
    for frame in d.sent() {
        match frame {
            Frame::Settings(s) => settings = Some(s),
            Frame::WindowUpdate {
                stream_id: 0,
                increment,
            } => update = Some(increment),
            other => panic!("unexpected {other:?}"),
        }
    }
    (settings.expect("SETTINGS first"), update)
}

#[test]
fn announces_the_configured_limits() {
    let (settings, update) = opening_frames(ConnectionConfig::default());
    assert_eq!(settings.max_concurrent_streams, Some(256));
    assert_eq!(settings.initial_window_size, Some(1 << 20));
    assert_eq!(settings.max_frame_size, Some(64 << 10));
    assert_eq!(settings.max_header_list_size, Some(16 << 10));
    assert_eq!(settings.enable_connect_protocol, Some(true));
    assert_eq!(update, Some((4 << 20) - 65_535));

    let config = ConnectionConfig {
        max_concurrent_streams: 8,
        stream_window: 100_000,
        connection_window: 65_535,
        max_frame_size: 1,
        ..Default::default()
    };
    let (settings, update) = opening_frames(config);
    assert_eq!(settings.max_concurrent_streams, Some(8));
    assert_eq!(settings.initial_window_size, Some(100_000));
    // Brought within RFC 9113's range.
    assert_eq!(settings.max_frame_size, Some(16 << 10));
    assert_eq!(
        update, None,
        "the default connection window needs no update"
    );
}

#[test]
fn settings_are_acknowledged_and_acknowledgements_noted() {
    let mut d = Driver::default_config();
    d.feed(&settings(Settings::default()));
    assert_eq!(d.sent(), [Frame::SettingsAck]);
    assert!(!d.conn.settings_acknowledged());
    let mut ack = Vec::new();
    frame::put_settings_ack(&mut ack);
    d.feed(&ack);
    assert!(d.conn.settings_acknowledged());
}

#[test]
fn pings_are_answered_and_answers_noted() {
    let mut d = Driver::default_config();
    let mut wire = Vec::new();
    frame::put_ping(&mut wire, false, *b"12345678");
    d.feed(&wire);
    assert_eq!(
        d.sent(),
        [Frame::Ping {
            ack: true,
            payload: *b"12345678"
        }]
    );
    d.conn.ping();
    assert_eq!(
        d.sent(),
        [Frame::Ping {
            ack: false,
            payload: KEEP_ALIVE_PING
        }]
    );
    let mut wire = Vec::new();
    frame::put_ping(&mut wire, true, KEEP_ALIVE_PING);
    d.feed(&wire);
    assert!(d.conn.take_keep_alive_answered());
    assert!(!d.conn.take_keep_alive_answered(), "taken");
}

#[test]
fn the_clients_goaway_ends_the_connection_with_its_last_stream() {
    let mut d = Driver::default_config();
    d.open(&post(1));
    let mut wire = Vec::new();
    frame::put_goaway(&mut wire, 0, ErrorCode::NO_ERROR, b"");
    d.feed(&wire);
    assert!(!d.conn.is_done(), "stream 1 goes on");
    d.conn.reset(1, ErrorCode::CANCEL);
    d.conn.release_ref(1);
    assert!(d.conn.is_done());
}

#[test]
fn a_graceful_shutdown_serves_what_came_before_its_final_goaway() {
    let mut d = Driver::default_config();
    d.open(&get(1));
    d.conn.begin_shutdown();
    let sent = d.sent();
    assert!(matches!(
        sent[0],
        Frame::GoAway {
            last_stream_id: 0x7fff_ffff,
            code: ErrorCode::NO_ERROR,
            ..
        }
    ));
    assert_eq!(
        sent[1],
        Frame::Ping {
            ack: false,
            payload: DRAIN_PING
        }
    );
    // A request sent before the client saw the GOAWAY is served.
    d.open(&get(3));
    let mut wire = Vec::new();
    frame::put_ping(&mut wire, true, DRAIN_PING);
    d.feed(&wire);
    assert!(d.conn.drain_answered());
    d.conn.finish_shutdown();
    assert_eq!(d.goaway(), Some((3, ErrorCode::NO_ERROR)));
    // Later ones are not.
    assert!(d.feed(&get(5)).is_empty());
    assert!(!d.conn.is_done(), "streams 1 and 3 go on");
    for id in [1, 3] {
        d.conn
            .send_head(id, http::StatusCode::OK, &http::HeaderMap::new(), true);
        d.conn.release_ref(id);
    }
    assert!(d.conn.is_done());
}

#[test]
fn a_failed_connection_says_why_once() {
    let mut d = Driver::default_config();
    d.conn.fail(&FrameError::connection(
        ErrorCode::SETTINGS_TIMEOUT,
        "SETTINGS not acknowledged in time",
    ));
    d.conn.close_idle();
    let sent = d.sent();
    assert_eq!(sent.len(), 1, "one GOAWAY");
    assert_eq!(d.conn.ended(), Some("SETTINGS not acknowledged in time"));
    assert!(d.feed(&get(1)).is_empty(), "nothing is read after the end");
}

#[test]
fn idle_and_unresponsive_connections_end_with_a_goaway() {
    let mut d = Driver::default_config();
    d.conn.close_idle();
    assert_eq!(d.goaway(), Some((0, ErrorCode::NO_ERROR)));
    let mut d = Driver::default_config();
    d.conn.close_unresponsive();
    assert_eq!(d.goaway(), Some((0, ErrorCode::NO_ERROR)));
    assert_eq!(d.conn.ended(), Some("keep-alive ping not answered"));
}

#[test]
fn a_push_promise_from_the_client_ends_the_connection() {
    let mut d = Driver::default_config();
    let mut wire = Vec::new();
    frame::put_header(
        &mut wire,
        frame::kind::PUSH_PROMISE,
        frame::flag::END_HEADERS,
        1,
        4,
    );
    wire.extend_from_slice(&[0, 0, 0, 2]);
    d.feed(&wire);
    assert_eq!(d.goaway(), Some((0, ErrorCode::PROTOCOL_ERROR)));
}
