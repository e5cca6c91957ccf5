//! A long-poll session's cursor: which batch the client has, which one
//! it was handed and has not confirmed, and what a poll's `ack` asks
//! for. Pure bookkeeping, no IO: the session applies it under its lock.
//!
//! Batches are numbered from 1 (the open response). The client confirms
//! batch `n` by polling with `ack=n`; until then the session keeps that
//! batch, and a poll with the previous `ack` (the response never reached
//! the client) gets it again, byte for byte.

use bytes::{BufMut, Bytes, BytesMut};

/// What a poll's `ack` leads to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AckOutcome {
    /// The client never got the last batch: send it again.
    Resend(Bytes),
    /// The client is up to date: wait for new messages.
    Wait,
    /// The ack is older than one the session already had: a late or
    /// replayed request. It gets an empty answer and changes nothing.
    Stale,
    /// The ack names a batch never sent.
    Ahead,
    /// The client confirmed the session's last batch (the hub closed the
    /// connection after it): nothing more will come.
    Over,
}

/// The cursor of one session.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    /// The last batch the client confirmed.
    acked: u64,
    /// Batch `acked + 1`, framed, while the client has not confirmed it.
    unacked: Option<Bytes>,
    /// The hub closed the connection: the unacked batch is the last.
    closed: bool,
}

impl Cursor {
    /// A cursor whose first batch (`seq` 1) was handed out as `body`.
    pub(super) fn opened(body: Bytes) -> Self {
        Cursor {
            acked: 0,
            unacked: Some(body),
            closed: false,
        }
    }

    /// The number the next batch gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.acked + 1
    }

    /// Applies a poll's `ack`. Returns the outcome and whether a batch
    /// was confirmed by it (its memory is freed: the hub may send more).
    pub(super) fn ack(&mut self, ack: u64) -> (AckOutcome, bool) {
        if ack < self.acked {
            return (AckOutcome::Stale, false);
        }
        match (&self.unacked, ack - self.acked) {
            (Some(body), 0) => (AckOutcome::Resend(body.clone()), false),
            (Some(_), 1) => {
                self.acked = ack;
                self.unacked = None;
                let outcome = if self.closed {
                    AckOutcome::Over
                } else {
                    AckOutcome::Wait
                };
                (outcome, true)
            }
            (None, 0) if self.closed => (AckOutcome::Over, false),
            (None, 0) => (AckOutcome::Wait, false),
            _ => (AckOutcome::Ahead, false),
        }
    }

    /// Whether a poll may wait for new messages now (no batch is waiting
    /// for its confirmation and the connection is open).
    pub(super) fn can_take(&self) -> bool {
        self.unacked.is_none() && !self.closed
    }

    /// Records batch `next_seq()`, handed out as `body`; `closed`: the
    /// hub closed the connection after it.
    pub(super) fn handed_out(&mut self, body: Bytes, closed: bool) {
        debug_assert!(self.can_take());
        self.unacked = Some(body);
        self.closed = closed;
    }

    /// The hub closed the connection with nothing more to send.
    pub(super) fn close(&mut self) {
        self.closed = true;
    }

    /// Bytes held for a resend.
    #[cfg(test)]
    pub(super) fn held_bytes(&self) -> usize {
        self.unacked.as_ref().map_or(0, Bytes::len)
    }
}

/// A batch's body: the poll line `{"poll":{"seq":N}}` (with `"session"`
/// in the open response), then one message a line, then `last` if given.
pub(super) fn batch(
    seq: u64,
    session: Option<&str>,
    messages: &[Bytes],
    last: Option<&[u8]>,
) -> Bytes {
    let len: usize = messages.iter().map(|m| m.len() + 1).sum::<usize>()
        + last.map_or(0, |l| l.len() + 1)
        + 64
        + session.map_or(0, str::len);
    let mut out = BytesMut::with_capacity(len);
    out.put_slice(b"{\"poll\":{\"seq\":");
    out.put_slice(seq.to_string().as_bytes());
    if let Some(session) = session {
        out.put_slice(b",\"session\":");
        out.put_slice(json_string(session).as_bytes());
    }
    out.put_slice(b"}}\n");
    for message in messages.iter().map(|m| &m[..]).chain(last) {
        out.put_slice(message);
        out.put_u8(b'\n');
    }
    out.freeze()
}

/// A final body: the messages one a line, no poll line (the session is
/// over; the client processes them and does not poll again).
pub(super) fn final_body(messages: &[Bytes], last: Option<&[u8]>) -> Bytes {
    let mut out = BytesMut::new();
    for message in messages.iter().map(|m| &m[..]).chain(last) {
        out.put_slice(message);
        out.put_u8(b'\n');
    }
    out.freeze()
}

