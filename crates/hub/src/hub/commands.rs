//! Client commands: connect, refresh, publish, presence, history, rpc, send.

use std::sync::Arc;

use bytes::Bytes;

use super::{Auth, ConnId, Fail, Held, Hub, Publishing, VERSION};
use crate::broker::{PresenceEntry, PresenceStats};
use crate::client::State;
use crate::engine::state::Render;
use crate::engine::BrokerRequest;
use crate::history::{HistoryQuery, HistoryResult, PublicationParts, StreamPosition};
use crate::protocol::reply::{self, ConnectResult};
use crate::protocol::{
    Command, ConnectRequest, Disconnect, ErrorCode, HistoryRequest, Method, PublishRequest,
    RefreshRequest, SubRefreshRequest,
};
use crate::time::Timestamp;

/// Which permission family a command needs.
#[derive(Clone, Copy)]
pub(crate) enum Perm {
    Publish,
    Presence,
    History,
}

impl Hub {
    /// Runs one command; false stops processing the rest of the frame.
    pub(super) fn dispatch(&mut self, now: Timestamp, conn: ConnId, cmd: Command) -> bool {
        let Some(state) = self.client(conn).map(|c| c.state) else {
            return false;
        };
        let id = cmd.id;
        if state == State::Connecting {
            return match cmd.method {
                Method::Connect(req) => match self.connect(now, conn, id, req) {
                    Ok(()) => true,
                    Err(f) => {
                        self.fail(conn, id, f);
                        false
                    }
                },
                _ => {
                    self.disconnect(conn, Disconnect::BAD_REQUEST, false);
                    false
                }
            };
        }
        if id == 0 && !matches!(cmd.method, Method::Send(_)) {
            return self.handle_pong(conn);
        }
        let result = match cmd.method {
            Method::Connect(_) | Method::Empty => Err(Fail::Disconnect(Disconnect::BAD_REQUEST)),
            Method::Subscribe(req) => self.subscribe_cmd(now, conn, id, req),
            Method::Unsubscribe(req) => {
                let ch = req.channel.unwrap_or_default();
                if let Some(key) = self.client(conn).and_then(|c| c.subs.get_key_value(&ch)) {
                    let key = key.0.clone();
                    self.remove_subscription(conn, &key, None);
                }
                self.send(conn, reply::empty_reply(id, "unsubscribe"));
                Ok(())
            }
            Method::Publish(req) => self.publish_cmd(now, conn, id, req),
            Method::Presence(req) => self.presence_cmd(conn, id, req.channel, false),
            Method::PresenceStats(req) => self.presence_cmd(conn, id, req.channel, true),
            Method::History(req) => self.history_cmd(now, conn, id, req),
            Method::Ping => {
                self.send(conn, reply::empty_reply(id, "ping"));
                Ok(())
            }
            // No message handler yet: accepted and dropped (Centrifugo would close with 3508).
            Method::Send(_) => Ok(()),
            // Answered by the RPC proxy, if the method's namespace has one.
            Method::Rpc(req) => self.rpc_cmd(conn, id, req),
            Method::Refresh(req) => self.refresh_cmd(now, conn, id, req),
            Method::SubRefresh(req) => self.sub_refresh_cmd(now, conn, id, req),
        };
        match result {
            Ok(()) => true,
            Err(f) => self.fail(conn, id, f),
        }
    }

    /// Sends an error reply or disconnects; false when disconnected.
    pub(super) fn fail(&mut self, conn: ConnId, id: u32, f: Fail) -> bool {
        match f {
            Fail::Error(e) => {
                self.send(conn, reply::error_reply(id, &e));
                true
            }
            Fail::Disconnect(d) => {
                self.disconnect(conn, d, false);
                false
            }
        }
    }

