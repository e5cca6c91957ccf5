//! Commands from clients: `{"id":N,"<method>":{...}}`, several joined by `\n` in
//! one frame.
//!
//! Unknown fields are ignored (centrifuge-js 5.8 sends `flag`); a command whose
//! JSON is malformed, whose fields have the wrong types, or whose id is not a
//! `uint32` is an error that the hub turns into disconnect 3501.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Raw embedded JSON (a `bytes` field of the protocol: `data`, `info`).
pub type RawJson = Box<RawValue>;

/// One command from a client.
#[derive(Debug)]
pub struct Command {
    /// The client-chosen id echoed in the reply; 0 for pongs and `send`.
    pub id: u32,
    /// What the client asks for.
    pub method: Method,
}

/// The request of a command, one variant per method key.
#[derive(Debug)]
#[non_exhaustive]
pub enum Method {
    /// `connect`.
    Connect(ConnectRequest),
    /// `subscribe`.
    Subscribe(SubscribeRequest),
    /// `unsubscribe`.
    Unsubscribe(ChannelRequest),
    /// `publish`.
    Publish(PublishRequest),
    /// `presence`.
    Presence(ChannelRequest),
    /// `presence_stats`.
    PresenceStats(ChannelRequest),
    /// `history`.
    History(HistoryRequest),
    /// `ping` (unused by v2 clients; answered with an empty result).
    Ping,
    /// `send`: an asynchronous message to the server; no reply.
    Send(SendRequest),
    /// `rpc`.
    Rpc(RpcRequest),
    /// `refresh`: a new connection token.
    Refresh(RefreshRequest),
    /// `sub_refresh`: a new subscription token.
    SubRefresh(SubRefreshRequest),
    /// A command without a method: `{}` — a pong when its id is 0.
    Empty,
}

impl Method {
    /// Every [`Method::name`].
    pub const NAMES: [&'static str; 13] = [
        "connect",
        "subscribe",
        "unsubscribe",
        "publish",
        "presence",
        "presence_stats",
        "history",
        "ping",
        "send",
        "rpc",
        "refresh",
        "sub_refresh",
        "pong",
    ];

    /// The method's key in the command (`"pong"` for an empty command).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Connect(_) => "connect",
            Method::Subscribe(_) => "subscribe",
            Method::Unsubscribe(_) => "unsubscribe",
            Method::Publish(_) => "publish",
            Method::Presence(_) => "presence",
            Method::PresenceStats(_) => "presence_stats",
            Method::History(_) => "history",
            Method::Ping => "ping",
            Method::Send(_) => "send",
            Method::Rpc(_) => "rpc",
            Method::Refresh(_) => "refresh",
            Method::SubRefresh(_) => "sub_refresh",
            Method::Empty => "pong",
        }
    }
}

/// `connect` request (also the bare body of a unidirectional connect).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ConnectRequest {
    /// Connection JWT.
    pub token: Option<String>,
    /// Connect data (for a connect proxy; ignored without one).
    pub data: Option<RawJson>,
    /// Positions of server-side subscriptions to recover.
    pub subs: Option<HashMap<String, SubscribePosition>>,
    /// Client name (`js`).
    pub name: Option<String>,
    /// Client version.
    pub version: Option<String>,
    /// Emulated headers: those a proxy endpoint lists in
    /// `emulated_headers` are forwarded with its calls.
    pub headers: Option<HashMap<String, String>>,
}

/// A position a client asks to recover from, in connect `subs`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SubscribePosition {
    /// Whether to recover.
    pub recover: Option<bool>,
    /// Last offset seen.
    pub offset: Option<u64>,
    /// Epoch of that offset.
    pub epoch: Option<String>,
}

/// `subscribe` request.
#[derive(Debug, Default, Deserialize)]
pub struct SubscribeRequest {
    /// Channel name.
    pub channel: Option<String>,
    /// Subscription JWT.
    pub token: Option<String>,
    /// Whether to recover missed publications from `offset`/`epoch`.
    pub recover: Option<bool>,
    /// Last offset seen.
    pub offset: Option<u64>,
    /// Epoch of that offset.
    pub epoch: Option<String>,
    /// Subscribe data (for a subscribe proxy; ignored without one).
    pub data: Option<RawJson>,
    /// Ask for positioning.
    pub positioned: Option<bool>,
    /// Ask for recovery.
    pub recoverable: Option<bool>,
    /// Ask for join/leave pushes.
    pub join_leave: Option<bool>,
}

/// A request that names only a channel (`unsubscribe`, `presence`, `presence_stats`).
#[derive(Debug, Default, Deserialize)]
pub struct ChannelRequest {
    /// Channel name.
    pub channel: Option<String>,
}

