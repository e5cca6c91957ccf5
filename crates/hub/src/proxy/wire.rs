//! The proxy's JSON: requests as Centrifugo's HTTP proxy posts them, and
//! the backend's answers (`result`, `error` or `disconnect`).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::protocol::{Disconnect, RawJson};

/// A request: the common fields, then those of its kind (absent ones are
/// left out).
#[derive(Serialize, Default)]
pub(crate) struct Request<'a> {
    pub client: &'a str,
    pub transport: &'a str,
    pub protocol: &'static str,
    pub encoding: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub channels: &'a [String],
}

/// The fields of a request that depend on its kind.
#[derive(Default)]
pub(crate) struct Extra<'a> {
    pub name: Option<&'a str>,
    pub version: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub token: Option<&'a str>,
    pub method: Option<&'a str>,
    pub data: Option<&'a RawValue>,
    pub channels: &'a [String],
}

impl Request<'_> {
    pub(crate) fn encode(&self) -> Bytes {
        // Only strings and validated raw JSON: serialising cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec()))
    }
}

/// A backend's answer.
#[derive(Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
pub(crate) struct Answer<T> {
    #[serde(default = "none")]
    pub result: Option<T>,
    #[serde(default)]
    pub error: Option<BackendError>,
    #[serde(default)]
    pub disconnect: Option<BackendDisconnect>,
}

fn none<T>() -> Option<T> {
    None
}

/// What a backend's answer says, with the result decoded.
pub(crate) enum Verdict<T> {
    Result(T),
    /// `result` absent (no error, no disconnect).
    Empty,
    Error(BackendError),
    Disconnect(Disconnect),
}

/// Decodes a body; `None` when it is not a valid answer (the client then
/// gets error 100, as for a backend that is down).
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Option<Verdict<T>> {
    // An object only (serde would also take a struct from an array).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let a: Answer<T> = serde_json::from_slice(body).ok()?;
    Some(if let Some(d) = a.disconnect {
        Verdict::Disconnect(d.into_disconnect())
    } else if let Some(e) = a.error {
        Verdict::Error(e)
    } else if let Some(r) = a.result {
        Verdict::Result(r)
    } else {
        Verdict::Empty
    })
}

/// `{"error":{"code":N,"message":"…","temporary":bool}}`.
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct BackendError {
    pub code: u32,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub temporary: bool,
}

/// `{"disconnect":{"code":N,"reason":"…"}}`.
#[derive(Deserialize, Debug)]
pub(crate) struct BackendDisconnect {
    pub code: u32,
    #[serde(default)]
    pub reason: String,
}

impl BackendDisconnect {
    /// A close code the WebSocket can carry (3000–4999, else 3004) and a
    /// reason that fits a close frame (at most 123 bytes).
    fn into_disconnect(self) -> Disconnect {
        let code = if (3000..5000).contains(&self.code) {
            self.code
        } else {
            Disconnect::SERVER_ERROR.0
        };
        let mut reason = self.reason;
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Disconnect { code, reason }
    }
}

/// `result` of a connect call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ConnectResult {
    pub user: String,
    pub expire_at: i64,
    pub info: Option<RawJson>,
    pub data: Option<RawJson>,
    pub channels: Vec<String>,
    pub subs: HashMap<String, SubOptions>,
    pub meta: Option<RawJson>,
}

/// One entry of a connect result's `subs`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SubOptions {
    pub info: Option<RawJson>,
    pub data: Option<RawJson>,
}

/// `result` of a refresh or sub_refresh call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RefreshResult {
    pub expired: bool,
    pub expire_at: i64,
    pub info: Option<RawJson>,
}

/// `result` of a subscribe call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SubscribeResult {
    pub info: Option<RawJson>,
    pub data: Option<RawJson>,
    pub expire_at: i64,
}

/// `result` of a publish call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct PublishResult {
    pub data: Option<RawJson>,
    pub skip_history: bool,
    pub tags: Option<BTreeMap<String, String>>,
    pub idempotency_key: Option<String>,
}

/// `result` of an rpc call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RpcResult {
    pub data: Option<RawJson>,
}

/// Raw JSON as bytes, `null` as absent.
pub(crate) fn raw_bytes(r: Option<RawJson>) -> Option<Bytes> {
    r.filter(|r| r.get() != "null")
        .map(|r| Bytes::copy_from_slice(r.get().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode_and_garbage_does_not() {
        let v = decode::<ConnectResult>(br#"{"result":{"user":"56","expire_at":10}}"#);
        assert!(matches!(v, Some(Verdict::Result(r)) if r.user == "56" && r.expire_at == 10));
        let v = decode::<ConnectResult>(br#"{"error":{"code":1000,"message":"nope"}}"#);
        assert!(matches!(v, Some(Verdict::Error(e)) if e.code == 1000 && e.message == "nope"));
        let v = decode::<ConnectResult>(br#"{"disconnect":{"code":4501,"reason":"go"}}"#);
        assert!(matches!(v, Some(Verdict::Disconnect(d)) if d.code == 4501));
        let v = decode::<ConnectResult>(br#"{"disconnect":{"code":1,"reason":"x"}}"#);
        assert!(matches!(v, Some(Verdict::Disconnect(d)) if d.code == 3004));
        assert!(matches!(
            decode::<ConnectResult>(b"{}"),
            Some(Verdict::Empty)
        ));
        assert!(decode::<ConnectResult>(b"<html>").is_none());
        assert!(decode::<ConnectResult>(br#"{"result":{"user":5}}"#).is_none());
        assert!(decode::<ConnectResult>(b"[]").is_none());
    }

    #[test]
    fn a_long_reason_is_cut_at_a_char_boundary() {
        let long = "é".repeat(100);
        let body = format!(r#"{{"disconnect":{{"code":4000,"reason":"{long}"}}}}"#);
        match decode::<RpcResult>(body.as_bytes()) {
            Some(Verdict::Disconnect(d)) => assert!(d.reason.len() <= 123 && d.reason.len() >= 120),
            _ => panic!("not a disconnect"),
        }
    }
}
