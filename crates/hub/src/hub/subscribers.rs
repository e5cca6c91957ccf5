//! The subscribers of one channel on this node.

use std::collections::hash_map::{self, HashMap};

use super::ConnId;

/// A channel with at least this many subscribers also keeps them in slot
/// order; one that falls under half of it stops.
const IN_ORDER_FROM: usize = 64;

/// The subscribers of one channel, with whether each gets join/leave
/// pushes.
///
/// A publication to N subscribers touches N of the hub's outboxes, a table
/// in slot order. A large channel keeps its subscribers in slot order as
/// well, so that a delivery walks that table forward, which the processor
/// reads ahead, rather than in the map's scattered order. That list is
/// kept lazily: subscribers join at its end and leave only the map, and a
/// delivery puts it back in order first (in linear time when few joined).
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    map: HashMap<ConnId, bool>,
    in_order: Option<Box<InOrder>>,
}

/// The subscribers of a large channel in slot order, once tidied.
#[derive(Debug, Default)]
struct InOrder {
    /// The subscribers, those that left since the last tidying among them,
    /// those that joined since at the end.
    conns: Vec<ConnId>,
    /// How many left since the last tidying.
    left: usize,
    /// Some joined out of order since the last tidying.
    unsorted: bool,
}

impl InOrder {
    fn new(map: &HashMap<ConnId, bool>) -> Self {
        let mut conns: Vec<ConnId> = map.keys().copied().collect();
        conns.sort_unstable();
        InOrder {
            conns,
            left: 0,
            unsorted: false,
        }
    }

    /// Drops those that left and sorts: `conns` is the subscribers in
    /// slot order again.
    fn tidy(&mut self, map: &HashMap<ConnId, bool>) {
        if self.left > 0 {
            self.conns.retain(|conn| map.contains_key(conn));
        }
        if self.unsorted {
            // A stable sort: a sorted run and a short tail merge in linear time.
            self.conns.sort();
        }
        if self.left > 0 {
            // One that left and came back is in twice, side by side now.
            self.conns.dedup();
            if self.conns.capacity() > 2 * self.conns.len() {
                self.conns.shrink_to_fit();
            }
        }
        self.left = 0;
        self.unsorted = false;
    }
}

/// The subscribers of a channel, in slot order for a large channel.
pub(crate) enum InSlotOrder<'a> {
    Sorted(std::slice::Iter<'a, ConnId>),
    Any(hash_map::Keys<'a, ConnId, bool>),
}

impl Iterator for InSlotOrder<'_> {
    type Item = ConnId;

    fn next(&mut self) -> Option<ConnId> {
        match self {
            InSlotOrder::Sorted(conns) => conns.next().copied(),
            InSlotOrder::Any(conns) => conns.next().copied(),
        }
    }
}

impl Subscribers {
    /// How many subscribers.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every subscriber, in no particular order, with whether it gets
    /// join/leave pushes.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (ConnId, bool)> + '_ {
        self.map
            .iter()
            .map(|(&conn, &join_leave)| (conn, join_leave))
    }

    /// Every subscriber, in no particular order.
    pub(crate) fn conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.map.keys().copied()
    }

    /// Every subscriber, in slot order when the channel is large: the
    /// order a delivery takes.
    pub(crate) fn in_slot_order(&mut self) -> InSlotOrder<'_> {
        match self.in_order.as_deref_mut() {
            Some(in_order) => {
                in_order.tidy(&self.map);
                InSlotOrder::Sorted(in_order.conns.iter())
            }
            None => InSlotOrder::Any(self.map.keys()),
        }
    }

    /// Adds `conn`, or updates whether it gets join/leave pushes.
    pub(crate) fn insert(&mut self, conn: ConnId, join_leave: bool) {
        if self.map.insert(conn, join_leave).is_some() {
            return;
        }
        match self.in_order.as_deref_mut() {
            Some(in_order) => {
                in_order.unsorted |= in_order.conns.last().is_some_and(|&last| last > conn);
                in_order.conns.push(conn);
            }
            None if self.map.len() >= IN_ORDER_FROM => {
                self.in_order = Some(Box::new(InOrder::new(&self.map)));
            }
            None => {}
        }
    }

    /// Removes `conn`, if it subscribes.
    pub(crate) fn remove(&mut self, conn: ConnId) {
        if self.map.remove(&conn).is_none() {
            return;
        }
        if self.map.len() < IN_ORDER_FROM / 2 {
            self.in_order = None;
        } else if let Some(in_order) = self.in_order.as_deref_mut() {
            in_order.left += 1;
            // Those that left are dropped at the next delivery, or once
            // they outnumber the rest: the list stays within twice the
            // subscribers however long a channel goes without one.
            if in_order.left > self.map.len() {
                in_order.tidy(&self.map);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(index: u32, generation: u32) -> ConnId {
        ConnId { index, generation }
    }

    fn delivered(subs: &mut Subscribers) -> Vec<ConnId> {
        subs.in_slot_order().collect()
    }

    #[test]
    fn a_large_channel_delivers_in_slot_order_through_joins_and_leaves() {
        let mut subs = Subscribers::default();
        let mut expected: Vec<ConnId> = (0..200).rev().map(|i| conn(i * 3, 1)).collect();
        for &c in &expected {
            subs.insert(c, false);
        }
        expected.sort();
        assert_eq!(delivered(&mut subs), expected);
        // Some leave, one leaves and comes back, a slot is reused by a
        // later connection, newcomers join at both ends.
        for i in [0, 7, 100, 199] {
            subs.remove(expected[i]);
        }
        subs.remove(expected[50]);
        subs.insert(expected[50], true);
        subs.remove(expected[60]);
        subs.insert(conn(expected[60].index, 2), false);
        subs.insert(conn(1, 1), false);
        subs.insert(conn(1000, 1), false);
        let mut now: Vec<ConnId> = subs.conns().collect();
        now.sort();
        assert_eq!(now.len(), 200 - 4 + 2);
        assert_eq!(delivered(&mut subs), now);
        assert_eq!(subs.iter().filter(|&(_, join_leave)| join_leave).count(), 1);
    }

    #[test]
    fn leaving_without_deliveries_keeps_the_list_bounded() {
        let mut subs = Subscribers::default();
        for i in 0..100 {
            subs.insert(conn(i, 1), false);
        }
        for round in 0..1000 {
            subs.remove(conn(round % 100, 1));
            subs.insert(conn(round % 100, 1), false);
        }
        let listed = subs.in_order.as_ref().map_or(0, |o| o.conns.len());
        assert!(listed <= 2 * subs.len() + 1, "{listed} listed for 100");
        let expected: Vec<ConnId> = (0..100).map(|i| conn(i, 1)).collect();
        assert_eq!(delivered(&mut subs), expected);
    }

    #[test]
    fn a_small_channel_keeps_no_list() {
        let mut subs = Subscribers::default();
        for i in 0..IN_ORDER_FROM as u32 {
            subs.insert(conn(i, 1), false);
        }
        assert!(subs.in_order.is_some());
        for i in 0..IN_ORDER_FROM as u32 / 2 + 1 {
            subs.remove(conn(i, 1));
        }
        assert!(subs.in_order.is_none());
        assert_eq!(delivered(&mut subs).len(), IN_ORDER_FROM / 2 - 1);
    }
}
