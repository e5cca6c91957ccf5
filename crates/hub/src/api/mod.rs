//! The server API's logic: `POST /api/<method>` bodies in, response bodies
//! out. The IO layer does only HTTP: the key check (`X-API-Key`, 401), reading
//! the body, and writing [`ApiResponse`].
//!
//! Responses are `{"result":{...}}` or `{"error":{"code":N,"message":"…"}}`
//! with HTTP 200; `batch` answers with top-level `{"replies":[...]}`; an
//! undecodable body is HTTP 400, an unknown method HTTP 404.

mod job;
mod requests;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

pub(crate) use job::{render, response, BatchCommand, Piece, PieceResult, Shape};
pub use job::{ApiOutcome, ApiTicket};
pub(crate) use requests::SubscribeReq;
use requests::*;

use crate::broker::{PresenceEntry, PresenceStats};
use crate::engine::state::Render;
use crate::engine::BrokerRequest;
use crate::history::{HistoryResult, PublicationParts, StreamPosition};
use crate::hub::{ConnId, Hub};
use crate::hub::{Held, Publishing};
use crate::protocol::json::JsonWriter;
use crate::protocol::reply::{self, SubscribeResult};
use crate::protocol::{Disconnect, ErrorCode, HistoryRequest, UnsubscribeCode};
use crate::time::Timestamp;

/// An HTTP response for the IO layer to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status: 200, 400 (undecodable body) or 404 (unknown method).
    pub status: u16,
    /// `application/json` for 200, plain text otherwise.
    pub body: Bytes,
}

#[derive(Debug)]
pub(crate) enum ApiError {
    Code(ErrorCode),
    BadBody(String),
    UnknownMethod,
}

impl ApiError {
    /// The error code an answer item carries.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            ApiError::Code(c) => c.clone(),
            ApiError::BadBody(_) => ErrorCode::BAD_REQUEST,
            ApiError::UnknownMethod => ErrorCode::METHOD_NOT_FOUND,
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(e: ErrorCode) -> Self {
        ApiError::Code(e)
    }
}

type ApiResult = Result<Vec<u8>, ApiError>;

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiError::BadBody(e.to_string()))
}

pub(crate) fn obj(f: impl FnOnce(&mut JsonWriter)) -> Vec<u8> {
    let mut w = JsonWriter::with_capacity(64);
    w.open();
    f(&mut w);
    w.close();
    w.finish()
}

pub(crate) fn error_obj(e: &ErrorCode) -> Vec<u8> {
    obj(|w| reply::write_error(w, e))
}

/// The server API's methods, as `POST /api/<method>` names them.
pub const METHODS: [&str; 13] = [
    "publish",
    "broadcast",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "refresh",
    "presence",
    "presence_stats",
    "history",
    "history_remove",
    "channels",
    "info",
    "batch",
];

/// Options of an in-process publish ([`Hub::publish`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PublishOptions {
    /// Do not keep this publication in history.
    pub skip_history: bool,
    /// Tags delivered with the publication.
    pub tags: Option<BTreeMap<String, String>>,
    /// A repeated publish with this key within 5 minutes is accepted but
    /// not delivered again.
    pub idempotency_key: Option<String>,
}

impl Hub {
    /// Runs a server API method on a request body.
    ///
    /// On a hub with a remote engine, answers that wait for the engine are
    /// lost here (error 100): such a hub is driven through
    /// [`api_request`](Hub::api_request).
    ///
    /// ```
    /// use pushwire_hub::{Hub, HubConfig, Timestamp};
    /// let mut hub = Hub::new(HubConfig::default(), [0; 32], Timestamp::from_secs(1)).unwrap();
    /// let r = hub.api(Timestamp::from_secs(1), "publish", br#"{"channel":"news","data":{"x":1}}"#);
    /// assert_eq!((r.status, &r.body[..]), (200, &br#"{"result":{}}"#[..]));
    /// let r = hub.api(Timestamp::from_secs(1), "publish", br#"{"channel":"no:such","data":1}"#);
    /// assert_eq!(&r.body[..], br#"{"error":{"code":102,"message":"unknown channel"}}"#);
    /// ```
    pub fn api(&mut self, now: Timestamp, method: &str, body: &[u8]) -> ApiResponse {
        match self.api_request(now, method, body) {
            ApiOutcome::Done(r) => r,
            ApiOutcome::Pending(t) => {
                self.abandon_api(t);
                error_response(ApiError::Code(ErrorCode::INTERNAL))
            }
        }
    }

