//! Integers with an N-bit prefix (RFC 7541 section 5.1).

use super::HpackError;

/// The largest integer accepted: more than any table size, index or
/// string length a block of header fields can hold.
const MAX: usize = (1 << 28) - 1;

/// Appends `value` in the low `prefix_bits` of a first byte whose high
/// bits are `flags`, continuing in 7-bit groups if it does not fit.
pub(crate) fn encode(value: usize, prefix_bits: u8, flags: u8, dst: &mut Vec<u8>) {
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        dst.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

/// Decodes an integer from the low `prefix_bits` of `src[*pos]` on,
/// moving `pos` past it.
pub(crate) fn decode(src: &[u8], pos: &mut usize, prefix_bits: u8) -> Result<usize, HpackError> {
    let max_prefix = (1usize << prefix_bits) - 1;
    let first = *src.get(*pos).ok_or(HpackError::Truncated)?;
    *pos += 1;
    let mut value = first as usize & max_prefix;
    if value < max_prefix {
        return Ok(value);
    }
    let mut shift = 0;
    loop {
        let byte = *src.get(*pos).ok_or(HpackError::Truncated)?;
        *pos += 1;
        value += ((byte & 0x7f) as usize) << shift;
        if value > MAX {
            return Err(HpackError::IntegerTooLarge);
        }
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        if shift > 28 {
            return Err(HpackError::IntegerTooLarge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 7541 C.1: 10 and 1337 with a 5-bit prefix, 42 with 8 bits.
        for (value, prefix, wire) in [
            (10, 5, &[0x0a][..]),
            (1337, 5, &[0x1f, 0x9a, 0x0a][..]),
            (42, 8, &[0x2a][..]),
        ] {
            let mut out = Vec::new();
            encode(value, prefix, 0, &mut out);
            assert_eq!(out, wire);
            let mut pos = 0;
            assert_eq!(decode(wire, &mut pos, prefix), Ok(value));
            assert_eq!(pos, wire.len());
        }
    }

    #[test]
    fn round_trips_at_every_prefix() {
        for prefix in 1..=8 {
            for value in [0, 1, 30, 31, 126, 127, 128, 255, 256, 16_383, 16_384, MAX] {
                let mut out = Vec::new();
                encode(value, prefix, 0, &mut out);
                let mut pos = 0;
                assert_eq!(
                    decode(&out, &mut pos, prefix),
                    Ok(value),
                    "{value} / {prefix}"
                );
            }
        }
    }

    #[test]
    fn overlong_and_truncated_integers_are_refused() {
        let mut pos = 0;
        let huge = [0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(decode(&huge, &mut pos, 5), Err(HpackError::IntegerTooLarge));
        // Continuation bytes that never end.
        let endless = [
            0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
        ];
        pos = 0;
        assert_eq!(
            decode(&endless, &mut pos, 5),
            Err(HpackError::IntegerTooLarge)
        );
        pos = 0;
        assert_eq!(
            decode(&[0x1f, 0x9a], &mut pos, 5),
            Err(HpackError::Truncated)
        );
    }
}
