//! A connection's outgoing queue, bounded in bytes.
//!
//! Items are complete JSON messages (a reply, a push, a ping `{}`) held as
//! [`Bytes`]: a publication is encoded once and the same buffer is queued for
//! every subscriber. The IO layer takes many items at once when its socket is
//! writable and may join them with `\n` into one WebSocket frame, or write
//! each as an SSE event.
//!
//! Every item is counted as its length plus [`ITEM_OVERHEAD`], so memory stays
//! bounded even for many tiny items. What happens at the bound is the
//! publication's namespace's [`SlowConsumerPolicy`]; replies and control
//! pushes that do not fit `client.queue_max_size` disconnect with 3008.
//!
//! What a slow subscriber experiences, per policy:
//! * `disconnect`: the connection is closed with 3008 `slow`; queued items are
//!   discarded; the SDK reconnects and recovers from history.
//! * `drop_oldest`: the oldest queued publication's channel loses *all* its
//!   queued publications and the subscriber gets unsubscribe 2500
//!   `insufficient state` for it (the hub ends that subscription), so the SDK
//!   resubscribes from the last publication it processed and recovers. The
//!   queue never holds a later publication of a channel whose earlier one was
//!   dropped: no silent gap. Only publications of `drop_oldest` and
//!   `latest_only` channels are dropped so; when the rest fills the queue,
//!   the connection is disconnected with 3008.
//! * `latest_only`: a queued publication of a channel is replaced in place by
//!   the newer one; the subscriber sees the newest value, skipping stale ones.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::channel::SlowConsumerPolicy;
use crate::protocol::Disconnect;

/// Bytes counted per queued item on top of its length.
pub const ITEM_OVERHEAD: usize = 48;

/// What an outbox knows of its queued publications that may be dropped or
/// replaced (`drop_oldest`, `latest_only`): made by the first of them, as
/// most connections never queue one. Items are known by their number in
/// queue order (the front item's is [`Outbox::front`]), so that an item
/// itself is only its bytes.
#[derive(Debug, Default)]
struct Tags {
    /// Number and channel of each such publication, in queue order.
    channels: VecDeque<(u64, Arc<str>)>,
    /// `latest_only` channels → number of their queued publication.
    latest: HashMap<Arc<str>, u64>,
}

impl Tags {
    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.latest.is_empty()
    }

    /// The item numbered `number` left the front of the queue.
    fn popped(&mut self, number: u64) {
        if !self.channels.front().is_some_and(|&(n, _)| n == number) {
            return;
        }
        let Some((_, channel)) = self.channels.pop_front() else {
            return;
        };
        // Only `latest_only` channels have slots: other publications skip
        // hashing their channel's name.
        if !self.latest.is_empty() && self.latest.get(&channel) == Some(&number) {
            self.latest.remove(&channel);
        }
    }

    /// Forgets the publications of `channel`: the numbers they had, in
    /// order. The items after them move up, and so do their numbers here.
    fn drop_channel(&mut self, channel: &Arc<str>) -> Vec<u64> {
        let mut gone = Vec::new();
        self.channels.retain(|(n, c)| {
            let hit = c == channel;
            if hit {
                gone.push(*n);
            }
            !hit
        });
        self.latest.remove(channel);
        let moved_up = |n: u64| n - gone.partition_point(|&g| g < n) as u64;
        for (n, _) in self.channels.iter_mut() {
            *n = moved_up(*n);
        }
        for n in self.latest.values_mut() {
            *n = moved_up(*n);
        }
        gone
    }
}

/// The outcome of queueing a publication.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Queued (or replaced an older one of its channel under `latest_only`).
    Yes,
    /// Queued after dropping every queued publication of these channels
    /// (`drop_oldest`); the caller unsubscribes them with 2500. The new
    /// publication was not queued if its own channel is among them.
    Dropped {
        channels: Vec<Arc<str>>,
        queued: bool,
    },
    /// Does not fit: the caller disconnects with 3008.
    Overflow,
}

/// A connection's outgoing queue. See the module doc.
///
/// The hub keeps every connection's outbox in one table apart from the
/// rest of the connection's state, and a publication to N subscribers
/// touches N outboxes: so an outbox is one cache line, and what a
/// delivery reads (the queue, its byte count, whether the connection is
/// already in the hub's ready list, how its pushes are framed) is in it.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Outbox {
    items: VecDeque<Bytes>,
    /// The number of the front item; the next ones follow in order.
    front: u64,
    tags: Option<Box<Tags>>,
    disconnect: Option<Box<Disconnect>>,
    /// Counted bytes; bounds are at most [`MAX_BOUND`].
    bytes: u32,
    /// In the hub's ready list: the IO layer is yet to hear of this
    /// outbox's new items.
    pub(crate) ready: bool,
    /// Pushes are queued bare, without their `{"push":..}` wrapper
    /// (unidirectional transports).
    pub(crate) bare: bool,
}

