//! The hub on a remote engine: requests out, replies and events in, channel
//! links with their mirrors, and commands that wait for a link (see
//! [`crate::engine`]).

use std::collections::VecDeque;
use std::mem;
use std::sync::Arc;

use bytes::Bytes;

use super::commands::{history_reply, presence_reply, presence_stats_reply};
use super::{ConnId, Hub};
use crate::api::{self, ApiOutcome, ApiTicket, BatchCommand, Piece, Shape};
use crate::broker::PresenceEntry;
use crate::client::State;
use crate::engine::state::{
    ApiJob, Link, LinkState, Render, Waiter, LINK_LINGER, POSITION_CHECK_INTERVAL,
    PRESENCE_REFRESH_INTERVAL,
};
use crate::engine::{BrokerReply, BrokerRequest, BrokerTicket};
use crate::history::{HistoryQuery, HistoryResult, MemoryStream, Publication};
use crate::protocol::{reply, Command, Disconnect, ErrorCode, Method, UnsubscribeCode};
use crate::time::Timestamp;

/// Most publications held for a link that is loading; past it the load is
/// read again.
const MAX_BUFFERED: usize = 4096;

impl Hub {
    /// The next request for the remote engine (none on the in-memory engine).
    pub fn poll_broker(&mut self) -> Option<(BrokerTicket, BrokerRequest)> {
        self.remote.as_mut()?.requests.pop_front()
    }

    /// The next server API answer that waited for the engine.
    pub fn poll_api(&mut self) -> Option<(ApiTicket, api::ApiResponse)> {
        self.remote.as_mut()?.answers.pop_front()
    }

    /// Forgets a pending server API call (its caller went away).
    pub fn abandon_api(&mut self, ticket: ApiTicket) {
        if let Some(remote) = self.remote.as_mut() {
            remote.jobs.remove(&ticket.0);
        }
    }

    /// The engine's reply to a request. Replies to requests nobody waits
    /// for (or whose connection closed) are dropped.
    pub fn handle_broker_reply(
        &mut self,
        now: Timestamp,
        ticket: BrokerTicket,
        reply: BrokerReply,
    ) {
        let Some(waiter) = self
            .remote
            .as_mut()
            .and_then(|r| r.waiters.remove(&ticket.0))
        else {
            return;
        };
        if let BrokerReply::Published(Ok(r)) = &reply {
            if !r.suppressed {
                self.stats.publications_total += 1;
            }
        }
        match waiter {
            Waiter::Client { conn, id, render } => {
                let out = client_reply(id, render, reply);
                self.send(conn, out);
                self.engine_done(now, conn);
            }
            Waiter::Api { job, index, render } => {
                self.api_piece_done(now, job, index, api::render(render, reply))
            }
            Waiter::LinkUp(channel) => self.link_up(now, channel, reply),
            Waiter::LinkLoad(channel) => self.link_loaded(now, channel, reply),
            Waiter::PositionCheck(channel) => self.position_checked(channel, reply),
        }
    }

    /// A publication the engine carried to this node, with its stream's
    /// epoch: applied to the channel's mirror and delivered. One that does
    /// not follow the mirror ends the channel's link (its subscribers
    /// recover); one for a channel this node does not link is ignored.
    pub fn handle_broker_publication(
        &mut self,
        now: Timestamp,
        channel: &str,
        publication: Publication,
        epoch: &str,
    ) {
        let opts = match self.channels.get(channel) {
            Some(ch) => ch.opts.clone(),
            None => match self.namespaces.resolve(channel) {
                Ok((_, o)) => o.clone(),
                Err(_) => return,
            },
        };
        let Some(link) = self.remote.as_mut().and_then(|r| r.links.get_mut(channel)) else {
            return;
        };
        if link.state != LinkState::Live {
            if link.buffered.len() >= MAX_BUFFERED {
                link.buffered.clear();
                link.reload = true;
            }
            link.buffered.push((publication, epoch.to_owned()));
            return;
        }
        if publication.offset > 0 {
            if let Some(stream) = link.stream.as_mut() {
                let applied = stream.apply(
                    now,
                    publication.clone(),
                    epoch,
                    opts.history_size,
                    opts.history_ttl,
                    opts.history_meta_ttl,
                );
                if !applied {
                    self.link_broken(channel);
                    return;
                }
            }
        }
        self.deliver(channel, &publication.push);
    }

    /// A join push from the engine (or, on the in-memory engine, from this
    /// node) for the channel's subscribers that get join/leave.
    pub fn handle_broker_join(&mut self, channel: &str, info: &Bytes) {
        let push = reply::push_join(channel, info);
        self.broadcast_push(channel, push, |_, jl| jl);
    }

