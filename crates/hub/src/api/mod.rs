//! The server API's logic: `POST /api/<method>` bodies in, response bodies
//! out. The IO layer does only HTTP: the key check (`X-API-Key`, 401), reading
//! the body, and writing [`ApiResponse`].
//!
//! Responses are `{"result":{...}}` or `{"error":{"code":N,"message":"…"}}`
//! with HTTP 200; `batch` answers with top-level `{"replies":[...]}`; an
//! undecodable body is HTTP 400, an unknown method HTTP 404.

mod requests;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use requests::*;

use crate::broker::PublishResult;
use crate::channel::glob_match;
use crate::history::{HistoryQuery, PublicationParts, StreamPosition};
use crate::hub::{ConnId, Hub, VERSION};
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

enum ApiError {
    Code(ErrorCode),
    BadBody(String),
    UnknownMethod,
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

fn obj(f: impl FnOnce(&mut JsonWriter)) -> Vec<u8> {
    let mut w = JsonWriter::with_capacity(64);
    w.open();
    f(&mut w);
    w.close();
    w.finish()
}

fn error_obj(e: &ErrorCode) -> Vec<u8> {
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
    /// ```
    /// use pushwire_hub::{Hub, HubConfig, Timestamp};
    /// let mut hub = Hub::new(HubConfig::default(), [0; 32], Timestamp::from_secs(1)).unwrap();
    /// let r = hub.api(Timestamp::from_secs(1), "publish", br#"{"channel":"news","data":{"x":1}}"#);
    /// assert_eq!((r.status, &r.body[..]), (200, &br#"{"result":{}}"#[..]));
    /// let r = hub.api(Timestamp::from_secs(1), "publish", br#"{"channel":"no:such","data":1}"#);
    /// assert_eq!(&r.body[..], br#"{"error":{"code":102,"message":"unknown channel"}}"#);
    /// ```
    pub fn api(&mut self, now: Timestamp, method: &str, body: &[u8]) -> ApiResponse {
        if method == "batch" {
            return match self.batch(now, body) {
                Ok(b) => ApiResponse {
                    status: 200,
                    body: b.into(),
                },
                Err(e) => error_response(e),
            };
        }
        match self.api_call(now, method, body) {
            Ok(result) => {
                let mut b = Vec::with_capacity(result.len() + 11);
                b.extend_from_slice(b"{\"result\":");
                b.extend_from_slice(&result);
                b.push(b'}');
                ApiResponse {
                    status: 200,
                    body: b.into(),
                }
            }
            Err(e) => error_response(e),
        }
    }

    /// Publishes `data` (JSON) into `channel` from the application itself,
    /// without HTTP. Returns the stream position when the channel keeps
    /// history.
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
        Ok(r.position)
    }

