//! Timestamped messages. The generator is one process, so a publication
//! can carry its send time (nanoseconds since a [`Clock`]'s start) and a
//! subscriber reading it compares with the same clock: delivery latency
//! without clock synchronisation.
//!
//! A message is ASCII text `t=<20 digits> m=xxxx…` of a chosen size; no
//! quote or backslash, so it reads the same inside a JSON string.

use std::time::Instant;

/// The marker before the digits.
pub const MARKER: &[u8] = b"t=";
/// Digits of a timestamp (zero padded).
pub const DIGITS: usize = 20;
/// Bytes of marker and digits: what a reader must see of a payload.
pub const STAMP_LEN: usize = MARKER.len() + DIGITS;

/// A monotonic clock shared by publisher and subscribers.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the clock started.
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// A message of exactly `size` bytes (at least [`STAMP_LEN`] + 3)
/// carrying `ns`.
pub fn stamped(ns: u64, size: usize) -> String {
    let mut text = format!("t={ns:020} m=");
    while text.len() < size {
        text.push(b"hello-pushwire-"[text.len() % 15] as char);
    }
    text.truncate(size.max(STAMP_LEN));
    text
}

/// The timestamp at the start of `bytes`, if they start with one.
pub fn parse(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.strip_prefix(MARKER)?.get(..DIGITS)?;
    digits.iter().try_fold(0u64, |acc, &d| {
        d.is_ascii_digit()
            .then(|| acc.wrapping_mul(10).wrapping_add(u64::from(d - b'0')))
    })
}

/// Calls `found` with every timestamp in `text` (a poll response body);
/// returns how many there were.
pub fn scan(text: &[u8], mut found: impl FnMut(u64)) -> usize {
    let mut count = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].windows(MARKER.len()).position(|w| w == MARKER) {
        let start = at + offset;
        if let Some(ns) = parse(&text[start..]) {
            found(ns);
            count += 1;
            at = start + STAMP_LEN;
        } else {
            at = start + MARKER.len();
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_scan() {
        let text = stamped(1_234_567, 50);
        assert_eq!(text.len(), 50);
        assert_eq!(parse(text.as_bytes()), Some(1_234_567));
        let body = format!(
            r#"{{"cursor":2,"messages":["{}","{}"]}}"#,
            text,
            stamped(9, 40)
        );
        let mut seen = Vec::new();
        assert_eq!(scan(body.as_bytes(), |ns| seen.push(ns)), 2);
        assert_eq!(seen, vec![1_234_567, 9]);
        assert_eq!(parse(b"t=12"), None);
    }
}
