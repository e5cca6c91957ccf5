//! Which pages may open a WebSocket: the `Origin` check against
//! cross-site WebSocket hijacking. The same rule decides cross-origin
//! (CORS) requests for event streams and polls.

use http::header::{HeaderName, HOST, ORIGIN};
use http::Request;

use crate::http::connection::ConnectionInfo;

/// Which origins may open a WebSocket (or, through
/// [`OriginPolicy::permits_request`], make a cross-origin request),
/// checked against the request's `Origin` header. A request without `Origin` (not
/// sent by a browser) is always allowed; a refused one is answered
/// `403 Forbidden` and logged (`warn`).
///
/// Default: [`OriginPolicy::SameOrigin`]. Behind a proxy that rewrites
/// `Host`, list the public origins with [`OriginPolicy::allow`].
///
/// The server's own origin comes from the request's `Host` only when
/// that names the server (against DNS rebinding, where a page of
/// `http://evil.example` reaches a local server under its own name): on
/// a request a [`Server`](crate::Server) delivered, `Host` must be an IP
/// literal, `localhost` or `*.localhost`, or one of the
/// [`Server::server_names`](crate::Server::server_names) — or, when none
/// are set, the connection must not be a loopback one (the server
/// listening on a loopback address, or the client connecting from one). A
/// request whose `Host` does not name the server is same-origin with no
/// page.
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
    /// (`host[:port]`), may be served. Without the connection's scheme a
    /// same-origin page may be `http` or `https`; see
    /// [`OriginPolicy::permits_request`].
    pub fn permits(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        self.permits_on(origin, host, None)
    }

    /// Whether this request may be served: its `Origin` header against
    /// its `Host` (or HTTP/2 `:authority`). When a [`Server`](crate::Server)
    /// delivered it (a [`ConnectionInfo`] in its extensions), a
    /// same-origin page must also have the connection's scheme: `https`
    /// over TLS, `http` in cleartext.
    ///
    /// The rule for WebSockets and for cross-origin (CORS) requests
    /// alike: an event stream or a poll refused here should get `403`.
    ///
    /// ```
    /// use pushwire::OriginPolicy;
    ///
    /// let req = http::Request::get("/events")
    ///     .header("host", "example.com")
    ///     .header("origin", "https://example.com")
    ///     .body(())
    ///     .unwrap();
    /// assert!(OriginPolicy::SameOrigin.permits_request(&req));
    /// ```
    pub fn permits_request<B>(&self, req: &Request<B>) -> bool {
        let secure = req
            .extensions()
            .get::<ConnectionInfo>()
            .map(ConnectionInfo::is_tls);
        self.permits_on(header(req, ORIGIN), request_host(req), secure)
    }

    /// [`OriginPolicy::permits`], with the connection's scheme when known
    /// (`Some(true)` for TLS).
    pub(crate) fn permits_on(
        &self,
        origin: Option<&str>,
        host: Option<&str>,
        secure: Option<bool>,
    ) -> bool {
        let Some(origin) = origin else { return true };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::SameOrigin => same_origin(origin, host, secure),
            OriginPolicy::AllowList(list) => {
                list.iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(origin))
                    || same_origin(origin, host, secure)
            }
        }
    }
}

/// The host a request was sent to (HTTP/2 carries it as `:authority`,
/// HTTP/1.1 as `Host`), when it names the server that delivered the
/// request (see [`names_server`]).
pub(crate) fn request_host<B>(req: &Request<B>) -> Option<&str> {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| header(req, HOST))?;
    match req.extensions().get::<ConnectionInfo>() {
        Some(info) if !names_server(host, info) => None,
        _ => Some(host),
    }
}

/// Whether `host` (`host[:port]`) names the server behind `info`: an IP
/// literal, `localhost` or a `*.localhost` name (which a browser resolves
/// to the loopback itself, never through DNS), one of the server's names
/// (`*.name` for its subdomains), or, when it has none, anything on a
/// connection that is not a loopback one (neither the server's address
/// nor the client's: a browser on the server's own machine is what a
/// rebinding page drives).
fn names_server(host: &str, info: &ConnectionInfo) -> bool {
    let Some((name, _)) = split_host_port(host) else {
        return false;
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let literal = name.starts_with('[') || name.parse::<std::net::Ipv4Addr>().is_ok();
    let localhost = name == "localhost" || name.ends_with(".localhost");
    let names = info.server_names();
    let named = names.iter().any(|known| match known.strip_prefix("*.") {
        Some(parent) => name
            .strip_suffix(parent)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => *known == name,
    });
    literal
        || localhost
        || named
        || (names.is_empty()
            && !info.local_addr().ip().to_canonical().is_loopback()
            && !info.remote_addr().ip().to_canonical().is_loopback())
}

/// A header's value, when it is readable text.
pub(crate) fn header<B>(req: &Request<B>, name: HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn same_origin(origin: &str, host: Option<&str>, secure: Option<bool>) -> bool {
    let Some(host) = host else { return false };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false; // "null", or not an origin
    };
    let origin_secure = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => false,
        "https" | "wss" => true,
        _ => return false,
    };
    if secure.is_some_and(|secure| secure != origin_secure) {
        return false;
    }
    let default = if origin_secure { 443 } else { 80 };
    match (split_host_port(rest), split_host_port(host)) {
        (Some((origin_host, origin_port)), Some((host, port))) => {
            origin_host.eq_ignore_ascii_case(host)
                && origin_port.unwrap_or(default) == port.unwrap_or(default)
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
        assert!(!p.permits(Some("ftp://example.com"), Some("example.com")));
    }

    #[test]
    fn a_known_connection_scheme_must_match_the_origin() {
        let p = OriginPolicy::SameOrigin;
        let host = Some("example.com:8443");
        assert!(p.permits_on(Some("https://example.com:8443"), host, Some(true)));
        assert!(!p.permits_on(Some("http://example.com:8443"), host, Some(true)));
        assert!(p.permits_on(Some("http://example.com:8443"), host, Some(false)));
        assert!(!p.permits_on(Some("https://example.com:8443"), host, Some(false)));
        assert!(p.permits_on(Some("https://example.com:8443"), host, None));
        // An allow-listed origin is allowed whatever the scheme.
        let p = OriginPolicy::allow(["http://app.example.com"]);
        assert!(p.permits_on(Some("http://app.example.com"), host, Some(true)));
    }

    #[test]
    fn allow_list_and_any() {
        let p = OriginPolicy::allow(["https://app.example.com/"]);
        assert!(p.permits(Some("HTTPS://app.example.com"), Some("ws.example.com")));
        assert!(!p.permits(Some("https://app.example.com:8443"), Some("x")));
        assert!(OriginPolicy::Any.permits(Some("null"), None));
    }
}
