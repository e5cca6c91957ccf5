//! Replies and pushes, encoded by hand with Centrifuge's omitempty rules: the
//! result key is always present (`{"id":4,"publish":{}}`), `num_clients` and
//! `num_users` always, ClientInfo's `user` and `client` always; other empty or
//! zero fields are left out.
//!
//! A push is encoded wrapped (`{"push":{...}}`) for bidirectional transports;
//! [`unwrap_push`] gives the bare push that unidirectional transports send,
//! as a slice of the same bytes.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::codes::{Disconnect, ErrorCode, UnsubscribeCode};
use super::json::JsonWriter;

/// `{"id":N,"<method>":<result>}`: `result` writes the result object.
pub(crate) fn reply(id: u32, method: &str, result: impl FnOnce(&mut JsonWriter)) -> Bytes {
    let mut w = JsonWriter::with_capacity(64);
    w.open();
    w.u64_nonzero("id", u64::from(id));
    w.open_key(method);
    result(&mut w);
    w.close();
    w.close();
    Bytes::from(w.finish())
}

/// `{"id":N,"<method>":{}}`
pub(crate) fn empty_reply(id: u32, method: &str) -> Bytes {
    reply(id, method, |_| {})
}

/// `{"id":N,"error":{"code":..,"message":..}}`
pub(crate) fn error_reply(id: u32, e: &ErrorCode) -> Bytes {
    let mut w = JsonWriter::with_capacity(64);
    w.open();
    w.u64_nonzero("id", u64::from(id));
    w.open_key("error");
    write_error(&mut w, e);
    w.close();
    w.close();
    Bytes::from(w.finish())
}

pub(crate) fn write_error(w: &mut JsonWriter, e: &ErrorCode) {
    w.u64("code", u64::from(e.code));
    w.str("message", e.message);
    w.bool_true("temporary", e.temporary);
}

/// The server ping: an empty reply.
pub(crate) const PING: &[u8] = b"{}";

/// A subscription's result (subscribe reply, connect `subs` entries).
#[derive(Debug, Default, Clone)]
pub(crate) struct SubscribeResult {
    pub expires: bool,
    pub ttl: u64,
    pub recoverable: bool,
    pub epoch: String,
    pub offset: u64,
    pub positioned: bool,
    pub publications: Vec<Bytes>,
    pub recovered: bool,
    pub was_recovering: bool,
    pub data: Option<Bytes>,
}

impl SubscribeResult {
    /// Writes the fields (inside an open object).
    pub(crate) fn write(&self, w: &mut JsonWriter) {
        w.bool_true("expires", self.expires);
        w.u64_nonzero("ttl", self.ttl);
        w.bool_true("recoverable", self.recoverable);
        w.str_nonempty("epoch", &self.epoch);
        if !self.publications.is_empty() {
            w.raw_array("publications", self.publications.iter().map(|p| &p[..]));
        }
        w.bool_true("recovered", self.recovered);
        w.u64_nonzero("offset", self.offset);
        w.bool_true("positioned", self.positioned);
        w.raw_opt("data", self.data.as_deref());
        w.bool_true("was_recovering", self.was_recovering);
    }
}

/// A publication push `{"push":{"channel":..,"pub":{...}}}` and, as a slice
/// of the same buffer, the publication object inside it. One allocation and
/// one copy of the data per publication, whatever the number of subscribers.
pub(crate) fn publication_push(
    channel: &str,
    data: &[u8],
    info: Option<&[u8]>,
    offset: u64,
    tags: Option<&BTreeMap<String, String>>,
) -> (Bytes, Bytes) {
    let len = data.len() + info.map_or(0, <[u8]>::len) + channel.len() + 80;
    let mut w = JsonWriter::with_capacity(len);
    w.open();
    w.open_key("push");
    w.str("channel", channel);
    w.key("pub");
    let start = w.buf.len();
    w.open();
    w.raw("data", data);
    w.raw_opt("info", info);
    w.u64_nonzero("offset", offset);
    if let Some(tags) = tags.filter(|t| !t.is_empty()) {
        w.open_key("tags");
        for (k, v) in tags {
            w.key_escaped(k);
            super::json::write_str(&mut w.buf, v);
        }
        w.close();
    }
    w.close();
    let end = w.buf.len();
    w.close();
    w.close();
    let push = Bytes::from(w.finish());
    let publication = push.slice(start..end);
    (push, publication)
}

