//! Long polling: a [`History`] — the last messages published, numbered —
//! and held requests that return when a message arrives or a timeout
//! passes.
//!
//! The protocol a client follows: start with cursor `0`, ask for
//! everything after its cursor, take the returned cursor for the next
//! poll. Every message has a sequence number one above the previous one
//! (the first is 1), and a [`Batch`] holds the retained messages after the
//! cursor asked for, oldest first, so nothing published between two polls
//! is lost or sent twice.
//!
//! A batch holds at most a page of messages ([`DEFAULT_PAGE_SIZE`], set
//! with [`History::with_page_size`]), so that one request never makes the
//! server build a response of the whole history: with more retained, the
//! batch has [`more`](Batch::more) set, and the client polls again at once
//! from its cursor. What one response holds is then at most a page times
//! the largest message published (bound the messages where they are
//! published).
//!
//! The history keeps only its last `capacity` messages. A cursor older than
//! that window, or newer than anything published (the server restarted),
//! gets a batch with [`reset`](Batch::reset) set: the client has missed
//! messages and should resynchronize; the batch still carries everything
//! retained and a valid cursor to continue from.
//!
//! ```
//! use std::time::Duration;
//! use pushwire::longpoll::History;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let log = History::new(100);
//! log.publish("a".to_string());
//! log.publish("b".to_string());
//! let batch = log.poll(0, Duration::from_secs(25)).await; // returns at once
//! assert_eq!((batch.cursor, batch.messages.as_slice()), (2, &["a".to_string(), "b".to_string()][..]));
//! assert_eq!(batch.to_json(), r#"{"cursor":2,"messages":["a","b"]}"#);
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

/// The default time a poll is held before it returns empty.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(25);

/// The most messages one [`Batch`] holds by default.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The last messages published, numbered 1, 2, 3… (a ring: the oldest
/// go once `capacity` is reached), shareable in an `Arc`, with waiters
/// woken when one is published.
#[derive(Debug)]
pub struct History<T> {
    state: Mutex<State<T>>,
    /// The sequence number of the newest message; waiters watch it.
    latest: watch::Sender<u64>,
}

#[derive(Debug)]
struct State<T> {
    capacity: usize,
    /// The most messages one batch holds.
    page: usize,
    /// The retained messages; the last has sequence number `last`.
    messages: VecDeque<T>,
    last: u64,
}

/// What a poll returns: messages after the cursor asked for, and the
/// cursor to ask with next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<T> {
    /// The sequence number of the last message in this batch (or, when it
    /// is empty, the cursor to keep using).
    pub cursor: u64,
    /// The messages after the requested cursor, oldest first: a page at
    /// most.
    pub messages: Vec<T>,
    /// Messages between the requested cursor and these were lost: the
    /// cursor was older than the retained window, or newer than the history.
    pub reset: bool,
    /// More messages are retained after these (the page was full): poll
    /// again at once with [`cursor`](Batch::cursor).
    pub more: bool,
}

impl<T: Clone> History<T> {
    /// An empty history retaining the last `capacity` messages (at least
    /// 1), handing out pages of [`DEFAULT_PAGE_SIZE`] messages at most.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        History {
            state: Mutex::new(State {
                capacity,
                page: DEFAULT_PAGE_SIZE,
                messages: VecDeque::with_capacity(capacity.min(1024)),
                last: 0,
            }),
            latest: watch::Sender::new(0),
        }
    }

    /// Appends a message, wakes every waiting poll, and returns the
    /// message's sequence number.
    pub fn publish(&self, message: T) -> u64 {
        let seq = {
            let mut state = self.lock();
            if state.messages.len() == state.capacity {
                state.messages.pop_front();
            }
            state.messages.push_back(message);
            state.last += 1;
            state.last
        };
        self.latest.send_replace(seq);
        seq
    }

    /// The most messages one batch holds (at least 1).
    pub fn with_page_size(self, messages: usize) -> Self {
        self.lock().page = messages.max(1);
        self
    }

    /// The sequence number of the newest message (0 when none yet).
    pub fn cursor(&self) -> u64 {
        self.lock().last
    }

    /// What is there after `cursor` now (a page at most), without
    /// waiting.
    pub fn read(&self, cursor: u64) -> Batch<T> {
        let state = self.lock();
        let first = state.last + 1 - state.messages.len() as u64;
        let reset = cursor > state.last || cursor + 1 < first;
        // From the oldest retained after a reset.
        let skip = if reset {
            0
        } else {
            (cursor + 1 - first) as usize
        };
        let after = state.messages.len() - skip;
        let take = after.min(state.page);
        let messages: Vec<T> = state
            .messages
            .iter()
            .skip(skip)
            .take(take)
            .cloned()
            .collect();
        let cursor = if reset || take > 0 {
            first - 1 + (skip + take) as u64
        } else {
            cursor
        };
        Batch {
            cursor,
            messages,
            reset,
            more: take < after,
        }
    }

    /// Messages after `cursor`: at once if there are any (or the cursor
    /// needs a reset), else as soon as one is published, else an empty
    /// batch after `timeout`. Cancel-safe: to end a poll early (the server
    /// is shutting down), drop it, e.g. in `tokio::select!`.
    pub async fn poll(&self, cursor: u64, timeout: Duration) -> Batch<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before reading: a publish after the read marks the
        // receiver changed, so no wake-up is missed.
        let mut latest = self.latest.subscribe();
        loop {
            let batch = self.read(cursor);
            if !batch.messages.is_empty() || batch.reset {
                return batch;
            }
            match tokio::time::timeout_at(deadline, latest.changed()).await {
                Ok(Ok(())) => continue,
                // Timed out (the sender cannot be gone: we borrow it).
                _ => return self.read(cursor),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the history consistent (every
        // update is a push, a pop and an increment).
        crate::task::lock(&self.state)
    }
}

impl<T: AsRef<str>> Batch<T> {
    /// The batch as JSON: `{"cursor":M,"messages":["…",…]}`, with
    /// `"reset":true` and `"more":true` added only when set.
    pub fn to_json(&self) -> String {
        let mut json = format!("{{\"cursor\":{},\"messages\":[", self.cursor);
        for (i, message) in self.messages.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json_string(&mut json, message.as_ref());
        }
        json.push(']');
        if self.reset {
            json.push_str(",\"reset\":true");
        }
        if self.more {
            json.push_str(",\"more\":true");
        }
        json.push('}');
        json
    }
}

