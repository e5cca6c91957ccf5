//! The hub side of the drills: the configuration the drills' server runs
//! with, a hub client over WebSocket (Centrifugo's client protocol v2,
//! JSON), reading the lines the hub sends, and the clock that stamps
//! publications.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::{json, Value};

use crate::ws::{Incoming, Ws};

/// `http_api.key` of the drills' hub.
pub const API_KEY: &str = "pushwire-drills-api-key";

/// Microseconds since the drill process started: the publisher stamps
/// this into each publication and readers subtract it from their own.
pub fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The source address of client `i`: 127.0.0.2 to 127.0.0.65, so that no
/// address holds more than a fraction of the connections (ephemeral
/// ports, and the server's per-address limit).
pub fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 64) as u8))
}

/// A namespace with history and recovery (`history_size` publications
/// kept for 600 s), subscribable anonymously, with the given queue bound
/// and slow-consumer policy.
pub fn namespace(name: &str, history_size: usize, queue: usize, policy: &str) -> Value {
    json!({
        "name": name,
        "history_size": history_size,
        "history_ttl": "600s",
        "force_recovery": true,
        "allow_subscribe_for_client": true,
        "allow_subscribe_for_anonymous": true,
        "queue_max_size": queue,
        "slow_consumer_policy": policy,
    })
}

/// The drills' hub configuration: anonymous connections, the API key,
/// the given namespaces and ping timing, long polls held `hold`.
pub fn config(namespaces: Vec<Value>, ping: &str, pong: &str, extra: Value) -> String {
    let mut c = json!({
        "client": {
            "allow_anonymous_connect_without_token": true,
            "ping_interval": ping,
            "pong_timeout": pong,
        },
        "http_api": {"key": API_KEY},
        "channel": {"namespaces": namespaces},
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_string_pretty(&c).expect("JSON prints")
}

/// The connect command a drill client sends (anonymous).
pub const CONNECT: &str = r#"{"id":1,"connect":{"name":"drill"}}"#;

/// What one line from the hub is, as far as the drills care.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A server ping `{}`.
    Ping,
    /// A publication push: its offset and stamp (`"at"` in its data, which sorts before the padding).
    Pub {
        /// The publication's offset (0 without history).
        offset: u64,
        /// The publisher's stamp ([`now_us`]) when present.
        stamp: Option<u64>,
    },
    /// An unsubscribe push with its code.
    Unsubscribe(u64),
    /// A disconnect push with its code.
    Disconnect(u64),
    /// A reply to command `id`.
    Reply(u64, Value),
    /// Anything else (join, leave, …).
    Other,
}

/// The unsigned integer after the first `key` in the first `within`
/// bytes of `line`, or after the last `key` in `line` when `last`
/// (searched from the end: a publication's offset follows its data).
fn number_after(line: &[u8], key: &[u8], last: bool, within: usize) -> Option<u64> {
    let found = if last {
        line.windows(key.len()).rposition(|w| w == key)
    } else {
        line[..line.len().min(within)]
            .windows(key.len())
            .position(|w| w == key)
    }? + key.len();
    let digits: &[u8] = &line[found..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Reads one line; publications are read without a full JSON parse (the
/// drills' own data never holds the key `"offset"`).
pub fn parse_line(line: &[u8]) -> Line {
    let line = line.trim_ascii();
    if line == b"{}" {
        return Line::Ping;
    }
    let head = &line[..line.len().min(300)];
    if line.starts_with(br#"{"push""#) && head.windows(7).any(|w| w == br#""pub":{"#) {
        return Line::Pub {
            offset: number_after(line, br#""offset":"#, true, 0).unwrap_or(0),
            stamp: number_after(line, br#""at":"#, false, 300),
        };
    }
    let Ok(v) = serde_json::from_slice::<Value>(line) else {
        return Line::Other;
    };
    if let Some(push) = v.get("push") {
        if let Some(u) = push.get("unsubscribe") {
            return Line::Unsubscribe(u["code"].as_u64().unwrap_or(0));
        }
        if let Some(d) = push.get("disconnect") {
            return Line::Disconnect(d["code"].as_u64().unwrap_or(0));
        }
        return Line::Other;
    }
    match v.get("id").and_then(Value::as_u64) {
        Some(id) => Line::Reply(id, v),
        None => Line::Other,
    }
}

/// Splits a message into its lines.
pub fn lines(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    message.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

/// A hub connection over WebSocket, subscribed to one channel.
pub struct HubWs {
    /// The WebSocket.
    pub ws: Ws,
    /// The subscribe reply's result (`recovered`, `epoch`, `offset`,
    /// `publications`…).
    pub subscribed: Value,
    /// Lines that arrived with or before the subscribe reply, after it.
    pub early: Vec<Line>,
}

/// Connects from `source`, subscribes to `channel` (recovering from
/// `since` = (offset, epoch) when given) in one frame, and waits for the
/// subscribe reply, answering pings on the way. `rcvbuf`: see
/// [`Ws::connect_with`].
pub async fn subscribe(
    server: SocketAddr,
    source: IpAddr,
    channel: &str,
    since: Option<(u64, &str)>,
    rcvbuf: Option<u32>,
) -> io::Result<HubWs> {
    let mut ws = Ws::connect_with(server, source, "/connection/websocket", rcvbuf).await?;
    let mut sub = json!({"channel": channel});
    if let Some((offset, epoch)) = since {
        sub["recover"] = json!(true);
        sub["offset"] = json!(offset);
        sub["epoch"] = json!(epoch);
    }
    let frame = format!("{CONNECT}\n{}", json!({"id": 2, "subscribe": sub}));
    ws.send_text(&frame).await?;
    let mut early = Vec::new();
    loop {
        match ws.recv().await? {
            Incoming::Close(code, reason) => {
                return Err(io::Error::other(format!(
                    "closed {code} {reason} while joining"
                )))
            }
            Incoming::Text(message) => {
                let mut subscribed = None;
                for line in lines(&message) {
                    match parse_line(line) {
                        Line::Ping => ws.send_text("{}").await?,
                        Line::Reply(_, v) if v.get("error").is_some() => {
                            return Err(io::Error::other(format!("error reply {v}")));
                        }
                        Line::Reply(2, v) => subscribed = Some(v["subscribe"].clone()),
                        Line::Reply(..) => {}
                        other if subscribed.is_some() => early.push(other),
                        Line::Disconnect(code) => {
                            return Err(io::Error::other(format!(
                                "disconnect {code} while joining"
                            )))
                        }
                        _ => {}
                    }
                }
                if let Some(subscribed) = subscribed {
                    return Ok(HubWs {
                        ws,
                        subscribed,
                        early,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_hub_lines() {
        let p = br#"{"push":{"channel":"a:b","pub":{"data":{"at":77,"p":"xx"},"offset":12}}}"#;
        assert_eq!(
            parse_line(p),
            Line::Pub {
                offset: 12,
                stamp: Some(77)
            }
        );
        assert_eq!(parse_line(b"{}"), Line::Ping);
        assert_eq!(
            parse_line(br#"{"push":{"channel":"a","unsubscribe":{"code":2500,"reason":"x"}}}"#),
            Line::Unsubscribe(2500)
        );
        assert_eq!(
            parse_line(br#"{"push":{"disconnect":{"code":3012,"reason":"no pong"}}}"#),
            Line::Disconnect(3012)
        );
        assert!(matches!(
            parse_line(br#"{"id":2,"subscribe":{}}"#),
            Line::Reply(2, _)
        ));
    }
}
