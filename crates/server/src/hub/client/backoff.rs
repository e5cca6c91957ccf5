//! Reconnect delays: full-jitter exponential backoff.

use std::time::Duration;

/// The delay before each reconnect attempt: a random duration between
/// zero and `min(max, min · 2^attempt)` ("full jitter"), so that clients
/// cut off together do not come back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first attempt's delay.
    pub min: Duration,
    /// The ceiling of any attempt's delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 500 ms doubling up to 20 s, as centrifuge-js.
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(500),
            max: Duration::from_secs(20),
        }
    }
}

impl Backoff {
    /// The ceiling of attempt `attempt` (0 for the first reconnect).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay of attempt `attempt`, `jitter` in `[0, 1)` picking where
    /// under the ceiling it falls.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        self.ceiling(attempt).mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// [`Backoff::delay`] with a random jitter.
    pub fn random_delay(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_maximum() {
        let backoff = Backoff::default();
        assert_eq!(backoff.ceiling(0), Duration::from_millis(500));
        assert_eq!(backoff.ceiling(1), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(3), Duration::from_secs(4));
        assert_eq!(backoff.ceiling(6), Duration::from_secs(20));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(20));
    }

    #[test]
    fn the_delay_falls_anywhere_under_the_ceiling() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(2, 0.0), Duration::ZERO);
        assert_eq!(backoff.delay(2, 0.5), Duration::from_secs(1));
        assert_eq!(backoff.delay(2, 7.0), Duration::from_secs(2));
        for attempt in 0..40 {
            assert!(backoff.random_delay(attempt) <= backoff.ceiling(attempt));
        }
    }
}
