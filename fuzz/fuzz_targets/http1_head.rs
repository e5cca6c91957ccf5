//! Feeds arbitrary bytes to the HTTP/1 request-head parser
//! (`http1::parse`, `http1::is_complete`) as a server's read loop does:
//! the buffer grows piece by piece and is parsed again after each read.
//!
//! Checks, besides "no panic":
//! - a complete head's length is at most the input's, holds no bare CR or
//!   LF, and `is_complete` agrees that a head is there;
//! - a head is never refused on a prefix when the whole is accepted, and
//!   once complete on a prefix it parses exactly as on the whole input
//!   (what comes after a head never changes it);
//! - `is_complete(buf, from)` scanning from where the last read ended
//!   agrees with scanning the whole buffer;
//! - an accepted head is consistent: an upgrade carries no content,
//!   `Expect: 100-continue` is only reported with content.
//!
//! Input layout: byte 0 seeds the piece sizes (see `common/pieces.rs`);
//! the rest is the bytes as they come off the wire.
#![no_main]

#[path = "common/pieces.rs"]
mod pieces;

use libfuzzer_sys::fuzz_target;
use pieces::Pieces;
use pushwire_proto::http1::{self, Framing, Head, HeadError};

/// A parse result in a comparable form (`Head` is not `PartialEq`).
fn summary(result: &Result<Option<(usize, Head)>, HeadError>) -> String {
    format!("{result:?}")
}

fn check_head(wire: &[u8], len: usize, head: &Head) {
    assert!(len <= wire.len(), "head length {len} past the input");
    assert!(
        !http1::has_bare_line_break(&wire[..len]),
        "a head with a bare CR or LF was accepted"
    );
    assert!(
        http1::is_complete(wire, 0),
        "is_complete missed a parsed head"
    );
    assert!(
        !(head.upgrade && head.framing != Framing::Empty),
        "an upgrade request with content was accepted"
    );
    assert!(
        !(head.expect_continue && head.framing == Framing::Empty),
        "100-continue reported for a request without content"
    );
}

fuzz_target!(|data: &[u8]| {
    let [seed, wire @ ..] = data else {
        return;
    };
    let whole = http1::parse(wire);
    if let Ok(Some((len, head))) = &whole {
        check_head(wire, *len, head);
    }

    // The read loop: grow the buffer, scan for the end of the head from
    // where the last read ended, parse once it is there.
    let mut pieces = Pieces::new(*seed);
    let mut fed = 0;
    let mut scanned_complete = false;
    for piece in pieces.split(wire) {
        let before = fed;
        fed += piece.len();
        let prefix = &wire[..fed];
        if !scanned_complete {
            let incremental = http1::is_complete(prefix, before);
            assert_eq!(
                incremental,
                http1::is_complete(prefix, 0),
                "is_complete from {before} disagrees with a full scan of {fed} bytes"
            );
            scanned_complete = incremental;
        }
        let partial = http1::parse(prefix);
        match (&partial, &whole) {
            (Ok(None), _) => {}
            (Ok(Some((len, _))), _) => {
                assert_eq!(
                    summary(&partial),
                    summary(&whole),
                    "a head complete in {fed} bytes ({len}) parses otherwise in {}",
                    wire.len()
                );
                break;
            }
            (Err(_), Ok(_)) => panic!(
                "refused on a {fed}-byte prefix ({}) but accepted whole ({})",
                summary(&partial),
                summary(&whole)
            ),
            (Err(_), Err(_)) => break,
        }
    }
});