/// Appends `text` as a JSON string literal.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_after_the_cursor_and_resets_outside_the_window() {
        let log = History::new(3);
        assert_eq!(
            log.read(0),
            Batch {
                cursor: 0,
                messages: vec![],
                reset: false,
                more: false,
            }
        );
        for m in ["a", "b", "c", "d"] {
            log.publish(m.to_string());
        }
        assert_eq!(log.cursor(), 4);
        // Retained: b (2), c (3), d (4).
        assert_eq!(log.read(1).messages, strings(&["b", "c", "d"]));
        assert_eq!(log.read(3).messages, strings(&["d"]));
        assert_eq!(
            log.read(4),
            Batch {
                cursor: 4,
                messages: vec![],
                reset: false,
                more: false,
            }
        );
        let old = log.read(0);
        assert!(old.reset);
        assert_eq!((old.cursor, old.messages), (4, strings(&["b", "c", "d"])));
        let ahead = log.read(9);
        assert!(ahead.reset);
        assert_eq!(ahead.cursor, 4);
    }

    #[test]
    fn a_batch_holds_a_page_at_most() {
        let log = History::new(1000).with_page_size(2);
        for m in ["a", "b", "c", "d", "e"] {
            log.publish(m.to_string());
        }
        let mut cursor = 0;
        let mut pages = Vec::new();
        loop {
            let batch = log.read(cursor);
            assert!(batch.messages.len() <= 2 && !batch.reset);
            pages.push(batch.messages.concat());
            cursor = batch.cursor;
            if !batch.more {
                break;
            }
        }
        assert_eq!(pages, ["ab", "cd", "e"]);
        assert_eq!(cursor, 5);
        assert!(log.read(5).messages.is_empty());
        // After a reset, the oldest retained page first.
        let small = History::new(3).with_page_size(2);
        for m in ["a", "b", "c", "d"] {
            small.publish(m.to_string());
        }
        let reset = small.read(0);
        assert_eq!(
            (
                reset.cursor,
                reset.messages.concat(),
                reset.reset,
                reset.more
            ),
            (3, "bc".to_string(), true, true)
        );
        assert_eq!(small.read(3).messages, strings(&["d"]));
        assert!(log.read(0).to_json().ends_with(",\"more\":true}"));
    }

    #[test]
    fn json_escapes() {
        let batch = Batch {
            cursor: 7,
            messages: vec!["q\"\\\n\u{1}é".to_string()],
            reset: true,
            more: false,
        };
        assert_eq!(
            batch.to_json(),
            "{\"cursor\":7,\"messages\":[\"q\\\"\\\\\\n\\u0001é\"],\"reset\":true}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn poll_waits_for_a_publish_or_the_timeout() {
        let log = std::sync::Arc::new(History::new(10));
        let started = tokio::time::Instant::now();
        let empty = log.poll(0, Duration::from_secs(25)).await;
        assert_eq!(
            (empty.cursor, empty.messages.len(), empty.reset),
            (0, 0, false)
        );
        assert_eq!(started.elapsed(), Duration::from_secs(25));

        let publisher = log.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            publisher.publish("x".to_string());
        });
        let started = tokio::time::Instant::now();
        let batch = log.poll(0, Duration::from_secs(25)).await;
        assert_eq!((batch.cursor, batch.messages), (1, strings(&["x"])));
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}
