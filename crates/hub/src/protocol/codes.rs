//! The codes of the client protocol: reply errors (100–113), unsubscribe codes and
//! disconnect (close) codes, with the meanings Centrifuge's SDKs give them.

use serde::Serialize;

/// An error in a reply: `{"code":N,"message":"…","temporary":true}`.
///
/// `temporary` is omitted when false. Codes below 100 are client-internal;
/// 400–1999 are an application's own (from a backend proxy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorCode {
    /// The numeric code.
    pub code: u32,
    /// A short human-readable message.
    pub message: &'static str,
    /// Whether the client should retry (SDKs back off and retry).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
}

macro_rules! errors {
    ($($(#[$doc:meta])* $name:ident = $code:expr, $msg:expr, $temp:expr;)*) => {
        impl ErrorCode {
            $( $(#[$doc])* pub const $name: ErrorCode = ErrorCode { code: $code, message: $msg, temporary: $temp }; )*
        }
    };
}

errors! {
    /// 100: internal server error (temporary).
    INTERNAL = 100, "internal server error", true;
    /// 101: unauthorized.
    UNAUTHORIZED = 101, "unauthorized", false;
    /// 102: unknown channel (no such namespace).
    UNKNOWN_CHANNEL = 102, "unknown channel", false;
    /// 103: permission denied.
    PERMISSION_DENIED = 103, "permission denied", false;
    /// 104: method not found (e.g. `rpc` without a backend).
    METHOD_NOT_FOUND = 104, "method not found", false;
    /// 105: already subscribed.
    ALREADY_SUBSCRIBED = 105, "already subscribed", false;
    /// 106: limit exceeded (e.g. the per-connection channel limit).
    LIMIT_EXCEEDED = 106, "limit exceeded", false;
    /// 107: bad request (e.g. a channel name longer than 255 bytes).
    BAD_REQUEST = 107, "bad request", false;
    /// 108: not available (e.g. presence off in the namespace).
    NOT_AVAILABLE = 108, "not available", false;
    /// 109: token expired: the client gets a fresh token and retries.
    TOKEN_EXPIRED = 109, "token expired", false;
    /// 110: expired (the connection's own expiry is in the past).
    EXPIRED = 110, "expired", false;
    /// 111: too many requests (temporary).
    TOO_MANY_REQUESTS = 111, "too many requests", true;
    /// 112: unrecoverable position (epoch mismatch in a history `since`).
    UNRECOVERABLE_POSITION = 112, "unrecoverable position", false;
}

/// Why the server ends a subscription: the `unsubscribe` push's `code`.
///
/// Codes ≥ 2500 make the SDK resubscribe (and recover); lower codes are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsubscribeCode {
    /// 0: the client unsubscribed.
    Client,
    /// 2000: unsubscribed by the server API.
    Server,
    /// 2500: insufficient state: the server lost track of what this
    /// subscriber received (e.g. its queue dropped publications); the SDK
    /// resubscribes and recovers from history.
    InsufficientState,
    /// 2501: the subscription token expired: the SDK resubscribes with a new token.
    Expired,
    /// 2502: state invalidated: the SDK drops its token and position and resubscribes.
    StateInvalidated,
}

impl UnsubscribeCode {
    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            UnsubscribeCode::Client => 0,
            UnsubscribeCode::Server => 2000,
            UnsubscribeCode::InsufficientState => 2500,
            UnsubscribeCode::Expired => 2501,
            UnsubscribeCode::StateInvalidated => 2502,
        }
    }

    /// The reason string sent with the code.
    pub fn reason(self) -> &'static str {
        match self {
            UnsubscribeCode::Client => "client unsubscribed",
            UnsubscribeCode::Server => "server unsubscribe",
            UnsubscribeCode::InsufficientState => "insufficient state",
            UnsubscribeCode::Expired => "subscription expired",
            UnsubscribeCode::StateInvalidated => "state invalidated",
        }
    }
}