    /// Feeds the connect request of a unidirectional transport (a bare
    /// ConnectRequest, e.g. the `cf_connect` query or the POST body; empty
    /// means `{}`). The result goes out as a `connect` push.
    pub fn handle_uni_connect(&mut self, now: Timestamp, conn: ConnId, body: &[u8]) {
        if self.client(conn).map(|c| c.state) != Some(State::Connecting) {
            return;
        }
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            &b"{}"[..]
        } else {
            body
        };
        let req: ConnectRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(_) => {
                self.disconnect(conn, Disconnect::BAD_REQUEST, false);
                return;
            }
        };
        let result = self.connect(now, conn, 0, req);
        self.uni_connect_result(conn, result);
        self.schedule(conn);
    }

    /// A unidirectional client cannot act on an error reply: a failed
    /// connect closes it.
    pub(super) fn uni_connect_result(&mut self, conn: ConnId, result: Result<(), Fail>) {
        if let Err(f) = result {
            match f {
                Fail::Error(e) if e.code == ErrorCode::TOKEN_EXPIRED.code => {
                    self.disconnect(conn, Disconnect::EXPIRED, false)
                }
                Fail::Error(_) => self.disconnect(conn, Disconnect::BAD_REQUEST, false),
                Fail::Disconnect(d) => self.disconnect(conn, d, false),
            }
        }
    }

    pub(super) fn connect(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        mut req: ConnectRequest,
    ) -> Result<(), Fail> {
        if let Some(headers) = req.headers.take() {
            self.proxy_keep_headers(conn, headers);
        }
        let token = req.token.unwrap_or_default();
        let auth = if !token.is_empty() {
            let claims = self.verifier.verify_connection(&token, now)?;
            let mut chans: Vec<(String, Option<Bytes>, Option<Bytes>)> = claims
                .channels
                .iter()
                .map(|c| (c.clone(), None, None))
                .collect();
            for (ch, sc) in &claims.subs {
                let info = sc
                    .info
                    .as_ref()
                    .map(|r| Bytes::copy_from_slice(r.get().as_bytes()));
                let data = sc
                    .data
                    .as_ref()
                    .map(|r| Bytes::copy_from_slice(r.get().as_bytes()));
                match chans.iter_mut().find(|(c, _, _)| c == ch) {
                    Some(e) => *e = (ch.clone(), info, data),
                    None => chans.push((ch.clone(), info, data)),
                }
            }
            let info = claims
                .info
                .as_ref()
                .map(|r| Bytes::copy_from_slice(r.get().as_bytes()));
            Auth {
                user: claims.sub.clone(),
                info,
                expires: claims.expires(),
                channels: chans,
                ..Auth::default()
            }
        } else if self.cfg.client.proxy.connect.enabled {
            // The backend decides; the connect finishes with its answer.
            return self.proxy_connect(conn, id, req.data, req.name, req.version, req.subs);
        } else if self.cfg.client.allow_anonymous_connect_without_token {
            Auth::default()
        } else {
            return Err(Fail::Disconnect(Disconnect::BAD_REQUEST));
        };
        self.connect_as(now, conn, id, auth, req.subs.unwrap_or_default())
    }

    /// Finishes a connect once the identity is known (from a token, or
    /// anonymous, or from the connect proxy).
    pub(super) fn connect_as(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        auth: Auth,
        positions: std::collections::HashMap<String, crate::protocol::SubscribePosition>,
    ) -> Result<(), Fail> {
        let Auth {
            user,
            info,
            expires,
            mut channels,
            data,
            server_refresh,
        } = auth;
        if expires.is_some_and(|e| e <= now) {
            return Err(Fail::Error(ErrorCode::EXPIRED));
        }
        let uni = self
            .client(conn)
            .is_some_and(|c| c.transport.is_unidirectional());
        // A unidirectional client may ask for channels itself; they are
        // subscribed when it has the permission to subscribe without a token.
        if uni {
            for ch in positions.keys() {
                if channels.iter().any(|(c, _, _)| c == ch) {
                    continue;
                }
                let allowed = self
                    .namespaces
                    .resolve(ch)
                    .is_ok_and(|(name, opts)| super::subscribe::may_subscribe(&name, opts, &user));
                if allowed {
                    channels.push((ch.clone(), None, None));
                }
            }
        }
        for (ch, _, _) in &channels {
            self.namespaces.resolve(ch)?;
        }
        // On a remote engine the connect waits for its channels' links.
        if self.wait_for_links(now, conn, channels.iter().map(|(c, _, _)| c.as_str())) {
            let auth = Auth {
                user,
                info,
                expires,
                channels,
                data,
                server_refresh,
            };
            self.hold_first(
                conn,
                Held::Connect {
                    id,
                    auth,
                    positions,
                },
            );
            return Ok(());
        }
        let limit = self.cfg.client.user_connection_limit;
        if limit > 0 && !user.is_empty() && self.users.get(&user).len() >= limit {
            return Err(Fail::Disconnect(Disconnect::CONNECTION_LIMIT));
        }

        let user: Arc<str> = user.into();
        let interval = self.cfg.client.ping_interval;
        let half = interval.as_millis() as u64 / 2;
        let first_ping =
            now + std::time::Duration::from_millis(half + self.random_below(half.max(1)));
        let Some(c) = self.client_mut(conn) else {
            return Ok(());
        };
        c.state = State::Connected;
        c.user = user.clone();
        c.conn_info = info;
        c.expires = expires;
        c.next_ping = Some(first_ping);
        let client_id = c.id.to_string();
        let session = c.session.clone();
        let place = self.users.add(user, conn);
        if let Some(c) = self.client_mut(conn) {
            c.user_place = place;
        }
        self.stats.connects_total += 1;

        let mut result = ConnectResult {
            client: client_id,
            version: VERSION.to_owned(),
            ping: interval.as_secs(),
            pong: !uni,
            // An emulation session's `/emulation` posts name the node
            // that holds it, so that any node can forward them there.
            node: if uni || session.is_empty() {
                String::new()
            } else {
                self.node_id.clone()
            },
            session,
            data,
            ..Default::default()
        };
        // A connection the refresh proxy extends is not the client's to refresh.
        if let Some(e) = expires.filter(|_| !server_refresh) {
            result.expires = true;
            result.ttl = ttl_secs(e, now);
        }
        let mut joins = Vec::new();
        for (ch, chan_info, data) in channels {
            let pos = positions.get(&ch);
            let recover = pos.and_then(|p| p.recover).unwrap_or(false);
            let from = StreamPosition {
                offset: pos.and_then(|p| p.offset).unwrap_or(0),
                epoch: pos.and_then(|p| p.epoch.clone()).unwrap_or_default(),
            };
            let params = super::subscribe::SubParams {
                server_side: true,
                recover: recover.then_some(from),
                want_recoverable: false,
                want_positioned: false,
                want_join_leave: false,
                expires: None,
                chan_info,
                data,
            };
            if let Ok((r, join)) = self.add_subscription(now, conn, &ch, params) {
                result.subs.push((ch, r));
                joins.extend(join);
            }
        }
        let out = if uni {
            reply::push_connect(&result)
        } else {
            reply::reply(id, "connect", |w| result.write(w))
        };
        self.send(conn, out);
        for (ch, info) in joins {
            self.emit_join(&ch, &info, conn);
        }
        Ok(())
    }

    fn refresh_cmd(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        req: RefreshRequest,
    ) -> Result<(), Fail> {
        let token = req.token.unwrap_or_default();
        if token.is_empty() {
            return Err(Fail::Error(ErrorCode::BAD_REQUEST));
        }
        let claims = self.verifier.verify_connection(&token, now)?;
        let Some(c) = self.client_mut(conn) else {
            return Ok(());
        };
        if *c.user != *claims.sub {
            return Err(Fail::Disconnect(Disconnect::INVALID_TOKEN));
        }
        let expires = claims.expires();
        if expires.is_some_and(|e| e <= now) {
            return Err(Fail::Error(ErrorCode::EXPIRED));
        }
        c.expires = expires;
        let client = c.id.clone();
        let out = reply::reply(id, "refresh", |w| {
            w.str("client", &client);
            w.str("version", VERSION);
            if let Some(e) = expires {
                w.bool_true("expires", true);
                w.u64_nonzero("ttl", ttl_secs(e, now));
            }
        });
        self.send(conn, out);
        Ok(())
    }

    fn sub_refresh_cmd(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        req: SubRefreshRequest,
    ) -> Result<(), Fail> {
        let channel = req.channel.unwrap_or_default();
        let token = req.token.unwrap_or_default();
        if channel.is_empty() || token.is_empty() {
            return Err(Fail::Error(ErrorCode::BAD_REQUEST));
        }
        if !self
            .client(conn)
            .is_some_and(|c| c.subs.contains_key(&channel))
        {
            return Err(Fail::Error(ErrorCode::PERMISSION_DENIED));
        }
        let claims = self.verifier.verify_subscription(&token, now)?;
        let Some(c) = self.client_mut(conn) else {
            return Ok(());
        };
        if claims.channel != channel
            || *c.user != *claims.sub
            || (!claims.client.is_empty() && *c.id != *claims.client)
        {
            return Err(Fail::Disconnect(Disconnect::INVALID_TOKEN));
        }
        let expires = claims.expires();
        if let Some(s) = c.subs.get_mut(&channel) {
            s.expires = expires;
        }
        let out = reply::reply(id, "sub_refresh", |w| {
            if let Some(e) = expires {
                w.bool_true("expires", true);
                w.u64_nonzero("ttl", ttl_secs(e, now));
            }
        });
        self.send(conn, out);
        Ok(())
    }

    /// Checks a publish/presence/history permission of a connected client.
    pub(crate) fn allowed(&self, conn: ConnId, channel: &str, perm: Perm) -> Result<(), Fail> {
        let (_, opts) = self.namespaces.resolve(channel)?;
        let Some(c) = self.client(conn) else {
            return Err(Fail::Error(ErrorCode::INTERNAL));
        };
        let subscribed = c.subs.contains_key(channel);
        let (for_sub, for_client, for_anon) = match perm {
            Perm::Publish => (
                opts.allow_publish_for_subscriber,
                opts.allow_publish_for_client,
                opts.allow_publish_for_anonymous,
            ),
            Perm::Presence => (
                opts.allow_presence_for_subscriber,
                opts.allow_presence_for_client,
                opts.allow_presence_for_anonymous,
            ),
            Perm::History => (
                opts.allow_history_for_subscriber,
                opts.allow_history_for_client,
                opts.allow_history_for_anonymous,
            ),
        };
        let identity_ok = !c.user.is_empty() || for_anon;
        if identity_ok && (for_client || (for_sub && subscribed)) {
            Ok(())
        } else {
            Err(Fail::Error(ErrorCode::PERMISSION_DENIED))
        }
    }

    fn publish_cmd(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        req: PublishRequest,
    ) -> Result<(), Fail> {
        let channel = req.channel.unwrap_or_default();
        let (_, opts) = self.namespaces.resolve(&channel)?;
        let opts = opts.clone();
        let Some(data) = req.data else {
            return Err(Fail::Error(ErrorCode::BAD_REQUEST));
        };
        if opts.publish_proxy_enabled {
            // The backend decides, and may rewrite the publication.
            return self.proxy_publish(conn, id, channel, data);
        }
        self.allowed(conn, &channel, Perm::Publish)?;
        let Some(c) = self.client(conn) else {
            return Ok(());
        };
        let info = c.info_in(&channel);
        let parts = PublicationParts {
            channel: &channel,
            data: data.get().as_bytes(),
            info: Some(&info),
            tags: None,
        };
        match self.publish_parts(now, &channel, &opts, parts, false, None)? {
            Publishing::Done(_) => self.send(conn, reply::empty_reply(id, "publish")),
            Publishing::Sent(t) => self.await_reply(t, conn, id, Render::Publish),
        }
        Ok(())
    }

    fn presence_cmd(
        &mut self,
        conn: ConnId,
        id: u32,
        channel: Option<String>,
        stats: bool,
    ) -> Result<(), Fail> {
        let channel = channel.unwrap_or_default();
        let (_, opts) = self.namespaces.resolve(&channel)?;
        if !opts.presence {
            return Err(Fail::Error(ErrorCode::NOT_AVAILABLE));
        }
        self.allowed(conn, &channel, Perm::Presence)?;
        if let Some(remote) = self.remote.as_mut() {
            let channel: Arc<str> = channel.into();
            let (req, render) = if stats {
                (
                    BrokerRequest::PresenceStats { channel },
                    Render::PresenceStats,
                )
            } else {
                (BrokerRequest::Presence { channel }, Render::Presence)
            };
            let t = remote.request(req, None);
            self.await_reply(t, conn, id, render);
            return Ok(());
        }
        let out = if stats {
            presence_stats_reply(id, self.broker.presence_stats(&channel))
        } else {
            presence_reply(id, &self.broker.presence(&channel))
        };
        self.send(conn, out);
        Ok(())
    }

    fn history_cmd(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        req: HistoryRequest,
    ) -> Result<(), Fail> {
        let channel = req.channel.clone().unwrap_or_default();
        let (_, opts) = self.namespaces.resolve(&channel)?;
        if !opts.history_enabled() {
            return Err(Fail::Error(ErrorCode::NOT_AVAILABLE));
        }
        let meta_ttl = opts.history_meta_ttl;
        self.allowed(conn, &channel, Perm::History)?;
        let query = history_query(&req, self.cfg.client.history_max_publication_limit)?;
        if !self.history_is_local(&channel) {
            if let Some(remote) = self.remote.as_mut() {
                let req = BrokerRequest::History {
                    channel: channel.into(),
                    query,
                    meta_ttl,
                };
                let t = remote.request(req, None);
                self.await_reply(t, conn, id, Render::History);
                return Ok(());
            }
        }
        let r = self.read_history(now, &channel, &query, meta_ttl)?;
        self.send(conn, history_reply(id, r));
        Ok(())
    }
}

