//! The proxy's JSON: requests as Centrifugo's HTTP proxy posts them, and
//! the backend's answers (`result`, `error` or `disconnect`).

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
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
    /// `data` in base64, instead of `data`, for an endpoint with
    /// `binary_encoding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64data: Option<String>,
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
    /// Sends `data` as `b64data` (the bytes of its JSON text in base64),
    /// as an endpoint with `binary_encoding` wants it.
    pub(crate) fn binary_encoding(&mut self) {
        if let Some(data) = self.data.take() {
            self.b64data = Some(BASE64.encode(data.get()));
        }
    }

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
pub(crate) fn decode<T: for<'de> Deserialize<'de> + Base64Fields>(
    body: &[u8],
) -> Option<Verdict<T>> {
    // An object only (serde would also take a struct from an array).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let a: Answer<T> = serde_json::from_slice(body).ok()?;
    Some(if let Some(d) = a.disconnect {
        Verdict::Disconnect(d.into_disconnect())
    } else if let Some(e) = a.error {
        Verdict::Error(e)
    } else if let Some(mut r) = a.result {
        r.resolve_base64().ok()?;
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
    pub b64info: Option<String>,
    pub data: Option<RawJson>,
    pub b64data: Option<String>,
    pub channels: Vec<String>,
    pub subs: HashMap<String, SubOptions>,
    pub meta: Option<RawJson>,
}

/// One entry of a connect result's `subs`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SubOptions {
    pub info: Option<RawJson>,
    pub b64info: Option<String>,
    pub data: Option<RawJson>,
    pub b64data: Option<String>,
}

/// `result` of a refresh or sub_refresh call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RefreshResult {
    pub expired: bool,
    pub expire_at: i64,
    pub info: Option<RawJson>,
    pub b64info: Option<String>,
}

/// `result` of a subscribe call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SubscribeResult {
    pub info: Option<RawJson>,
    pub b64info: Option<String>,
    pub data: Option<RawJson>,
    pub b64data: Option<String>,
    pub expire_at: i64,
}

/// `result` of a publish call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct PublishResult {
    pub data: Option<RawJson>,
    pub b64data: Option<String>,
    pub skip_history: bool,
    pub tags: Option<BTreeMap<String, String>>,
    pub idempotency_key: Option<String>,
}

/// `result` of an rpc call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RpcResult {
    pub data: Option<RawJson>,
    pub b64data: Option<String>,
}

/// A `b64info` or `b64data` the backend sent could not be used.
#[derive(Debug)]
pub(crate) struct BadBase64;

/// Results with `b64…` forms of their JSON fields (as a backend written
/// for binary clients answers): the base64 form, when present, replaces
/// the JSON one. Its bytes must be JSON, since clients of the JSON
/// protocol get them as they are.
pub(crate) trait Base64Fields {
    fn resolve_base64(&mut self) -> Result<(), BadBase64>;
}

/// Puts the JSON that `b64` holds in `json`, when `b64` is present.
fn from_base64(json: &mut Option<RawJson>, b64: &mut Option<String>) -> Result<(), BadBase64> {
    if let Some(text) = b64.take() {
        let bytes = BASE64.decode(text.as_bytes()).map_err(|_| BadBase64)?;
        *json = Some(serde_json::from_slice(&bytes).map_err(|_| BadBase64)?);
    }
    Ok(())
}

impl Base64Fields for ConnectResult {
    fn resolve_base64(&mut self) -> Result<(), BadBase64> {
        from_base64(&mut self.info, &mut self.b64info)?;
        from_base64(&mut self.data, &mut self.b64data)?;
        self.subs.values_mut().try_for_each(|s| {
            from_base64(&mut s.info, &mut s.b64info)?;
            from_base64(&mut s.data, &mut s.b64data)
        })
    }
}

impl Base64Fields for RefreshResult {
    fn resolve_base64(&mut self) -> Result<(), BadBase64> {
        from_base64(&mut self.info, &mut self.b64info)
    }
}

impl Base64Fields for SubscribeResult {
    fn resolve_base64(&mut self) -> Result<(), BadBase64> {
        from_base64(&mut self.info, &mut self.b64info)?;
        from_base64(&mut self.data, &mut self.b64data)
    }
}

impl Base64Fields for PublishResult {
    fn resolve_base64(&mut self) -> Result<(), BadBase64> {
        from_base64(&mut self.data, &mut self.b64data)
    }
}

impl Base64Fields for RpcResult {
    fn resolve_base64(&mut self) -> Result<(), BadBase64> {
        from_base64(&mut self.data, &mut self.b64data)
    }
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
    fn base64_fields_replace_the_json_ones_and_must_hold_json() {
        // {"a":1} and "hi"
        let body = br#"{"result":{"user":"u","info":{"x":1},"b64info":"eyJhIjoxfQ==",
            "subs":{"news":{"b64data":"ImhpIg=="}}}}"#;
        match decode::<ConnectResult>(body) {
            Some(Verdict::Result(r)) => {
                assert_eq!(r.info.unwrap().get(), r#"{"a":1}"#);
                assert_eq!(r.subs["news"].data.as_ref().unwrap().get(), r#""hi""#);
            }
            _ => panic!("not a result"),
        }
        // Not base64, or base64 of something that is not JSON: invalid.
        assert!(decode::<RpcResult>(br#"{"result":{"b64data":"%%%"}}"#).is_none());
        assert!(decode::<RpcResult>(br#"{"result":{"b64data":"AAEC"}}"#).is_none());
        // Requests of a binary_encoding endpoint carry b64data.
        let data: RawJson = serde_json::from_str(r#"{"a":1}"#).unwrap();
        let mut req = Request {
            data: Some(&data),
            ..Request::default()
        };
        req.binary_encoding();
        let v: serde_json::Value = serde_json::from_slice(&req.encode()).unwrap();
        assert_eq!(v["b64data"], "eyJhIjoxfQ==");
        assert!(v.get("data").is_none());
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
