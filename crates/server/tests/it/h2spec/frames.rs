//! Each frame type's rules (RFC 9113 section 6): the stream it may come
//! on, its length, its flags and its values.

use pushwire_proto::http2::frame::{flag, kind};
use pushwire_proto::http2::ErrorCode as E;

use super::peer::pseudo;
use super::{run_cases, Case, Expect};
use crate::common::TestServer;

/// A PRIORITY payload: depends on `stream`, weight 16.
fn priority_on(stream: u32) -> [u8; 5] {
    let id = stream.to_be_bytes();
    [id[0], id[1], id[2], id[3], 15]
}

fn goaway_payload(code: E) -> Vec<u8> {
    let mut payload = 0u32.to_be_bytes().to_vec();
    payload.extend_from_slice(&code.0.to_be_bytes());
    payload
}

pub const CASES: &[Case] = &[
    // 6.1 DATA
    Case {
        name: "6.1 DATA on stream 0",
        script: |s| {
            s.frame(kind::DATA, 0, 0, b"data");
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.1 DATA with padding is served",
        script: |s| {
            s.post(1).frame(
                kind::DATA,
                flag::PADDED | flag::END_STREAM,
                1,
                b"\x03body\0\0\0",
            );
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "6.1 DATA whose padding is as long as the payload",
        script: |s| {
            s.post(1)
                .frame(kind::DATA, flag::PADDED | flag::END_STREAM, 1, b"\x04abc");
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.1 DATA with PADDED and no payload",
        script: |s| {
            s.post(1).frame(kind::DATA, flag::PADDED, 1, b"");
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    // 6.2 HEADERS
    Case {
        name: "6.2 HEADERS on stream 0",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.headers_block(0, &block, flag::END_STREAM);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.2 HEADERS with padding and a priority is served",
        script: |s| {
            let mut payload = vec![2];
            payload.extend_from_slice(&priority_on(0));
            payload.extend(s.block(&pseudo("GET", "/healthz")));
            payload.extend_from_slice(&[0, 0]);
            s.headers_block(
                1,
                &payload,
                flag::PADDED | flag::PRIORITY | flag::END_STREAM,
            );
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "6.2 HEADERS whose padding is as long as the payload",
        script: |s| {
            s.headers_block(1, &[10, 0x82, 0x86, 0x84], flag::PADDED | flag::END_STREAM);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.2 HEADERS with PRIORITY too short for it",
        script: |s| {
            s.headers_block(1, &[0, 0, 0], flag::PRIORITY | flag::END_STREAM);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "5.3.1 HEADERS that depends on its own stream",
        script: |s| {
            let mut payload = priority_on(1).to_vec();
            payload.extend(s.block(&pseudo("GET", "/healthz")));
            s.headers_block(1, &payload, flag::PRIORITY | flag::END_STREAM);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    // 6.3 PRIORITY
    Case {
        name: "6.3 PRIORITY on stream 0",
        script: |s| {
            s.frame(kind::PRIORITY, 0, 0, &priority_on(1));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.3 PRIORITY of length 4 on an idle stream",
        script: |s| {
            s.frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 0]);
        },
        expect: Expect::Reset(1, E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.3 PRIORITY of length 6 on an open stream",
        script: |s| {
            s.post(1).frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 0, 15, 0]);
        },
        expect: Expect::Reset(1, E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "5.3.1 PRIORITY that depends on its own stream",
        script: |s| {
            s.post(1).frame(kind::PRIORITY, 0, 1, &priority_on(1));
        },
        expect: Expect::Reset(1, E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.3 PRIORITY on an idle stream, then HEADERS on it",
        script: |s| {
            s.frame(kind::PRIORITY, 0, 3, &priority_on(0)).get(3);
        },
        expect: Expect::Status(3, 200),
    },
    // 6.4 RST_STREAM
    Case {
        name: "6.4 RST_STREAM on stream 0",
        script: |s| {
            s.reset(0, E::CANCEL);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.4 RST_STREAM on an idle stream",
        script: |s| {
            s.reset(3, E::CANCEL);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.4 RST_STREAM of length 3",
        script: |s| {
            s.post(1).frame(kind::RST_STREAM, 0, 1, &[0, 0, 8]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.4 RST_STREAM of length 5",
        script: |s| {
            s.post(1).frame(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8, 0]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.4 RST_STREAM with an unknown code",
        script: |s| {
            s.post(1).reset(1, E(0xff));
        },
        expect: Expect::Ignored,
    },
    // 6.6 PUSH_PROMISE
    Case {
        name: "6.6 PUSH_PROMISE from a client",
        script: |s| {
            s.post(1);
            let mut payload = 2u32.to_be_bytes().to_vec();
            payload.extend(s.block(&pseudo("GET", "/healthz")));
            s.frame(kind::PUSH_PROMISE, flag::END_HEADERS, 1, &payload);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    // 6.7 PING
    Case {
        name: "6.7 PING is answered with its payload",
        script: |s| {
            s.frame(kind::PING, 0, 0, b"pingpong");
        },
        expect: Expect::Pong(*b"pingpong"),
    },
    Case {
        name: "6.7 a PING acknowledgement that nothing asked for is ignored",
        script: |s| {
            s.frame(kind::PING, flag::ACK, 0, b"unasked!");
        },
        expect: Expect::Ignored,
    },
    Case {
        name: "6.7 PING on a stream",
        script: |s| {
            s.frame(kind::PING, 0, 1, b"pingpong");
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.7 PING of length 6",
        script: |s| {
            s.frame(kind::PING, 0, 0, b"pingpo");
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.7 PING of length 9",
        script: |s| {
            s.frame(kind::PING, 0, 0, b"pingpongs");
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    // 6.8 GOAWAY
    Case {
        name: "6.8 GOAWAY on a stream",
        script: |s| {
            s.frame(kind::GOAWAY, 0, 1, &goaway_payload(E::NO_ERROR));
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.8 GOAWAY shorter than 8",
        script: |s| {
            s.frame(kind::GOAWAY, 0, 0, &[0, 0, 0, 0, 0, 0, 0]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.8 the client's GOAWAY lets an open stream finish, then the connection closes",
        script: |s| {
            s.post(1)
                .frame(kind::GOAWAY, 0, 0, &goaway_payload(E::NO_ERROR));
            s.data(1, b"last", true).await_end(1);
        },
        expect: Expect::Closed,
    },
    // 6.9 WINDOW_UPDATE
    Case {
        name: "6.9 WINDOW_UPDATE of 0 on the connection",
        script: |s| {
            s.frame(kind::WINDOW_UPDATE, 0, 0, &0u32.to_be_bytes());
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.9 WINDOW_UPDATE of 0 on an open stream",
        script: |s| {
            s.post(1)
                .frame(kind::WINDOW_UPDATE, 0, 1, &0u32.to_be_bytes());
        },
        expect: Expect::Reset(1, E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.9 WINDOW_UPDATE of length 3",
        script: |s| {
            s.frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 1]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.9 WINDOW_UPDATE of length 5 on a stream",
        script: |s| {
            s.post(1).frame(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 0, 1, 0]);
        },
        expect: Expect::GoAway(E::FRAME_SIZE_ERROR),
    },
    Case {
        name: "6.9.1 WINDOW_UPDATE past 2^31-1 on the connection",
        script: |s| {
            s.frame(kind::WINDOW_UPDATE, 0, 0, &((1u32 << 31) - 1).to_be_bytes());
        },
        expect: Expect::GoAway(E::FLOW_CONTROL_ERROR),
    },
    Case {
        name: "6.9.1 two WINDOW_UPDATEs past 2^31-1 on the connection",
        script: |s| {
            let half = 1u32 << 30;
            s.frame(kind::WINDOW_UPDATE, 0, 0, &half.to_be_bytes())
                .frame(kind::WINDOW_UPDATE, 0, 0, &half.to_be_bytes());
        },
        expect: Expect::GoAway(E::FLOW_CONTROL_ERROR),
    },
    Case {
        name: "6.9.1 WINDOW_UPDATE past 2^31-1 on a stream",
        script: |s| {
            s.post(1)
                .frame(kind::WINDOW_UPDATE, 0, 1, &((1u32 << 31) - 1).to_be_bytes());
        },
        expect: Expect::Reset(1, E::FLOW_CONTROL_ERROR),
    },
    Case {
        name: "6.9 WINDOW_UPDATE with the reserved bit set",
        script: |s| {
            s.frame(kind::WINDOW_UPDATE, 0, 0, &0x8000_0001u32.to_be_bytes());
        },
        expect: Expect::Ignored,
    },
    // 6.10 CONTINUATION
    Case {
        name: "6.10 HEADERS and CONTINUATION frames make one field block",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            let (first, rest) = block.split_at(3);
            s.frame(kind::HEADERS, flag::END_STREAM, 1, first);
            let (middle, last) = rest.split_at(rest.len() / 2);
            s.frame(kind::CONTINUATION, 0, 1, middle).frame(
                kind::CONTINUATION,
                flag::END_HEADERS,
                1,
                last,
            );
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "6.10 CONTINUATION with no HEADERS before it",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.10 CONTINUATION after a HEADERS that ended its block",
        script: |s| {
            s.post(1);
            let block = s.block(&[("x-more", "1")]);
            s.frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.10 CONTINUATION on stream 0",
        script: |s| {
            s.frame(kind::CONTINUATION, flag::END_HEADERS, 0, &[0x82]);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.10 CONTINUATION on another stream",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.frame(kind::HEADERS, flag::END_STREAM, 1, &block[..2])
                .frame(kind::CONTINUATION, flag::END_HEADERS, 3, &block[2..]);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.10 DATA between HEADERS and CONTINUATION",
        script: |s| {
            let block = s.block(&pseudo("POST", "/mirror"));
            s.frame(kind::HEADERS, 0, 1, &block[..2])
                .data(1, b"early", false)
                .frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block[2..]);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "4.3 PRIORITY between HEADERS and CONTINUATION",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.frame(kind::HEADERS, flag::END_STREAM, 1, &block[..2])
                .frame(kind::PRIORITY, 0, 1, &priority_on(0))
                .frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block[2..]);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.10 PING between HEADERS and CONTINUATION",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.frame(kind::HEADERS, flag::END_STREAM, 1, &block[..2])
                .frame(kind::PING, 0, 0, b"between!")
                .frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block[2..]);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
    Case {
        name: "6.10 an unknown frame type between HEADERS and CONTINUATION",
        script: |s| {
            let block = s.block(&pseudo("GET", "/healthz"));
            s.frame(kind::HEADERS, flag::END_STREAM, 1, &block[..2])
                .frame(0xfa, 0, 0, b"between")
                .frame(kind::CONTINUATION, flag::END_HEADERS, 1, &block[2..]);
        },
        expect: Expect::GoAway(E::PROTOCOL_ERROR),
    },
];

#[tokio::test]
async fn frame_type_rules() {
    let server = TestServer::start(|s| s).await;
    let ran = run_cases(server.addr, CASES).await;
    eprintln!("h2spec frames: {ran} cases");
}

/// Flow control against a server whose streams' windows are 1,000
/// bytes (section 6.9.1).
pub const FLOW_CONTROL_CASES: &[Case] = &[
    Case {
        name: "6.9.1 DATA that fills the stream's window is served",
        script: |s| {
            s.post(1).data(1, &[b'w'; 1000], true);
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "6.9.1 DATA beyond the stream's window",
        script: |s| {
            s.post(1).data(1, &[b'w'; 1001], true);
        },
        expect: Expect::Reset(1, E::FLOW_CONTROL_ERROR),
    },
    Case {
        name: "6.9.1 padding counts against the stream's window",
        script: |s| {
            let mut payload = vec![20];
            payload.extend_from_slice(&[b'w'; 990]);
            payload.extend_from_slice(&[0; 20]);
            s.post(1)
                .frame(kind::DATA, flag::PADDED | flag::END_STREAM, 1, &payload);
        },
        expect: Expect::Reset(1, E::FLOW_CONTROL_ERROR),
    },
];

#[tokio::test]
async fn flow_control_of_request_bodies() {
    let config = pushwire::server::Http2Config::default().stream_window(1000);
    let server = TestServer::start(|s| s.http2(config)).await;
    let ran = run_cases(server.addr, FLOW_CONTROL_CASES).await;
    eprintln!("h2spec flow control: {ran} cases");
}
