//! The static Huffman code of HPACK (RFC 7541 section 5.2, Appendix B).
//!
//! The code is canonical: codes of one length are consecutive in symbol
//! order, and the first code of each length follows the last code of
//! the length before. So the bit length of each symbol is all the table
//! needs to hold; the codes themselves are derived from it.

use super::HpackError;

/// The symbol that ends a Huffman string; it never appears in one.
const EOS: usize = 256;

/// The longest code, in bits.
const MAX_LEN: usize = 30;

/// The bit length of the code of each symbol, 0-255 and EOS
/// (RFC 7541 Appendix B).
#[rustfmt::skip]
const LENGTHS: [u8; 257] = [
    // 0-31: control characters.
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    // ' ' ! " # $ % & ' ( ) * + , - . /
     6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6,
    // 0-9 : ; < = > ?
     5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10,
    // @ A-O
    13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
    // P-Z [ \ ] ^ _
     7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6,
    // ` a-o
    15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,
    // p-z { | } ~ DEL
     6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28,
    // 128-255
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    // EOS
    30,
];

/// The canonical code, derived from [`LENGTHS`] once, at compile time.
struct Code {
    /// Each symbol's code, right-aligned.
    codes: [u32; 257],
    /// The first code of each length, right-aligned.
    first: [u32; MAX_LEN + 1],
    /// How many codes each length has.
    count: [u16; MAX_LEN + 1],
    /// Where each length's symbols begin in `symbols`.
    offset: [u16; MAX_LEN + 1],
    /// The symbols sorted by code.
    symbols: [u16; 257],
}

const CODE: Code = canonical();

const fn canonical() -> Code {
    let mut count = [0u16; MAX_LEN + 1];
    let mut i = 0;
    while i < 257 {
        count[LENGTHS[i] as usize] += 1;
        i += 1;
    }
    let mut first = [0u32; MAX_LEN + 1];
    let mut offset = [0u16; MAX_LEN + 1];
    let mut code = 0u32;
    let mut sorted = 0u16;
    let mut len = 1;
    while len <= MAX_LEN {
        first[len] = code;
        offset[len] = sorted;
        code = (code + count[len] as u32) << 1;
        sorted += count[len];
        len += 1;
    }
    let mut next = first;
    let mut place = offset;
    let mut codes = [0u32; 257];
    let mut symbols = [0u16; 257];
    let mut symbol = 0;
    while symbol < 257 {
        let len = LENGTHS[symbol] as usize;
        codes[symbol] = next[len];
        next[len] += 1;
        symbols[place[len] as usize] = symbol as u16;
        place[len] += 1;
        symbol += 1;
    }
    Code {
        codes,
        first,
        count,
        offset,
        symbols,
    }
}

/// The length of `src` once Huffman-coded, in bytes.
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src.iter().map(|&b| LENGTHS[b as usize] as usize).sum();
    bits.div_ceil(8)
}