/// A disconnect: the WebSocket close code and reason, or the `disconnect` push
/// on other transports.
///
/// 3000–3499 and 4000–4499 make the SDK reconnect; 3500–3999 and 4500–4999 are
/// terminal. Reasons are plain words (the JS SDK tries `JSON.parse` on them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Disconnect {
    /// The close code.
    pub code: u32,
    /// The close reason: short, fits the WebSocket close frame's 123 bytes.
    pub reason: String,
}

macro_rules! disconnects {
    ($($(#[$doc:meta])* $name:ident = $code:expr, $reason:expr;)*) => {
        impl Disconnect {
            $( $(#[$doc])* pub const $name: (u32, &'static str) = ($code, $reason); )*
        }
    };
}

disconnects! {
    /// 3000: connection closed, no advice (not sent to clients).
    CONNECTION_CLOSED = 3000, "connection closed";
    /// 3001: the server shuts down (reconnect).
    SHUTDOWN = 3001, "shutdown";
    /// 3004: internal server error (reconnect).
    SERVER_ERROR = 3004, "internal server error";
    /// 3005: the connection expired and was not refreshed (reconnect with a new token).
    EXPIRED = 3005, "connection expired";
    /// 3006: a server-side subscription expired (reconnect).
    SUBSCRIPTION_EXPIRED = 3006, "subscription expired";
    /// 3008: slow: the connection's outgoing queue passed its bound (reconnect and recover).
    SLOW = 3008, "slow";
    /// 3009: write error (reconnect).
    WRITE_ERROR = 3009, "write error";
    /// 3010: insufficient state (reconnect and recover).
    INSUFFICIENT_STATE = 3010, "insufficient state";
    /// 3011: force reconnect.
    FORCE_RECONNECT = 3011, "force reconnect";
    /// 3012: no pong to a server ping within the pong timeout (reconnect).
    NO_PONG = 3012, "no pong";
    /// 3013: too many requests (reconnect).
    TOO_MANY_REQUESTS = 3013, "too many requests";
    /// 3014: state invalidated.
    STATE_INVALIDATED = 3014, "state invalidated";
    /// 3500: invalid token (terminal).
    INVALID_TOKEN = 3500, "invalid token";
    /// 3501: bad request: malformed command, unknown method, command before connect (terminal).
    BAD_REQUEST = 3501, "bad request";
    /// 3502: stale: no connect in time (terminal).
    STALE = 3502, "stale";
    /// 3503: force disconnect by the server API (terminal).
    FORCE_DISCONNECT = 3503, "force disconnect";
    /// 3504: the user's connection limit is reached (terminal).
    CONNECTION_LIMIT = 3504, "connection limit";
    /// 3505: channel limit (terminal).
    CHANNEL_LIMIT = 3505, "channel limit";
    /// 3506: inappropriate protocol (terminal).
    INAPPROPRIATE_PROTOCOL = 3506, "inappropriate protocol";
    /// 3507: permission denied (terminal).
    PERMISSION_DENIED = 3507, "permission denied";
    /// 3508: not available (terminal).
    NOT_AVAILABLE = 3508, "not available";
    /// 3509: too many errors (terminal).
    TOO_MANY_ERRORS = 3509, "too many errors";
}

impl Disconnect {
    /// A disconnect from one of the `(code, reason)` constants.
    ///
    /// ```
    /// use pushwire_hub::protocol::Disconnect;
    /// let d = Disconnect::new(Disconnect::SLOW);
    /// assert_eq!((d.code, d.reason.as_str()), (3008, "slow"));
    /// assert!(d.reconnect());
    /// ```
    pub fn new((code, reason): (u32, &str)) -> Self {
        Disconnect {
            code,
            reason: reason.to_owned(),
        }
    }

    /// Whether Centrifuge's SDKs reconnect after this code.
    pub fn reconnect(&self) -> bool {
        !((3500..4000).contains(&self.code) || (4500..5000).contains(&self.code))
    }
}