    /// Runs a server API method on a request body: the answer now, or a
    /// ticket for an answer that waits for the remote engine (it comes out
    /// of [`poll_api`](Hub::poll_api)). On the in-memory engine every
    /// answer is immediate.
    pub fn api_request(&mut self, now: Timestamp, method: &str, body: &[u8]) -> ApiOutcome {
        let mut pieces = Vec::new();
        if method == "batch" {
            let (mut rest, parallel): (VecDeque<BatchCommand>, bool) = match parse::<BatchReq>(body)
            {
                Ok(r) => (
                    r.commands.into_iter().map(BatchCommand::from).collect(),
                    r.parallel,
                ),
                Err(e) => return ApiOutcome::Done(error_response(e)),
            };
            let mut items = Vec::with_capacity(rest.len());
            self.batch_step(now, &mut rest, &mut items, &mut pieces, parallel);
            return self.settle_api(Shape::Batch(items), pieces, rest);
        }
        let shape = self.api_call(now, method, body, &mut pieces);
        self.settle_api(shape, pieces, VecDeque::new())
    }

    /// Publishes `data` (JSON) into `channel` from the application itself,
    /// without HTTP. Returns the stream position when the channel keeps
    /// history (on a remote engine the position is not waited for: `None`).
    ///
    /// ```
    /// use pushwire_hub::{Hub, HubConfig, Timestamp, api::PublishOptions};
    /// let mut hub = Hub::new(HubConfig::default(), [0; 32], Timestamp::from_secs(1)).unwrap();
    /// let data = serde_json::value::RawValue::from_string("{\"x\":1}".into()).unwrap();
    /// assert!(hub.publish(Timestamp::from_secs(1), "news", &data, &PublishOptions::default()).is_ok());
    /// ```
    pub fn publish(
        &mut self,
        now: Timestamp,
        channel: &str,
        data: &RawValue,
        opts: &PublishOptions,
    ) -> Result<Option<StreamPosition>, ErrorCode> {
        let r = self.api_publish(
            now,
            channel,
            data.get().as_bytes(),
            opts.skip_history,
            opts.tags.as_ref(),
            opts.idempotency_key.clone(),
        )?;
        Ok(match r {
            Publishing::Done(r) => r.position,
            Publishing::Sent(_) => None,
        })
    }

    fn api_publish(
        &mut self,
        now: Timestamp,
        channel: &str,
        data: &[u8],
        skip_history: bool,
        tags: Option<&BTreeMap<String, String>>,
        idempotency_key: Option<String>,
    ) -> Result<Publishing, ErrorCode> {
        let (_, opts) = self.namespaces.resolve(channel)?;
        let opts = opts.clone();
        let parts = PublicationParts {
            channel,
            data,
            info: None,
            tags,
        };
        self.publish_parts(now, channel, &opts, parts, skip_history, idempotency_key)
    }

