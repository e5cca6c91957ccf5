//! Number formatting shared by the markdown and SVG reports.

use crate::scenarios::Unit;

/// A value in its unit, short: `412.3k`, `1.21M`, `1,440 B`, `5.6 KiB`.
pub fn value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::BytesPerConnection | Unit::BytesPerMessage => bytes(v),
        Unit::MessagesPerSecond | Unit::HandshakesPerSecond | Unit::DeliveriesPerSecond => count(v),
        Unit::RecoveryMs => millis(v),
    }
}

/// Milliseconds: whole ones with thousands separators from 100 ms, one
/// decimal below.
pub fn millis(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{} ms", thousands(v.round() as i64))
    } else {
        format!("{v:.1} ms")
    }
}

/// A rate or count with a k/M suffix.
pub fn count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Bytes: whole bytes up to 10 KiB, then KiB with one decimal.
pub fn bytes(v: f64) -> String {
    if v.abs() >= 10.0 * 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{} B", thousands(v.round() as i64))
    }
}

/// A ratio: `1.23×`.
pub fn ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// An integer with thousands separators.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(412_345.0), "412.3k");
        assert_eq!(count(1_210_000.0), "1.21M");
        assert_eq!(bytes(1440.2), "1,440 B");
        assert_eq!(bytes(133_120.0), "130.0 KiB");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(ratio(1.234), "1.23×");
        assert_eq!(millis(12_345.6), "12,346 ms");
        assert_eq!(millis(42.34), "42.3 ms");
    }
}