/// Appends `src`, Huffman-coded, to `dst`; the last byte is padded with
/// the most significant bits of EOS (all ones).
pub fn encode(src: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(encoded_len(src));
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &byte in src {
        let len = LENGTHS[byte as usize] as u32;
        acc = (acc << len) | CODE.codes[byte as usize] as u64;
        bits += len;
        while bits >= 8 {
            bits -= 8;
            dst.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        dst.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

/// Appends the Huffman-coded string `src`, decoded, to `dst`.
///
/// Fails on EOS in the string, on padding longer than 7 bits, and on
/// padding that is not all ones (RFC 7541 section 5.2).
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), HpackError> {
    // Codes are 5 bits or longer: at most 8 bytes out for 5 in.
    dst.reserve(src.len() * 8 / 5);
    let mut acc = 0u64;
    let mut bits = 0u32;
    let mut input = src.iter();
    loop {
        while bits <= 56 {
            match input.next() {
                Some(&byte) => {
                    acc = (acc << 8) | byte as u64;
                    bits += 8;
                }
                None => break,
            }
        }
        match next_symbol(acc, bits) {
            Some((symbol, len)) => {
                if symbol == EOS {
                    return Err(HpackError::HuffmanEos);
                }
                dst.push(symbol as u8);
                bits -= len;
                acc &= (1u64 << bits) - 1;
            }
            // No whole code is left, and the input is all read (a code
            // is at most 30 bits, and more than 56 were buffered
            // otherwise): what remains is padding, at most 7 bits and
            // all ones.
            None if bits <= 7 && acc == (1u64 << bits) - 1 => return Ok(()),
            None => return Err(HpackError::HuffmanPadding),
        }
    }
}

/// The symbol whose code begins the `bits` low bits of `acc`, and its
/// length; `None` if they begin no whole code.
fn next_symbol(acc: u64, bits: u32) -> Option<(usize, u32)> {
    for len in 5..=(MAX_LEN as u32).min(bits) {
        let value = (acc >> (bits - len)) as u32;
        let l = len as usize;
        let first = CODE.first[l];
        if value < first + CODE.count[l] as u32 {
            let index = CODE.offset[l] as u32 + (value - first);
            return Some((CODE.symbols[index as usize] as usize, len));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(src: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(src, &mut out);
        out
    }

    fn decoded(src: &[u8]) -> Result<Vec<u8>, HpackError> {
        let mut out = Vec::new();
        decode(src, &mut out).map(|()| out)
    }

    #[test]
    fn codes_match_the_rfc_table() {
        // (symbol, code, length) rows of RFC 7541 Appendix B.
        let rows = [
            (0, 0x1ff8, 13),
            (1, 0x7fffd8, 23),
            (10, 0x3ffffffc, 30),
            (b' ' as usize, 0x14, 6),
            (b'0' as usize, 0x0, 5),
            (b'X' as usize, 0xfc, 8),
            (b'\\' as usize, 0x7fff0, 19),
            (b'a' as usize, 0x3, 5),
            (b'~' as usize, 0x1ffd, 13),
            (127, 0xffffffc, 28),
            (195, 0x7fff1, 19),
            (225, 0xfffff3, 24),
            (255, 0x3ffffee, 26),
            (EOS, 0x3fffffff, 30),
        ];
        for (symbol, code, len) in rows {
            assert_eq!(CODE.codes[symbol], code, "code of {symbol}");
            assert_eq!(LENGTHS[symbol], len, "length of {symbol}");
        }
    }

    #[test]
    fn the_code_is_complete() {
        // Kraft's sum of a complete prefix code is exactly 1.
        let sum: u64 = LENGTHS
            .iter()
            .map(|&l| 1u64 << (MAX_LEN - l as usize))
            .sum();
        assert_eq!(sum, 1 << MAX_LEN);
    }

    #[test]
    fn rfc_examples_encode_and_decode() {
        // RFC 7541 C.4.1 and C.6.1 string literals.
        let cases: [(&[u8], &[u8]); 3] = [
            (
                b"www.example.com",
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
            ),
            (b"no-cache", &[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]),
            (b"302", &[0x64, 0x02]),
        ];
        for (plain, coded) in cases {
            assert_eq!(encoded(plain), coded);
            assert_eq!(encoded_len(plain), coded.len());
            assert_eq!(decoded(coded).unwrap(), plain);
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        assert_eq!(decoded(&encoded(&all)).unwrap(), all);
        for byte in 0..=255u8 {
            assert_eq!(decoded(&encoded(&[byte])).unwrap(), [byte]);
        }
    }

    #[test]
    fn bad_padding_and_eos_are_refused() {
        // 'a' is 00011: padded with zeros instead of ones.
        assert_eq!(decoded(&[0b0001_1000]), Err(HpackError::HuffmanPadding));
        // A whole byte of ones after a complete code: padding over 7 bits.
        assert_eq!(
            decoded(&[0b0001_1111, 0xff]),
            Err(HpackError::HuffmanPadding)
        );
        // EOS itself, padded to whole bytes.
        assert_eq!(
            decoded(&[0xff, 0xff, 0xff, 0xff]),
            Err(HpackError::HuffmanEos)
        );
        // Ones alone, up to 7 bits, are an empty string.
        assert_eq!(decoded(&[]).unwrap(), b"");
    }
}