    /// A leave push, like [`handle_broker_join`](Hub::handle_broker_join).
    pub fn handle_broker_leave(&mut self, channel: &str, info: &Bytes) {
        let push = reply::push_leave(channel, info);
        self.broadcast_push(channel, push, |_, jl| jl);
    }

    /// The engine lost its pub/sub connection for `channels`: publications
    /// may be missing. Subscribers of channels with history are
    /// unsubscribed with 2500 and recover when they resubscribe; links still
    /// being made start again.
    pub fn handle_broker_lost(&mut self, channels: &[Arc<str>]) {
        for channel in channels {
            let Some(link) = self.remote.as_mut().and_then(|r| r.links.get_mut(channel)) else {
                continue;
            };
            match link.state {
                LinkState::Live if link.stream.is_some() => self.link_broken(channel),
                LinkState::Live => {}
                LinkState::Linking | LinkState::Loading => link.lost = true,
            }
        }
    }

    /// Whether a command must wait for a link: a subscribe to a channel
    /// this node does not receive yet.
    pub(super) fn must_wait(&mut self, now: Timestamp, conn: ConnId, cmd: &Command) -> bool {
        if self.remote.is_none() {
            return false;
        }
        let Method::Subscribe(req) = &cmd.method else {
            return false;
        };
        let channel = req.channel.as_deref().unwrap_or_default();
        let plausible = self
            .client(conn)
            .is_some_and(|c| c.state == State::Connected && !c.subs.contains_key(channel))
            && self.namespaces.resolve(channel).is_ok();
        plausible && self.wait_for_links(now, conn, [channel])
    }

    /// Whether `conn` waits for the engine (a link, a reply).
    pub(super) fn engine_busy(&self, conn: ConnId) -> bool {
        self.remote
            .as_ref()
            .is_some_and(|r| r.busy.contains_key(&conn))
    }

