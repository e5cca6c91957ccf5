//! Piece sizes for feeding an input in splits chosen by the fuzzer: a
//! small xorshift stream seeded by one input byte. Shared by the targets
//! that check "in pieces gives the same result as at once".

/// An endless stream of piece sizes, 1 to `max` bytes.
pub struct Pieces {
    state: u32,
    max: usize,
}

impl Pieces {
    /// Bits 0-1 of `seed` pick the largest piece: 1, 3, 17 or 300 bytes;
    /// the rest seeds the sizes.
    pub fn new(seed: u8) -> Self {
        Pieces {
            state: 0x9e37_79b9 ^ (u32::from(seed) << 8 | u32::from(seed)),
            max: [1, 3, 17, 300][usize::from(seed & 3)],
        }
    }

    /// The next piece's size.
    pub fn next_len(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.max
    }

    /// Splits `bytes` into consecutive pieces.
    pub fn split<'a>(&mut self, mut bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let n = self.next_len().min(bytes.len());
            let (piece, rest) = bytes.split_at(n);
            out.push(piece);
            bytes = rest;
        }
        out
    }
}
