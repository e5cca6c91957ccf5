//! A remote engine (Redis, shared by several nodes): requests out,
//! completions and events in.
//!
//! A hub made with [`Hub::with_remote_engine`](crate::Hub::with_remote_engine)
//! keeps no publications of its own. Whatever needs the shared state becomes
//! a [`BrokerRequest`] that the IO layer takes with
//! [`Hub::poll_broker`](crate::Hub::poll_broker), carries out, and answers with
//! [`Hub::handle_broker_reply`](crate::Hub::handle_broker_reply). What the
//! engine hears from other nodes comes in through
//! [`Hub::handle_broker_publication`](crate::Hub::handle_broker_publication),
//! [`Hub::handle_broker_join`](crate::Hub::handle_broker_join),
//! [`Hub::handle_broker_leave`](crate::Hub::handle_broker_leave),
//! [`Hub::handle_broker_control`](crate::Hub::handle_broker_control) and
//! [`Hub::handle_broker_lost`](crate::Hub::handle_broker_lost).
//!
//! # Links and mirrors
//!
//! A node *links* a channel (subscribes to its pub/sub) while the channel has
//! subscribers on the node, and a few seconds longer (a channel that empties
//! and fills again keeps its mirror). Linking loads the channel's stream into a mirror
//! on the node; from then on every publication arrives through pub/sub, in
//! offset order, and is applied to the mirror before it is delivered. A
//! subscribe therefore reads its recovery or position from the mirror in the
//! same `&mut self` step that registers it — the atomicity argument of the
//! single node holds unchanged. A command that needs a channel that is not
//! linked yet waits (with every later command of its connection, so their
//! order is kept) until the link is live.
//!
//! # Never a silent gap
//!
//! A publication whose offset is not the next one, a new epoch, a lost
//! pub/sub connection ([`Hub::handle_broker_lost`](crate::Hub::handle_broker_lost)),
//! or a periodic position check that finds the mirror behind the engine all
//! end the channel's link: its subscribers are unsubscribed with code 2500
//! (server-side subscriptions: disconnect 3010), and they resubscribe with
//! recovery, which reads the engine's history afresh.
//!
//! # The other nodes
//!
//! Every [`NODE_INFO_INTERVAL`] a node sends what it holds (clients, users,
//! subscriptions, channels, uptime) to every node in a control message; a
//! node not heard from for [`NODE_INFO_LIFETIME`] is taken for gone, and a
//! node that stops cleanly says so ([`Hub::leave_cluster`](crate::Hub::leave_cluster)).
//! The server API's `info` lists this node and the live others. `channels`
//! is a survey: the node that got the call asks every node for its channels
//! matching the pattern, each answers that node alone
//! ([`BrokerRequest::ControlTo`]), and the call is answered with the counts
//! summed by channel once every live node answered, or after
//! [`SURVEY_TIMEOUT`] without the silent ones. What changes among the nodes
//! comes out of [`Hub::poll_cluster_notice`](crate::Hub::poll_cluster_notice)
//! for the IO layer to log.
//!
//! # Ordering the IO layer must keep
//!
//! [`BrokerRequest::Link`] and [`BrokerRequest::Unlink`] of one channel must
//! be carried out in the order they were polled; the other requests may run
//! concurrently.

pub(crate) mod nodes;
mod notice;
pub(crate) mod state;
pub(crate) mod survey;

pub use nodes::{NODE_INFO_INTERVAL, NODE_INFO_LIFETIME};
pub use notice::ClusterNotice;
pub use survey::SURVEY_TIMEOUT;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::broker::{PresenceEntry, PresenceStats, PublishOptions, PublishResult};
use crate::history::{HistoryQuery, HistoryResult};
use crate::protocol::ErrorCode;

/// Names one request so that its reply finds its way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrokerTicket(pub(crate) u64);

/// Work for the remote engine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BrokerRequest {
    /// Store (when `opts` keeps history) and publish to every node; reply
    /// [`BrokerReply::Published`].
    Publish {
        /// The channel.
        channel: Arc<str>,
        /// The data (JSON).
        data: Bytes,
        /// The publisher's ClientInfo JSON.
        info: Option<Bytes>,
        /// Tags.
        tags: Option<BTreeMap<String, String>>,
        /// Storage options.
        opts: PublishOptions,
    },
    /// Read history; reply [`BrokerReply::History`].
    History {
        /// The channel.
        channel: Arc<str>,
        /// The query.
        query: HistoryQuery,
        /// Lifetime of a position this read creates.
        meta_ttl: Duration,
    },
    /// Forget a channel's publications; reply [`BrokerReply::Done`].
    RemoveHistory {
        /// The channel.
        channel: Arc<str>,
    },
    /// Subscribe this node to the channel's publications; reply
    /// [`BrokerReply::Done`] once the engine confirmed it.
    Link {
        /// The channel.
        channel: Arc<str>,
    },
    /// Stop receiving the channel's publications (no reply needed).
    Unlink {
        /// The channel.
        channel: Arc<str>,
    },
    /// Add or refresh a client's presence (no reply needed).
    AddPresence {
        /// The channel.
        channel: Arc<str>,
        /// Who.
        entry: PresenceEntry,
    },
    /// Remove a client's presence (no reply needed).
    RemovePresence {
        /// The channel.
        channel: Arc<str>,
        /// The client id.
        client: String,
    },
    /// Read presence; reply [`BrokerReply::Presence`].
    Presence {
        /// The channel.
        channel: Arc<str>,
    },
    /// Read presence counts; reply [`BrokerReply::PresenceStats`].
    PresenceStats {
        /// The channel.
        channel: Arc<str>,
    },
    /// A join push for every node's subscribers (no reply needed).
    Join {
        /// The channel.
        channel: Arc<str>,
        /// Encoded ClientInfo.
        info: Bytes,
    },
    /// A leave push for every node's subscribers (no reply needed).
    Leave {
        /// The channel.
        channel: Arc<str>,
        /// Encoded ClientInfo.
        info: Bytes,
    },
    /// A control message for every node, this one included, which hands it
    /// to [`Hub::handle_broker_control`](crate::Hub::handle_broker_control)
    /// (no reply needed).
    Control {
        /// The message.
        message: Bytes,
    },
    /// A control message for one node, which hands it to
    /// [`Hub::handle_broker_control`](crate::Hub::handle_broker_control)
    /// (no reply needed; a node that is gone never gets it).
    ControlTo {
        /// The node's id ([`Hub::node_id`](crate::Hub::node_id)).
        node: String,
        /// The message.
        message: Bytes,
    },
}

/// The engine's answer to a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BrokerReply {
    /// To [`BrokerRequest::Publish`].
    Published(Result<PublishResult, ErrorCode>),
    /// To [`BrokerRequest::History`].
    History(Result<HistoryResult, ErrorCode>),
    /// To [`BrokerRequest::Presence`].
    Presence(Result<Vec<PresenceEntry>, ErrorCode>),
    /// To [`BrokerRequest::PresenceStats`].
    PresenceStats(Result<PresenceStats, ErrorCode>),
    /// To the requests that only succeed or fail.
    Done(Result<(), ErrorCode>),
}