/// The reply to a `presence` command.
pub(super) fn presence_reply(id: u32, entries: &[PresenceEntry]) -> Bytes {
    reply::reply(id, "presence", |w| {
        w.key("presence");
        reply::write_presence_map(w, entries.iter().map(|e| (&*e.client, &e.info[..])));
    })
}

/// The reply to a `presence_stats` command.
pub(super) fn presence_stats_reply(id: u32, s: PresenceStats) -> Bytes {
    reply::reply(id, "presence_stats", |w| {
        w.u64("num_clients", s.num_clients);
        w.u64("num_users", s.num_users);
    })
}

/// The reply to a `history` command.
pub(super) fn history_reply(id: u32, r: HistoryResult) -> Bytes {
    let pubs: Vec<Bytes> = r.publications.into_iter().map(|p| p.json).collect();
    reply::reply(id, "history", |w| {
        reply::write_history(w, &pubs, r.position.offset, &r.position.epoch)
    })
}

/// Turns a history request into a query: limit 0/absent → position only,
/// -1 → all up to `max`, N → min(N, max); reverse with `since.offset` 0 → 107.
pub(crate) fn history_query(req: &HistoryRequest, max: usize) -> Result<HistoryQuery, ErrorCode> {
    let limit = match req.limit.unwrap_or(0) {
        0 => Some(0),
        -1 => Some(max),
        n if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX).min(max)),
        _ => return Err(ErrorCode::BAD_REQUEST),
    };
    let reverse = req.reverse.unwrap_or(false);
    let since = match &req.since {
        None => None,
        Some(s) => {
            let offset = s.offset.unwrap_or(0);
            if reverse && offset == 0 {
                return Err(ErrorCode::BAD_REQUEST);
            }
            Some(StreamPosition {
                offset,
                epoch: s.epoch.clone().unwrap_or_default(),
            })
        }
    };
    Ok(HistoryQuery {
        limit,
        since,
        reverse,
    })
}

pub(crate) fn ttl_secs(expires: Timestamp, now: Timestamp) -> u64 {
    expires.saturating_since(now).as_secs().max(1)
}
