//! A quick DEFLATE encoder for whole messages compressed without context
//! takeover: greedy LZ77 with one hash probe per position, written as one
//! block of the fixed Huffman codes (RFC 1951 section 3.2.6), the method
//! of zlib's level 1.
//!
//! It needs no state between messages but a hash table whose entries are
//! positions in a count that runs on across messages: the entries of
//! earlier messages fall below the current message's start and are
//! ignored, so nothing is cleared per message. A zlib stream instead
//! clears its 128 KiB hash table on every reset, which for a 1 KiB
//! message costs more than compressing it.

use std::cell::RefCell;

/// The longest input taken: one stored block, the fallback for data that
/// does not compress, holds 65,535 bytes. Longer messages go to zlib,
/// whose reset costs little next to them.
pub(crate) const MAX_INPUT: usize = 65_535;

/// log2 of the hash table's entries (32 KiB of `u32` per thread).
const HASH_BITS: u32 = 13;
/// Matches are found on this many bytes (DEFLATE allows 3).
const MIN_MATCH: usize = 4;
/// The longest match DEFLATE encodes.
const MAX_MATCH: usize = 258;

thread_local! {
    static MATCH_FINDER: RefCell<MatchFinder> = RefCell::new(MatchFinder::new());
}

/// Compresses `input` (at most [`MAX_INPUT`] bytes) as RFC 7692 section
/// 7.2.1 asks: DEFLATE data ending in a sync flush whose trailing
/// `00 00 ff ff` is removed, with no distance beyond `1 << window_bits`.
pub(crate) fn compress(input: &[u8], window_bits: u8) -> Vec<u8> {
    debug_assert!(input.len() <= MAX_INPUT);
    if input.is_empty() {
        // One empty stored block (RFC 7692 section 7.2.3.6).
        return vec![0x00];
    }
    let mut out = BitWriter::with_capacity(input.len() / 2 + 16);
    MATCH_FINDER.with(|finder| {
        finder
            .borrow_mut()
            .encode(input, 1 << window_bits, &mut out)
    });
    let packed = out.finish();
    if packed.len() <= input.len() + STORED_OVERHEAD {
        packed
    } else {
        stored(input)
    }
}

/// Bytes a stored block adds: its header byte, LEN and NLEN, then the
/// header byte of the sync flush's empty block.
const STORED_OVERHEAD: usize = 6;

/// `input` as one stored block, then the sync flush without its trailer.
fn stored(input: &[u8]) -> Vec<u8> {
    let len = input.len() as u16;
    let mut out = Vec::with_capacity(input.len() + STORED_OVERHEAD);
    // BFINAL 0, BTYPE 00, padded to the byte; LEN, NLEN (RFC 1951 3.2.4).
    out.push(0x00);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(input);
    out.push(0x00);
    out
}

/// Finds earlier occurrences of 4-byte sequences in the current message.
struct MatchFinder {
    /// Per hash of four bytes, `base + position` of their last occurrence.
    table: Box<[u32; 1 << HASH_BITS]>,
    /// Where the current message starts in the running count: smaller
    /// entries belong to earlier messages (0 is "never seen").
    base: u32,
}

impl MatchFinder {
    fn new() -> Self {
        MatchFinder {
            table: Box::new([0; 1 << HASH_BITS]),
            base: 1,
        }
    }

    /// Starts a message of `len` bytes: its positions follow the last
    /// message's, and only when the count would wrap is the table cleared.
    fn start(&mut self, len: usize) -> u32 {
        if u32::MAX - self.base < len as u32 {
            self.table.fill(0);
            self.base = 1;
        }
        let base = self.base;
        self.base += len as u32;
        base
    }