    /// One thing `conn` waited for from the engine is done; when nothing
    /// is left, its waiting commands run (the first one answered with
    /// error 100 if a link it waited for failed).
    fn engine_done(&mut self, now: Timestamp, conn: ConnId) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let Some(n) = remote.busy.get_mut(&conn) else {
            return;
        };
        *n -= 1;
        if *n > 0 {
            return;
        }
        remote.busy.remove(&conn);
        if remote.failed.remove(&conn) {
            self.fail_first_held(now, conn);
        } else {
            self.resume(now, conn);
        }
    }

    /// Forgets what `conn` waited for from the engine.
    pub(super) fn engine_forget(&mut self, conn: ConnId) {
        if let Some(remote) = self.remote.as_mut() {
            remote.busy.remove(&conn);
            remote.failed.remove(&conn);
        }
    }

    /// Makes sure each channel is linked or being linked; true (and `conn`
    /// told when they are ready) when some link is not live yet.
    pub(crate) fn wait_for_links<'a>(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        channels: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let Some(remote) = self.remote.as_mut() else {
            return false;
        };
        let mut wait = false;
        for channel in channels {
            let link = match remote.links.get_mut(channel) {
                Some(link) => link,
                None => {
                    let name: Arc<str> = channel.into();
                    remote.request(
                        BrokerRequest::Link {
                            channel: name.clone(),
                        },
                        Some(Waiter::LinkUp(name.clone())),
                    );
                    remote.links.entry(name).or_insert_with(|| Link::new(now))
                }
            };
            if link.state != LinkState::Live {
                if !link.waiting.contains(&conn) {
                    link.waiting.push(conn);
                    *remote.busy.entry(conn).or_default() += 1;
                }
                wait = true;
            }
        }
        wait
    }

    /// Registers who awaits a client command's reply. The connection's
    /// later commands wait for it, so that they see its effect (a history
    /// read after a publish finds the publication).
    pub(crate) fn await_reply(&mut self, t: BrokerTicket, conn: ConnId, id: u32, render: Render) {
        if let Some(remote) = self.remote.as_mut() {
            remote
                .waiters
                .insert(t.0, Waiter::Client { conn, id, render });
            *remote.busy.entry(conn).or_default() += 1;
        }
    }

    /// Whether history reads of `channel` are answered at once: the
    /// in-memory engine, or a live mirror.
    pub(super) fn history_is_local(&self, channel: &str) -> bool {
        match &self.remote {
            None => true,
            Some(r) => r
                .links
                .get(channel)
                .is_some_and(|l| l.state == LinkState::Live && l.stream.is_some()),
        }
    }

    /// Reads history from the in-memory broker or the channel's mirror.
    pub(crate) fn read_history(
        &mut self,
        now: Timestamp,
        channel: &str,
        q: &HistoryQuery,
        meta_ttl: std::time::Duration,
    ) -> Result<HistoryResult, ErrorCode> {
        let Some(remote) = self.remote.as_mut() else {
            return self.broker.history(now, channel, q, meta_ttl);
        };
        let stream = remote
            .links
            .get_mut(channel)
            .filter(|l| l.state == LinkState::Live)
            .and_then(|l| l.stream.as_mut())
            .ok_or(ErrorCode::INTERNAL)?;
        if stream.expire(now) {
            // The position outlived its lifetime here; the engine starts a
            // new epoch, which the next publication or check will show.
            return Err(ErrorCode::INTERNAL);
        }
        stream.query(q)
    }

    pub(crate) fn add_presence(&mut self, channel: &str, entry: PresenceEntry) {
        match self.remote.as_mut() {
            Some(remote) => {
                let channel = channel.into();
                remote.request(BrokerRequest::AddPresence { channel, entry }, None);
            }
            None => self.broker.add_presence(channel, entry),
        }
    }

    pub(crate) fn remove_presence(&mut self, channel: &str, client: &str) {
        match self.remote.as_mut() {
            Some(remote) => {
                let req = BrokerRequest::RemovePresence {
                    channel: channel.into(),
                    client: client.to_owned(),
                };
                remote.request(req, None);
            }
            None => self.broker.remove_presence(channel, client),
        }
    }

    /// `history_remove` on some node: this node's mirror of the channel
    /// forgets its publications too (the position stays).
    pub(crate) fn forget_mirrored_history(&mut self, channel: &str) {
        if let Some(stream) = self
            .remote
            .as_mut()
            .and_then(|r| r.links.get_mut(channel))
            .and_then(|l| l.stream.as_mut())
        {
            stream.remove_history();
        }
    }

    /// Ends a live link whose mirror can no longer be trusted: its
    /// subscribers here recover through a fresh link.
    fn link_broken(&mut self, channel: &str) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let Some((name, _)) = remote.links.remove_entry(channel) else {
            return;
        };
        remote.request(
            BrokerRequest::Unlink {
                channel: name.clone(),
            },
            None,
        );
        self.stats.link_breaks_total += 1;
        let subscribers: Vec<ConnId> = self
            .channels
            .get(channel)
            .map(|ch| ch.subscribers.conns().collect())
            .unwrap_or_default();
        for conn in subscribers {
            let server_side = self
                .client(conn)
                .and_then(|c| c.subs.get(channel))
                .is_some_and(|s| s.server_side);
            if server_side {
                self.disconnect(conn, Disconnect::INSUFFICIENT_STATE, true);
            } else {
                self.remove_subscription(conn, &name, Some(UnsubscribeCode::InsufficientState));
            }
        }
    }

    fn link_up(&mut self, now: Timestamp, channel: Arc<str>, reply: BrokerReply) {
        if !matches!(reply, BrokerReply::Done(Ok(()))) {
            return self.link_failed(now, &channel);
        }
        let history = self
            .namespaces
            .resolve(&channel)
            .ok()
            .filter(|(_, o)| o.history_enabled())
            .map(|(_, o)| o.history_meta_ttl);
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let Some(link) = remote.links.get_mut(&channel) else {
            return;
        };
        if mem::take(&mut link.lost) {
            remote.request(
                BrokerRequest::Link {
                    channel: channel.clone(),
                },
                Some(Waiter::LinkUp(channel)),
            );
            return;
        }
        match history {
            Some(meta_ttl) => {
                link.state = LinkState::Loading;
                load(remote, channel, meta_ttl);
            }
            None => {
                link.state = LinkState::Live;
                link.buffered.clear();
                self.link_live(now, &channel);
            }
        }
    }

    fn link_loaded(&mut self, now: Timestamp, channel: Arc<str>, reply: BrokerReply) {
        let BrokerReply::History(Ok(read)) = reply else {
            return self.link_failed(now, &channel);
        };
        let Ok((_, opts)) = self.namespaces.resolve(&channel) else {
            return self.link_failed(now, &channel);
        };
        let opts = opts.clone();
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let Some(link) = remote.links.get_mut(&channel) else {
            return;
        };
        if mem::take(&mut link.lost) || mem::take(&mut link.reload) {
            link.buffered.clear();
            load(remote, channel, opts.history_meta_ttl);
            return;
        }
        let mut stream = MemoryStream::restore(
            read.position,
            read.publications,
            now,
            opts.history_ttl,
            opts.history_meta_ttl,
        );
        let mut contiguous = true;
        for (p, epoch) in link.buffered.drain(..) {
            if epoch == stream.epoch && p.offset <= stream.top {
                continue; // already in the read
            }
            contiguous = contiguous
                && stream.apply(
                    now,
                    p,
                    &epoch,
                    opts.history_size,
                    opts.history_ttl,
                    opts.history_meta_ttl,
                );
        }
        if !contiguous {
            load(remote, channel, opts.history_meta_ttl);
            return;
        }
        link.stream = Some(stream);
        link.state = LinkState::Live;
        link.next_check = now + POSITION_CHECK_INTERVAL;
        self.link_live(now, &channel);
    }

    /// A link became live: the commands waiting for it run.
    fn link_live(&mut self, now: Timestamp, channel: &str) {
        let waiting = self
            .remote
            .as_mut()
            .and_then(|r| r.links.get_mut(channel))
            .map(|l| mem::take(&mut l.waiting))
            .unwrap_or_default();
        for conn in waiting {
            self.engine_done(now, conn);
        }
    }

    /// A link could not be made: the commands waiting for it get error 100.
    fn link_failed(&mut self, now: Timestamp, channel: &str) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let Some((name, link)) = remote.links.remove_entry(channel) else {
            return;
        };
        remote.request(BrokerRequest::Unlink { channel: name }, None);
        for &conn in &link.waiting {
            remote.failed.insert(conn);
        }
        for conn in link.waiting {
            self.engine_done(now, conn);
        }
    }

    fn position_checked(&mut self, channel: Arc<str>, reply: BrokerReply) {
        let BrokerReply::History(Ok(read)) = reply else {
            return; // the engine is away: its own loss report will tell
        };
        let Some(link) = self.remote.as_mut().and_then(|r| r.links.get_mut(&channel)) else {
            return;
        };
        let Some(stream) = link.stream.as_ref() else {
            return;
        };
        let mirror = stream.position();
        let behind = link
            .check_mark
            .take()
            .is_some_and(|mark| mark.epoch != mirror.epoch || mark.offset > mirror.offset);
        if behind {
            self.link_broken(&channel);
            return;
        }
        // A publication may still be on its way: check again next time.
        link.check_mark = (read.position != mirror).then_some(read.position);
    }

    /// Position checks and presence refreshes that are due.
    pub(super) fn remote_timers(&mut self, now: Timestamp) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let mut checks = Vec::new();
        let mut refresh = Vec::new();
        let mut idle = Vec::new();
        for (name, link) in remote.links.iter_mut() {
            if link.state != LinkState::Live {
                continue;
            }
            // A link without subscribers here lingers a while, then ends.
            if self.channels.contains_key(name) || !link.waiting.is_empty() {
                link.idle_since = None;
            } else {
                let since = *link.idle_since.get_or_insert(now);
                if now.saturating_since(since) >= LINK_LINGER {
                    idle.push(name.clone());
                    continue;
                }
            }
            if link.stream.is_some() && now >= link.next_check {
                link.next_check = now + POSITION_CHECK_INTERVAL;
                checks.push(name.clone());
            }
            if now >= link.next_presence {
                link.next_presence = now + PRESENCE_REFRESH_INTERVAL;
                refresh.push(name.clone());
            }
        }
        for channel in idle {
            remote.links.remove(&channel);
            remote.request(BrokerRequest::Unlink { channel }, None);
        }
        for channel in checks {
            let meta_ttl = self
                .channels
                .get(&channel)
                .map_or(std::time::Duration::ZERO, |c| c.opts.history_meta_ttl);
            let req = BrokerRequest::History {
                channel: channel.clone(),
                query: HistoryQuery {
                    limit: Some(0),
                    since: None,
                    reverse: false,
                },
                meta_ttl,
            };
            if let Some(remote) = self.remote.as_mut() {
                remote.request(req, Some(Waiter::PositionCheck(channel)));
            }
        }
        for channel in refresh {
            let entries: Vec<PresenceEntry> = match self.channels.get(&channel) {
                Some(ch) if ch.opts.presence => ch
                    .subscribers
                    .conns()
                    .filter_map(|conn| {
                        let c = self.client(conn)?;
                        let sub = c.subs.get(&channel)?;
                        Some(PresenceEntry {
                            client: c.id.to_string(),
                            user: c.user.to_string(),
                            info: c.info_with(sub.chan_info.as_deref()),
                        })
                    })
                    .collect(),
                _ => continue,
            };
            if let Some(remote) = self.remote.as_mut() {
                for entry in entries {
                    let channel = channel.clone();
                    remote.request(BrokerRequest::AddPresence { channel, entry }, None);
                }
            }
        }
    }

    /// Answers an API call now when every piece is ready (and no batch
    /// command is left), else keeps it until the engine's replies complete
    /// it.
    pub(crate) fn settle_api(
        &mut self,
        shape: Shape,
        pieces: Vec<Piece>,
        rest: VecDeque<BatchCommand>,
    ) -> ApiOutcome {
        let job = self.remote.as_mut().map_or(0, |r| {
            r.next_job += 1;
            r.next_job
        });
        let mut j = ApiJob {
            ticket: ApiTicket(job),
            results: Vec::with_capacity(pieces.len()),
            waiting: 0,
            shape,
            rest,
        };
        self.add_pieces(job, &mut j, pieces);
        if j.waiting == 0 {
            return ApiOutcome::Done(api::response(
                &j.shape,
                j.results.into_iter().flatten().collect(),
            ));
        }
        let ticket = j.ticket;
        if let Some(remote) = self.remote.as_mut() {
            remote.jobs.insert(job, j);
        }
        ApiOutcome::Pending(ticket)
    }

    /// Adds a job's pieces; those that wait get their reply's waiter.
    fn add_pieces(&mut self, job: u64, j: &mut ApiJob, pieces: Vec<Piece>) {
        for piece in pieces {
            match piece {
                Piece::Ready(r) => j.results.push(Some(r)),
                Piece::Wait(t, render) => {
                    let index = j.results.len();
                    j.results.push(None);
                    j.waiting += 1;
                    if let Some(remote) = self.remote.as_mut() {
                        remote
                            .waiters
                            .insert(t.0, Waiter::Api { job, index, render });
                    }
                }
            }
        }
    }

    /// One piece of a waiting server API call is ready; once all are, the
    /// call is answered (a batch first runs its next commands).
    pub(super) fn api_piece_done(
        &mut self,
        now: Timestamp,
        job: u64,
        index: usize,
        result: api::PieceResult,
    ) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let Some(j) = remote.jobs.get_mut(&job) else {
            return;
        };
        let Some(slot @ None) = j.results.get_mut(index) else {
            return;
        };
        *slot = Some(result);
        j.waiting -= 1;
        if j.waiting > 0 {
            return;
        }
        let Some(mut j) = remote.jobs.remove(&job) else {
            return;
        };
        // A batch goes on with its next commands.
        if let Shape::Batch(items) = &mut j.shape {
            let mut items = std::mem::take(items);
            let mut rest = std::mem::take(&mut j.rest);
            let mut pieces = Vec::new();
            self.batch_step(now, &mut rest, &mut items, &mut pieces, false);
            j.shape = Shape::Batch(items);
            j.rest = rest;
            self.add_pieces(job, &mut j, pieces);
        }
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        if j.waiting > 0 {
            remote.jobs.insert(job, j);
            return;
        }
        let response = api::response(&j.shape, j.results.into_iter().flatten().collect());
        remote.answers.push_back((j.ticket, response));
    }
}

