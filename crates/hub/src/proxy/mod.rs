//! The backend proxy: events that a backend decides (connect without a
//! token, refresh, subscribe, publish, sub_refresh, rpc), as Centrifugo's
//! HTTP proxy posts them (`shared/hub-protocol.md` §10).
//!
//! Sans-IO: when a command needs the backend, the hub encodes the request
//! JSON, parks the command under a [`ProxyTicket`] and hands out a
//! [`ProxyCall`] through [`Hub::poll_proxy`](crate::Hub::poll_proxy). The
//! IO layer posts `body` to the endpoint of the call's [`ProxyKind`] (see
//! [`HubConfig::proxy_endpoint`](crate::HubConfig::proxy_endpoint)) and
//! answers with [`Hub::handle_proxy_reply`](crate::Hub::handle_proxy_reply):
//! the body of an HTTP 200, or a [`ProxyFailure`]. The hub then finishes
//! the command as the token path does.
//!
//! ```
//! use pushwire_hub::proxy::{ProxyKind, ProxyOutcome};
//! use pushwire_hub::{Hub, HubConfig, Timestamp, Transport};
//!
//! let cfg: HubConfig = serde_json::from_str(r#"{"client": {"proxy": {"connect": {
//!     "enabled": true, "endpoint": "http://127.0.0.1:3000/connect"}}}}"#).unwrap();
//! let now = Timestamp::from_secs(1_700_000_000);
//! let mut hub = Hub::new(cfg, [7; 32], now).unwrap();
//! let conn = hub.open(now, Transport::websocket());
//! hub.handle_frame(now, conn, br#"{"id":1,"connect":{"data":{"hello":1}}}"#);
//!
//! let call = hub.poll_proxy().unwrap();
//! assert_eq!(call.kind, ProxyKind::Connect);
//! assert!(call.body.starts_with(br#"{"client":""#));
//! hub.handle_proxy_reply(now, call.ticket, ProxyOutcome::Body(br#"{"result":{"user":"56"}}"#.as_slice().into()));
//!
//! let mut out = Vec::new();
//! hub.outbox(conn).unwrap().drain_into(&mut out, 64 * 1024);
//! assert!(out[0].starts_with(br#"{"id":1,"connect":{"client":"#));
//! ```

mod config;
pub(crate) mod wire;

use bytes::Bytes;

pub(crate) use config::validate;
pub use config::{
    ChannelProxyConfig, ClientProxyConfig, ProxyEndpoint, ProxyHttp, ProxyTls, RpcConfig,
    RpcNamespace, RpcOptions, StatusTransform, TransformDisconnect, TransformError,
};

use crate::ConnId;

/// Which backend event a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyKind {
    /// `client.proxy.connect`.
    Connect,
    /// `client.proxy.refresh`.
    Refresh,
    /// `channel.proxy.subscribe`.
    Subscribe,
    /// `channel.proxy.publish`.
    Publish,
    /// `channel.proxy.sub_refresh`.
    SubRefresh,
    /// `rpc.proxy`.
    Rpc,
}

impl ProxyKind {
    /// Every kind.
    pub const ALL: [ProxyKind; 6] = [
        ProxyKind::Connect,
        ProxyKind::Refresh,
        ProxyKind::Subscribe,
        ProxyKind::Publish,
        ProxyKind::SubRefresh,
        ProxyKind::Rpc,
    ];

    /// The kind's name: `connect`, `refresh`, `subscribe`, `publish`,
    /// `sub_refresh`, `rpc`.
    pub fn name(self) -> &'static str {
        match self {
            ProxyKind::Connect => "connect",
            ProxyKind::Refresh => "refresh",
            ProxyKind::Subscribe => "subscribe",
            ProxyKind::Publish => "publish",
            ProxyKind::SubRefresh => "sub_refresh",
            ProxyKind::Rpc => "rpc",
        }
    }
}

/// Names one pending call; each is answered once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProxyTicket(pub(crate) u64);

/// A call for the IO layer to make: `POST` `body` (JSON) to the endpoint
/// of `kind`, with the headers of `conn` that the endpoint forwards.
#[derive(Debug, Clone)]
pub struct ProxyCall {
    /// Answer with this in [`Hub::handle_proxy_reply`](crate::Hub::handle_proxy_reply).
    pub ticket: ProxyTicket,
    /// The connection the call is for.
    pub conn: ConnId,
    /// What the call is.
    pub kind: ProxyKind,
    /// The request JSON.
    pub body: Bytes,
    /// Headers the client set in its connect command that this endpoint
    /// forwards (`emulated_headers`), names in lower case. Client
    /// controlled: sent only where the request's own or a static header
    /// of the same name is absent.
    pub emulated_headers: Vec<(String, String)>,
}

/// How a call ended.
#[derive(Debug, Clone)]
pub enum ProxyOutcome {
    /// The backend answered HTTP 200 with this body.
    Body(Bytes),
    /// No usable answer.
    Failed(ProxyFailure),
}

/// Why a call has no answer. The client gets error 100 (temporary), or
/// disconnect 3004 on a unidirectional transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyFailure {
    /// The backend took longer than the endpoint's `timeout`.
    Timeout,
    /// The backend could not be reached (refused, reset, DNS…).
    Unreachable,
    /// The backend answered with this HTTP status, not 200.
    Status(u16),
}

impl crate::HubConfig {
    /// The endpoint calls of `kind` are posted to.
    pub fn proxy_endpoint(&self, kind: ProxyKind) -> &ProxyEndpoint {
        match kind {
            ProxyKind::Connect => &self.client.proxy.connect,
            ProxyKind::Refresh => &self.client.proxy.refresh,
            ProxyKind::Subscribe => &self.channel.proxy.subscribe,
            ProxyKind::Publish => &self.channel.proxy.publish,
            ProxyKind::SubRefresh => &self.channel.proxy.sub_refresh,
            ProxyKind::Rpc => &self.rpc.proxy,
        }
    }
}
