//! Which pages may open a WebSocket: the `Origin` check against
//! cross-site WebSocket hijacking.

/// Which origins may open a WebSocket, checked against the request's
/// `Origin` header when it is accepted. A request without `Origin` (not
/// sent by a browser) is always allowed; a refused one is answered
/// `403 Forbidden` and logged (`warn`).
///
/// Default: [`OriginPolicy::SameOrigin`]. Behind a proxy that rewrites
/// `Host`, list the public origins with [`OriginPolicy::allow`].
///
/// ```
/// use pushwire::OriginPolicy;
///
/// let policy = OriginPolicy::allow(["https://app.example.com"]);
/// assert!(policy.permits(Some("https://app.example.com"), Some("ws.example.com")));
/// assert!(policy.permits(Some("http://ws.example.com"), Some("ws.example.com")));
/// assert!(!policy.permits(Some("https://evil.example"), Some("ws.example.com")));
/// assert!(!OriginPolicy::default().permits(Some("http://a:8080"), Some("a:8081")));
/// assert!(OriginPolicy::default().permits(None, Some("a:8081")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Only pages of the same host and port as the request (its `Host`
    /// header, or its `:authority` over HTTP/2); a port left out counts
    /// as the default of the origin's scheme.
    #[default]
    SameOrigin,
    /// The same origin, plus these exact origins (`scheme://host[:port]`,
    /// compared case-insensitively).
    AllowList(Vec<String>),
    /// Any origin: for WebSockets that carry no ambient credentials.
    Any,
}

impl OriginPolicy {
    /// [`OriginPolicy::AllowList`] from a list of origins.
    pub fn allow<I, P>(origins: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let origins = origins
            .into_iter()
            .map(|o| o.into().trim_end_matches('/').to_string())
            .collect();
        OriginPolicy::AllowList(origins)
    }

    /// Whether a request with this `Origin` header, to this host
    /// (`host[:port]`), may open a WebSocket.
    pub fn permits(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::SameOrigin => same_origin(origin, host),
            OriginPolicy::AllowList(list) => {
                list.iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(origin))
                    || same_origin(origin, host)
            }
        }
    }
}

fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false; // "null", or not an origin
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    match (split_host_port(rest), split_host_port(host)) {
        (Some((origin_host, origin_port)), Some((host, port))) => {
            origin_host.eq_ignore_ascii_case(host)
                && origin_port.or(default).is_some()
                && origin_port.or(default) == port.or(default)
        }
        _ => false,
    }
}

/// `host[:port]`, with IPv6 literals in brackets.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']')?;
        (&s[..=end], &s[end + 1..])
    } else {
        match s.rfind(':') {
            Some(colon) => (&s[..colon], &s[colon..]),
            None => (s, ""),
        }
    };
    let port = match port {
        "" => None,
        port => Some(port.strip_prefix(':')?.parse().ok()?),
    };
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_compares_host_and_effective_port() {
        let p = OriginPolicy::SameOrigin;
        assert!(p.permits(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080")));
        assert!(p.permits(Some("https://Example.com"), Some("example.com")));
        assert!(p.permits(Some("https://example.com"), Some("example.com:443")));
        assert!(p.permits(Some("http://[::1]:9"), Some("[::1]:9")));
        assert!(!p.permits(Some("http://example.com"), Some("example.com:443")));
        assert!(!p.permits(Some("http://evil.com"), Some("example.com")));
        assert!(!p.permits(Some("null"), Some("example.com")));
        assert!(!p.permits(Some("http://example.com"), None));
        assert!(!p.permits(Some("http://example.com:x"), Some("example.com")));
        assert!(p.permits(None, None));
    }

    #[test]
    fn allow_list_and_any() {
        let p = OriginPolicy::allow(["https://app.example.com/"]);
        assert!(p.permits(Some("HTTPS://app.example.com"), Some("ws.example.com")));
        assert!(!p.permits(Some("https://app.example.com:8443"), Some("x")));
        assert!(OriginPolicy::Any.permits(Some("null"), None));
    }
}