    /// Runs one method, adding its pieces to `out`.
    fn api_call(
        &mut self,
        now: Timestamp,
        method: &str,
        body: &[u8],
        out: &mut Vec<Piece>,
    ) -> Shape {
        match method {
            "publish" => {
                let piece = match parse::<PublishReq>(body) {
                    Err(e) => Piece::Ready(Err(e)),
                    Ok(r) => match r.data {
                        None => Piece::Ready(Err(ErrorCode::BAD_REQUEST.into())),
                        Some(data) => publish_piece(self.api_publish(
                            now,
                            &r.channel,
                            data.get().as_bytes(),
                            r.skip_history,
                            r.tags.as_ref(),
                            r.idempotency_key,
                        )),
                    },
                };
                out.push(piece);
                Shape::One
            }
            "broadcast" => {
                let r = match parse::<BroadcastReq>(body) {
                    Ok(r) => r,
                    Err(e) => {
                        out.push(Piece::Ready(Err(e)));
                        return Shape::One;
                    }
                };
                let Some(data) = r.data else {
                    out.push(Piece::Ready(Err(ErrorCode::BAD_REQUEST.into())));
                    return Shape::One;
                };
                for ch in &r.channels {
                    out.push(publish_piece(self.api_publish(
                        now,
                        ch,
                        data.get().as_bytes(),
                        r.skip_history,
                        r.tags.as_ref(),
                        r.idempotency_key.clone(),
                    )));
                }
                Shape::Broadcast(r.channels.len())
            }
            "presence" | "presence_stats" | "history" | "history_remove" => {
                out.push(self.api_read(now, method, body));
                Shape::One
            }
            "channels" => {
                out.push(match parse::<ChannelsReq>(body) {
                    Ok(r) => self.channels_piece(now, r.pattern),
                    Err(e) => Piece::Ready(Err(e)),
                });
                Shape::One
            }
            "subscribe" | "unsubscribe" | "disconnect" | "refresh" if self.remote.is_some() => {
                // Every node acts on its own connections of the user.
                out.push(Piece::Ready(self.api_to_every_node(method, body)));
                Shape::One
            }
            _ => {
                out.push(Piece::Ready(self.api_local(now, method, body)));
                Shape::One
            }
        }
    }

    /// `presence`, `presence_stats`, `history` and `history_remove`: read
    /// from the in-memory broker now, or from the remote engine later.
    fn api_read(&mut self, now: Timestamp, method: &str, body: &[u8]) -> Piece {
        let (req, render) = match self.api_read_request(method, body) {
            Ok(r) => r,
            Err(e) => return Piece::Ready(Err(e)),
        };
        if let Some(remote) = self.remote.as_mut() {
            if let BrokerRequest::RemoveHistory { channel } = &req {
                // Every node's mirror forgets the publications too.
                let mut message = b"history_remove\n".to_vec();
                message.extend_from_slice(channel.as_bytes());
                remote.request(
                    BrokerRequest::Control {
                        message: message.into(),
                    },
                    None,
                );
            }
            return Piece::Wait(remote.request(req, None), render);
        }
        let result = match req {
            BrokerRequest::Presence { channel } => {
                Ok(presence_obj(&self.broker.presence(&channel)))
            }
            BrokerRequest::PresenceStats { channel } => {
                Ok(stats_obj(self.broker.presence_stats(&channel)))
            }
            BrokerRequest::History {
                channel,
                query,
                meta_ttl,
            } => self
                .broker
                .history(now, &channel, &query, meta_ttl)
                .map(|r| history_obj(&r))
                .map_err(Into::into),
            BrokerRequest::RemoveHistory { channel } => {
                self.broker.remove_history(now, &channel);
                Ok(b"{}".to_vec())
            }
            _ => Err(ErrorCode::INTERNAL.into()),
        };
        Piece::Ready(result)
    }

