//! Masking of frame payloads (RFC 6455 section 5.3).
//!
//! Masking XORs each payload byte with one byte of a 4-byte key, cycling
//! through the key. The same operation masks and unmasks.

/// Applies `key` to `buf` in place, starting at key position `offset % 4`.
///
/// `offset` is the number of payload bytes of the same frame that were
/// masked before `buf`, so a payload can be unmasked in pieces as it
/// arrives. This is the fast path: it works on 16 bytes at a time.
///
/// ```
/// use pushwire_proto::ws::mask::apply_mask;
/// let key = [1, 2, 3, 4];
/// let mut data = *b"hello, world";
/// apply_mask(&mut data, key, 0);
/// apply_mask(&mut data[..5], key, 0);
/// apply_mask(&mut data[5..], key, 5);
/// assert_eq!(&data, b"hello, world");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let mut key = key;
    key.rotate_left(offset % 4);
    let k32 = u32::from_ne_bytes(key) as u128;
    let wide = k32 | (k32 << 32) | (k32 << 64) | (k32 << 96);
    let mut chunks = buf.chunks_exact_mut(16);
    for chunk in &mut chunks {
        let mut word = [0u8; 16];
        word.copy_from_slice(chunk);
        let masked = u128::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    // At most 15 bytes remain, and 16 is a multiple of 4: the key phase is unchanged.
    apply_mask_bytewise(chunks.into_remainder(), key, 0);
}

/// Applies `key` byte by byte: the simple reference implementation that
/// [`apply_mask`] is tested against.
#[inline]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_bytewise_at_every_alignment_and_length() {
        let key = [0x6d, 0xb6, 0xb2, 0x80];
        let source: Vec<u8> = (0..256u32).map(|i| (i * 31 + 7) as u8).collect();
        for align in 0..16 {
            for len in 0..=200 {
                for offset in 0..4 {
                    let mut fast = source.clone();
                    let mut slow = source.clone();
                    apply_mask(&mut fast[align..align + len], key, offset);
                    apply_mask_bytewise(&mut slow[align..align + len], key, offset);
                    assert_eq!(fast, slow, "align {align} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn masking_twice_restores_the_payload() {
        let key = [9, 8, 7, 6];
        let mut data: Vec<u8> = (0..1000).map(|i| i as u8).collect();
        let original = data.clone();
        apply_mask(&mut data, key, 3);
        assert_ne!(data, original);
        apply_mask(&mut data, key, 3);
        assert_eq!(data, original);
    }

    #[test]
    fn rfc_example_unmasks_hello() {
        // RFC 6455 section 5.7: a single-frame masked text message "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }
}
