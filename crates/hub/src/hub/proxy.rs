//! The hub's side of the backend proxy: which commands need the backend,
//! parking them under a ticket, and finishing them with the backend's
//! answer (see [`crate::proxy`]).
//!
//! Commands of one connection run in order, as in Centrifugo by default:
//! while a command waits for its backend, the connection's later commands
//! wait behind it (bounded by `client.proxy.max_queued_commands`); other
//! connections are not held up. Calls the hub makes on its own (refresh,
//! sub_refresh) do not hold up commands.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use super::subscribe::SubParams;
use super::{ConnId, Fail, Hub, Publishing};
use crate::client::State;
use crate::engine::state::Render;
use crate::history::PublicationParts;
use crate::protocol::json::JsonWriter;
use crate::protocol::reply;
use crate::protocol::{
    Disconnect, ErrorCode, RawJson, RpcRequest, SubscribePosition, UnsubscribeCode,
};
use crate::proxy::wire::{self, Verdict};
use crate::proxy::{ProxyCall, ProxyFailure, ProxyKind, ProxyOutcome, ProxyTicket};
use crate::time::Timestamp;

/// How long a connection or subscription lives on when its refresh
/// failed, before the backend is asked again (Centrifugo's minute).
const RETRY_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// The shortest extension a refresh gives: an `expire_at` in the past
/// would have the backend asked again at every timer.
const MIN_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Proxy calls in flight and what waits on them.
#[derive(Default)]
pub(crate) struct ProxyState {
    next_ticket: u64,
    out: VecDeque<ProxyCall>,
    pending: HashMap<u64, Parked>,
    /// Per connection, when a proxy is on.
    conns: HashMap<ConnId, ProxyConn>,
}

#[derive(Default)]
struct ProxyConn {
    transport: &'static str,
    /// The command call in flight: later commands wait behind it.
    command_call: Option<u64>,
    /// The refresh or sub_refresh call in flight.
    timer_call: Option<u64>,
    /// Let in by the connect proxy with the refresh proxy on: the hub
    /// refreshes the connection, not the client.
    server_refresh: bool,
    meta: Option<RawJson>,
    /// The connect command's `headers` that some endpoint forwards
    /// (`emulated_headers`), names in lower case.
    emulated: Vec<(String, String)>,
    /// Subscriptions from the subscribe proxy that the hub refreshes.
    server_sub_refresh: HashSet<Arc<str>>,
}

struct Parked {
    conn: ConnId,
    id: u32,
    kind: ProxyKind,
    what: What,
}

enum What {
    Connect {
        positions: HashMap<String, SubscribePosition>,
    },
    Refresh,
    Subscribe {
        channel: String,
        params: SubParams,
    },
    Publish {
        channel: String,
        data: RawJson,
    },
    SubRefresh {
        channel: Arc<str>,
    },
    Rpc,
}

/// How a connection's identity was established: by token, anonymously
/// or by the connect proxy.
#[derive(Debug, Default)]
pub(crate) struct Auth {
    pub user: String,
    pub info: Option<Bytes>,
    pub expires: Option<Timestamp>,
    /// Server-side subscriptions: channel, channel info, data.
    pub channels: Vec<(String, Option<Bytes>, Option<Bytes>)>,
    /// The connect result's `data`.
    pub data: Option<Bytes>,
    /// The hub refreshes the connection (the client sees `expires:false`).
    pub server_refresh: bool,
}

fn expiry(expire_at: i64) -> Option<Timestamp> {
    u64::try_from(expire_at)
        .ok()
        .filter(|&s| s > 0)
        .map(|s| Timestamp::from_secs(s.min(u64::MAX / 1000)))
}

/// `{"id":N,"error":{…}}` with a backend's code and message.
fn backend_error_reply(id: u32, e: &wire::BackendError) -> Bytes {
    let mut w = JsonWriter::with_capacity(64 + e.message.len());
    w.open();
    w.u64_nonzero("id", u64::from(id));
    w.open_key("error");
    w.u64("code", u64::from(e.code));
    w.str("message", &e.message);
    w.bool_true("temporary", e.temporary);
    w.close();
    w.close();
    Bytes::from(w.finish())
}

