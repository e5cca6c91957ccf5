//! A small xorshift generator for masking keys and `Sec-WebSocket-Key`
//! nonces: a load generator needs variety, not cryptographic strength.

/// xorshift64* state.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from the clock and the process id.
    pub fn from_clock() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Rng((nanos ^ u64::from(std::process::id()) << 32) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Four random bytes, never all zero (a zero key would make masking a no-op).
    pub fn mask_key(&mut self) -> [u8; 4] {
        loop {
            let key = (self.next_u64() as u32).to_ne_bytes();
            if key != [0; 4] {
                return key;
            }
        }
    }

    /// Sixteen random bytes.
    pub fn nonce(&mut self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.next_u64().to_ne_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_ne_bytes());
        out
    }
}
