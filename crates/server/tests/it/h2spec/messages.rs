//! HTTP messages (RFC 9113 section 8): the fields a request may carry,
//! its pseudo-headers, its length, and its trailers. A malformed request
//! resets its stream (`PROTOCOL_ERROR`, section 8.1.1) and reaches no
//! service; the connection serves on.

use pushwire_proto::http2::ErrorCode as E;

use super::peer::pseudo;
use super::{run_cases, Case, Expect};
use crate::common::TestServer;

/// A malformed request: `fields` after the usual pseudo-headers of
/// `GET /healthz`, with END_STREAM.
macro_rules! malformed_get {
    ($name:expr, [$(($field:expr, $value:expr)),* $(,)?]) => {
        Case {
            name: $name,
            script: |s| {
                let mut fields = pseudo("GET", "/healthz");
                fields.extend([$(($field, $value)),*]);
                s.request(1, &fields, true);
            },
            expect: Expect::Reset(1, E::PROTOCOL_ERROR),
        }
    };
}

/// A request of exactly `fields`, with END_STREAM, and its reaction.
macro_rules! request {
    ($name:expr, [$(($field:expr, $value:expr)),* $(,)?], $expect:expr) => {
        Case {
            name: $name,
            script: |s| {
                s.request(1, &[$(($field, $value)),*], true);
            },
            expect: $expect,
        }
    };
}

/// A POST to `/mirror` with `fields` added, then `body` in one DATA
/// frame with END_STREAM, and its reaction.
macro_rules! post {
    ($name:expr, [$(($field:expr, $value:expr)),* $(,)?], $body:expr, $expect:expr) => {
        Case {
            name: $name,
            script: |s| {
                let mut fields = pseudo("POST", "/mirror");
                fields.extend([$(($field, $value)),*]);
                s.request(1, &fields, false).data(1, $body, true);
            },
            expect: $expect,
        }
    };
}

const MALFORMED: Expect = Expect::Reset(1, E::PROTOCOL_ERROR);

