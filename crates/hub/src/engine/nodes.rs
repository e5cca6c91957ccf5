//! The other nodes of a hub on a remote engine, as their own reports tell:
//! every node sends its [`NodeInfo`] to every node each
//! [`NODE_INFO_INTERVAL`], and one not heard from for [`NODE_INFO_LIFETIME`]
//! is taken for gone (a node that stops cleanly says so at once).
//!
//! The server API's `info` lists this node and the live ones; a `channels`
//! survey waits for the live ones.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::json::JsonWriter;
use crate::time::Timestamp;

/// How often a node sends its counts (the server API's `info` entry) to
/// every node.
pub const NODE_INFO_INTERVAL: Duration = Duration::from_secs(3);

/// How long a node counts as live after its last report: three
/// intervals, so that one or two lost reports do not drop it.
pub const NODE_INFO_LIFETIME: Duration = Duration::from_secs(9);

/// How a control message carrying a node's [`NodeInfo`] (JSON) begins.
pub(crate) const NODE_INFO_MESSAGE: &str = "node";

/// How a control message saying a node stops begins; then its id.
pub(crate) const NODE_LEAVE_MESSAGE: &str = "node-leave";

/// What a node says about itself: one entry of the server API's `info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeInfo {
    /// The node's id.
    pub uid: String,
    /// The node's name.
    pub name: String,
    /// Its pushwire version.
    pub version: String,
    /// Open connections that connected.
    pub num_clients: u64,
    /// Distinct users among them.
    pub num_users: u64,
    /// Subscriptions of its connections.
    pub num_subs: u64,
    /// Channels with subscribers on the node.
    pub num_channels: u64,
    /// Seconds since the node started.
    pub uptime: u64,
}

impl NodeInfo {
    /// Writes the `info` entry as a JSON object.
    pub(crate) fn write(&self, w: &mut JsonWriter) {
        w.open();
        w.str("uid", &self.uid);
        w.str("name", &self.name);
        w.str("version", &self.version);
        w.u64("num_clients", self.num_clients);
        w.u64("num_users", self.num_users);
        w.u64("num_subs", self.num_subs);
        w.u64("num_channels", self.num_channels);
        w.u64("uptime", self.uptime);
        w.close();
    }

    /// The control message that tells every node about this one.
    pub(crate) fn message(&self) -> Vec<u8> {
        let mut message = format!("{NODE_INFO_MESSAGE}\n").into_bytes();
        // Plain strings and numbers: serializing cannot fail.
        message.extend_from_slice(&serde_json::to_vec(self).unwrap_or_default());
        message
    }

    /// A [`NodeInfo`] from the body of a node info message; `None` if it is
    /// not one (or names no node).
    pub(crate) fn decode(body: &[u8]) -> Option<NodeInfo> {
        serde_json::from_slice::<NodeInfo>(body)
            .ok()
            .filter(|info| !info.uid.is_empty())
    }
}

/// The control message saying node `uid` stops.
pub(crate) fn leave_message(uid: &str) -> Vec<u8> {
    format!("{NODE_LEAVE_MESSAGE}\n{uid}").into_bytes()
}

/// What the registry learnt from a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    /// A node it did not know (or had taken for gone).
    New,
    /// A node it knew.
    Known,
}

/// The other nodes, with when each was last heard from.
#[derive(Debug, Default)]
pub(crate) struct NodeRegistry {
    nodes: HashMap<String, (NodeInfo, Timestamp)>,
}

impl NodeRegistry {
    /// Keeps `info`, heard at `now`.
    pub(crate) fn heard(&mut self, info: NodeInfo, now: Timestamp) -> Heard {
        let known = self
            .nodes
            .get(&info.uid)
            .is_some_and(|(_, seen)| is_live(*seen, now));
        self.nodes.insert(info.uid.clone(), (info, now));
        if known {
            Heard::Known
        } else {
            Heard::New
        }
    }

    /// Forgets a node that said it stops; whether it was known.
    pub(crate) fn left(&mut self, uid: &str) -> bool {
        self.nodes.remove(uid).is_some()
    }