impl Hub {
    /// The next call for the IO layer to make, if any.
    pub fn poll_proxy(&mut self) -> Option<ProxyCall> {
        self.proxy.out.pop_front()
    }

    /// Tells the proxy calls which transport `conn` came by (`websocket`,
    /// `http_stream`, `sse`, `uni_websocket`, `uni_sse`,
    /// `uni_http_stream`…): the `transport` field of its requests. Call
    /// it right after [`Hub::open`]; without a proxy on, it does nothing.
    pub fn set_transport_name(&mut self, conn: ConnId, name: &'static str) {
        if self.proxy_on && self.client(conn).is_some() {
            self.proxy.conns.entry(conn).or_default().transport = name;
        }
    }

    /// Keeps the headers of `conn`'s connect command that some endpoint
    /// forwards (`emulated_headers`); the others are dropped.
    pub(crate) fn proxy_keep_headers(&mut self, conn: ConnId, headers: HashMap<String, String>) {
        if !self.proxy_on {
            return;
        }
        let wanted = |name: &str| {
            ProxyKind::ALL.iter().any(|&kind| {
                self.cfg
                    .proxy_endpoint(kind)
                    .emulated_headers
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(name))
            })
        };
        let kept: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(name, _)| wanted(name))
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        if !kept.is_empty() {
            self.proxy_conn(conn).emulated = kept;
        }
    }

    /// Proxy calls waiting for their backend.
    pub fn proxy_pending(&self) -> usize {
        self.proxy.pending.len()
    }

    /// Whether `conn`'s commands wait behind a proxy call.
    pub(crate) fn proxy_blocked(&self, conn: ConnId) -> bool {
        self.proxy_on
            && self
                .proxy
                .conns
                .get(&conn)
                .is_some_and(|p| p.command_call.is_some())
    }

    /// Forgets a connection's calls: their late answers are dropped.
    pub(crate) fn proxy_forget(&mut self, conn: ConnId) {
        if let Some(p) = self.proxy.conns.remove(&conn) {
            for t in p.command_call.into_iter().chain(p.timer_call) {
                self.proxy.pending.remove(&t);
            }
        }
    }

    /// A subscription ended: the hub no longer refreshes it.
    pub(crate) fn proxy_unsubscribed(&mut self, conn: ConnId, channel: &str) {
        if let Some(p) = self.proxy.conns.get_mut(&conn) {
            p.server_sub_refresh.remove(channel);
        }
    }

    fn proxy_conn(&mut self, conn: ConnId) -> &mut ProxyConn {
        self.proxy.conns.entry(conn).or_default()
    }

    /// Encodes and hands out a call; `None` when too many are pending.
    fn start_call(
        &mut self,
        conn: ConnId,
        id: u32,
        kind: ProxyKind,
        what: What,
        extra: wire::Extra<'_>,
    ) -> Option<ProxyTicket> {
        if self.proxy.pending.len() >= self.cfg.client.proxy.max_pending {
            return None;
        }
        let c = self.client(conn)?;
        let p = self.proxy.conns.get(&conn);
        let mut req = wire::Request {
            client: &c.id,
            transport: p.map_or("websocket", |p| p.transport),
            protocol: "json",
            encoding: "json",
            meta: p
                .and_then(|p| p.meta.as_deref())
                .filter(|_| self.cfg.proxy_endpoint(kind).include_connection_meta),
            name: extra.name,
            version: extra.version,
            channel: extra.channel,
            token: extra.token,
            method: extra.method,
            data: extra.data,
            channels: extra.channels,
            user: None,
            b64data: None,
        };
        if self.cfg.proxy_endpoint(kind).binary_encoding {
            req.binary_encoding();
        }
        if kind != ProxyKind::Connect {
            req.user = Some(&c.user);
        }
        if req.transport.is_empty() {
            req.transport = "websocket";
        }
        let body = req.encode();
        let forwarded = &self.cfg.proxy_endpoint(kind).emulated_headers;
        let emulated_headers = p
            .map(|p| {
                p.emulated
                    .iter()
                    .filter(|(name, _)| forwarded.iter().any(|n| n.eq_ignore_ascii_case(name)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        self.proxy.next_ticket += 1;
        let t = self.proxy.next_ticket;
        self.proxy.pending.insert(
            t,
            Parked {
                conn,
                id,
                kind,
                what,
            },
        );
        let p = self.proxy_conn(conn);
        if matches!(kind, ProxyKind::Refresh | ProxyKind::SubRefresh) {
            p.timer_call = Some(t);
        } else {
            p.command_call = Some(t);
        }
        self.proxy.out.push_back(ProxyCall {
            ticket: ProxyTicket(t),
            conn,
            kind,
            body,
            emulated_headers,
        });
        Some(ProxyTicket(t))
    }

    /// Connect without a token, the connect proxy on: asks the backend.
    pub(crate) fn proxy_connect(
        &mut self,
        conn: ConnId,
        id: u32,
        data: Option<RawJson>,
        name: Option<String>,
        version: Option<String>,
        subs: Option<HashMap<String, SubscribePosition>>,
    ) -> Result<(), Fail> {
        let positions = subs.unwrap_or_default();
        let uni = self
            .client(conn)
            .is_some_and(|c| c.transport.is_unidirectional());
        let channels: Vec<String> = if uni {
            positions.keys().cloned().collect()
        } else {
            Vec::new()
        };
        let extra = wire::Extra {
            name: name.as_deref(),
            version: version.as_deref(),
            data: data.as_deref(),
            channels: &channels,
            ..Default::default()
        };
        let started = self.start_call(
            conn,
            id,
            ProxyKind::Connect,
            What::Connect { positions },
            extra,
        );
        match started {
            Some(_) => Ok(()),
            None if uni => Err(Fail::Disconnect(Disconnect::SERVER_ERROR)),
            None => Err(Fail::Error(ErrorCode::INTERNAL)),
        }
    }

    /// Subscribe without a token in a namespace with the subscribe proxy.
    pub(crate) fn proxy_subscribe(
        &mut self,
        conn: ConnId,
        id: u32,
        channel: String,
        token: String,
        data: Option<RawJson>,
        params: SubParams,
    ) -> Result<(), Fail> {
        let ch = channel.clone();
        let what = What::Subscribe { channel, params };
        let extra = wire::Extra {
            channel: Some(&ch),
            token: (!token.is_empty()).then_some(token.as_str()),
            data: data.as_deref(),
            ..Default::default()
        };
        self.start_call(conn, id, ProxyKind::Subscribe, what, extra)
            .map(drop)
            .ok_or(Fail::Error(ErrorCode::INTERNAL))
    }

    /// Publish in a namespace with the publish proxy (instead of the
    /// `allow_publish_*` permissions).
    pub(crate) fn proxy_publish(
        &mut self,
        conn: ConnId,
        id: u32,
        channel: String,
        data: RawJson,
    ) -> Result<(), Fail> {
        let ch = channel.clone();
        let raw = data.clone();
        let what = What::Publish { channel, data };
        let extra = wire::Extra {
            channel: Some(&ch),
            data: Some(&raw),
            ..Default::default()
        };
        self.start_call(conn, id, ProxyKind::Publish, what, extra)
            .map(drop)
            .ok_or(Fail::Error(ErrorCode::INTERNAL))
    }

    /// `rpc`: to the backend when the method's namespace has the proxy on,
    /// else 104 "method not found".
    pub(crate) fn rpc_cmd(&mut self, conn: ConnId, id: u32, req: RpcRequest) -> Result<(), Fail> {
        let method = req.method.unwrap_or_default();
        if !self.cfg.rpc.proxied(&method) {
            return Err(Fail::Error(ErrorCode::METHOD_NOT_FOUND));
        }
        let extra = wire::Extra {
            method: Some(&method),
            data: req.data.as_deref(),
            ..Default::default()
        };
        self.start_call(conn, id, ProxyKind::Rpc, What::Rpc, extra)
            .map(drop)
            .ok_or(Fail::Error(ErrorCode::INTERNAL))
    }

    /// On a connection's timer: starts a refresh call when the hub
    /// refreshes the connection and it has expired, or a sub_refresh call
    /// for an expired subscription the hub refreshes. Returns whether the
    /// connection's own expiry is the backend's to decide, and the
    /// subscriptions whose expiry is.
    pub(crate) fn proxy_expiry(&mut self, now: Timestamp, conn: ConnId) -> (bool, Vec<Arc<str>>) {
        if !self.proxy_on {
            return (false, Vec::new());
        }
        let Some(p) = self.proxy.conns.get(&conn) else {
            return (false, Vec::new());
        };
        let Some(c) = self.client(conn) else {
            return (false, Vec::new());
        };
        let server_refresh = p.server_refresh && self.cfg.client.proxy.refresh.enabled;
        let subs: Vec<Arc<str>> = p
            .server_sub_refresh
            .iter()
            .filter(|ch| {
                c.subs
                    .get(ch)
                    .is_some_and(|s| s.opts.sub_refresh_proxy_enabled)
            })
            .cloned()
            .collect();
        let busy = p.timer_call.is_some();
        let refresh_due = server_refresh && c.expires.is_some_and(|e| now >= e);
        let sub_due = subs
            .iter()
            .find(|ch| {
                c.subs
                    .get(ch)
                    .and_then(|s| s.expires)
                    .is_some_and(|e| now >= e)
            })
            .cloned();
        if busy {
        } else if refresh_due {
            self.start_call(
                conn,
                0,
                ProxyKind::Refresh,
                What::Refresh,
                wire::Extra::default(),
            );
        } else if let Some(ch) = sub_due {
            let name = ch.clone();
            let what = What::SubRefresh { channel: ch };
            let extra = wire::Extra {
                channel: Some(&name),
                ..Default::default()
            };
            self.start_call(conn, 0, ProxyKind::SubRefresh, what, extra);
        }
        (server_refresh, subs)
    }

    /// The answer to a call. Unknown or stale tickets (the connection
    /// closed meanwhile) are ignored.
    pub fn handle_proxy_reply(
        &mut self,
        now: Timestamp,
        ticket: ProxyTicket,
        outcome: ProxyOutcome,
    ) {
        let Some(parked) = self.proxy.pending.remove(&ticket.0) else {
            return;
        };
        let conn = parked.conn;
        let timer = matches!(parked.what, What::Refresh | What::SubRefresh { .. });
        if let Some(p) = self.proxy.conns.get_mut(&conn) {
            if timer {
                p.timer_call = None;
            } else {
                p.command_call = None;
            }
        }
        match self.client(conn).map(|c| c.state) {
            None | Some(State::Closed) => return,
            _ => {}
        }
        let body = match outcome {
            ProxyOutcome::Body(b) => Some(b),
            // `http.status_to_code_transforms` may map the status.
            ProxyOutcome::Failed(ProxyFailure::Status(s)) => {
                self.cfg.proxy_endpoint(parked.kind).transform(s)
            }
            ProxyOutcome::Failed(_) => None,
        };
        let id = parked.id;
        match parked.what {
            What::Connect { positions } => self.finish_connect(now, conn, id, body, positions),
            What::Subscribe { channel, params } => {
                let r = self.finish_subscribe(now, conn, id, body, channel, params);
                self.finish_command(conn, id, r);
            }
            What::Publish { channel, data } => {
                let r = self.finish_publish(now, conn, id, body, channel, data);
                self.finish_command(conn, id, r);
            }
            What::Rpc => {
                let r = self.finish_rpc(conn, id, body);
                self.finish_command(conn, id, r);
            }
            What::Refresh => self.finish_refresh(now, conn, body),
            What::SubRefresh { channel } => self.finish_sub_refresh(now, conn, body, channel),
        }
        if !timer {
            self.resume(now, conn);
        }
        self.schedule(conn);
    }

    fn finish_command(&mut self, conn: ConnId, id: u32, r: Result<(), Fail>) {
        if let Err(f) = r {
            self.fail(conn, id, f);
        }
    }

    fn finish_connect(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        body: Option<Bytes>,
        positions: HashMap<String, SubscribePosition>,
    ) {
        let uni = self
            .client(conn)
            .is_some_and(|c| c.transport.is_unidirectional());
        let verdict = body.and_then(|b| wire::decode::<wire::ConnectResult>(&b));
        let result = match verdict {
            Some(Verdict::Result(r)) => r,
            Some(Verdict::Error(e)) if !uni => {
                self.send(conn, backend_error_reply(id, &e));
                self.forget_held(conn);
                return;
            }
            Some(Verdict::Disconnect(d)) => {
                self.disconnect_conn(conn, d);
                return;
            }
            // No credentials: as a connect without a token.
            Some(Verdict::Empty) => {
                self.disconnect(conn, Disconnect::BAD_REQUEST, false);
                return;
            }
            // A unidirectional client cannot act on an error reply.
            Some(Verdict::Error(_)) | None if uni => {
                self.disconnect(conn, Disconnect::SERVER_ERROR, false);
                return;
            }
            _ => {
                self.send(conn, reply::error_reply(id, &ErrorCode::INTERNAL));
                self.forget_held(conn);
                return;
            }
        };
        let mut channels: Vec<(String, Option<Bytes>, Option<Bytes>)> = result
            .channels
            .iter()
            .map(|c| (c.clone(), None, None))
            .collect();
        for (ch, o) in result.subs {
            let entry = (ch.clone(), wire::raw_bytes(o.info), wire::raw_bytes(o.data));
            match channels.iter_mut().find(|(c, _, _)| *c == ch) {
                Some(e) => *e = entry,
                None => channels.push(entry),
            }
        }
        let server_refresh = self.cfg.client.proxy.refresh.enabled;
        let auth = Auth {
            user: result.user,
            info: wire::raw_bytes(result.info),
            expires: expiry(result.expire_at),
            channels,
            data: wire::raw_bytes(result.data),
            server_refresh,
        };
        let p = self.proxy_conn(conn);
        p.server_refresh = server_refresh;
        p.meta = result.meta.filter(|m| m.get() != "null");
        if let Err(f) = self.connect_as(now, conn, id, auth, positions) {
            self.forget_held(conn);
            if uni {
                let d = match f {
                    Fail::Disconnect(d) => d,
                    Fail::Error(e) if e.code == ErrorCode::EXPIRED.code => Disconnect::EXPIRED,
                    Fail::Error(_) => Disconnect::BAD_REQUEST,
                };
                self.disconnect(conn, d, false);
            } else {
                self.fail(conn, id, f);
            }
        }
    }

    /// The backend's answer to a command's call: its result (`Default`
    /// when it has none), or `None` once an error or disconnect it chose
    /// was passed on; an undecodable answer is error 100.
    fn command_verdict<T: Default + for<'de> serde::Deserialize<'de> + wire::Base64Fields>(
        &mut self,
        conn: ConnId,
        id: u32,
        body: Option<Bytes>,
    ) -> Result<Option<T>, Fail> {
        match body.and_then(|b| wire::decode::<T>(&b)) {
            Some(Verdict::Result(r)) => Ok(Some(r)),
            Some(Verdict::Empty) => Ok(Some(T::default())),
            Some(Verdict::Error(e)) => {
                self.send(conn, backend_error_reply(id, &e));
                Ok(None)
            }
            Some(Verdict::Disconnect(d)) => {
                self.disconnect_conn(conn, d);
                Ok(None)
            }
            None => Err(Fail::Error(ErrorCode::INTERNAL)),
        }
    }

    fn finish_subscribe(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        body: Option<Bytes>,
        channel: String,
        mut params: SubParams,
    ) -> Result<(), Fail> {
        let Some(r) = self.command_verdict::<wire::SubscribeResult>(conn, id, body)? else {
            return Ok(());
        };
        params.chan_info = wire::raw_bytes(r.info);
        params.data = wire::raw_bytes(r.data);
        params.expires = expiry(r.expire_at);
        if params.expires.is_some_and(|e| e <= now) {
            return Err(Fail::Error(ErrorCode::EXPIRED));
        }
        let server_refresh = params.expires.is_some()
            && self
                .namespaces
                .resolve(&channel)
                .is_ok_and(|(_, o)| o.sub_refresh_proxy_enabled);
        let (mut result, join) = self.add_subscription(now, conn, &channel, params)?;
        if server_refresh {
            result.expires = false;
            result.ttl = 0;
            if let Some((ch, _)) = self
                .client(conn)
                .and_then(|c| c.subs.get_key_value(&channel))
            {
                let ch = ch.clone();
                self.proxy_conn(conn).server_sub_refresh.insert(ch);
            }
        }
        let out = reply::reply(id, "subscribe", |w| result.write(w));
        self.send(conn, out);
        if let Some((ch, info)) = join {
            self.emit_join(&ch, &info, conn);
        }
        Ok(())
    }

    fn finish_publish(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        id: u32,
        body: Option<Bytes>,
        channel: String,
        data: RawJson,
    ) -> Result<(), Fail> {
        let Some(r) = self.command_verdict::<wire::PublishResult>(conn, id, body)? else {
            return Ok(());
        };
        let (_, opts) = self.namespaces.resolve(&channel)?;
        let opts = opts.clone();
        let Some(c) = self.client(conn) else {
            return Ok(());
        };
        let info = c.info_in(&channel);
        let data = r.data.filter(|d| d.get() != "null").unwrap_or(data);
        let parts = PublicationParts {
            channel: &channel,
            data: data.get().as_bytes(),
            info: Some(&info),
            tags: r.tags.as_ref().filter(|t| !t.is_empty()),
        };
        let key = r.idempotency_key.filter(|k| !k.is_empty());
        match self.publish_parts(now, &channel, &opts, parts, r.skip_history, key)? {
            Publishing::Done(_) => self.send(conn, reply::empty_reply(id, "publish")),
            Publishing::Sent(t) => self.await_reply(t, conn, id, Render::Publish),
        }
        Ok(())
    }

    fn finish_rpc(&mut self, conn: ConnId, id: u32, body: Option<Bytes>) -> Result<(), Fail> {
        let Some(r) = self.command_verdict::<wire::RpcResult>(conn, id, body)? else {
            return Ok(());
        };
        let data = wire::raw_bytes(r.data);
        let out = reply::reply(id, "rpc", |w| {
            w.raw_opt("data", data.as_deref());
        });
        self.send(conn, out);
        Ok(())
    }

    /// A refresh answer: `expired` ends the connection (3005), an
    /// `expire_at` extends it. A failure, an error or a disconnect from
    /// the backend gives the connection one more minute, then the backend
    /// is asked again (as Centrifugo does).
    fn finish_refresh(&mut self, now: Timestamp, conn: ConnId, body: Option<Bytes>) {
        let verdict = body.and_then(|b| wire::decode::<wire::RefreshResult>(&b));
        let (expires, info) = match verdict {
            Some(Verdict::Result(r)) if r.expired => {
                self.disconnect(conn, Disconnect::EXPIRED, false);
                return;
            }
            Some(Verdict::Result(r)) => (expiry(r.expire_at), wire::raw_bytes(r.info)),
            _ => (Some(now + RETRY_REFRESH), None),
        };
        if let Some(c) = self.client_mut(conn) {
            c.expires = expires.map(|e| e.max(now + MIN_REFRESH));
            if info.is_some() {
                c.conn_info = info;
            }
        }
    }

    /// A sub_refresh answer: `expired` ends the subscription (unsubscribe
    /// 2501), an `expire_at` extends it; otherwise one more minute.
    fn finish_sub_refresh(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        body: Option<Bytes>,
        channel: Arc<str>,
    ) {
        let verdict = body.and_then(|b| wire::decode::<wire::RefreshResult>(&b));
        let expires = match verdict {
            Some(Verdict::Result(r)) if r.expired => {
                self.remove_subscription(conn, &channel, Some(UnsubscribeCode::Expired));
                return;
            }
            Some(Verdict::Result(r)) => expiry(r.expire_at),
            _ => Some(now + RETRY_REFRESH),
        };
        if let Some(s) = self.client_mut(conn).and_then(|c| c.subs.get_mut(&channel)) {
            s.expires = expires.map(|e| e.max(now + MIN_REFRESH));
        }
    }
}

/// Why the failure does not matter for the reply: kept for the IO layer's
/// logs and metrics.
impl ProxyFailure {
    /// A short description: `timeout`, `unreachable`, `status 502`.
    pub fn describe(self) -> String {
        match self {
            ProxyFailure::Timeout => "timeout".into(),
            ProxyFailure::Unreachable => "unreachable".into(),
            ProxyFailure::Status(s) => format!("status {s}"),
        }
    }
}
