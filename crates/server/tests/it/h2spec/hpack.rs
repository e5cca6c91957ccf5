//! Header compression (RFC 7541): a field block that cannot be decoded
//! ends the connection with `COMPRESSION_ERROR` (RFC 9113 section
//! 4.3), since the dynamic table would go out of step; one that decodes
//! is served.
//!
//! The blocks are written by hand: `GET /healthz` from the static table
//! and literals that are never indexed, then the field under test. None
//! of the cases that go on serving adds to the dynamic table, which the
//! script's encoder keeps for the request after them.

use pushwire_proto::http2::frame::flag;
use pushwire_proto::http2::ErrorCode as E;

use super::peer::Script;
use super::{run_cases, Case, Expect};
use crate::common::TestServer;

/// `GET http://localhost/healthz`: `:method GET` and `:scheme http`
/// indexed, `:path` and `:authority` literals without indexing.
const GET_HEALTHZ: &[u8] = b"\x82\x86\x04\x08/healthz\x01\x09localhost";

/// Sends `before`, the request's fields, then `after`, as one block.
fn block(s: &mut Script, before: &[u8], after: &[u8]) {
    let mut block = before.to_vec();
    block.extend_from_slice(GET_HEALTHZ);
    block.extend_from_slice(after);
    s.headers_block(1, &block, flag::END_STREAM);
}

const BAD: Expect = Expect::GoAway(E::COMPRESSION_ERROR);

pub const CASES: &[Case] = &[
    Case {
        name: "7541 the block written by hand is served",
        script: |s| block(s, b"", b""),
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "7541 6.2.3 a never-indexed literal is served",
        script: |s| block(s, b"", b"\x10\x03x-n\x01v"),
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "7541 5.2 Huffman-coded strings are served",
        script: |s| {
            let agent = "a user agent long enough to be Huffman-coded, 1.0";
            let mut fields = super::peer::pseudo("GET", "/healthz");
            fields.push(("user-agent", agent));
            s.request(1, &fields, true);
        },
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "7541 2.3.2 the dynamic table carries fields from one block to the next",
        script: |s| {
            let mut fields = super::peer::pseudo("GET", "/healthz");
            fields.push(("x-repeated", "the same value each time"));
            s.request(1, &fields, true).await_end(1);
            s.request(3, &fields, true);
        },
        expect: Expect::Status(3, 200),
    },
    Case {
        name: "7541 6.1 an indexed field of index 0",
        script: |s| block(s, b"", b"\x80"),
        expect: BAD,
    },
    Case {
        name: "7541 2.3.3 an indexed field past the static table, the dynamic one empty",
        script: |s| block(s, b"", b"\xbe"),
        expect: BAD,
    },
    Case {
        name: "7541 2.3.3 a literal whose indexed name is out of range",
        script: |s| block(s, b"", b"\x7f\x00\x01x"),
        expect: BAD,
    },
    Case {
        name: "7541 2.3.3 a literal without indexing whose name index is out of range",
        script: |s| block(s, b"", b"\x0f\x37\x01x"),
        expect: BAD,
    },
    Case {
        name: "7541 2.3.3 an entry evicted by a size update of 0 is gone",
        script: |s| {
            let mut first = GET_HEALTHZ.to_vec();
            first.extend_from_slice(b"\x40\x03x-a\x011");
            s.headers_block(1, &first, flag::END_STREAM).await_end(1);
            let mut second = b"\x20".to_vec();
            second.extend_from_slice(GET_HEALTHZ);
            second.push(0xbe);
            s.headers_block(3, &second, flag::END_STREAM);
        },
        expect: BAD,
    },
    Case {
        name: "7541 4.2 dynamic table size updates before the first field are served",
        script: |s| block(s, b"\x20\x3f\xe1\x1f", b""),
        expect: Expect::Status(1, 200),
    },
    Case {
        name: "7541 4.2 a dynamic table size update after a field",
        script: |s| block(s, b"", b"\x20"),
        expect: BAD,
    },
    Case {
        name: "7541 6.3 a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE",
        script: |s| block(s, b"\x3f\xe2\x1f", b""),
        expect: BAD,
    },
    Case {
        name: "7541 5.2 Huffman padding longer than 7 bits",
        script: |s| block(s, b"", b"\x00\x03x-h\x82\x1f\xff"),
        expect: BAD,
    },
    Case {
        name: "7541 5.2 Huffman padding that is not a prefix of EOS",
        script: |s| block(s, b"", b"\x00\x03x-h\x81\x18"),
        expect: BAD,
    },
    Case {
        name: "7541 5.2 EOS inside a Huffman-coded string",
        script: |s| block(s, b"", b"\x00\x03x-h\x84\xff\xff\xff\xff"),
        expect: BAD,
    },
    Case {
        name: "7541 5.2 a Huffman-coded name with bad padding",
        script: |s| block(s, b"", b"\x00\x81\x18\x01v"),
        expect: BAD,
    },
    Case {
        name: "7541 5.1 an index that overflows",
        script: |s| block(s, b"", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0f"),
        expect: BAD,
    },
    Case {
        name: "7541 5.1 an integer whose continuation never ends",
        script: |s| block(s, b"", b"\xff\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"),
        expect: BAD,
    },
    Case {
        name: "7541 5.1 a string length that overflows",
        script: |s| block(s, b"", b"\x00\x7f\xff\xff\xff\xff\xff\xff\xff\xff\x0f"),
        expect: BAD,
    },
    Case {
        name: "7541 5.2 a string longer than the block",
        script: |s| block(s, b"", b"\x00\x05ab"),
        expect: BAD,
    },
    Case {
        name: "7541 5.1 a block that ends inside an integer",
        script: |s| block(s, b"", b"\xff"),
        expect: BAD,
    },
    Case {
        name: "7541 6.2 a literal with its value missing",
        script: |s| block(s, b"", b"\x00\x03x-h"),
        expect: BAD,
    },
    Case {
        name: "9113 6.5.2 a field section over SETTINGS_MAX_HEADER_LIST_SIZE gets 431",
        script: |s| {
            let big = "b".repeat(40 << 10);
            let mut fields = super::peer::pseudo("GET", "/healthz");
            fields.push(("x-big", &big));
            s.request(1, &fields, true);
        },
        expect: Expect::Status(1, 431),
    },
];

#[tokio::test]
async fn header_compression() {
    let server = TestServer::start(|s| s).await;
    let ran = run_cases(server.addr, CASES).await;
    eprintln!("h2spec hpack: {ran} cases");
}