/// ClientInfo `{"user":..,"client":..,"conn_info":..,"chan_info":..}`.
pub(crate) fn client_info(
    user: &str,
    client: &str,
    conn_info: Option<&[u8]>,
    chan_info: Option<&[u8]>,
) -> Bytes {
    let mut w = JsonWriter::with_capacity(64);
    w.open();
    w.str("user", user);
    w.str("client", client);
    w.raw_opt("conn_info", conn_info);
    w.raw_opt("chan_info", chan_info);
    w.close();
    Bytes::from(w.finish())
}

/// `{"push":{"channel":"c","<kind>":<body>}}` with `body` written by the closure.
fn push(channel: Option<&str>, kind: &str, body: impl FnOnce(&mut JsonWriter)) -> Bytes {
    push_sized(channel, kind, 64, body)
}

fn push_sized(
    channel: Option<&str>,
    kind: &str,
    body_len: usize,
    body: impl FnOnce(&mut JsonWriter),
) -> Bytes {
    let mut w = JsonWriter::with_capacity(body_len + channel.map_or(0, str::len) + 40);
    w.open();
    w.open_key("push");
    if let Some(c) = channel {
        w.str("channel", c);
    }
    w.key(kind);
    body(&mut w);
    w.close();
    w.close();
    Bytes::from(w.finish())
}

/// The bare push inside `{"push":...}`, for unidirectional transports: a
/// slice of the same buffer, no copy.
///
/// ```
/// # use bytes::Bytes;
/// let p = Bytes::from_static(br#"{"push":{"channel":"c","pub":{"data":1}}}"#);
/// assert_eq!(&pushwire_hub::protocol::unwrap_push(&p)[..], br#"{"channel":"c","pub":{"data":1}}"#);
/// ```
pub fn unwrap_push(wrapped: &Bytes) -> Bytes {
    const HEAD: &[u8] = b"{\"push\":";
    if wrapped.starts_with(HEAD) && wrapped.ends_with(b"}") {
        wrapped.slice(HEAD.len()..wrapped.len() - 1)
    } else {
        wrapped.clone()
    }
}

pub(crate) fn push_pub(channel: &str, publication: &[u8]) -> Bytes {
    push(Some(channel), "pub", |w| {
        w.buf.extend_from_slice(publication)
    })
}

pub(crate) fn push_join(channel: &str, info: &[u8]) -> Bytes {
    push(Some(channel), "join", |w| {
        w.open();
        w.raw("info", info);
        w.close();
    })
}

pub(crate) fn push_leave(channel: &str, info: &[u8]) -> Bytes {
    push(Some(channel), "leave", |w| {
        w.open();
        w.raw("info", info);
        w.close();
    })
}

pub(crate) fn push_unsubscribe(channel: &str, code: UnsubscribeCode) -> Bytes {
    push(Some(channel), "unsubscribe", |w| {
        w.open();
        w.u64_nonzero("code", u64::from(code.code()));
        w.str("reason", code.reason());
        w.close();
    })
}

pub(crate) fn push_subscribe(channel: &str, result: &SubscribeResult) -> Bytes {
    push(Some(channel), "subscribe", |w| {
        w.open();
        result.write(w);
        w.close();
    })
}

pub(crate) fn push_disconnect(d: &Disconnect) -> Bytes {
    push(None, "disconnect", |w| {
        w.open();
        w.u64("code", u64::from(d.code));
        w.str("reason", &d.reason);
        w.close();
    })
}

pub(crate) fn push_message(data: &[u8]) -> Bytes {
    push(None, "message", |w| {
        w.open();
        w.raw("data", data);
        w.close();
    })
}

pub(crate) fn push_refresh(expires: bool, ttl: u64) -> Bytes {
    push(None, "refresh", |w| {
        w.open();
        w.bool_true("expires", expires);
        w.u64_nonzero("ttl", ttl);
        w.close();
    })
}