    /// Forgets the nodes not heard from within [`NODE_INFO_LIFETIME`];
    /// gives their ids.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<String> {
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, (_, seen))| !is_live(*seen, now))
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in &gone {
            self.nodes.remove(uid);
        }
        gone
    }

    /// The nodes heard from within [`NODE_INFO_LIFETIME`] of `now`, by id.
    pub(crate) fn live(&self, now: Timestamp) -> Vec<&NodeInfo> {
        let mut live: Vec<&NodeInfo> = self
            .nodes
            .values()
            .filter(|(_, seen)| is_live(*seen, now))
            .map(|(info, _)| info)
            .collect();
        live.sort_unstable_by(|a, b| a.uid.cmp(&b.uid));
        live
    }
}

/// Whether a node last heard from at `seen` still counts at `now`.
fn is_live(seen: Timestamp, now: Timestamp) -> bool {
    now.saturating_since(seen) < NODE_INFO_LIFETIME
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(uid: &str, num_clients: u64) -> NodeInfo {
        NodeInfo {
            uid: uid.into(),
            name: "pushwire".into(),
            version: "1.0.0".into(),
            num_clients,
            num_users: 1,
            num_subs: 2,
            num_channels: 3,
            uptime: 4,
        }
    }

    fn uids(registry: &NodeRegistry, now: Timestamp) -> Vec<String> {
        registry.live(now).iter().map(|i| i.uid.clone()).collect()
    }

    #[test]
    fn a_node_counts_until_the_lifetime_passes_without_a_report() {
        let t0 = Timestamp::from_secs(100);
        let mut registry = NodeRegistry::default();
        assert_eq!(registry.heard(info("b", 1), t0), Heard::New);
        assert_eq!(registry.heard(info("a", 1), t0), Heard::New);
        assert_eq!(uids(&registry, t0), ["a", "b"]);
        // A report refreshes b only.
        let t1 = t0 + NODE_INFO_INTERVAL;
        assert_eq!(registry.heard(info("b", 5), t1), Heard::Known);
        let just_before = Timestamp::from_millis((t0 + NODE_INFO_LIFETIME).as_millis() - 1);
        assert_eq!(uids(&registry, just_before), ["a", "b"]);
        assert!(registry.expire(just_before).is_empty());
        let at_lifetime = t0 + NODE_INFO_LIFETIME;
        assert_eq!(uids(&registry, at_lifetime), ["b"]);
        assert_eq!(registry.live(at_lifetime)[0].num_clients, 5);
        assert_eq!(registry.expire(at_lifetime), ["a"]);
        // b goes the same way, a lifetime after its last report.
        assert_eq!(registry.expire(t1 + NODE_INFO_LIFETIME), ["b"]);
        assert!(uids(&registry, t1 + NODE_INFO_LIFETIME).is_empty());
    }

    #[test]
    fn a_node_heard_again_after_it_was_taken_for_gone_is_new() {
        let t0 = Timestamp::from_secs(100);
        let mut registry = NodeRegistry::default();
        registry.heard(info("a", 1), t0);
        let late = t0 + NODE_INFO_LIFETIME + NODE_INFO_INTERVAL;
        assert_eq!(registry.heard(info("a", 1), late), Heard::New);
        assert_eq!(uids(&registry, late), ["a"]);
    }

    #[test]
    fn a_node_that_leaves_is_gone_at_once() {
        let t0 = Timestamp::from_secs(100);
        let mut registry = NodeRegistry::default();
        registry.heard(info("a", 1), t0);
        assert!(registry.left("a"));
        assert!(!registry.left("a"));
        assert!(uids(&registry, t0).is_empty());
    }

    #[test]
    fn the_message_carries_every_field_and_garbage_is_refused() {
        let sent = info("a", 7);
        let message = sent.message();
        let body = message
            .strip_prefix(format!("{NODE_INFO_MESSAGE}\n").as_bytes())
            .unwrap();
        assert_eq!(NodeInfo::decode(body), Some(sent));
        assert_eq!(NodeInfo::decode(b"{"), None);
        assert_eq!(NodeInfo::decode(b"{\"uid\":\"a\"}"), None);
        let mut nameless = info("", 1);
        nameless.uid.clear();
        let message = nameless.message();
        assert_eq!(
            NodeInfo::decode(&message[NODE_INFO_MESSAGE.len() + 1..]),
            None
        );
    }
}