/// The largest queue bound (`client.queue_max_size`, a namespace's
/// `queue_max_size`): 2 GiB, far beyond any sensible one, which
/// leaves the count room for forced pushes past it.
pub const MAX_BOUND: usize = 1 << 31;

/// Why `bound` cannot bound a queue (0, or past [`MAX_BOUND`]), if so: the
/// reason a config key gets.
pub(crate) fn bound_error(bound: usize) -> Option<String> {
    (bound == 0 || bound > MAX_BOUND).then(|| format!("must be > 0 and at most {MAX_BOUND}"))
}

impl Outbox {
    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of queued items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Bytes counted against the bound (lengths plus per-item overhead).
    pub fn queued_bytes(&self) -> usize {
        self.bytes as usize
    }

    /// An empty outbox; `bare` for a unidirectional transport.
    pub(crate) fn new(bare: bool) -> Self {
        Outbox {
            bare,
            ..Outbox::default()
        }
    }

    /// Whether `need` more bytes fit `bound`.
    fn fits(&self, need: usize, bound: usize) -> bool {
        self.bytes as usize + need <= bound
    }

    /// Takes the next item.
    pub fn pop(&mut self) -> Option<Bytes> {
        let item = self.items.pop_front()?;
        let number = self.front;
        self.front += 1;
        self.bytes = self.bytes.saturating_sub(counted(&item));
        if let Some(tags) = self.tags.as_mut() {
            tags.popped(number);
        }
        Some(item)
    }

    /// Moves items into `out` until about `max_bytes` of payload are taken
    /// (always at least one item if any). Returns how many were moved.
    pub fn drain_into(&mut self, out: &mut Vec<Bytes>, max_bytes: usize) -> usize {
        // An empty `out` is sized to what is queued (most often one item)
        // rather than to `Vec`'s first four.
        if out.capacity() == 0 {
            out.reserve_exact(self.items.len());
        }
        let mut n = 0;
        let mut taken = 0;
        while let Some(front) = self.items.front() {
            if n > 0 && taken + front.len() > max_bytes {
                break;
            }
            taken += front.len();
            if let Some(b) = self.pop() {
                out.push(b);
                n += 1;
            }
        }
        n
    }

    /// Gives back the room of an empty queue beyond one item (grown by a
    /// burst that is long gone). Called when a connection is pinged, so
    /// that a busy connection keeps its room and an idle one gets small.
    pub(crate) fn trim(&mut self) {
        if self.items.is_empty() && self.items.capacity() > 1 {
            self.items.shrink_to(1);
        }
        if self.tags.as_ref().is_some_and(|tags| tags.is_empty()) {
            self.tags = None;
        }
    }

    /// The disconnect decided for this connection, if any. Once set, the IO
    /// layer writes what is still queued (the disconnect push on transports
    /// that have one) and then closes with this code and reason.
    pub fn disconnect(&self) -> Option<&Disconnect> {
        self.disconnect.as_deref()
    }

    pub(crate) fn set_disconnect(&mut self, d: Disconnect, discard: bool) {
        if discard {
            self.front += self.items.len() as u64;
            self.items.clear();
            self.tags = None;
            self.bytes = 0;
        }
        if self.disconnect.is_none() {
            self.disconnect = Some(Box::new(d));
        }
    }

    /// Queues `bytes` at the back; returns its number.
    fn push_back(&mut self, bytes: Bytes) -> u64 {
        self.bytes = self.bytes.saturating_add(counted(&bytes));
        // The queue is drained as the connection writes, so most hold one
        // item at a time: the first allocation is for one (a growing
        // queue still doubles), not the four `VecDeque` starts with, which
        // every idle connection would keep.
        if self.items.capacity() == 0 {
            self.items.reserve_exact(1);
        }
        self.items.push_back(bytes);
        self.front + self.items.len() as u64 - 1
    }

    /// Queues a publication of `channel` that may be dropped, or with
    /// `latest`, replaced by the channel's next one.
    fn push_tagged(&mut self, bytes: Bytes, channel: &Arc<str>, latest: bool) {
        let number = self.push_back(bytes);
        let tags = self.tags.get_or_insert_with(Box::default);
        tags.channels.push_back((number, channel.clone()));
        if latest {
            tags.latest.insert(channel.clone(), number);
        }
    }