pub const CASES: &[Case] = &[
    // 8.1: the message's frames.
    Case {
        name: "8.1 trailers end the request",
        script: |s| {
            s.post(1)
                .data(1, b"body", false)
                .request(1, &[("x-checksum", "1")], true);
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "8.1 a second HEADERS without END_STREAM",
        script: |s| {
            s.post(1)
                .data(1, b"body", false)
                .request(1, &[("x-checksum", "1")], false);
        },
        expect: MALFORMED,
    },
    Case {
        name: "8.1 trailers with a pseudo-header",
        script: |s| {
            s.post(1)
                .data(1, b"body", false)
                .request(1, &[(":status", "200")], true);
        },
        expect: MALFORMED,
    },
    // 8.1.1: the length.
    post!(
        "8.1.1 content-length that the DATA matches",
        [("content-length", "4")],
        b"four",
        Expect::Status(1, 200)
    ),
    post!(
        "8.1.1 content-length above the DATA's length",
        [("content-length", "5")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 content-length below the DATA's length",
        [("content-length", "3")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 content-length with a plus sign",
        [("content-length", "+4")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 content-length with a minus sign",
        [("content-length", "-4")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 content-length with spaces inside",
        [("content-length", "4 4")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 content-length that is empty",
        [("content-length", "")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 content-length in hexadecimal",
        [("content-length", "0x4")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 content-length beyond 2^64",
        [("content-length", "18446744073709551620")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 two different content-length fields",
        [("content-length", "4"), ("content-length", "5")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 a content-length list of different values",
        [("content-length", "4, 5")],
        b"four",
        MALFORMED
    ),
    post!(
        "8.1.1 two equal content-length fields (RFC 9110 8.6)",
        [("content-length", "4"), ("content-length", "4")],
        b"four",
        Expect::Status(1, 200)
    ),
    request!(
        "8.1.1 content-length on a request that ends with its HEADERS",
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/mirror"),
            (":authority", "localhost"),
            ("content-length", "1"),
        ],
        MALFORMED
    ),
    Case {
        name: "8.1.1 content-length not reached by DATA then trailers",
        script: |s| {
            let mut fields = pseudo("POST", "/mirror");
            fields.push(("content-length", "10"));
            s.request(1, &fields, false)
                .data(1, b"four", false)
                .request(1, &[("x-checksum", "1")], true);
        },
        expect: MALFORMED,
    },
    // 8.2: field names and values.
    malformed_get!("8.2 an uppercase field name", [("X-Upper", "1")]),
    malformed_get!("8.2.1 a field name with a space", [("x bad", "1")]),
    malformed_get!("8.2.1 a field name with a colon inside", [("x:bad", "1")]),
    malformed_get!("8.2.1 an empty field name", [("", "1")]),
    malformed_get!(
        "8.2.1 a field name with a non-ASCII byte",
        [("x-\u{e9}", "1")]
    ),
    malformed_get!("8.2.1 a field value with a leading space", [("x-v", " v")]),
    malformed_get!("8.2.1 a field value with a trailing space", [("x-v", "v ")]),
    malformed_get!("8.2.1 a field value with a leading tab", [("x-v", "\tv")]),
    malformed_get!("8.2.1 a field value with a trailing tab", [("x-v", "v\t")]),
    malformed_get!("8.2.1 a field value with NUL", [("x-v", "a\0b")]),
    malformed_get!("8.2.1 a field value with CR", [("x-v", "a\rb")]),
    malformed_get!("8.2.1 a field value with LF", [("x-v", "a\nb")]),
    Case {
        name: "8.2.1 a field value with a space and a tab inside is served",
        script: |s| {
            let mut fields = pseudo("GET", "/healthz");
            fields.push(("x-v", "a b\tc"));
            s.request(1, &fields, true);
        },
        expect: Expect::Status(1, 200),
    },
    // 8.2.2: connection-specific fields.
    malformed_get!("8.2.2 connection", [("connection", "keep-alive")]),
    malformed_get!("8.2.2 keep-alive", [("keep-alive", "timeout=5")]),
    malformed_get!("8.2.2 proxy-connection", [("proxy-connection", "close")]),
    malformed_get!(
        "8.2.2 transfer-encoding",
        [("transfer-encoding", "chunked")]
    ),
    malformed_get!("8.2.2 upgrade", [("upgrade", "websocket")]),
    malformed_get!("8.2.2 te other than trailers", [("te", "gzip")]),
    malformed_get!("8.2.2 te: trailers, gzip", [("te", "trailers, gzip")]),
    Case {
        name: "8.2.2 te: trailers is served",
        script: |s| {
            let mut fields = pseudo("GET", "/healthz");
            fields.push(("te", "trailers"));
            s.request(1, &fields, true);
        },
        expect: Expect::Status(1, 200),
    },
    // 8.3: pseudo-headers.
    request!(
        "8.3 no :method",
        [
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 no :scheme",
        [
            (":method", "GET"),
            (":path", "/healthz"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 no :path",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 an empty :path",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", ""),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 a :path without its leading slash",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "healthz"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 a :path of * for GET",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "*"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 a :path with a space",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/a b"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 :method twice",
        [
            (":method", "GET"),
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 :scheme twice",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":scheme", "http"),
            (":path", "/healthz")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 :path twice",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":path", "/healthz")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 :authority twice",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "a"),
            (":authority", "a")
        ],
        MALFORMED
    ),
    malformed_get!("8.3 an unknown pseudo-header", [(":foo", "bar")]),
    malformed_get!("8.3 a response pseudo-header", [(":status", "200")]),
    request!(
        "8.3 a pseudo-header after a regular field",
        [
            (":method", "GET"),
            (":scheme", "http"),
            ("x-first", "1"),
            (":path", "/healthz")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 an :authority with userinfo",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "user@localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 an :authority with userinfo and password",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "user:pw@localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 an :authority with a path",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "localhost/x")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 an :authority with a bad port",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "localhost:xyz")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 an empty :authority",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 a :scheme that is not http or https",
        [
            (":method", "GET"),
            (":scheme", "foo"),
            (":path", "/healthz"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 a :scheme that is not a scheme",
        [
            (":method", "GET"),
            (":scheme", "ht tp"),
            (":path", "/healthz"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 a host field that differs from :authority",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "localhost"),
            ("host", "elsewhere")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 a host field without :authority is served",
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/healthz"),
            ("host", "localhost")
        ],
        Expect::Status(1, 200)
    ),
    request!(
        "8.3.1 https, an :authority with a port and a host field that agrees are served",
        [
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/healthz"),
            (":authority", "localhost:8080"),
            ("host", "localhost:8080")
        ],
        Expect::Status(1, 200)
    ),
    request!(
        "8.3.1 a :method that is not a token",
        [
            (":method", "G T"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "8.3.1 HEAD is answered without a body",
        [
            (":method", "HEAD"),
            (":scheme", "http"),
            (":path", "/healthz"),
            (":authority", "localhost")
        ],
        Expect::Status(1, 200)
    ),
    // 8.5: CONNECT, and RFC 8441's extended CONNECT.
    request!(
        "8.5 CONNECT without :authority",
        [(":method", "CONNECT")],
        MALFORMED
    ),
    request!(
        "8.5 CONNECT with :path and no :protocol",
        [
            (":method", "CONNECT"),
            (":authority", "localhost:443"),
            (":path", "/")
        ],
        MALFORMED
    ),
    request!(
        "RFC 8441 :protocol on a GET",
        [
            (":method", "GET"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", "/echo"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
    request!(
        "RFC 8441 extended CONNECT without :path",
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":authority", "localhost")
        ],
        MALFORMED
    ),
];

#[tokio::test]
async fn http_message_rules() {
    let server = TestServer::start(|s| s).await;
    let ran = run_cases(server.addr, CASES).await;
    eprintln!("h2spec messages: {ran} cases");
}
