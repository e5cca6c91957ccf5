//! Feeds arbitrary bytes to `http1::BodyDecoder`, as a `Content-Length`
//! or chunked body, at once and in pieces.
//!
//! Checks, besides "no panic":
//! - decoding in pieces gives exactly what decoding at once gives: the
//!   same body bytes, trailers, end and error, and the same bytes left
//!   after the body (the next request's);
//! - never more body bytes than input bytes, and a `Content-Length` body
//!   is never longer than its length, and exactly that long once ended;
//! - every call that returns a piece consumes input, except the end;
//! - `length_left` counts down what a `Content-Length` body delivered.
//!
//! Input layout:
//! - byte 0, the framing: bits 0-1 pick chunked (0, 1), `Content-Length`
//!   (2) or no body (3); for `Content-Length`, bytes 1-2 are the length
//!   (big-endian) and are not part of the wire;
//! - next byte: the seed of the piece sizes (see `common/pieces.rs`);
//! - the rest: the bytes as they come off the wire.
#![no_main]

#[path = "common/pieces.rs"]
mod pieces;

use libfuzzer_sys::fuzz_target;
use pieces::Pieces;
use pushwire_proto::bytes::BytesMut;
use pushwire_proto::http1::{BodyDecoder, BodyError, Framing, Piece};

/// What a decoder made of the input.
#[derive(Debug, PartialEq)]
struct Outcome {
    body: Vec<u8>,
    /// The trailer section, in a comparable form.
    trailers: Option<String>,
    ended: bool,
    error: Option<BodyError>,
    /// The bytes left in the buffer once the input ended, unless the
    /// body failed.
    rest: Vec<u8>,
}

/// Feeds `pieces` one after the other, decoding after each until the
/// decoder needs more bytes, ends or fails.
fn run(framing: Framing, pieces: &[&[u8]]) -> Outcome {
    let mut decoder = BodyDecoder::new(framing);
    let mut buf = BytesMut::new();
    let mut outcome = Outcome {
        body: Vec::new(),
        trailers: None,
        ended: false,
        error: None,
        rest: Vec::new(),
    };
    // A last empty piece: a decoder is asked again once the input ended
    // (and an empty input is decoded once).
    for piece in pieces.iter().chain([&&[][..]]) {
        buf.extend_from_slice(piece);
        if outcome.ended {
            continue;
        }
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(None) => {
                    assert!(!decoder.is_ended() || outcome.ended);
                    break;
                }
                Ok(Some(Piece::Data(data))) => {
                    assert!(!data.is_empty(), "an empty data piece");
                    assert!(
                        buf.len() + data.len() <= before,
                        "data not taken from the input"
                    );
                    outcome.body.extend_from_slice(&data);
                }
                Ok(Some(Piece::Trailers(trailers))) => {
                    assert!(buf.len() < before, "trailers out of nothing");
                    assert!(!trailers.is_empty(), "an empty trailer section");
                    outcome.trailers = Some(format!("{trailers:?}"));
                    outcome.ended = true;
                }
                Ok(Some(Piece::End)) => outcome.ended = true,
                Err(error) => {
                    // The connection closes: what is left is not read.
                    outcome.error = Some(error);
                    return outcome;
                }
            }
            if outcome.ended {
                assert!(decoder.is_ended(), "the end was handed out, not recorded");
                assert_eq!(decoder.decode(&mut buf), Ok(None), "a piece after the end");
                break;
            }
            if let Framing::Length(len) = framing {
                let left = decoder.length_left().expect("a Content-Length body");
                assert_eq!(left, len - outcome.body.len() as u64, "length_left drifted");
            }
        }
    }
    outcome.rest = buf.to_vec();
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, data)) = data.split_first() else {
        return;
    };
    let (framing, data) = match config & 3 {
        0 | 1 => (Framing::Chunked, data),
        2 => match data {
            [hi, lo, rest @ ..] => (
                Framing::Length(u64::from(u16::from_be_bytes([*hi, *lo]))),
                rest,
            ),
            _ => return,
        },
        _ => (Framing::Empty, data),
    };
    let Some((&seed, wire)) = data.split_first() else {
        return;
    };

    let at_once = run(framing, &[wire]);
    let split = Pieces::new(seed).split(wire);
    let in_pieces = run(framing, &split);
    let byte_by_byte: Vec<&[u8]> = wire.chunks(1).collect();
    let one_by_one = run(framing, &byte_by_byte);
    assert_eq!(
        in_pieces, at_once,
        "decoding in pieces differs from at once"
    );
    assert_eq!(
        one_by_one, at_once,
        "decoding byte by byte differs from at once"
    );

    assert!(at_once.body.len() <= wire.len(), "more body than input");
    match framing {
        Framing::Length(len) => {
            assert!(
                at_once.body.len() as u64 <= len,
                "a body longer than its length"
            );
            assert_eq!(at_once.ended, at_once.body.len() as u64 == len);
            assert!(at_once.error.is_none() && at_once.trailers.is_none());
        }
        Framing::Empty => {
            assert!(at_once.ended && at_once.body.is_empty());
            assert_eq!(at_once.rest, wire, "an empty body consumed input");
        }
        Framing::Chunked => {}
    }
    if at_once.ended {
        // What follows the body is left exactly as it came.
        assert!(wire.ends_with(&at_once.rest));
    }
});