    /// Queues a reply or control push; false when it does not fit `bound`.
    pub(crate) fn push_control(&mut self, bytes: Bytes, bound: usize) -> bool {
        if self.disconnect.is_some() {
            return true;
        }
        if !self.fits(bytes.len() + ITEM_OVERHEAD, bound) {
            return false;
        }
        self.push_back(bytes);
        true
    }

    /// Queues a push that must go out whatever the bound (an unsubscribe
    /// 2500 after a drop, a disconnect push): a handful of small items.
    pub(crate) fn push_forced(&mut self, bytes: Bytes) {
        self.push_back(bytes);
    }

    /// Queues a publication of `channel` under its namespace's policy.
    pub(crate) fn push_publication(
        &mut self,
        bytes: Bytes,
        channel: &Arc<str>,
        bound: usize,
        policy: SlowConsumerPolicy,
    ) -> Queued {
        if self.disconnect.is_some() {
            return Queued::Yes;
        }
        let need = bytes.len() + ITEM_OVERHEAD;
        match policy {
            SlowConsumerPolicy::LatestOnly => {
                let queued = self.tags.as_ref().and_then(|t| t.latest.get(channel));
                let place = queued.and_then(|&n| n.checked_sub(self.front));
                if let Some(item) = place.and_then(|i| self.items.get_mut(i as usize)) {
                    let rest = self.bytes.saturating_sub(counted(item));
                    if rest as usize + need > bound {
                        return Queued::Overflow;
                    }
                    self.bytes = rest.saturating_add(counted(&bytes));
                    *item = bytes;
                    return Queued::Yes;
                }
                if !self.fits(need, bound) {
                    return Queued::Overflow;
                }
                self.push_tagged(bytes, channel, true);
                Queued::Yes
            }
            SlowConsumerPolicy::Disconnect => {
                if !self.fits(need, bound) {
                    return Queued::Overflow;
                }
                // Never dropped by channel: queued without its name, like a
                // reply, which spares a reference count per delivery.
                self.push_back(bytes);
                Queued::Yes
            }
            SlowConsumerPolicy::DropOldest => {
                let mut dropped: Vec<Arc<str>> = Vec::new();
                while !self.fits(need, bound) {
                    let oldest = self.tags.as_ref().and_then(|t| t.channels.front());
                    let Some(oldest) = oldest.map(|(_, c)| c.clone()) else {
                        return Queued::Overflow;
                    };
                    self.drop_channel(&oldest);
                    dropped.push(oldest);
                }
                if dropped.is_empty() {
                    self.push_tagged(bytes, channel, false);
                    return Queued::Yes;
                }
                let queued = !dropped.iter().any(|c| c == channel);
                if queued {
                    self.push_tagged(bytes, channel, false);
                }
                Queued::Dropped {
                    channels: dropped,
                    queued,
                }
            }
        }
    }

    /// Removes every queued publication of `channel`; returns how many.
    pub(crate) fn drop_channel(&mut self, channel: &Arc<str>) -> usize {
        let Some(tags) = self.tags.as_mut() else {
            return 0;
        };
        let gone = tags.drop_channel(channel);
        if gone.is_empty() {
            return 0;
        }
        let mut number = self.front;
        let mut freed = 0u32;
        self.items.retain(|item| {
            let hit = gone.binary_search(&number).is_ok();
            number += 1;
            if hit {
                freed = freed.saturating_add(counted(item));
            }
            !hit
        });
        self.bytes = self.bytes.saturating_sub(freed);
        gone.len()
    }

    /// Forgets the `latest_only` slot of `channel` (on unsubscribe), so a
    /// later subscription's publications queue after its subscribe reply.
    pub(crate) fn forget_latest(&mut self, channel: &str) {
        if let Some(tags) = self.tags.as_mut() {
            tags.latest.remove(channel);
        }
    }
}

