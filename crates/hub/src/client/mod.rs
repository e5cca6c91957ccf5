//! Per-connection state: the connection's lifecycle, its subscriptions and
//! its timers. (Its outbox is in a table of the hub's own, see
//! [`crate::Outbox`].)

mod subs;

use std::sync::Arc;

use bytes::Bytes;

use crate::channel::NamespaceOptions;
use crate::protocol::reply;
use crate::time::Timestamp;
pub(crate) use subs::Subs;

/// What kind of transport carries a connection: decides how pushes are framed
/// and whether pongs are expected.
///
/// ```
/// use pushwire_hub::Transport;
/// assert!(!Transport::websocket().is_unidirectional());
/// assert!(Transport::uni_sse().is_unidirectional());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    unidirectional: bool,
    disconnect_push: bool,
    session: bool,
}

impl Transport {
    /// Bidirectional WebSocket (`/connection/websocket`): the close frame
    /// carries disconnects, no disconnect push.
    pub const fn websocket() -> Self {
        Transport {
            unidirectional: false,
            disconnect_push: false,
            session: false,
        }
    }

    /// Bidirectional emulation (`http_stream`, `sse` + `/emulation`): the
    /// connect result carries `session`; disconnects are pushed before the
    /// stream ends.
    pub const fn emulation() -> Self {
        Transport {
            unidirectional: false,
            disconnect_push: true,
            session: true,
        }
    }

    /// Unidirectional WebSocket (`/connection/uni_websocket`): bare pushes, a
    /// disconnect push and then the close frame.
    pub const fn uni_websocket() -> Self {
        Transport {
            unidirectional: true,
            disconnect_push: true,
            session: true,
        }
    }

    /// Unidirectional SSE (`/connection/uni_sse`).
    pub const fn uni_sse() -> Self {
        Transport {
            unidirectional: true,
            disconnect_push: true,
            session: true,
        }
    }

    /// Unidirectional HTTP streaming (`/connection/uni_http_stream`).
    pub const fn uni_http_stream() -> Self {
        Transport {
            unidirectional: true,
            disconnect_push: true,
            session: true,
        }
    }

    /// Whether pushes go out bare (no `{"push":..}` wrapper), the connect
    /// result is a push and no pongs are expected.
    pub const fn is_unidirectional(&self) -> bool {
        self.unidirectional
    }

    /// Whether the connect result carries a `session` (emulation and
    /// unidirectional transports).
    pub const fn has_session(&self) -> bool {
        self.session
    }

    /// Whether a disconnect is announced with a `disconnect` push.
    pub const fn has_disconnect_push(&self) -> bool {
        self.disconnect_push
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Transport open, no successful connect yet.
    Connecting,
    /// Authenticated.
    Connected,
    /// Disconnected by the hub; the IO layer still drains the outbox.
    Closed,
}

/// A subscription of a connection.
#[derive(Debug)]
pub(crate) struct Sub {
    /// From the token's `channels`/`subs` or the server API.
    pub server_side: bool,
    /// Subscription expiry (from a subscription token).
    pub expires: Option<Timestamp>,
    /// The `info` of the subscription token or proxy, for the client
    /// info of presence, join/leave and publications.
    pub chan_info: Option<Bytes>,
    /// The namespace's options at subscribe time.
    pub opts: Arc<NamespaceOptions>,
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Client {
    pub id: Arc<str>,
    pub session: String,
    pub transport: Transport,
    pub state: State,
    pub user: Arc<str>,
    /// Its place among its user's connections (see `Hub::users`).
    pub user_place: usize,
    pub conn_info: Option<Bytes>,
    pub opened: Timestamp,
    /// Connection expiry (token `exp`/`expire_at`).
    pub expires: Option<Timestamp>,
    pub subs: Subs,
    pub next_ping: Option<Timestamp>,
    pub pong_deadline: Option<Timestamp>,
    /// The deadline currently in the hub's timer heap.
    pub scheduled: Option<Timestamp>,
}

impl Client {
    pub(crate) fn new(id: Arc<str>, session: String, transport: Transport, now: Timestamp) -> Self {
        Client {
            id,
            session,
            transport,
            state: State::Connecting,
            user: Arc::from(""),
            user_place: 0,
            conn_info: None,
            opened: now,
            expires: None,
            subs: Subs::default(),
            next_ping: None,
            pong_deadline: None,
            scheduled: None,
        }
    }

    /// The ClientInfo JSON of this connection in `channel`: user,
    /// client, connection info and the subscription's channel info. Built
    /// when a presence entry, a join or leave or a publication needs it,
    /// not kept per subscription.
    pub(crate) fn info_in(&self, channel: &str) -> Bytes {
        let chan_info = self.subs.get(channel).and_then(|s| s.chan_info.as_deref());
        self.info_with(chan_info)
    }

    /// The ClientInfo JSON of this connection with `chan_info`.
    pub(crate) fn info_with(&self, chan_info: Option<&[u8]>) -> Bytes {
        reply::client_info(&self.user, &self.id, self.conn_info.as_deref(), chan_info)
    }

    /// The earliest time this client needs attention.
    pub(crate) fn next_deadline(&self, cfg: &crate::config::ClientConfig) -> Option<Timestamp> {
        match self.state {
            State::Closed => None,
            State::Connecting => Some(self.opened + cfg.stale_close_delay),
            State::Connected => {
                let grace = cfg.expired_close_delay;
                [
                    self.next_ping,
                    self.pong_deadline,
                    self.expires.map(|e| e + grace),
                    self.subs
                        .values()
                        .filter_map(|s| s.expires)
                        .min()
                        .map(|e| e + grace),
                ]
                .into_iter()
                .flatten()
                .min()
            }
        }
    }
}
