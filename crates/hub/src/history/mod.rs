//! Publications, streams and recovery.
//!
//! Each channel with history has a stream: publications numbered by `offset`
//! (from 1) within an `epoch` (a random 8-letter name of this incarnation of
//! the stream). The stream keeps at most `history_size` publications and
//! forgets them all `history_ttl` after the last publication; its position
//! (top offset and epoch) lives `history_meta_ttl`. When the position is
//! lost, a new epoch starts and offsets restart from 1, so a client holding an
//! old position learns it cannot recover instead of silently missing
//! publications.

mod stream;

use std::collections::BTreeMap;

use bytes::Bytes;

pub(crate) use stream::MemoryStream;

use crate::protocol::reply;

/// A position in a channel's stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamPosition {
    /// The offset of the newest publication (0 before the first).
    pub offset: u64,
    /// The stream's epoch.
    pub epoch: String,
}

/// A publication as stored and sent: its offset, its encoded
/// `{"push":{"channel":..,"pub":{...}}}` push shared by every subscriber, and
/// the `{"data":..,"info":..,"offset":..,"tags":..}` object inside it (a slice
/// of the same buffer) for history reads and recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Offset in the stream (0 when the channel keeps no history).
    pub offset: u64,
    /// The encoded publication object.
    pub json: Bytes,
    /// The encoded push carrying it.
    pub push: Bytes,
}

/// What a publication is made of, before the broker gives it an offset.
#[derive(Debug, Clone, Copy)]
pub struct PublicationParts<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The data: valid JSON.
    pub data: &'a [u8],
    /// The publisher's ClientInfo JSON (client-side publishes only).
    pub info: Option<&'a [u8]>,
    /// Tags.
    pub tags: Option<&'a BTreeMap<String, String>>,
}

impl PublicationParts<'_> {
    /// Encodes the publication with its offset: one buffer holds the push,
    /// the publication object is a slice of it.
    pub fn encode(&self, offset: u64) -> Publication {
        let (push, json) =
            reply::publication_push(self.channel, self.data, self.info, offset, self.tags);
        Publication { offset, json, push }
    }
}

/// A history query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Most publications to return; `None` = all. `Some(0)` = position only.
    pub limit: Option<usize>,
    /// Publications after this offset (before it when `reverse`); `epoch`
    /// empty skips the epoch check, a different epoch is error 112.
    pub since: Option<StreamPosition>,
    /// Newest first.
    pub reverse: bool,
}

/// The answer to a history query: the stream's current position and the
/// publications asked for.
#[derive(Debug, Clone, Default)]
pub struct HistoryResult {
    /// The stream's current top position.
    pub position: StreamPosition,
    /// The publications, oldest first (newest first when reversed).
    pub publications: Vec<Publication>,
}

/// The outcome of a recovery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovery {
    pub recovered: bool,
    /// Missed publications in order (empty unless recovered).
    pub publications: Vec<Publication>,
    /// The stream's top.
    pub top: StreamPosition,
}

/// Decides whether a client at `from` recovered, given the history read
/// `since from` (limited) and the stream's top:
/// `recovered = same epoch AND (nothing missed and top == from.offset, OR the
/// first returned offset is from.offset+1 and the last is the top)`.
/// Anything else — a different epoch, a stream that lost publications, more
/// missed than the limit — is `recovered:false` with no publications.
pub(crate) fn recovery(from: &StreamPosition, read: HistoryResult) -> Recovery {
    let top = read.position;
    let pubs = read.publications;
    let recovered = from.epoch == top.epoch
        && match (pubs.first(), pubs.last()) {
            (None, _) | (_, None) => top.offset == from.offset,
            (Some(first), Some(last)) => {
                first.offset == from.offset.saturating_add(1)
                    && last.offset == top.offset
                    && pubs.windows(2).all(|w| w[1].offset == w[0].offset + 1)
            }
        };
    Recovery {
        recovered,
        publications: if recovered { pubs } else { Vec::new() },
        top,
    }
}