/// A connect result's fields.
#[derive(Debug, Default)]
pub(crate) struct ConnectResult {
    pub client: String,
    pub version: String,
    pub expires: bool,
    pub ttl: u64,
    pub data: Option<Bytes>,
    pub subs: Vec<(String, SubscribeResult)>,
    pub ping: u64,
    pub pong: bool,
    pub session: String,
    pub node: String,
}

impl ConnectResult {
    pub(crate) fn write(&self, w: &mut JsonWriter) {
        w.str("client", &self.client);
        w.str_nonempty("version", &self.version);
        w.bool_true("expires", self.expires);
        w.u64_nonzero("ttl", self.ttl);
        w.raw_opt("data", self.data.as_deref());
        if !self.subs.is_empty() {
            w.open_key("subs");
            for (ch, r) in &self.subs {
                w.key_escaped(ch);
                w.open();
                r.write(w);
                w.close();
            }
            w.close();
        }
        w.u64_nonzero("ping", self.ping);
        w.bool_true("pong", self.pong);
        w.str_nonempty("session", &self.session);
        w.str_nonempty("node", &self.node);
    }
}

pub(crate) fn push_connect(result: &ConnectResult) -> Bytes {
    push(None, "connect", |w| {
        w.open();
        result.write(w);
        w.close();
    })
}

/// Presence map `{"<client>":<ClientInfo>,...}` into an open key.
pub(crate) fn write_presence_map<'a>(
    w: &mut JsonWriter,
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) {
    w.open();
    for (client, info) in entries {
        w.key_escaped(client);
        w.buf.extend_from_slice(info);
    }
    w.close();
}

/// History result fields: `publications`, `epoch`, `offset`.
pub(crate) fn write_history(w: &mut JsonWriter, pubs: &[Bytes], offset: u64, epoch: &str) {
    if !pubs.is_empty() {
        w.raw_array("publications", pubs.iter().map(|p| &p[..]));
    }
    w.str_nonempty("epoch", epoch);
    w.u64_nonzero("offset", offset);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_push_of_unwrapped_is_identity() {
        let b = Bytes::from_static(b"{}");
        assert_eq!(unwrap_push(&b), b);
    }

    /// Side-by-side timing of the hand-written push encoder against serde
    /// for the hot path (one publication push). Run with
    /// `cargo test --release -p pushwire-hub encode_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn encode_speed() {
        use serde::Serialize;
        use serde_json::value::RawValue;
        #[derive(Serialize)]
        struct Pub<'a> {
            data: &'a RawValue,
            #[serde(skip_serializing_if = "Option::is_none")]
            info: Option<&'a RawValue>,
            #[serde(skip_serializing_if = "is_zero")]
            offset: u64,
        }
        fn is_zero(v: &u64) -> bool {
            *v == 0
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            channel: &'a str,
            #[serde(rename = "pub")]
            publication: Pub<'a>,
        }
        #[derive(Serialize)]
        struct Push<'a> {
            push: Inner<'a>,
        }
        let data_s = r#"{"text":"hello world, this is a 100 byte message for the fan-out benchmark....","n":12345}"#;
        let data: &RawValue = serde_json::from_str(data_s).unwrap();
        let n = 1_000_000u64;
        let mut total = 0usize;
        let t = std::time::Instant::now();
        for i in 0..n {
            let (push, _) = publication_push("chat:room", data_s.as_bytes(), None, i + 1, None);
            total += push.len();
        }
        let hand = t.elapsed();
        let t = std::time::Instant::now();
        for i in 0..n {
            let v = serde_json::to_vec(&Push {
                push: Inner {
                    channel: "chat:room",
                    publication: Pub {
                        data,
                        info: None,
                        offset: i + 1,
                    },
                },
            })
            .unwrap();
            total += Bytes::from(v).len();
        }
        let serde = t.elapsed();
        println!(
            "hand {hand:?}, serde {serde:?}, serde/hand = {:.2} ({total})",
            serde.as_secs_f64() / hand.as_secs_f64()
        );
    }
}
