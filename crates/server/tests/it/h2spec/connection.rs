//! The connection: its preface (RFC 9113 section 3.4), frame layout and
//! size (4.1, 4.2), SETTINGS (6.5) and GOAWAY from the client (6.8).

use pushwire_proto::http2::frame::{flag, kind, PREFACE};
use pushwire_proto::http2::ErrorCode as E;

use super::{run_cases, Case, Expect};
use crate::common::TestServer;

/// The server's default `SETTINGS_MAX_FRAME_SIZE`.
const SERVER_MAX_FRAME: usize = 64 << 10;

/// A SETTINGS frame's payload of one parameter.
fn setting(id: u16, value: u32) -> Vec<u8> {
    let mut payload = id.to_be_bytes().to_vec();
    payload.extend_from_slice(&value.to_be_bytes());
    payload
}

pub const CASES: &[Case] = &[
    // 3.4: the preface must be followed by SETTINGS.
    Case {
        name: "3.4 preface followed by PING instead of SETTINGS",
        script: |s| {
            let mut opening = PREFACE.to_vec();
            opening.extend_from_slice(b"\0\0\x08\x06\0\0\0\0\0pingping");
            s.opening = Some(opening);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "3.4 preface followed by a SETTINGS acknowledgement",
        script: |s| {
            let mut opening = PREFACE.to_vec();
            opening.extend_from_slice(b"\0\0\0\x04\x01\0\0\0\0");
            s.opening = Some(opening);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "3.4 preface and SETTINGS in separate writes, then a request",
        script: |s| {
            s.opening = Some(PREFACE.to_vec());
            s.sleep(std::time::Duration::from_millis(20));
            s.raw(b"\0\0\0\x04\0\0\0\0\0");
            s.get(1);
        },
        expect: Expect::Status(1, 200),
    },
    // 4.1: frame layout.
    Case {
        name: "4.1 a frame of an unknown type is ignored",
        script: |s| {
            s.frame(0xfa, 0, 0, b"whatever");
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "4.1 an unknown type on a stream is ignored",
        script: |s| {
            s.frame(0xfa, 0xff, 1, b"whatever");
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "4.1 undefined flags are ignored",
        script: |s| {
            s.frame(kind::PING, 0x16, 0, b"flagsok!");
        },
        expect: Expect::Pong(*b"flagsok!"),
    },
    Case {
        name: "4.1 the reserved bit of the stream identifier is ignored",
        script: |s| {
            s.raw(b"\0\0\x08\x06\0\x80\0\0\0reserved");
        },
        expect: Expect::Pong(*b"reserved"),
    },
    // 4.2: frame size.
    Case {
        name: "4.2 DATA of 16,384 bytes is accepted",
        script: |s| {
            s.post(1).data(1, &[b'x'; 16_384], true);
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "4.2 DATA of the server's SETTINGS_MAX_FRAME_SIZE is accepted",
        script: |s| {
            s.post(1).data(1, &[b'x'; SERVER_MAX_FRAME], true);
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "4.2 DATA over the server's SETTINGS_MAX_FRAME_SIZE",
        script: |s| {
            s.post(1).data(1, &[b'x'; SERVER_MAX_FRAME + 1], true);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "4.2 HEADERS over the server's SETTINGS_MAX_FRAME_SIZE",
        script: |s| {
            s.frame(
                kind::HEADERS,
                flag::END_HEADERS,
                1,
                &[0; SERVER_MAX_FRAME + 1],
            );
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "4.2 a frame of an unknown type over SETTINGS_MAX_FRAME_SIZE",
        script: |s| {
            s.frame(0xfa, 0, 0, &[0; SERVER_MAX_FRAME + 1]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "4.2 a response over the client's 16,384 bytes comes in frames of at most that",
        script: |s| {
            s.post(1)
                .data(1, &[b'y'; 30_000], false)
                .data(1, &[b'z'; 30_000], true)
                .await_end(1);
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "4.2 a client's larger SETTINGS_MAX_FRAME_SIZE is used, not exceeded",
        script: |s| {
            s.settings.max_frame_size = Some(20_000);
            s.settings.initial_window_size = Some(100_000);
            s.post(1).data(1, &[b'w'; 50_000], true).await_end(1);
        },
        expect: Expect::Ignored,
    },
    // 6.5: SETTINGS.
    Case {
        name: "6.5 SETTINGS acknowledgement with a payload",
        script: |s| {
            s.frame(kind::SETTINGS, flag::ACK, 0, &[0; 6]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.5 SETTINGS on a stream",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 1, &setting(3, 100));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.5 SETTINGS of a length that is not a multiple of 6",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &[0, 3, 0]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.5.2 SETTINGS_ENABLE_PUSH of 2",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &setting(2, 2));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.5.2 SETTINGS_INITIAL_WINDOW_SIZE of 2^31",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &setting(4, 1 << 31));
        },
        expect: Expect::GoAway(E::FLOW_CONTROL_ERROR),
    },
    Case {
        name: "6.5.2 SETTINGS_MAX_FRAME_SIZE of 16,383",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &setting(5, 16_383));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.5.2 SETTINGS_MAX_FRAME_SIZE of 2^24",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &setting(5, 1 << 24));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "RFC 8441 SETTINGS_ENABLE_CONNECT_PROTOCOL of 2",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &setting(8, 2));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.5.2 an unknown SETTINGS parameter is ignored",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &setting(0xff, 1));
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "6.5.2 every known parameter at its limit is accepted",
        script: |s| {
            let mut payload = setting(1, 0);
            payload.extend(setting(2, 0));
            payload.extend(setting(3, 0));
            payload.extend(setting(4, (1 << 31) - 1));
            payload.extend(setting(5, (1 << 24) - 1));
            payload.extend(setting(6, 0));
            s.frame(kind::SETTINGS, 0, 0, &payload);
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "6.9.2 SETTINGS_INITIAL_WINDOW_SIZE that overflows an open stream's window",
        script: |s| {
            s.post(1);
            s.frame(
                kind::WINDOW_UPDATE,
                0,
                1,
                &((1u32 << 31) - 1 - 65_535).to_be_bytes(),
            );
            s.frame(kind::SETTINGS, 0, 0, &setting(4, 65_536));
        },
        expect: Expect::GoAway(E::FLOW_CONTROL_ERROR),
    },
    Case {
        name:
            "6.9.2 SETTINGS_INITIAL_WINDOW_SIZE of 0, then raised: the response waits, then comes",
        script: |s| {
            s.frame(kind::SETTINGS, 0, 0, &setting(4, 0));
            s.post(1).data(1, b"held back", true);
            s.sleep(std::time::Duration::from_millis(50));
            s.frame(kind::SETTINGS, 0, 0, &setting(4, 65_535));
            s.await_end(1);
        },
        expect: Expect::Ignored,
    },
    // 6.8: GOAWAY from the client.
    Case {
        name: "6.8 the client's GOAWAY with no stream open closes the connection",
        script: |s| {
            let mut payload = 0u32.to_be_bytes().to_vec();
            payload.extend_from_slice(&E::NO_ERROR.0.to_be_bytes());
            s.frame(kind::GOAWAY, 0, 0, &payload);
        },
        expect: Expect::Closed,
    },
];

#[tokio::test]
async fn connection_preface_frame_size_and_settings() {
    let server = TestServer::start(|s| s).await;
    let ran = run_cases(server.addr, CASES).await;
    eprintln!("h2spec connection: {ran} cases");
}
