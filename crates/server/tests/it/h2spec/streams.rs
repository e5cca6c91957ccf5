//! Streams (RFC 9113 section 5.1): every state a stream passes through
//! and the frames each admits, stream identifiers (5.1.1) and the
//! concurrent streams' limit (5.1.2).
//!
//! The server's side of a stream ends at once for `GET /healthz`; for
//! `POST /mirror` it waits for the request's body. A HEADERS with
//! END_STREAM and a frame after it in one write reach the server
//! together, before the response: the stream is then half-closed
//! (remote) when the frame arrives.

use pushwire_proto::http2::frame::{flag, kind};
use pushwire_proto::http2::ErrorCode as E;

use super::peer::{pseudo, Peer, Script};
use super::{run_cases, Case, Expect};
use crate::common::TestServer;

fn window_update(increment: u32) -> [u8; 4] {
    increment.to_be_bytes()
}

/// A PRIORITY frame's payload: no dependency, weight 16.
const PRIORITY: [u8; 5] = [0, 0, 0, 0, 15];

pub const CASES: &[Case] = &[
    // idle
    Case {
        name: "5.1 idle: DATA",
        script: |s| {
            s.data(1, b"x", true);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1 idle: RST_STREAM",
        script: |s| {
            s.reset(1, E::CANCEL);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1 idle: WINDOW_UPDATE",
        script: |s| {
            s.frame(kind::WINDOW_UPDATE, 0, 1, &window_update(100));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1 idle: CONTINUATION",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1 idle: PRIORITY is accepted",
        script: |s| {
            s.frame(kind::PRIORITY, 0, 3, &PRIORITY);
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "5.1 idle: HEADERS opens the stream",
        script: |s| {
            s.get(1);
        },
        expect: Expect::Status(1, 200),
    },
    // open
    Case {
        name: "5.1 open: DATA, then DATA with END_STREAM",
        script: |s| {
            s.post(1).data(1, b"one ", false).data(1, b"two", true);
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "5.1 open: WINDOW_UPDATE and PRIORITY are accepted",
        script: |s| {
            s.post(1)
                .frame(kind::WINDOW_UPDATE, 0, 1, &window_update(100))
                .frame(kind::PRIORITY, 0, 1, &PRIORITY)
                .data(1, b"done", true);
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "5.1 open: RST_STREAM closes the stream without an answer",
        script: |s| {
            s.post(1).reset(1, E::CANCEL);
        },
        expect: Expect::Ignored,
    },
    // half-closed (remote): the client ended its side
    Case {
        name: "5.1 half-closed (remote): DATA",
        script: |s| {
            s.request(1, &pseudo("POST", "/mirror"), true)
                .data(1, b"late", true);
        },
        expect: Expect::Reset(1, E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 half-closed (remote): HEADERS",
        script: |s| {
            s.request(1, &pseudo("POST", "/mirror"), true)
                .request(1, &[("x-trailer", "late")], true);
        },
        expect: Expect::Reset(1, E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 half-closed (remote): CONTINUATION",
        script: |s| {
            s.request(1, &pseudo("POST", "/mirror"), true);
            let block = s.block(&[("x-trailer", "late")]);
            s.frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1 half-closed (remote): WINDOW_UPDATE, PRIORITY are accepted",
        script: |s| {
            s.request(1, &pseudo("POST", "/mirror"), true)
                .frame(kind::WINDOW_UPDATE, 0, 1, &window_update(100))
                .frame(kind::PRIORITY, 0, 1, &PRIORITY);
        },
        expect: Expect::Status(1, 200),
    },
    // half-closed (local): the server ended its side first; it resets
    // the rest of the request (NO_ERROR, section 8.1), and then ignores
    // what the client had sent before it learned so.
    Case {
        name: "5.1 half-closed (local): the request's rest is declined with NO_ERROR",
        script: |s| {
            s.request(1, &pseudo("POST", "/healthz"), false).await_end(1);
        },
        expect: Expect::Reset(1, E::NO_ERROR),
    },
    Case {
        name: "5.1 closed by the server's RST_STREAM: DATA is ignored",
        script: |s| {
            s.request(1, &pseudo("POST", "/healthz"), false)
                .await_end(1)
                .await_reset(1, E::NO_ERROR)
                .data(1, b"sent before the reset arrived", true);
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "5.1 closed by the server's RST_STREAM: trailers are ignored",
        script: |s| {
            s.request(1, &pseudo("POST", "/healthz"), false)
                .await_end(1)
                .await_reset(1, E::NO_ERROR)
                .request(1, &[("x-trailer", "late")], true);
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "5.1 closed by the server's RST_STREAM (malformed request): DATA is ignored",
        script: |s| {
            s.request(1, &[(":method", "POST"), (":path", "/mirror")], false)
                .await_reset(1, E::PROTOCOL_ERROR)
                .data(1, b"body", true);
        },
        expect: Expect::Ignored,
    },
    // closed by the client's RST_STREAM
    Case {
        name: "5.1 closed by the client's RST_STREAM: DATA",
        script: |s| {
            s.post(1).reset(1, E::CANCEL).data(1, b"late", true);
        },
        expect: Expect::Reset(1, E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 closed by the client's RST_STREAM: HEADERS",
        script: |s| {
            s.post(1)
                .reset(1, E::CANCEL)
                .request(1, &[("x-trailer", "late")], true);
        },
        expect: Expect::Reset(1, E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 closed by the client's RST_STREAM, later: DATA",
        script: |s| {
            s.post(1)
                .reset(1, E::CANCEL)
                .get(3)
                .await_end(3)
                .data(1, b"late", true);
        },
        expect: Expect::Reset(1, E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 closed by the client's RST_STREAM: PRIORITY, WINDOW_UPDATE, RST_STREAM are accepted",
        script: |s| {
            s.post(1)
                .reset(1, E::CANCEL)
                .frame(kind::PRIORITY, 0, 1, &PRIORITY)
                .frame(kind::WINDOW_UPDATE, 0, 1, &window_update(1))
                .reset(1, E::CANCEL);
        },
        expect: Expect::Ignored,
    },
    // closed: both sides ended the stream
    Case {
        name: "5.1 closed after both END_STREAMs: DATA",
        script: |s| {
            s.get(1).await_end(1).data(1, b"late", true);
        },
        expect: Expect::GoAway(E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 closed after both END_STREAMs: HEADERS",
        script: |s| {
            s.get(1).await_end(1).get(1);
        },
        expect: Expect::GoAway(E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 closed after both END_STREAMs: DATA after a body",
        script: |s| {
            s.post(1)
                .data(1, b"body", true)
                .await_end(1)
                .data(1, b"more", true);
        },
        expect: Expect::GoAway(E::STREAM_CLOSED),
    },
    Case {
        name: "5.1 closed after both END_STREAMs: WINDOW_UPDATE, PRIORITY, RST_STREAM are accepted",
        script: |s| {
            s.get(1)
                .await_end(1)
                .frame(kind::WINDOW_UPDATE, 0, 1, &window_update(1))
                .frame(kind::PRIORITY, 0, 1, &PRIORITY)
                .reset(1, E::CANCEL);
        },
        expect: Expect::Ignored,
    },
    // 5.1.1: stream identifiers
    Case {
        name: "5.1.1 HEADERS on an even stream",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.headers_block(2, &block, flag::END_STREAM);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1.1 HEADERS on a lower stream after a higher one was served",
        script: |s| {
            s.get(5).await_end(5).get(3);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1.1 HEADERS on a lower stream while a higher one is open",
        script: |s| {
            s.post(5).get(3);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "5.1.1 identifiers may skip",
        script: |s| {
            s.get(1).get(7);
        },
        expect: Expect::Status(7, 200),
    },
    Case {
        name: "5.1.1 the highest stream identifier",
        script: |s| {
            s.get((1 << 31) - 1);
        },
        expect: Expect::Status((1 << 31) - 1, 200),
    },
];

#[tokio::test]
async fn stream_states_and_identifiers() {
    let server = TestServer::start(|s| s).await;
    let ran = run_cases(server.addr, CASES).await;
    eprintln!("h2spec streams: {ran} cases");
}

/// 5.1.2: a stream beyond SETTINGS_MAX_CONCURRENT_STREAMS is refused
/// with REFUSED_STREAM, and nothing of it is processed; once a stream
/// ends, a new one is served.
#[tokio::test]
async fn streams_beyond_the_concurrency_limit_are_refused() {
    let server = TestServer::start(|s| s.max_concurrent_streams(2)).await;
    let mut script = Script::default();
    script.post(1).post(3).post(5);
    let mut peer = Peer::connect(server.addr, &script).await;
    peer.play(&script).await.unwrap();
    peer.expect(Expect::Reset(5, E::REFUSED_STREAM))
        .await
        .unwrap();
    let mut end = Script::default();
    end.data(1, b"done", true);
    peer.play(&end).await.unwrap();
    peer.expect(Expect::Status(1, 200)).await.unwrap();
    peer.expect_served(&mut script, 7).await.unwrap();
    assert_eq!(server.stats.snapshot().h2_requests, 3);
}