    /// Writes `input` as one fixed-code block, then the sync flush.
    fn encode(&mut self, input: &[u8], max_distance: usize, out: &mut BitWriter) {
        let base = self.start(input.len());
        // BFINAL 0, BTYPE 01: compressed with the fixed codes.
        out.put(0b010, 3);
        let mut at = 0;
        while at + MIN_MATCH <= input.len() {
            let word = read_u32(input, at);
            let slot = hash(word);
            let seen = self.table[slot];
            self.table[slot] = base + at as u32;
            if seen >= base {
                let from = (seen - base) as usize;
                let distance = at - from;
                if distance <= max_distance && read_u32(input, from) == word {
                    let more = common_prefix(
                        &input[from + MIN_MATCH..],
                        &input[at + MIN_MATCH..],
                        MAX_MATCH - MIN_MATCH,
                    );
                    let length = MIN_MATCH + more;
                    out.put_match(length, distance);
                    at += length;
                    continue;
                }
            }
            out.put_literal(input[at]);
            at += 1;
        }
        for &byte in &input[at..] {
            out.put_literal(byte);
        }
        // End of block: symbol 256, seven zero bits.
        out.put(0, 7);
        // The sync flush: an empty stored block's header, padded to the
        // byte; its LEN and NLEN are the trailer that is removed.
        out.put(0, 3);
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn hash(word: u32) -> usize {
    (word.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// How many leading bytes `earlier` and `later` share, up to `max`;
/// `later` is a suffix of the input no longer than `earlier`.
fn common_prefix(earlier: &[u8], later: &[u8], max: usize) -> usize {
    let limit = max.min(later.len());
    let mut n = 0;
    while n + 8 <= limit {
        let a = u64::from_le_bytes(earlier[n..n + 8].try_into().expect("8 bytes"));
        let b = u64::from_le_bytes(later[n..n + 8].try_into().expect("8 bytes"));
        let differ = a ^ b;
        if differ != 0 {
            return n + (differ.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < limit && earlier[n] == later[n] {
        n += 1;
    }
    n
}

/// Packs codes least significant bit first, as DEFLATE stores them.
struct BitWriter {
    out: Vec<u8>,
    bits: u64,
    /// Bits held in `bits`; below 32 between calls.
    count: u32,
}

impl BitWriter {
    fn with_capacity(capacity: usize) -> Self {
        BitWriter {
            out: Vec::with_capacity(capacity),
            bits: 0,
            count: 0,
        }
    }

    /// Appends the low `len` (at most 32) bits of `value`.
    fn put(&mut self, value: u32, len: u32) {
        self.bits |= u64::from(value) << self.count;
        self.count += len;
        if self.count >= 32 {
            self.out
                .extend_from_slice(&(self.bits as u32).to_le_bytes());
            self.bits >>= 32;
            self.count -= 32;
        }
    }

    fn put_literal(&mut self, byte: u8) {
        let (code, len) = LITERAL_CODES[byte as usize];
        self.put(u32::from(code), u32::from(len));
    }

    /// A length (3-258) and distance (1-32768) pair.
    fn put_match(&mut self, length: usize, distance: usize) {
        let (code, len) = LENGTH_CODES[length];
        self.put(code, u32::from(len));
        let symbol = distance_symbol(distance);
        let extra = distance - usize::from(DISTANCE_BASE[symbol]);
        let code = reverse(symbol as u16, 5) as u32 | (extra as u32) << 5;
        self.put(code, 5 + u32::from(DISTANCE_EXTRA_BITS[symbol]));
    }

    /// The bytes written, the last one padded with zero bits.
    fn finish(mut self) -> Vec<u8> {
        while self.count > 0 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.count = self.count.saturating_sub(8);
        }
        self.out
    }
}

/// The distance symbol (0-29) whose range holds `distance` (1-32768).
fn distance_symbol(distance: usize) -> usize {
    let d = (distance - 1) as u32;
    if d < 4 {
        return d as usize;
    }
    // Two symbols per power of two, told apart by the next bit down.
    let top = 31 - d.leading_zeros();
    (2 * top + ((d >> (top - 1)) & 1)) as usize
}

/// `code`'s `len` bits in reverse order: Huffman codes are defined most
/// significant bit first but packed from the least.
const fn reverse(code: u16, len: u8) -> u16 {
    code.reverse_bits() >> (16 - len as u32)
}

/// The fixed code of a literal/length symbol (RFC 1951 section 3.2.6),
/// reversed for packing, and its length in bits.
const fn fixed_code(symbol: u16) -> (u16, u8) {
    let (code, len) = match symbol {
        0..=143 => (0x30 + symbol, 8),
        144..=255 => (0x190 + (symbol - 144), 9),
        256..=279 => (symbol - 256, 7),
        _ => (0xC0 + (symbol - 280), 8),
    };
    (reverse(code, len), len)
}

/// Per byte, its literal code and length.
const LITERAL_CODES: [(u16, u8); 256] = {
    let mut table = [(0, 0); 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = fixed_code(byte as u16);
        byte += 1;
    }
    table
};

/// The first length of each length symbol 257-285 (RFC 1951 section 3.2.5).
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA_BITS: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// Per match length (3-258), its symbol's code followed by the extra
/// bits, and their total length.
const LENGTH_CODES: [(u32, u8); MAX_MATCH + 1] = {
    let mut table = [(0, 0); MAX_MATCH + 1];
    let mut length = 3;
    while length <= MAX_MATCH {
        let mut index = 28;
        while LENGTH_BASE[index] as usize > length {
            index -= 1;
        }
        let (code, len) = fixed_code(257 + index as u16);
        let extra = (length - LENGTH_BASE[index] as usize) as u32;
        table[length] = (code as u32 | extra << len, len + LENGTH_EXTRA_BITS[index]);
        length += 1;
    }
    table
};

/// The first distance of each distance symbol 0-29.
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA_BITS: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    /// Inflates `packed` with the trailer put back, on a fresh inflater
    /// with a `window_bits` window: any reference to an earlier message or
    /// beyond the window fails.
    fn inflate(packed: &[u8], window_bits: u8) -> Vec<u8> {
        let mut state = Decompress::new_with_window_bits(false, window_bits.max(9));
        let mut input = packed.to_vec();
        input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        let mut out = Vec::with_capacity(MAX_INPUT + 1024);
        state
            .decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .expect("valid DEFLATE data");
        assert_eq!(state.total_in() as usize, input.len(), "all input read");
        out
    }

    /// Deterministic bytes: text-like with repeats when `repetitive`,
    /// else noise.
    fn sample(len: usize, seed: u64, repetitive: bool) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let words: [&[u8]; 6] = [
            b"{\"id\":",
            b"\"user\"",
            b",\"text\":\"",
            b"hello ",
            b"}",
            b"42",
        ];
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            if repetitive {
                out.extend_from_slice(words[(next() % 6) as usize]);
            } else {
                out.push(next() as u8);
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn round_trips_at_every_window() {
        for bits in 8..=15u8 {
            for len in [
                1, 2, 3, 4, 5, 7, 8, 9, 100, 257, 258, 259, 1000, 4096, 40_000, MAX_INPUT,
            ] {
                for repetitive in [true, false] {
                    let input = sample(len, len as u64 + u64::from(bits), repetitive);
                    let packed = compress(&input, bits);
                    assert_eq!(inflate(&packed, bits), input, "len {len} bits {bits}");
                }
            }
        }
    }

    #[test]
    fn distances_stay_inside_a_small_window() {
        // A 300-byte block repeated: with a 256-byte window it cannot be
        // referenced, with 512 it is.
        let block = sample(300, 7, false);
        let input = [&block[..], &block[..]].concat();
        let small = compress(&input, 8);
        assert_eq!(inflate(&small, 8), input);
        assert!(
            small.len() > 550,
            "no match past 256 bytes: {}",
            small.len()
        );
        let large = compress(&input, 9);
        assert_eq!(inflate(&large, 9), input);
        assert!(
            large.len() < 350,
            "the repeat is one match: {}",
            large.len()
        );
    }

    #[test]
    fn messages_never_reference_earlier_ones() {
        let first = sample(2000, 1, true);
        compress(&first, 15);
        // The same bytes again: only their own repeats may be used.
        let packed = compress(&first, 15);
        assert_eq!(inflate(&packed, 15), first);
    }

    #[test]
    fn compresses_like_zlib_level_1() {
        let input = sample(1024, 3, true);
        let ours = compress(&input, 15);
        let mut zlib = flate2::Compress::new(flate2::Compression::new(1), false);
        let mut theirs = Vec::with_capacity(2048);
        zlib.compress_vec(&input, &mut theirs, flate2::FlushCompress::Sync)
            .unwrap();
        assert!(
            ours.len() <= theirs.len() * 11 / 10,
            "ours {} zlib {}",
            ours.len(),
            theirs.len()
        );
        assert!(ours.len() < input.len() / 2);
    }

    #[test]
    fn noise_is_stored() {
        let input = sample(5000, 9, false);
        let packed = compress(&input, 15);
        assert_eq!(packed.len(), input.len() + STORED_OVERHEAD);
        assert_eq!(inflate(&packed, 15), input);
    }

    #[test]
    fn a_long_run_is_matched_over_itself() {
        let input = vec![b'a'; MAX_INPUT];
        let packed = compress(&input, 15);
        // 254 matches of 258 bytes, about 20 bits each.
        assert!(packed.len() < 700, "{}", packed.len());
        assert_eq!(inflate(&packed, 15), input);
    }

    #[test]
    fn wrapping_count_clears_the_table() {
        let input = sample(1000, 5, true);
        MATCH_FINDER.with(|finder| finder.borrow_mut().base = u32::MAX - 10);
        let packed = compress(&input, 15);
        assert_eq!(inflate(&packed, 15), input);
        assert_eq!(MATCH_FINDER.with(|finder| finder.borrow().base), 1 + 1000);
    }

    #[test]
    fn distance_symbols_match_the_table() {
        for distance in 1..=32768usize {
            let symbol = distance_symbol(distance);
            let base = usize::from(DISTANCE_BASE[symbol]);
            let span = 1usize << DISTANCE_EXTRA_BITS[symbol];
            assert!((base..base + span).contains(&distance), "{distance}");
        }
    }
}