    fn api_publish(
        &mut self,
        now: Timestamp,
        channel: &str,
        data: &[u8],
        skip_history: bool,
        tags: Option<&BTreeMap<String, String>>,
        idempotency_key: Option<String>,
    ) -> Result<PublishResult, ErrorCode> {
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

    fn api_call(&mut self, now: Timestamp, method: &str, body: &[u8]) -> ApiResult {
        match method {
            "publish" => {
                let r: PublishReq = parse(body)?;
                let data = r.data.ok_or(ErrorCode::BAD_REQUEST)?;
                let res = self.api_publish(
                    now,
                    &r.channel,
                    data.get().as_bytes(),
                    r.skip_history,
                    r.tags.as_ref(),
                    r.idempotency_key,
                )?;
                Ok(position_obj(res.position.as_ref()))
            }
            "broadcast" => {
                let r: BroadcastReq = parse(body)?;
                let data = r.data.ok_or(ErrorCode::BAD_REQUEST)?;
                let mut responses = Vec::with_capacity(r.channels.len());
                for ch in &r.channels {
                    let res = self.api_publish(
                        now,
                        ch,
                        data.get().as_bytes(),
                        r.skip_history,
                        r.tags.as_ref(),
                        r.idempotency_key.clone(),
                    );
                    let mut item = Vec::new();
                    match res {
                        Ok(p) => {
                            item.extend_from_slice(b"{\"result\":");
                            item.extend_from_slice(&position_obj(p.position.as_ref()));
                        }
                        Err(e) => {
                            item.extend_from_slice(b"{\"error\":");
                            item.extend_from_slice(&error_obj(&e));
                        }
                    }
                    item.push(b'}');
                    responses.push(item);
                }
                Ok(obj(|w| {
                    w.raw_array("responses", responses.iter().map(|r| &r[..]));
                }))
            }
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
            "presence" => {
                let r: ChannelReq = parse(body)?;
                let (_, opts) = self.namespaces.resolve(&r.channel)?;
                if !opts.presence {
                    return Err(ErrorCode::NOT_AVAILABLE.into());
                }
                let entries = self.broker.presence(&r.channel);
                Ok(obj(|w| {
                    w.key("presence");
                    reply::write_presence_map(w, entries.iter().map(|e| (&*e.client, &e.info[..])));
                }))
            }
            "presence_stats" => {
                let r: ChannelReq = parse(body)?;
                let (_, opts) = self.namespaces.resolve(&r.channel)?;
                if !opts.presence {
                    return Err(ErrorCode::NOT_AVAILABLE.into());
                }
                let s = self.broker.presence_stats(&r.channel);
                Ok(obj(|w| {
                    w.u64("num_clients", s.num_clients);
                    w.u64("num_users", s.num_users);
                }))
            }
            "history" => {
                let r: HistoryRequest = parse(body)?;
                let channel = r.channel.clone().unwrap_or_default();
                let (_, opts) = self.namespaces.resolve(&channel)?;
                if !opts.history_enabled() {
                    return Err(ErrorCode::NOT_AVAILABLE.into());
                }
                let meta_ttl = opts.history_meta_ttl;
                let q: HistoryQuery = crate::hub::history_query(&r, usize::MAX)?;
                let res = self.broker.history(now, &channel, &q, meta_ttl)?;
                Ok(obj(|w| {
                    w.raw_array("publications", res.publications.iter().map(|p| &p.json[..]));
                    w.str_nonempty("epoch", &res.position.epoch);
                    w.u64_nonzero("offset", res.position.offset);
                }))
            }
            "history_remove" => {
                let r: ChannelReq = parse(body)?;
                let (_, opts) = self.namespaces.resolve(&r.channel)?;
                if !opts.history_enabled() {
                    return Err(ErrorCode::NOT_AVAILABLE.into());
                }
                self.broker.remove_history(now, &r.channel);
                Ok(b"{}".to_vec())
            }
            "channels" => {
                let r: ChannelsReq = parse(body)?;
                let mut names: Vec<(&str, usize)> = self
                    .channels
                    .values()
                    .filter(|c| r.pattern.is_empty() || glob_match(&r.pattern, &c.name))
                    .map(|c| (&*c.name, c.subscribers.len()))
                    .collect();
                names.sort_unstable();
                Ok(obj(|w| {
                    w.open_key("channels");
                    for (name, n) in names {
                        w.key_escaped(name);
                        w.open();
                        w.u64("num_clients", n as u64);
                        w.close();
                    }
                    w.close();
                }))
            }
            "info" => {
                let connected = self.users.values().map(Vec::len).sum::<usize>() as u64;
                let uptime = now.saturating_since(self.started).as_secs();
                Ok(obj(|w| {
                    w.key("nodes");
                    w.buf.push(b'[');
                    w.open();
                    w.str("uid", &self.node_id);
                    w.str("name", "pushwire");
                    w.str("version", VERSION);
                    w.u64("num_clients", connected);
                    w.u64("num_users", self.users.len() as u64);
                    w.u64("num_subs", self.stats.subscriptions);
                    w.u64("num_channels", self.channels.len() as u64);
                    w.u64("uptime", uptime);
                    w.close();
                    w.buf.push(b']');
                }))
            }
            _ => Err(ApiError::UnknownMethod),
        }
    }

    fn batch(&mut self, now: Timestamp, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let r: BatchReq = parse(body)?;
        let mut replies = Vec::with_capacity(r.commands.len());
        for cmd in &r.commands {
            let mut item = Vec::new();
            let Some((method, params)) = cmd.iter().next() else {
                item.extend_from_slice(b"{\"error\":");
                item.extend_from_slice(&error_obj(&ErrorCode::BAD_REQUEST));
                item.push(b'}');
                replies.push(item);
                continue;
            };
            let res = if method == "batch" {
                Err(ApiError::UnknownMethod)
            } else {
                self.api_call(now, method, params.get().as_bytes())
            };
            item.push(b'{');
            match res {
                Ok(result) => {
                    crate::protocol::json::write_str(&mut item, method);
                    item.push(b':');
                    item.extend_from_slice(&result);
                }
                Err(e) => {
                    let code = match e {
                        ApiError::Code(c) => c,
                        ApiError::BadBody(_) => ErrorCode::BAD_REQUEST,
                        ApiError::UnknownMethod => ErrorCode::METHOD_NOT_FOUND,
                    };
                    item.extend_from_slice(b"\"error\":");
                    item.extend_from_slice(&error_obj(&code));
                }
            }
            item.push(b'}');
            replies.push(item);
        }
        Ok(obj(|w| {
            w.raw_array("replies", replies.iter().map(|r| &r[..]));
        }))
    }

    /// The connections of `user`, narrowed to one client id or session when given.
    fn targets(&self, user: &str, client: &str, session: &str) -> Vec<ConnId> {
        let Some(list) = self.users.get(user) else {
            return Vec::new();
        };
        list.iter()
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
        let info = r.info.map(|i| Bytes::copy_from_slice(i.get().as_bytes()));
        let data = r.data.map(|d| Bytes::copy_from_slice(d.get().as_bytes()));
        for conn in self.targets(&r.user, &r.client, &r.session) {
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
                chan_info: info.clone(),
                data: data.clone(),
            };
            let Ok((mut result, join)) = self.add_subscription(now, conn, &r.channel, params)
            else {
                continue;
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
        Ok(())
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

fn position_obj(p: Option<&StreamPosition>) -> Vec<u8> {
    obj(|w| {
        if let Some(p) = p {
            w.u64_nonzero("offset", p.offset);
            w.str_nonempty("epoch", &p.epoch);
        }
    })
}

fn error_response(e: ApiError) -> ApiResponse {
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