/// `publish` request.
#[derive(Debug, Default, Deserialize)]
pub struct PublishRequest {
    /// Channel name.
    pub channel: Option<String>,
    /// Publication data (raw JSON).
    pub data: Option<RawJson>,
}

/// A stream position `{offset, epoch}`.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
pub struct StreamPositionRequest {
    /// Offset.
    pub offset: Option<u64>,
    /// Epoch; empty skips the epoch check.
    pub epoch: Option<String>,
}

/// `history` request.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryRequest {
    /// Channel name.
    pub channel: Option<String>,
    /// 0 → only the position; -1 → all (capped); N → N publications.
    pub limit: Option<i64>,
    /// Publications after (or before, when reversed) this position.
    pub since: Option<StreamPositionRequest>,
    /// Newest first.
    pub reverse: Option<bool>,
}

/// `send` request.
#[derive(Debug, Default, Deserialize)]
pub struct SendRequest {
    /// Message data.
    pub data: Option<RawJson>,
}

/// `rpc` request.
#[derive(Debug, Default, Deserialize)]
pub struct RpcRequest {
    /// RPC method name.
    pub method: Option<String>,
    /// RPC data.
    pub data: Option<RawJson>,
}

/// `refresh` request.
#[derive(Debug, Default, Deserialize)]
pub struct RefreshRequest {
    /// New connection JWT.
    pub token: Option<String>,
}

/// `sub_refresh` request.
#[derive(Debug, Default, Deserialize)]
pub struct SubRefreshRequest {
    /// Channel name.
    pub channel: Option<String>,
    /// New subscription JWT.
    pub token: Option<String>,
}

/// Why a command could not be decoded. The hub answers with disconnect 3501.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad command: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

#[derive(Deserialize)]
struct Wire {
    id: Option<u32>,
    connect: Option<ConnectRequest>,
    subscribe: Option<SubscribeRequest>,
    unsubscribe: Option<ChannelRequest>,
    publish: Option<PublishRequest>,
    presence: Option<ChannelRequest>,
    presence_stats: Option<ChannelRequest>,
    history: Option<HistoryRequest>,
    ping: Option<serde::de::IgnoredAny>,
    send: Option<SendRequest>,
    rpc: Option<RpcRequest>,
    refresh: Option<RefreshRequest>,
    sub_refresh: Option<SubRefreshRequest>,
}

impl Command {
    /// Decodes one command's JSON.
    ///
    /// ```
    /// use pushwire_hub::protocol::{Command, Method};
    /// let c = Command::decode(br#"{"id":2,"subscribe":{"channel":"chat:1","flag":1}}"#).unwrap();
    /// assert_eq!(c.id, 2);
    /// assert!(matches!(c.method, Method::Subscribe(_)));
    /// assert!(Command::decode(b"{\"id\":-1}").is_err());
    /// ```
    pub fn decode(json: &[u8]) -> Result<Command, DecodeError> {
        let w: Wire = serde_json::from_slice(json).map_err(|e| DecodeError(e.to_string()))?;
        // The first non-null request field wins, in the schema's order.
        let method = if let Some(r) = w.connect {
            Method::Connect(r)
        } else if let Some(r) = w.subscribe {
            Method::Subscribe(r)
        } else if let Some(r) = w.unsubscribe {
            Method::Unsubscribe(r)
        } else if let Some(r) = w.publish {
            Method::Publish(r)
        } else if let Some(r) = w.presence {
            Method::Presence(r)
        } else if let Some(r) = w.presence_stats {
            Method::PresenceStats(r)
        } else if let Some(r) = w.history {
            Method::History(r)
        } else if w.ping.is_some() {
            Method::Ping
        } else if let Some(r) = w.send {
            Method::Send(r)
        } else if let Some(r) = w.rpc {
            Method::Rpc(r)
        } else if let Some(r) = w.refresh {
            Method::Refresh(r)
        } else if let Some(r) = w.sub_refresh {
            Method::SubRefresh(r)
        } else {
            Method::Empty
        };
        Ok(Command {
            id: w.id.unwrap_or(0),
            method,
        })
    }
}

/// Splits a frame into its `\n`-joined commands' JSON, skipping blank lines
/// (so a trailing newline or whitespace is tolerated).
///
/// ```
/// let parts: Vec<&[u8]> = pushwire_hub::protocol::split_frame(b"{\"id\":1}\n{}\n \n").collect();
/// assert_eq!(parts, [&b"{\"id\":1}"[..], &b"{}"[..]]);
/// ```
pub fn split_frame(frame: &[u8]) -> impl Iterator<Item = &[u8]> {
    frame
        .split(|&b| b == b'\n')
        .map(trim)
        .filter(|s| !s.is_empty())
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}
