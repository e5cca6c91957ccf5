//! `Deflater::compress` then `Inflater::inflate_message` on arbitrary
//! messages: what comes back is what went in, at every window and level,
//! with and without context takeover, message after message on one pair.
//!
//! Input layout:
//! - byte 0: bits 0-2, the window (8 + 0..7 bits); bit 3, no context
//!   takeover; bit 4, level 6 instead of 1;
//! - the rest: messages, each a length byte (0-255, times 97 when bit 7
//!   of byte 0 is set, so that long messages occur too) then that many
//!   bytes, taken repeated from what follows when the input runs short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire_proto::ws::deflate::{Deflater, Inflater};

fuzz_target!(|data: &[u8]| {
    let Some((&config, mut rest)) = data.split_first() else {
        return;
    };
    let window_bits = 8 + (config & 7);
    let no_context_takeover = config & 8 != 0;
    let level = if config & 16 != 0 { 6 } else { 1 };
    let scale = if config & 128 != 0 { 97 } else { 1 };
    let mut deflater = Deflater::new(level, window_bits, no_context_takeover);
    let mut inflater = Inflater::new(no_context_takeover);
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len) * scale;
        let message: Vec<u8> = tail.iter().copied().cycle().take(len).collect();
        rest = &tail[len.min(tail.len())..];
        let packed = deflater.compress(&message);
        let mut out = Vec::new();
        inflater
            .inflate_message(&packed, &mut out, 1 << 20)
            .expect("what the deflater wrote inflates");
        assert_eq!(
            out, message,
            "round trip at {window_bits} bits, level {level}"
        );
    }
});
