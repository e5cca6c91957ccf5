//! Small figures: percentiles, a per-second histogram, and the checks a
//! drill makes (each printed; any failure makes the drill exit non-zero).

use std::collections::BTreeMap;

/// The `p`-th percentile (0–100) of `values` (sorted in place); 0 when empty.
pub fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

/// Counts per whole second of `millis`.
pub fn per_second(millis: &[u64]) -> BTreeMap<u64, usize> {
    let mut h = BTreeMap::new();
    for m in millis {
        *h.entry(m / 1000).or_insert(0) += 1;
    }
    h
}

/// The checks of one drill.
#[derive(Default)]
pub struct Checks {
    failed: Vec<String>,
    passed: usize,
}

impl Checks {
    /// Records and prints one check.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        println!("  [{}] {what}", if ok { "ok" } else { "FAIL" });
        if ok {
            self.passed += 1;
        } else {
            self.failed.push(what);
        }
    }

    /// Prints the summary; true when every check passed.
    pub fn finish(&self, drill: &str) -> bool {
        if self.failed.is_empty() {
            println!("{drill}: all {} checks passed", self.passed);
            true
        } else {
            println!(
                "{drill}: {} of {} checks FAILED",
                self.failed.len(),
                self.failed.len() + self.passed
            );
            false
        }
    }
}

/// Bytes as MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}