/// Reads a channel's whole stream into its link.
fn load(
    remote: &mut crate::engine::state::Remote,
    channel: Arc<str>,
    meta_ttl: std::time::Duration,
) {
    let req = BrokerRequest::History {
        channel: channel.clone(),
        query: HistoryQuery {
            limit: None,
            since: None,
            reverse: false,
        },
        meta_ttl,
    };
    remote.request(req, Some(Waiter::LinkLoad(channel)));
}

/// A client command's reply from the engine's answer.
fn client_reply(id: u32, render: Render, answer: BrokerReply) -> Bytes {
    let failed = |e: ErrorCode| reply::error_reply(id, &e);
    let mismatch = || reply::error_reply(id, &ErrorCode::INTERNAL);
    match (render, answer) {
        (Render::Publish, BrokerReply::Published(r)) => {
            r.map_or_else(failed, |_| reply::empty_reply(id, "publish"))
        }
        (Render::History, BrokerReply::History(r)) => {
            r.map_or_else(failed, |r| history_reply(id, r))
        }
        (Render::Presence, BrokerReply::Presence(r)) => {
            r.map_or_else(failed, |entries| presence_reply(id, &entries))
        }
        (Render::PresenceStats, BrokerReply::PresenceStats(r)) => {
            r.map_or_else(failed, |s| presence_stats_reply(id, s))
        }
        _ => mismatch(),
    }
}
