//! A connection's subscriptions, kept in a vector sorted by channel.
//!
//! A connection holds a handful of subscriptions (at most
//! `client.channel_limit`, 128 by default), and every idle connection
//! pays for this table: a hash map's first insert allocates room for
//! several entries plus control bytes, while the vector grows one entry
//! at a time. Lookups are a binary search; inserts and removals move the
//! entries after them, which a subscribe or unsubscribe can afford.

use std::sync::Arc;

use super::Sub;

/// The subscriptions of one connection, by channel.
#[derive(Debug, Default)]
pub(crate) struct Subs {
    entries: Vec<(Arc<str>, Sub)>,
}

impl Subs {
    fn find(&self, channel: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(name, _)| (**name).cmp(channel))
    }

    /// Number of subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `channel` is subscribed.
    pub(crate) fn contains_key(&self, channel: &str) -> bool {
        self.find(channel).is_ok()
    }

    /// The subscription to `channel`.
    pub(crate) fn get(&self, channel: &str) -> Option<&Sub> {
        self.get_key_value(channel).map(|(_, sub)| sub)
    }

    /// The subscription to `channel`, with the channel's shared name.
    pub(crate) fn get_key_value(&self, channel: &str) -> Option<(&Arc<str>, &Sub)> {
        let i = self.find(channel).ok()?;
        let (name, sub) = &self.entries[i];
        Some((name, sub))
    }

    /// The subscription to `channel`, to change.
    pub(crate) fn get_mut(&mut self, channel: &str) -> Option<&mut Sub> {
        let i = self.find(channel).ok()?;
        Some(&mut self.entries[i].1)
    }

    /// Adds or replaces the subscription to `channel`; returns the one
    /// it replaced.
    pub(crate) fn insert(&mut self, channel: Arc<str>, sub: Sub) -> Option<Sub> {
        match self.find(&channel) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, sub)),
            Err(i) => {
                self.entries.reserve_exact(1);
                self.entries.insert(i, (channel, sub));
                None
            }
        }
    }

    /// Removes the subscription to `channel`.
    pub(crate) fn remove(&mut self, channel: &str) -> Option<Sub> {
        let i = self.find(channel).ok()?;
        let (_, sub) = self.entries.remove(i);
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
        Some(sub)
    }

    /// The subscribed channels, in name order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Arc<str>> {
        self.entries.iter().map(|(name, _)| name)
    }

    /// The subscriptions, in channel order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Sub> {
        self.entries.iter().map(|(_, sub)| sub)
    }

    /// Channels and subscriptions, in channel order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Sub)> {
        self.entries.iter().map(|(name, sub)| (name, sub))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::NamespaceOptions;

    fn sub(server_side: bool) -> Sub {
        Sub {
            server_side,
            expires: None,
            chan_info: None,
            opts: Arc::new(NamespaceOptions::default()),
        }
    }

    #[test]
    fn finds_what_was_inserted_in_any_order() {
        let mut subs = Subs::default();
        for name in ["news", "a", "zeta", "m:1"] {
            assert!(subs.insert(Arc::from(name), sub(false)).is_none());
        }
        assert_eq!(subs.len(), 4);
        let names: Vec<&str> = subs.keys().map(|k| &**k).collect();
        assert_eq!(names, ["a", "m:1", "news", "zeta"]);
        assert!(subs.contains_key("m:1"));
        assert!(!subs.contains_key("m"));
        assert!(subs.insert(Arc::from("news"), sub(true)).is_some());
        assert!(subs.get("news").is_some_and(|s| s.server_side));
        assert_eq!(subs.len(), 4);
    }

    #[test]
    fn removing_the_last_frees_the_table() {
        let mut subs = Subs::default();
        subs.insert(Arc::from("a"), sub(false));
        subs.insert(Arc::from("b"), sub(false));
        assert!(subs.remove("a").is_some());
        assert!(subs.remove("a").is_none());
        assert_eq!(subs.keys().map(|k| &**k).collect::<Vec<_>>(), ["b"]);
        assert!(subs.remove("b").is_some());
        assert_eq!(subs.entries.capacity(), 0);
    }
}
