//! Subscriptions: permission checks, recovery, presence and join/leave.

use std::sync::Arc;

use bytes::Bytes;

use super::commands::ttl_secs;
use super::{ChannelSubs, ConnId, Fail, Hub, Subscribers};
use crate::broker::PresenceEntry;
use crate::channel::{ChannelName, NamespaceOptions};
use crate::client::{State, Sub};
use crate::engine::BrokerRequest;
use crate::history::{recovery, HistoryQuery, StreamPosition};
use crate::jwt::TokenError;
use crate::protocol::reply::{self, SubscribeResult};
use crate::protocol::{Disconnect, ErrorCode, SubscribeRequest, UnsubscribeCode};
use crate::time::Timestamp;

/// What a new subscription asks for.
pub(crate) struct SubParams {
    pub server_side: bool,
    /// Recover from this position.
    pub recover: Option<StreamPosition>,
    pub want_recoverable: bool,
    pub want_positioned: bool,
    pub want_join_leave: bool,
    pub expires: Option<Timestamp>,
    pub chan_info: Option<Bytes>,
    pub data: Option<Bytes>,
}

/// Whether `user` may subscribe to `name` without a subscription token.
pub(crate) fn may_subscribe(name: &ChannelName<'_>, opts: &NamespaceOptions, user: &str) -> bool {
    if name.private {
        return false;
    }
    if opts.allow_user_limited_channels && name.users.is_some() {
        return name.user_allowed(user);
    }
    opts.allow_subscribe_for_client && (!user.is_empty() || opts.allow_subscribe_for_anonymous)
}

fn history_perm(opts: &NamespaceOptions, user: &str) -> bool {
    (opts.allow_history_for_subscriber || opts.allow_history_for_client)
        && (!user.is_empty() || opts.allow_history_for_anonymous)
}

fn presence_perm(opts: &NamespaceOptions, user: &str) -> bool {
    (opts.allow_presence_for_subscriber || opts.allow_presence_for_client)
        && (!user.is_empty() || opts.allow_presence_for_anonymous)
}

impl Hub {
    pub(super) fn subscribe_cmd(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        req: SubscribeRequest,
    ) -> Result<(), Fail> {
        let channel = req.channel.unwrap_or_default();
        let (name, opts) = self.namespaces.resolve(&channel)?;
        let Some(c) = self.client(conn) else {
            return Ok(());
        };
        if c.subs.contains_key(&channel) {
            return Err(Fail::Error(ErrorCode::ALREADY_SUBSCRIBED));
        }
        if c.subs.len() >= self.cfg.client.channel_limit {
            return Err(Fail::Error(ErrorCode::LIMIT_EXCEEDED));
        }
        let user = c.user.clone();
        let mut params = SubParams {
            server_side: false,
            recover: None,
            want_recoverable: req.recoverable.unwrap_or(false),
            want_positioned: req.positioned.unwrap_or(false),
            want_join_leave: req.join_leave.unwrap_or(false),
            expires: None,
            chan_info: None,
            data: None,
        };
        let token = req.token.unwrap_or_default();
        // Without a token, the namespace's subscribe proxy decides (not
        // for private `$` channels, which need a token, nor for
        // user-limited ones, which name their users).
        let user_limited = opts.allow_user_limited_channels && name.users.is_some();
        let proxied =
            token.is_empty() && opts.subscribe_proxy_enabled && !name.private && !user_limited;
        if !token.is_empty() {
            let claims = self
                .verifier
                .verify_subscription(&token, now)
                .map_err(|e| match e {
                    TokenError::Expired => Fail::Error(ErrorCode::TOKEN_EXPIRED),
                    TokenError::Invalid(_) => Fail::Error(ErrorCode::PERMISSION_DENIED),
                })?;
            if claims.channel != channel
                || *claims.sub != *user
                || (!claims.client.is_empty() && *claims.client != *c.id)
            {
                return Err(Fail::Disconnect(Disconnect::INVALID_TOKEN));
            }
            params.expires = claims.expires();
            if params.expires.is_some_and(|e| e <= now) {
                return Err(Fail::Error(ErrorCode::EXPIRED));
            }
            params.chan_info = claims
                .info
                .map(|r| Bytes::copy_from_slice(r.get().as_bytes()));
            params.data = claims
                .data
                .map(|r| Bytes::copy_from_slice(r.get().as_bytes()));
        } else if !proxied && !may_subscribe(&name, opts, &user) {
            return Err(Fail::Error(ErrorCode::PERMISSION_DENIED));
        }
        if req.recover.unwrap_or(false) {
            params.recover = Some(StreamPosition {
                offset: req.offset.unwrap_or(0),
                epoch: req.epoch.unwrap_or_default(),
            });
        }
        if proxied {
            return self.proxy_subscribe(conn, id, channel, token, req.data, params);
        }
        let (result, join) = self.add_subscription(now, conn, &channel, params)?;
        let out = reply::reply(id, "subscribe", |w| result.write(w));
        self.send(conn, out);
        if let Some((ch, info)) = join {
            self.emit_join(&ch, &info, conn);
        }
        Ok(())
    }

