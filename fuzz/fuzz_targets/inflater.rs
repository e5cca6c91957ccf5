//! `Inflater::inflate` + `finish_message` on arbitrary bytes, split into
//! pieces as a fragmented message would be: never panics, never produces
//! more than the limit, and inflating in pieces gives the same bytes as
//! inflating at once.
//!
//! Input layout:
//! - byte 0: bit 0, no context takeover; bits 1-2, the limit
//!   (16 B, 1 KiB, 64 KiB or 1 MiB);
//! - byte 1: the seed of the piece sizes (bits 0-1 pick the largest piece:
//!   1, 8, 100 or 4096 bytes);
//! - the rest: one compressed message payload (sync trailer stripped). It
//!   is inflated twice in a row, as two messages, so that the second one
//!   runs on the context (or the reset) the first one left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire_proto::ws::deflate::Inflater;

/// Piece sizes: a small xorshift stream seeded by the input.
struct Pieces {
    state: u32,
    max: usize,
}

impl Pieces {
    fn new(seed: u8) -> Self {
        Pieces {
            state: 0x85eb_ca6b ^ (u32::from(seed) << 8 | u32::from(seed)),
            max: [1, 8, 100, 4096][usize::from(seed & 3)],
        }
    }

    fn next(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.max
    }
}

fn check_limit(out: &[u8], limit: usize) {
    assert!(
        out.len() <= limit,
        "{} bytes out, over the limit {limit}",
        out.len()
    );
}

/// Inflates one message given in pieces; `Err(())` on any error (an error
/// is final for the connection, so the caller stops there).
fn message(
    inflater: &mut Inflater,
    payload: &[u8],
    limit: usize,
    mut piece: impl FnMut() -> usize,
) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let mut rest = payload;
    loop {
        let n = piece().min(rest.len());
        let result = inflater.inflate(&rest[..n], &mut out, limit);
        check_limit(&out, limit);
        result.map_err(drop)?;
        rest = &rest[n..];
        if rest.is_empty() {
            break;
        }
    }
    let result = inflater.finish_message(&mut out, limit);
    check_limit(&out, limit);
    result.map_err(drop)?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let [config, seed, payload @ ..] = data else {
        return;
    };
    let no_context_takeover = config & 1 != 0;
    let limit = [16, 1 << 10, 64 << 10, 1 << 20][usize::from((config >> 1) & 3)];

    let mut pieces = Pieces::new(*seed);
    let mut in_pieces = Inflater::new(no_context_takeover);
    let mut at_once = Inflater::new(no_context_takeover);
    for _ in 0..2 {
        let a = message(&mut in_pieces, payload, limit, || pieces.next());
        let b = message(&mut at_once, payload, limit, || usize::MAX);
        match (&a, &b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "inflating in pieces differs from at once"),
            (Err(()), Err(())) => return,
            // The limit may be hit in one and bad data found first in the
            // other, but both must fail or neither.
            _ => panic!("in pieces: {a:?}; at once: {b:?}"),
        }
    }
});
