//! Whether a `Host` field value is valid (RFC 9112 section 3.2, RFC 3986
//! section 3.2.2): `uri-host [ ":" port ]`, or empty.
//!
//! The host is an IPv6 literal in brackets, or a registered name (which
//! covers IPv4 addresses) of unreserved characters, percent-encodings and
//! sub-delimiters. One sub-delimiter is refused all the same: a comma,
//! since a value with one cannot be told apart from two `Host` fields
//! combined into a list (RFC 9110 section 5.3). The port, if present, is
//! at most five digits, 65535 at most; `host:` with an empty port is
//! valid, as the grammar has it.
//!
//! ```
//! use pushwire_proto::http1::valid_host;
//! assert!(valid_host(b"example.com:8080"));
//! assert!(valid_host(b"[::1]:9"));
//! assert!(valid_host(b""));
//! for bad in ["a, b", "a b", "u@a", "a:xyz", "a/b?c", "[::1", "a:99999"] {
//!     assert!(!valid_host(bad.as_bytes()), "{bad}");
//! }
//! ```

/// Whether `value` is a valid `Host` field value.
pub fn valid_host(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(end) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        if !ip_literal(&value[1..end]) {
            return false;
        }
        match &value[end + 1..] {
            [] => return true,
            [b':', port @ ..] => (&[][..], port),
            _ => return false,
        }
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &[][..]),
        }
    };
    reg_name(host) && valid_port(port)
}

/// An empty port, or a number up to 65535.
fn valid_port(port: &[u8]) -> bool {
    port.len() <= 5
        && port.iter().all(u8::is_ascii_digit)
        && std::str::from_utf8(port)
            .ok()
            .is_some_and(|p| p.is_empty() || p.parse::<u16>().is_ok())
}

/// The inside of `[…]`: an IPv6 address (IPvFuture is not served).
fn ip_literal(inside: &[u8]) -> bool {
    std::str::from_utf8(inside)
        .ok()
        .is_some_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
}

/// `*( unreserved / pct-encoded / sub-delims )`, less the comma.
fn reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'%' => {
                let hex = name.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_values() {
        for good in [
            "x",
            "example.com",
            "EXAMPLE.com:443",
            "127.0.0.1:8080",
            "[::1]",
            "[2001:db8::7]:80",
            "a%20b",
            "host:",
            "",
            "xn--bcher-kva.example",
            // An empty reg-name with a port: odd, but the grammar's.
            ":80",
        ] {
            assert!(valid_host(good.as_bytes()), "{good:?}");
        }
    }

    #[test]
    fn invalid_values() {
        for bad in [
            "a, b", "a,b", "a b", "u@a", "a:xyz", "a/b?c", "a:1:2", "[::1", "[::1]x", "[zz]",
            "a:65536", "a:000080", "a%2", "a%zz", "a\tb", "a\0", "é", "[::1]:x",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad:?}");
        }
    }
}
