//! Where a hub is: the URL a user gives, read once for both the
//! WebSocket client and the server API client.

use super::ClientError;

/// The hub's WebSocket path.
const WEBSOCKET: &str = "/connection/websocket";
/// The hub's SSE path.
const SSE: &str = "/connection/sse";

/// A hub's address: `http://`, `https://`, `ws://` or `wss://`, a host,
/// a port and a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) secure: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The path, without query or fragment; `/` at least.
    pub(crate) path: String,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let (secure, rest) = [
            ("http://", false),
            ("ws://", false),
            ("https://", true),
            ("wss://", true),
        ]
        .iter()
        .find_map(|(scheme, secure)| url.strip_prefix(scheme).map(|rest| (*secure, rest)))
        .ok_or_else(|| {
            ClientError::Url(format!(
                "{url:?}: the scheme must be http://, https://, ws:// or wss://"
            ))
        })?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let path = tail.split(['?', '#']).next().unwrap_or_default();
        let path = if path.is_empty() { "/" } else { path };
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6
                    .split_once(']')
                    .ok_or_else(|| ClientError::Url(format!("{url:?}: unclosed [ in the host")))?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        if host.is_empty() || authority.contains('@') {
            return Err(ClientError::Url(format!(
                "{url:?}: no host, or credentials in the URL"
            )));
        }
        let port = match port {
            Some(port) => port
                .parse()
                .map_err(|_| ClientError::Url(format!("{url:?}: invalid port {port:?}")))?,
            None if secure => 443,
            None => 80,
        };
        Ok(Endpoint {
            secure,
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// `host:port` as the `Host` header and URLs write it.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The WebSocket URL of the hub: this path, or
    /// `/connection/websocket` when the URL had none.
    pub(crate) fn websocket_url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.authority(), self.websocket_path())
    }

    /// The path of the hub's WebSocket: this path, or
    /// `/connection/websocket` when the URL had none (or named the
    /// hub's SSE endpoint).
    pub(crate) fn websocket_path(&self) -> String {
        match self.path.as_str() {
            "/" => "/connection/websocket".to_string(),
            path if path.ends_with(SSE) => format!("{}{WEBSOCKET}", self.prefix()),
            path => path.to_string(),
        }
    }

    /// The path of the hub's SSE stream: `/connection/sse` under the
    /// URL's prefix.
    pub(crate) fn sse_path(&self) -> String {
        format!("{}{SSE}", self.prefix())
    }

    /// The path of the hub's `/emulation` endpoint, under the URL's
    /// prefix.
    pub(crate) fn emulation_path(&self) -> String {
        format!("{}/emulation", self.prefix())
    }

    /// The path before the hub's own paths: `/hub` for
    /// `/hub/connection/websocket` (or `/hub/connection/sse`, or `/hub`),
    /// empty for `/`.
    fn prefix(&self) -> &str {
        let path = self.path.trim_end_matches('/');
        [WEBSOCKET, SSE]
            .iter()
            .find_map(|suffix| path.strip_suffix(suffix))
            .unwrap_or(path)
    }

    /// The request target of server API method `method`: under this
    /// path, `/api/<method>` (`http://host/` → `/api/publish`;
    /// `http://host/api` is taken as the API prefix itself).
    pub(crate) fn api_target(&self, method: &str) -> String {
        let base = self.path.trim_end_matches('/');
        if base.ends_with("/api") {
            format!("{base}/{method}")
        } else {
            format!("{base}/api/{method}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_names_the_websocket_and_the_api() {
        let e = Endpoint::parse("http://127.0.0.1:8000").unwrap();
        assert_eq!(
            e.websocket_url(),
            "ws://127.0.0.1:8000/connection/websocket"
        );
        assert_eq!(e.api_target("publish"), "/api/publish");
        let e = Endpoint::parse("https://example.com/").unwrap();
        assert_eq!(
            e.websocket_url(),
            "wss://example.com:443/connection/websocket"
        );
        let e = Endpoint::parse("ws://[::1]:9/hub/ws?x=1").unwrap();
        assert_eq!(e.websocket_url(), "ws://[::1]:9/hub/ws");
        let e = Endpoint::parse("http://h:1/api/").unwrap();
        assert_eq!(e.api_target("history"), "/api/history");
    }

    #[test]
    fn the_sse_and_emulation_paths_follow_the_prefix() {
        for (url, websocket, sse, emulation) in [
            (
                "http://h",
                "/connection/websocket",
                "/connection/sse",
                "/emulation",
            ),
            (
                "ws://h/hub/connection/websocket",
                "/hub/connection/websocket",
                "/hub/connection/sse",
                "/hub/emulation",
            ),
            (
                "http://h/hub/connection/sse",
                "/hub/connection/websocket",
                "/hub/connection/sse",
                "/hub/emulation",
            ),
        ] {
            let e = Endpoint::parse(url).unwrap();
            assert_eq!(e.websocket_path(), websocket, "{url}");
            assert_eq!(e.sse_path(), sse, "{url}");
            assert_eq!(e.emulation_path(), emulation, "{url}");
        }
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for url in [
            "ftp://h",
            "http://",
            "http://u@h",
            "http://h:x",
            "http://[::1",
        ] {
            let error = Endpoint::parse(url).unwrap_err();
            assert!(matches!(error, ClientError::Url(_)), "{url}: {error}");
        }
    }
}