/// `{"push":{"disconnect":{"code":…,"reason":"…"}}}`.
pub(super) fn disconnect_push(code: u16, reason: &str) -> Vec<u8> {
    format!(
        r#"{{"push":{{"disconnect":{{"code":{code},"reason":{}}}}}}}"#,
        json_string(reason)
    )
    .into_bytes()
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The session a successful connect reply names, if `reply` is one: the
/// hub writes `{"id":N,"connect":{…,"session":"…","node":"…"}}`, with
/// `session` and `node` last (after any app `data`, which may hold a
/// `session` key of its own, so the last one counts).
pub(super) fn connect_session(reply: &[u8]) -> Option<&str> {
    let rest = reply.strip_prefix(b"{\"id\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest[digits..].strip_prefix(b",\"connect\":{")?;
    const KEY: &[u8] = b"\"session\":\"";
    let at = rest.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let len = rest[at..].iter().position(|&b| b == b'"')?;
    let (value, tail) = (&rest[at..at + len], &rest[at + len + 1..]);
    let ends_object = tail == b"}}" || tail.starts_with(b",\"node\":");
    let plain = !value.is_empty()
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
    (ends_object && plain).then(|| std::str::from_utf8(value).ok())?
}

#[cfg(test)]
mod tests {
    use pushwire_hub::{Hub, HubConfig, Timestamp, Transport};

    use super::*;

    #[test]
    fn a_lost_batch_is_sent_again_until_confirmed() {
        let first = Bytes::from_static(b"{\"poll\":{\"seq\":1}}\n");
        let mut cursor = Cursor::opened(first.clone());
        // The open response was lost: the first poll acks 0.
        assert_eq!(cursor.ack(0), (AckOutcome::Resend(first), false));
        assert!(!cursor.can_take());
        assert_eq!(cursor.ack(1), (AckOutcome::Wait, true));
        assert!(cursor.can_take());
        assert_eq!(cursor.next_seq(), 2);
        let second = batch(2, None, &[Bytes::from_static(b"{}")], None);
        cursor.handed_out(second.clone(), false);
        assert_eq!(cursor.held_bytes(), second.len());
        // Lost again, twice: the same bytes each time.
        assert_eq!(cursor.ack(1), (AckOutcome::Resend(second.clone()), false));
        assert_eq!(cursor.ack(1), (AckOutcome::Resend(second), false));
        assert_eq!(cursor.ack(2), (AckOutcome::Wait, true));
        assert_eq!(cursor.held_bytes(), 0);
        // Waiting again with the same ack changes nothing.
        assert_eq!(cursor.ack(2), (AckOutcome::Wait, false));
    }

    #[test]
    fn stale_and_unsent_acks_are_told_apart() {
        let mut cursor = Cursor::opened(Bytes::from_static(b"x"));
        assert_eq!(cursor.ack(1).0, AckOutcome::Wait);
        cursor.handed_out(Bytes::from_static(b"y"), false);
        assert_eq!(cursor.ack(2).0, AckOutcome::Wait);
        assert_eq!(cursor.ack(1).0, AckOutcome::Stale);
        assert_eq!(cursor.ack(0).0, AckOutcome::Stale);
        assert_eq!(cursor.ack(3).0, AckOutcome::Ahead);
        assert_eq!(cursor.ack(u64::MAX).0, AckOutcome::Ahead);
        assert_eq!(cursor.next_seq(), 3);
    }

    #[test]
    fn the_last_batch_ends_the_session_once_confirmed() {
        let mut cursor = Cursor::opened(Bytes::from_static(b"x"));
        assert_eq!(cursor.ack(1).0, AckOutcome::Wait);
        cursor.handed_out(Bytes::from_static(b"bye"), true);
        assert!(!cursor.can_take());
        assert_eq!(
            cursor.ack(1).0,
            AckOutcome::Resend(Bytes::from_static(b"bye"))
        );
        assert_eq!(cursor.ack(2), (AckOutcome::Over, true));
        assert_eq!(cursor.ack(2), (AckOutcome::Over, false));
        let mut cursor = Cursor::opened(Bytes::from_static(b"x"));
        assert_eq!(cursor.ack(1).0, AckOutcome::Wait);
        cursor.close();
        assert_eq!(cursor.ack(1).0, AckOutcome::Over);
    }

    #[test]
    fn bodies_are_a_poll_line_then_one_message_a_line() {
        let messages = [Bytes::from_static(b"{\"id\":1}"), Bytes::from_static(b"{}")];
        assert_eq!(
            batch(7, Some("s-1"), &messages, None),
            "{\"poll\":{\"seq\":7,\"session\":\"s-1\"}}\n{\"id\":1}\n{}\n"
        );
        let push = disconnect_push(3001, "shut \"down\"\n");
        assert_eq!(
            batch(8, None, &[], Some(&push)),
            "{\"poll\":{\"seq\":8}}\n{\"push\":{\"disconnect\":{\"code\":3001,\"reason\":\"shut \\\"down\\\"\\u000a\"}}}\n"
        );
        assert_eq!(final_body(&messages, None), "{\"id\":1}\n{}\n");
    }

    #[test]
    fn the_session_is_read_from_the_hubs_own_connect_reply() {
        let now = Timestamp::from_millis(1_000);
        let mut config = HubConfig::default();
        config.client.allow_anonymous_connect_without_token = true;
        let mut hub = Hub::new(config, [7; 32], now).unwrap();
        let conn = hub.open(now, Transport::emulation());
        // App data with a `session` key of its own comes first.
        hub.handle_frame(
            now,
            conn,
            br#"{"id":1,"connect":{"data":{"session":"fake"}}}"#,
        );
        let mut replies = Vec::new();
        hub.outbox(conn).unwrap().drain_into(&mut replies, 1 << 20);
        let session = connect_session(&replies[0]).expect("a connect reply");
        assert_eq!(session.len(), 73, "{session}");
        assert_eq!(hub.session(session), Some(conn));
        // An error reply, or anything else, names no session.
        assert_eq!(connect_session(br#"{"id":1,"error":{"code":101}}"#), None);
        assert_eq!(
            connect_session(br#"{"push":{"connect":{"session":"a"}}}"#),
            None
        );
        assert_eq!(
            connect_session(br#"{"id":1,"connect":{"session":"a\"b"}}"#),
            None
        );
        assert_eq!(
            connect_session(br#"{"id":12,"connect":{"client":"c","session":"ab-1","node":"n"}}"#),
            Some("ab-1")
        );
    }
}