    /// Checks a read method's request and names what it needs.
    fn api_read_request(
        &self,
        method: &str,
        body: &[u8],
    ) -> Result<(BrokerRequest, Render), ApiError> {
        if method == "history" {
            let r: HistoryRequest = parse(body)?;
            let channel = r.channel.clone().unwrap_or_default();
            let (_, opts) = self.namespaces.resolve(&channel)?;
            if !opts.history_enabled() {
                return Err(ErrorCode::NOT_AVAILABLE.into());
            }
            let meta_ttl = opts.history_meta_ttl;
            let query = crate::hub::history_query(&r, usize::MAX)?;
            let req = BrokerRequest::History {
                channel: channel.into(),
                query,
                meta_ttl,
            };
            return Ok((req, Render::History));
        }
        let r: ChannelReq = parse(body)?;
        let (_, opts) = self.namespaces.resolve(&r.channel)?;
        let channel: Arc<str> = r.channel.into();
        Ok(match method {
            "history_remove" if opts.history_enabled() => {
                (BrokerRequest::RemoveHistory { channel }, Render::Empty)
            }
            "presence" if opts.presence => (BrokerRequest::Presence { channel }, Render::Presence),
            "presence_stats" if opts.presence => (
                BrokerRequest::PresenceStats { channel },
                Render::PresenceStats,
            ),
            _ => return Err(ErrorCode::NOT_AVAILABLE.into()),
        })
    }

    /// The methods answered from this node's own state.
    fn api_local(&mut self, now: Timestamp, method: &str, body: &[u8]) -> ApiResult {
        match method {
            "subscribe" => {
                let r: SubscribeReq = parse(body)?;
                self.api_subscribe(now, r)?;
                Ok(b"{}".to_vec())
            }
            "unsubscribe" => {
                let r: UnsubscribeReq = parse(body)?;
                self.namespaces.resolve(&r.channel)?;
                let ch: Arc<str> = r.channel.as_str().into();
                for conn in self.targets(&r.user, &r.client, &r.session) {
                    self.remove_subscription(conn, &ch, Some(UnsubscribeCode::Server));
                }
                Ok(b"{}".to_vec())
            }
            "disconnect" => {
                let r: DisconnectReq = parse(body)?;
                let d = match r.disconnect {
                    Some(d) => Disconnect {
                        code: d.code,
                        reason: d.reason,
                    },
                    None => Disconnect::new(Disconnect::FORCE_DISCONNECT),
                };
                for conn in self.targets(&r.user, &r.client, &r.session) {
                    let whitelisted = self
                        .client_id(conn)
                        .is_some_and(|id| r.whitelist.iter().any(|w| w == id));
                    if !whitelisted {
                        self.disconnect_conn(conn, d.clone());
                    }
                }
                Ok(b"{}".to_vec())
            }
            "refresh" => {
                let r: RefreshReq = parse(body)?;
                self.api_refresh(now, r);
                Ok(b"{}".to_vec())
            }
            "info" => Ok(self.info_result(now)),
            _ => Err(ApiError::UnknownMethod),
        }
    }

