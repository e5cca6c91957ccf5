//! What a hub on a remote engine keeps: requests not yet polled, replies
//! awaited, channel links with their mirrors, and commands waiting for a link.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::nodes::NodeRegistry;
use super::survey::Surveys;
use super::{BrokerRequest, BrokerTicket, ClusterNotice};
use crate::api::ApiResponse;
use crate::api::ApiTicket;
use crate::history::{MemoryStream, Publication, StreamPosition};
use crate::hub::ConnId;
use crate::time::Timestamp;

/// How often a live link's position is compared with the engine's.
pub(crate) const POSITION_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a link lives on without subscribers here (a channel that
/// empties and fills again keeps its mirror).
pub(crate) const LINK_LINGER: std::time::Duration = std::time::Duration::from_secs(5);
/// How often a node re-adds its clients' presence (the engine expires it).
pub(crate) const PRESENCE_REFRESH_INTERVAL: std::time::Duration =
    std::time::Duration::from_secs(20);

/// How far a link has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Subscribing to the channel's publications.
    Linking,
    /// Subscribed; loading the stream into the mirror.
    Loading,
    /// Publications flow into the mirror and out to subscribers.
    Live,
}

/// One channel this node receives.
#[derive(Debug)]
pub(crate) struct Link {
    pub state: LinkState,
    /// The mirror of the channel's stream (channels with history, once live).
    pub stream: Option<MemoryStream>,
    /// Publications (with their epoch) that arrived before the link was live.
    pub buffered: Vec<(Publication, String)>,
    /// Connections with commands waiting for this link.
    pub waiting: Vec<ConnId>,
    /// The engine's position at the last check, which the mirror must have
    /// reached by the next one.
    pub check_mark: Option<StreamPosition>,
    pub next_check: Timestamp,
    pub next_presence: Timestamp,
    /// The engine lost the channel while the link was being made: make it again.
    pub lost: bool,
    /// Publications overflowed while loading: read the stream again.
    pub reload: bool,
    /// Since when the link has had no subscriber here.
    pub idle_since: Option<Timestamp>,
}

impl Link {
    pub(crate) fn new(now: Timestamp) -> Self {
        Link {
            state: LinkState::Linking,
            stream: None,
            buffered: Vec::new(),
            waiting: Vec::new(),
            check_mark: None,
            next_check: now + POSITION_CHECK_INTERVAL,
            next_presence: now + PRESENCE_REFRESH_INTERVAL,
            lost: false,
            reload: false,
            idle_since: None,
        }
    }
}

/// How an awaited reply becomes an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Render {
    Publish,
    History,
    Presence,
    PresenceStats,
    Empty,
    /// A `channels` survey's merged answers (never an engine reply).
    Survey,
}

/// Who awaits a reply.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// A client command's reply.
    Client {
        conn: ConnId,
        id: u32,
        render: Render,
    },
    /// One piece of a server API answer.
    Api {
        job: u64,
        index: usize,
        render: Render,
    },
    /// A link's subscription.
    LinkUp(Arc<str>),
    /// A link's initial stream read.
    LinkLoad(Arc<str>),
    /// A periodic position check.
    PositionCheck(Arc<str>),
}

/// A server API call waiting for replies.
#[derive(Debug)]
pub(crate) struct ApiJob {
    pub ticket: ApiTicket,
    pub results: Vec<Option<crate::api::PieceResult>>,
    pub waiting: usize,
    pub shape: crate::api::Shape,
    /// A batch's commands not run yet (they wait for the ones before).
    pub rest: VecDeque<crate::api::BatchCommand>,
}

/// The remote engine's side of the hub.
#[derive(Debug, Default)]
pub(crate) struct Remote {
    next_ticket: u64,
    pub requests: VecDeque<(BrokerTicket, BrokerRequest)>,
    pub waiters: HashMap<u64, Waiter>,
    pub links: HashMap<Arc<str>, Link>,
    /// Connections waiting for links or replies: how many.
    pub busy: HashMap<ConnId, u32>,
    /// Connections one of whose links failed while they waited.
    pub failed: HashSet<ConnId>,
    pub jobs: HashMap<u64, ApiJob>,
    pub next_job: u64,
    pub answers: VecDeque<(ApiTicket, ApiResponse)>,
    /// The other nodes, as their reports tell.
    pub nodes: NodeRegistry,
    /// When this node next sends its own report.
    pub next_node_info: Timestamp,
    /// `channels` surveys this node waits for.
    pub surveys: Surveys,
    /// What the IO layer has not been told yet.
    pub notices: VecDeque<ClusterNotice>,
}

impl Remote {
    /// Queues a request; `waiter` is told the reply.
    pub(crate) fn request(&mut self, req: BrokerRequest, waiter: Option<Waiter>) -> BrokerTicket {
        self.next_ticket += 1;
        let t = BrokerTicket(self.next_ticket);
        if let Some(w) = waiter {
            self.waiters.insert(t.0, w);
        }
        self.requests.push_back((t, req));
        t
    }

    /// A ticket for something other than an engine request (a survey),
    /// distinct from every request's.
    pub(crate) fn ticket(&mut self) -> BrokerTicket {
        self.next_ticket += 1;
        BrokerTicket(self.next_ticket)
    }
}