/// What an item counts against the bound.
fn counted(bytes: &Bytes) -> u32 {
    u32::try_from(bytes.len() + ITEM_OVERHEAD).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_owned())
    }

    #[test]
    fn an_outbox_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Outbox>(), 64);
    }

    #[test]
    fn latest_only_replaces_in_place() {
        let mut o = Outbox::default();
        let a: Arc<str> = "a".into();
        let c: Arc<str> = "c".into();
        assert_eq!(
            o.push_publication(b("a1"), &a, 1000, SlowConsumerPolicy::LatestOnly),
            Queued::Yes
        );
        o.push_control(b("r"), 1000);
        o.push_publication(b("c1"), &c, 1000, SlowConsumerPolicy::LatestOnly);
        o.push_publication(b("a2"), &a, 1000, SlowConsumerPolicy::LatestOnly);
        let mut out = Vec::new();
        o.drain_into(&mut out, usize::MAX);
        assert_eq!(out, vec![b("a2"), b("r"), b("c1")]);
        assert_eq!(o.queued_bytes(), 0);
        // After draining, a new publication of `a` queues again at the back.
        o.push_publication(b("a3"), &a, 1000, SlowConsumerPolicy::LatestOnly);
        assert_eq!(o.pop(), Some(b("a3")));
    }

    #[test]
    fn room_is_sized_to_what_is_queued_and_trimmed_when_idle() {
        let mut o = Outbox::default();
        o.push_control(b("one"), 1000);
        assert_eq!(o.items.capacity(), 1, "one item, room for one");
        let mut out = Vec::new();
        o.drain_into(&mut out, usize::MAX);
        assert_eq!(out.capacity(), 1, "the taker's room fits what it took");
        for reply in ["r1", "r2", "r3"] {
            o.push_control(b(reply), 1000);
        }
        o.trim();
        assert!(
            o.items.capacity() >= 3,
            "a queue that holds items keeps them"
        );
        out.clear();
        o.drain_into(&mut out, usize::MAX);
        assert_eq!(out, vec![b("r1"), b("r2"), b("r3")]);
        o.trim();
        assert_eq!(
            o.items.capacity(),
            1,
            "an idle queue gives back the burst's room"
        );
    }

    #[test]
    fn drop_oldest_drops_whole_channel() {
        let mut o = Outbox::default();
        let a: Arc<str> = "a".into();
        let c: Arc<str> = "c".into();
        let bound = 4 * (2 + ITEM_OVERHEAD);
        let p = SlowConsumerPolicy::DropOldest;
        o.push_publication(b("a1"), &a, bound, p);
        o.push_publication(b("c1"), &c, bound, p);
        o.push_publication(b("a2"), &a, bound, p);
        o.push_publication(b("c2"), &c, bound, p);
        match o.push_publication(b("c3"), &c, bound, p) {
            Queued::Dropped { channels, queued } => {
                assert_eq!(channels, vec![a.clone()]);
                assert!(queued);
            }
            other => panic!("{other:?}"),
        }
        let mut out = Vec::new();
        o.drain_into(&mut out, usize::MAX);
        assert_eq!(out, vec![b("c1"), b("c2"), b("c3")]);
    }

    #[test]
    fn a_dropped_channel_leaves_the_others_in_their_places() {
        let mut o = Outbox::default();
        let (a, l, m): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "l".into(), "m".into());
        let (drop, latest) = (
            SlowConsumerPolicy::DropOldest,
            SlowConsumerPolicy::LatestOnly,
        );
        o.push_control(b("r1"), 1000);
        o.push_publication(b("a1"), &a, 1000, drop);
        o.push_publication(b("l1"), &l, 1000, latest);
        o.push_publication(b("a2"), &a, 1000, drop);
        o.push_publication(b("m1"), &m, 1000, latest);
        o.push_control(b("r2"), 1000);
        assert_eq!(o.pop(), Some(b("r1")));
        assert_eq!(o.drop_channel(&a), 2);
        assert_eq!(o.queued_bytes(), 3 * (2 + ITEM_OVERHEAD));
        // Each `latest_only` slot still names its own publication.
        o.push_publication(b("m2"), &m, 1000, latest);
        o.push_publication(b("l2"), &l, 1000, latest);
        assert_eq!(o.pop(), Some(b("l2")));
        o.push_publication(b("l3"), &l, 1000, latest);
        let mut out = Vec::new();
        o.drain_into(&mut out, usize::MAX);
        assert_eq!(out, vec![b("m2"), b("r2"), b("l3")]);
        assert_eq!(o.queued_bytes(), 0);
        o.trim();
        assert!(o.tags.is_none(), "an empty outbox keeps no tags");
    }

    #[test]
    fn disconnect_policy_overflows() {
        let mut o = Outbox::default();
        let a: Arc<str> = "a".into();
        let bound = 2 * (2 + ITEM_OVERHEAD);
        let p = SlowConsumerPolicy::Disconnect;
        assert_eq!(o.push_publication(b("a1"), &a, bound, p), Queued::Yes);
        assert_eq!(o.push_publication(b("a2"), &a, bound, p), Queued::Yes);
        assert_eq!(o.push_publication(b("a3"), &a, bound, p), Queued::Overflow);
    }
}
