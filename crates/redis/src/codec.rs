//! What travels through Redis: a publication's body (data, info, tags), as
//! stored in the stream and carried by pub/sub, and the pub/sub message
//! kinds (publication with offset and epoch, join, leave).
//!
//! Body: `data_len:u32 BE, data, info_len:u32 BE (u32::MAX = none), info,
//! tag_count:u32 BE (u32::MAX = none), then per tag key_len:u32 BE, key,
//! value_len:u32 BE, value`. Length-prefixed binary rather than JSON: data is
//! already JSON and is copied as is, never re-parsed.
//!
//! Pub/sub message: `p<offset>:<epoch>:<body>` (the Lua script writes the
//! offset and epoch it just assigned), `j<info>` (join), `l<info>` (leave).
//! Whatever comes from Redis is decoded without trusting it: a malformed
//! message is dropped, never a panic.

use std::collections::BTreeMap;

use bytes::Bytes;

const NONE: u32 = u32::MAX;

/// A publication's parts, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body {
    pub data: Bytes,
    pub info: Option<Bytes>,
    pub tags: Option<BTreeMap<String, String>>,
}

fn put(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&len32(b.len()).to_be_bytes());
    out.extend_from_slice(b);
}

fn len32(n: usize) -> u32 {
    // Redis caps a value at 512 MB; larger parts are refused before this.
    u32::try_from(n).unwrap_or(NONE - 1)
}

/// Encodes a body.
pub(crate) fn encode_body(
    data: &[u8],
    info: Option<&[u8]>,
    tags: Option<&BTreeMap<String, String>>,
) -> Vec<u8> {
    let tags_len: usize = tags.map_or(0, |t| t.iter().map(|(k, v)| 8 + k.len() + v.len()).sum());
    let mut out = Vec::with_capacity(12 + data.len() + info.map_or(0, <[u8]>::len) + tags_len);
    put(&mut out, data);
    match info {
        Some(i) => put(&mut out, i),
        None => out.extend_from_slice(&NONE.to_be_bytes()),
    }
    match tags {
        Some(t) => {
            out.extend_from_slice(&len32(t.len()).to_be_bytes());
            for (k, v) in t {
                put(&mut out, k.as_bytes());
                put(&mut out, v.as_bytes());
            }
        }
        None => out.extend_from_slice(&NONE.to_be_bytes()),
    }
    out
}

struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn u32(&mut self) -> Option<u32> {
        let b = self.buf.get(self.pos..self.pos.checked_add(4)?)?;
        self.pos += 4;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self, n: u32) -> Option<Bytes> {
        let end = self.pos.checked_add(usize::try_from(n).ok()?)?;
        if end > self.buf.len() {
            return None;
        }
        let b = self.buf.slice(self.pos..end);
        self.pos = end;
        Some(b)
    }

    fn opt(&mut self) -> Option<Option<Bytes>> {
        match self.u32()? {
            NONE => Some(None),
            n => Some(Some(self.bytes(n)?)),
        }
    }

    fn string(&mut self) -> Option<String> {
        let n = self.u32()?;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
}

/// Decodes a body; `None` when malformed.
pub(crate) fn decode_body(buf: Bytes) -> Option<Body> {
    let mut r = Reader { buf, pos: 0 };
    let n = r.u32()?;
    let data = r.bytes(n)?;
    let info = r.opt()?;
    let tags = match r.u32()? {
        NONE => None,
        count => {
            let mut t = BTreeMap::new();
            for _ in 0..count {
                let k = r.string()?;
                let v = r.string()?;
                t.insert(k, v);
            }
            Some(t)
        }
    };
    (r.pos == r.buf.len()).then_some(Body { data, info, tags })
}

/// A decoded pub/sub message of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Publication {
        offset: u64,
        epoch: String,
        body: Body,
    },
    Join(Bytes),
    Leave(Bytes),
}

/// Decodes a channel's pub/sub message; `None` when malformed.
pub(crate) fn decode_message(msg: Bytes) -> Option<Message> {
    match msg.first()? {
        b'j' => Some(Message::Join(msg.slice(1..))),
        b'l' => Some(Message::Leave(msg.slice(1..))),
        b'p' => {
            let c1 = 1 + msg[1..].iter().position(|b| *b == b':')?;
            let offset: u64 = std::str::from_utf8(&msg[1..c1]).ok()?.parse().ok()?;
            let c2 = c1 + 1 + msg[c1 + 1..].iter().position(|b| *b == b':')?;
            let epoch = std::str::from_utf8(&msg[c1 + 1..c2]).ok()?.to_owned();
            let body = decode_body(msg.slice(c2 + 1..))?;
            Some(Message::Publication {
                offset,
                epoch,
                body,
            })
        }
        _ => None,
    }
}

/// A join or leave message.
pub(crate) fn encode_presence_message(join: bool, info: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + info.len());
    out.push(if join { b'j' } else { b'l' });
    out.extend_from_slice(info);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips() {
        let mut tags = BTreeMap::new();
        tags.insert("k".to_owned(), "v".to_owned());
        for (info, tags) in [(None, None), (Some(&b"{\"user\":\"u\"}"[..]), Some(&tags))] {
            let b = encode_body(b"{\"a\":1}", info, tags);
            let d = decode_body(Bytes::from(b)).unwrap();
            assert_eq!(&d.data[..], b"{\"a\":1}");
            assert_eq!(d.info.as_deref(), info);
            assert_eq!(d.tags.as_ref(), tags);
        }
    }

    #[test]
    fn messages_decode_and_garbage_is_refused() {
        let body = encode_body(b"1", None, None);
        let mut m = b"p42:abcdefgh:".to_vec();
        m.extend_from_slice(&body);
        let d = decode_message(Bytes::from(m.clone())).unwrap();
        assert!(
            matches!(d, Message::Publication { offset: 42, ref epoch, .. } if epoch == "abcdefgh")
        );
        assert_eq!(
            decode_message(Bytes::from_static(b"j{}")),
            Some(Message::Join(Bytes::from_static(b"{}")))
        );
        // Every truncation of a valid message is refused, not a panic.
        for n in 0..m.len() {
            assert!(
                decode_message(Bytes::from(m[..n].to_vec())).is_none(),
                "{n}"
            );
        }
        for junk in [
            &b""[..],
            b"x",
            b"p",
            b"p:",
            b"p1:",
            b"p1:e:",
            b"p-1:e:\0\0\0\0",
        ] {
            assert!(decode_message(Bytes::copy_from_slice(junk)).is_none());
        }
        let mut huge = b"p1:e:".to_vec();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xfe]);
        assert!(decode_message(Bytes::from(huge)).is_none());
    }
}