    /// Registers a subscription: recovery or position, presence. Returns
    /// the result and, when the namespace emits join/leave, the join to send
    /// once the caller has queued its reply.
    ///
    /// Atomic: the history read and the registration happen in this one call
    /// on the hub's single owner, so a live publication is either in the
    /// history read (offset ≤ top) or delivered after the reply — never both,
    /// never neither. That is the "merge by offset" of a concurrent server.
    #[allow(clippy::type_complexity)]
    pub(crate) fn add_subscription(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        channel: &str,
        p: SubParams,
    ) -> Result<(SubscribeResult, Option<(Arc<str>, Bytes)>), Fail> {
        let (_, opts) = self.namespaces.resolve(channel)?;
        let opts = opts.clone();
        let Some(c) = self.client(conn) else {
            return Err(Fail::Error(ErrorCode::INTERNAL));
        };
        if c.state != State::Connected {
            return Err(Fail::Error(ErrorCode::INTERNAL));
        }
        if c.subs.contains_key(channel) {
            return Err(Fail::Error(ErrorCode::ALREADY_SUBSCRIBED));
        }
        let user = c.user.clone();
        let info = c.info_with(p.chan_info.as_deref());
        let client_id = c.id.clone();

        let history = opts.history_enabled();
        let hperm = history_perm(&opts, &user);
        let recoverable = history
            && (opts.force_recovery || (p.want_recoverable && (opts.allow_recovery || hperm)));
        let positioned = history
            && (recoverable
                || opts.force_positioning
                || (p.want_positioned && (opts.allow_positioning || hperm)));
        let join_leave_push = opts.join_leave
            && (opts.force_push_join_leave || (p.want_join_leave && presence_perm(&opts, &user)));

        let mut result = SubscribeResult {
            recoverable,
            positioned,
            data: p.data,
            ..Default::default()
        };
        if let Some(e) = p.expires {
            result.expires = true;
            result.ttl = ttl_secs(e, now);
        }
        let meta_ttl = opts.history_meta_ttl;
        match p.recover {
            Some(from) if recoverable => {
                result.was_recovering = true;
                let q = HistoryQuery {
                    limit: Some(self.cfg.client.recovery_max_publication_limit),
                    since: Some(StreamPosition {
                        offset: from.offset,
                        epoch: String::new(),
                    }),
                    reverse: false,
                };
                let read = self.read_history(now, channel, &q, meta_ttl)?;
                let r = recovery(&from, read);
                result.epoch = r.top.epoch;
                if r.recovered {
                    result.recovered = true;
                    result.offset = from.offset;
                    result.publications = r.publications.into_iter().map(|p| p.json).collect();
                } else {
                    result.offset = r.top.offset;
                }
            }
            _ if positioned => {
                let q = HistoryQuery {
                    limit: Some(0),
                    since: None,
                    reverse: false,
                };
                let read = self.read_history(now, channel, &q, meta_ttl)?;
                result.offset = read.position.offset;
                result.epoch = read.position.epoch;
            }
            _ => {}
        }

        // Register.
        let ch_entry = match self.channels.get_key_value(channel) {
            Some((k, _)) => k.clone(),
            None => {
                let name: Arc<str> = Arc::from(channel);
                self.channels.insert(
                    name.clone(),
                    ChannelSubs {
                        name: name.clone(),
                        opts: opts.clone(),
                        subscribers: Subscribers::default(),
                    },
                );
                self.stats.channels = self.channels.len() as u64;
                name
            }
        };
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.subscribers.insert(conn, join_leave_push);
        }
        if opts.presence {
            self.add_presence(
                channel,
                PresenceEntry {
                    client: client_id.to_string(),
                    user: user.to_string(),
                    info: info.clone(),
                },
            );
        }
        let join = opts.join_leave.then(|| (ch_entry.clone(), info.clone()));
        if let Some(c) = self.client_mut(conn) {
            c.subs.insert(
                ch_entry,
                Sub {
                    server_side: p.server_side,
                    expires: p.expires,
                    chan_info: p.chan_info,
                    opts,
                },
            );
        }
        self.stats.subscriptions += 1;
        Ok((result, join))
    }

    /// Sends a join push to the channel's subscribers that get join/leave.
    /// On a remote engine the push goes out through the engine to every
    /// node, this one included.
    pub(crate) fn emit_join(&mut self, channel: &str, info: &Bytes, _who: ConnId) {
        if let Some(remote) = self.remote.as_mut() {
            let req = BrokerRequest::Join {
                channel: channel.into(),
                info: info.clone(),
            };
            remote.request(req, None);
            return;
        }
        self.handle_broker_join(channel, info);
    }

    /// Sends a leave push to the channel's subscribers that get join/leave
    /// (through the engine, like [`emit_join`](Hub::emit_join)).
    pub(crate) fn emit_leave(&mut self, channel: &str, info: &Bytes) {
        if let Some(remote) = self.remote.as_mut() {
            let req = BrokerRequest::Leave {
                channel: channel.into(),
                info: info.clone(),
            };
            remote.request(req, None);
            return;
        }
        self.handle_broker_leave(channel, info);
    }

    /// Ends a subscription: presence, leave push to others, and an
    /// unsubscribe push to this connection when `code` is given.
    pub(crate) fn remove_subscription(
        &mut self,
        conn: ConnId,
        channel: &Arc<str>,
        code: Option<UnsubscribeCode>,
    ) {
        let Some(c) = self.client_mut(conn) else {
            return;
        };
        let Some(sub) = c.subs.remove(channel) else {
            return;
        };
        let leave_info = sub
            .opts
            .join_leave
            .then(|| c.info_with(sub.chan_info.as_deref()));
        self.proxy_unsubscribed(conn, channel);
        let Some(client_id) = self.client(conn).map(|c| c.id.clone()) else {
            return;
        };
        if let Some(outbox) = self.outbox(conn) {
            outbox.forget_latest(channel);
        }
        self.stats.subscriptions = self.stats.subscriptions.saturating_sub(1);
        let mut empty = false;
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.subscribers.remove(conn);
            empty = ch.subscribers.is_empty();
        }
        if empty {
            self.channels.remove(channel);
            self.stats.channels = self.channels.len() as u64;
        }
        if sub.opts.presence {
            self.remove_presence(channel, &client_id);
        }
        if let Some(code) = code {
            if let Some(outbox) = self.outbox(conn) {
                let mut p = reply::push_unsubscribe(channel, code);
                if outbox.bare {
                    p = reply::unwrap_push(&p);
                }
                outbox.push_forced(p);
                self.mark_ready(conn);
            }
        }
        if let Some(info) = leave_info {
            self.emit_leave(channel, &info);
        }
    }
}
