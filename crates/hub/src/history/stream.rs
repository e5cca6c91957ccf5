//! One channel's stream in memory.

use std::collections::VecDeque;
use std::time::Duration;

use super::{HistoryQuery, HistoryResult, Publication, PublicationParts, StreamPosition};
use crate::protocol::ErrorCode;
use crate::time::Timestamp;

/// A bounded stream: the newest `size` publications, dropped together `ttl`
/// after the last publish; the position kept until `meta_expires`.
#[derive(Debug)]
pub(crate) struct MemoryStream {
    pub(crate) epoch: String,
    pub(crate) top: u64,
    pubs: VecDeque<Publication>,
    /// When the publications expire (TTL after the last publish).
    pubs_expire: Timestamp,
    /// When the position (top, epoch) expires.
    pub(crate) meta_expires: Timestamp,
}

impl MemoryStream {
    pub(crate) fn new(epoch: String, now: Timestamp, meta_ttl: Duration) -> Self {
        MemoryStream {
            epoch,
            top: 0,
            pubs: VecDeque::new(),
            pubs_expire: now,
            meta_expires: now + meta_ttl,
        }
    }

    pub(crate) fn position(&self) -> StreamPosition {
        StreamPosition {
            offset: self.top,
            epoch: self.epoch.clone(),
        }
    }

    /// Drops publications past their TTL. Returns whether the position
    /// itself has expired (the caller then forgets the stream).
    pub(crate) fn expire(&mut self, now: Timestamp) -> bool {
        if now >= self.pubs_expire {
            self.pubs.clear();
        }
        now >= self.meta_expires
    }

    /// Appends a publication with the next offset.
    pub(crate) fn add(
        &mut self,
        now: Timestamp,
        parts: &PublicationParts<'_>,
        size: usize,
        ttl: Duration,
        meta_ttl: Duration,
    ) -> Publication {
        self.expire(now);
        self.top += 1;
        let p = parts.encode(self.top);
        self.pubs.push_back(p.clone());
        while self.pubs.len() > size {
            self.pubs.pop_front();
        }
        self.pubs_expire = now + ttl;
        self.meta_expires = self.meta_expires.max(now + meta_ttl);
        p
    }

    /// A mirror of a stream read from a remote engine: its position and
    /// its newest publications, oldest first.
    pub(crate) fn restore(
        position: StreamPosition,
        pubs: Vec<Publication>,
        now: Timestamp,
        ttl: Duration,
        meta_ttl: Duration,
    ) -> Self {
        MemoryStream {
            epoch: position.epoch,
            top: position.offset,
            pubs: pubs.into(),
            pubs_expire: now + ttl,
            meta_expires: now + meta_ttl,
        }
    }

    /// Appends a publication that a remote engine numbered. False (and
    /// nothing changed) unless it is the next one of the same epoch.
    pub(crate) fn apply(
        &mut self,
        now: Timestamp,
        p: Publication,
        epoch: &str,
        size: usize,
        ttl: Duration,
        meta_ttl: Duration,
    ) -> bool {
        if epoch != self.epoch || p.offset != self.top + 1 {
            return false;
        }
        self.expire(now);
        self.top = p.offset;
        self.pubs.push_back(p);
        while self.pubs.len() > size {
            self.pubs.pop_front();
        }
        self.pubs_expire = now + ttl;
        self.meta_expires = self.meta_expires.max(now + meta_ttl);
        true
    }

    /// Forgets the publications, keeps the position.
    pub(crate) fn remove_history(&mut self) {
        self.pubs.clear();
    }

    /// Answers a history query (publications must already be expired by the caller).
    pub(crate) fn query(&self, q: &HistoryQuery) -> Result<HistoryResult, ErrorCode> {
        let position = self.position();
        let limit = q.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(HistoryResult {
                position,
                publications: Vec::new(),
            });
        }
        let publications: Vec<Publication> = match &q.since {
            Some(since) => {
                if !since.epoch.is_empty() && since.epoch != self.epoch {
                    return Err(ErrorCode::UNRECOVERABLE_POSITION);
                }
                if q.reverse {
                    self.pubs
                        .iter()
                        .rev()
                        .filter(|p| p.offset < since.offset)
                        .take(limit)
                        .cloned()
                        .collect()
                } else {
                    // Offsets are contiguous in the deque: skip straight to the start.
                    let first = self.pubs.front().map_or(0, |p| p.offset);
                    let skip = since.offset.saturating_add(1).saturating_sub(first);
                    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
                    self.pubs.iter().skip(skip).take(limit).cloned().collect()
                }
            }
            None if q.reverse => self.pubs.iter().rev().take(limit).cloned().collect(),
            None => self.pubs.iter().take(limit).cloned().collect(),
        };
        Ok(HistoryResult {
            position,
            publications,
        })
    }
}