    /// A user-targeted method on a remote engine: checked here, then sent
    /// to every node (this one included) as a control message.
    fn api_to_every_node(&mut self, method: &str, body: &[u8]) -> ApiResult {
        let channel = match method {
            "subscribe" => Some(parse::<SubscribeReq>(body)?.channel),
            "unsubscribe" => Some(parse::<UnsubscribeReq>(body)?.channel),
            "disconnect" => parse::<DisconnectReq>(body).map(|_| None)?,
            _ => parse::<RefreshReq>(body).map(|_| None)?,
        };
        if let Some(ch) = channel {
            self.namespaces.resolve(&ch)?;
        }
        let mut message = Vec::with_capacity(method.len() + 1 + body.len());
        message.extend_from_slice(method.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(body);
        if let Some(remote) = self.remote.as_mut() {
            remote.request(
                BrokerRequest::Control {
                    message: message.into(),
                },
                None,
            );
        }
        Ok(b"{}".to_vec())
    }

    /// Runs a control message that another node (or this one) sent:
    /// `<method>\n<body>` for a user-targeted method, or a message about
    /// the nodes and `channels` surveys. Unknown messages are ignored.
    pub fn handle_broker_control(&mut self, now: Timestamp, message: &[u8]) {
        let Some(split) = message.iter().position(|&b| b == b'\n') else {
            return;
        };
        let (method, body) = (&message[..split], &message[split + 1..]);
        match std::str::from_utf8(method) {
            Ok(method @ ("subscribe" | "unsubscribe" | "disconnect" | "refresh")) => {
                let _ = self.api_local(now, method, body);
            }
            Ok("history_remove") => {
                if let Ok(channel) = std::str::from_utf8(body) {
                    self.forget_mirrored_history(channel);
                }
            }
            Ok(kind) => self.handle_cluster_control(now, kind, body),
            Err(_) => {}
        }
    }

    /// Runs a batch's commands in order until one waits for the engine
    /// (the rest then runs once it is answered: a batch is sequential), or
    /// all of them at once when `parallel`. Consecutive publishes are the
    /// exception: they go to the engine together, which carries them out
    /// in order, so publications into one channel still get their offsets
    /// in the batch's order; the first other command waits for them.
    pub(crate) fn batch_step(
        &mut self,
        now: Timestamp,
        rest: &mut VecDeque<BatchCommand>,
        items: &mut Vec<(String, Shape)>,
        out: &mut Vec<Piece>,
        parallel: bool,
    ) {
        let mut publishes_waiting = false;
        while let Some(cmd) = rest.pop_front() {
            if publishes_waiting && !cmd.is_publish() {
                rest.push_front(cmd);
                return;
            }
            let first = out.len();
            let Some((method, params)) = cmd.0 else {
                out.push(Piece::Ready(Err(ErrorCode::BAD_REQUEST.into())));
                items.push((String::new(), Shape::One));
                continue;
            };
            let shape = if method == "batch" {
                out.push(Piece::Ready(Err(ApiError::UnknownMethod)));
                Shape::One
            } else {
                self.api_call(now, &method, params.get().as_bytes(), out)
            };
            let waits = out[first..].iter().any(|p| matches!(p, Piece::Wait(..)));
            let publish = method == "publish";
            items.push((method, shape));
            if !parallel && waits {
                if !publish {
                    return;
                }
                publishes_waiting = true;
            }
        }
    }

    /// The connections of `user`, narrowed to one client id or session when given.
    fn targets(&self, user: &str, client: &str, session: &str) -> Vec<ConnId> {
        self.users
            .get(user)
            .iter()
            .copied()
            .filter(|&c| {
                let Some(cl) = self.client(c) else {
                    return false;
                };
                (client.is_empty() || &*cl.id == client)
                    && (session.is_empty() || cl.session == session)
            })
            .collect()
    }

    fn api_subscribe(&mut self, now: Timestamp, r: SubscribeReq) -> Result<(), ErrorCode> {
        self.namespaces.resolve(&r.channel)?;
        for conn in self.targets(&r.user, &r.client, &r.session) {
            self.api_subscribe_conn(now, conn, &r);
        }
        Ok(())
    }

    /// Subscribes one connection for the server API, in turn with its
    /// waiting commands.
    fn api_subscribe_conn(&mut self, now: Timestamp, conn: ConnId, r: &SubscribeReq) {
        if self.must_hold(conn) {
            self.hold(conn, Held::ServerSubscribe(r.clone()));
            return;
        }
        self.server_subscribe(now, conn, r);
    }

    /// A server-side subscription made through the server API, once it is
    /// the connection's turn (waiting for the channel's link on a remote
    /// engine).
    pub(crate) fn server_subscribe(&mut self, now: Timestamp, conn: ConnId, r: &SubscribeReq) {
        if self.wait_for_links(now, conn, [r.channel.as_str()]) {
            self.hold_first(conn, Held::ServerSubscribe(r.clone()));
            return;
        }
        let params = crate::hub::SubParams {
            server_side: true,
            recover: r.recover_since.as_ref().map(|s| StreamPosition {
                offset: s.offset.unwrap_or(0),
                epoch: s.epoch.clone().unwrap_or_default(),
            }),
            want_recoverable: false,
            want_positioned: false,
            want_join_leave: false,
            expires: r.expire_at.filter(|&e| e > 0).map(Timestamp::from_secs),
            chan_info: r
                .info
                .as_ref()
                .map(|i| Bytes::copy_from_slice(i.get().as_bytes())),
            data: r
                .data
                .as_ref()
                .map(|d| Bytes::copy_from_slice(d.get().as_bytes())),
        };
        let Ok((mut result, join)) = self.add_subscription(now, conn, &r.channel, params) else {
            return;
        };
        let pubs = std::mem::take(&mut result.publications);
        let push = reply::push_subscribe(&r.channel, &SubscribeResult { ..result });
        self.send(conn, push);
        for p in pubs {
            self.send(conn, reply::push_pub(&r.channel, &p));
        }
        if let Some((ch, info)) = join {
            self.emit_join(&ch, &info, conn);
        }
        // The subscription may expire before anything else is due.
        self.schedule(conn);
    }

    fn api_refresh(&mut self, now: Timestamp, r: RefreshReq) {
        let info = r.info.map(|i| Bytes::copy_from_slice(i.get().as_bytes()));
        for conn in self.targets(&r.user, &r.client, &r.session) {
            if r.expired {
                self.disconnect(conn, Disconnect::EXPIRED, false);
                continue;
            }
            let Some(c) = self.client_mut(conn) else {
                continue;
            };
            if let Some(i) = &info {
                c.conn_info = Some(i.clone());
            }
            if let Some(e) = r.expire_at {
                c.expires = (e > 0).then(|| Timestamp::from_secs(e));
                let uni = c.transport.is_unidirectional();
                let expires = c.expires;
                if uni {
                    let ttl = expires.map_or(0, |e| crate::hub::ttl_secs(e, now));
                    self.send(conn, reply::push_refresh(expires.is_some(), ttl));
                }
                self.schedule(conn);
            }
        }
    }
}

fn publish_piece(r: Result<Publishing, ErrorCode>) -> Piece {
    match r {
        Ok(Publishing::Done(r)) => Piece::Ready(Ok(position_obj(r.position.as_ref()))),
        Ok(Publishing::Sent(t)) => Piece::Wait(t, Render::Publish),
        Err(e) => Piece::Ready(Err(e.into())),
    }
}

pub(crate) fn presence_obj(entries: &[PresenceEntry]) -> Vec<u8> {
    obj(|w| {
        w.key("presence");
        reply::write_presence_map(w, entries.iter().map(|e| (&*e.client, &e.info[..])));
    })
}

pub(crate) fn stats_obj(s: PresenceStats) -> Vec<u8> {
    obj(|w| {
        w.u64("num_clients", s.num_clients);
        w.u64("num_users", s.num_users);
    })
}

pub(crate) fn history_obj(res: &HistoryResult) -> Vec<u8> {
    obj(|w| {
        w.raw_array("publications", res.publications.iter().map(|p| &p.json[..]));
        w.str_nonempty("epoch", &res.position.epoch);
        w.u64_nonzero("offset", res.position.offset);
    })
}

pub(crate) fn position_obj(p: Option<&StreamPosition>) -> Vec<u8> {
    obj(|w| {
        if let Some(p) = p {
            w.u64_nonzero("offset", p.offset);
            w.str_nonempty("epoch", &p.epoch);
        }
    })
}

pub(crate) fn error_response(e: ApiError) -> ApiResponse {
    match e {
        ApiError::Code(c) => {
            let mut b = b"{\"error\":".to_vec();
            b.extend_from_slice(&error_obj(&c));
            b.push(b'}');
            ApiResponse {
                status: 200,
                body: b.into(),
            }
        }
        ApiError::BadBody(msg) => ApiResponse {
            status: 400,
            body: format!("bad request: {msg}").into(),
        },
        ApiError::UnknownMethod => ApiResponse {
            status: 404,
            body: "unknown method".into(),
        },
    }
}
