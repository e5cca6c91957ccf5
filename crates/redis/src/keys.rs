//! Key and pub/sub channel names, and the choice of shard.
//!
//! Every key of a channel carries the same hash tag (`{…}`), so a channel's
//! stream, position, idempotency and presence keys and its pub/sub channel
//! share one Redis Cluster slot: one Lua script can touch them all and
//! `SPUBLISH` from inside it.
//!
//! | what | name |
//! |---|---|
//! | publications (a Redis stream) | `<prefix>.stream.{ch}` |
//! | position (hash: `e` epoch, `s` top offset, `n` history size) | `<prefix>.meta.{ch}` |
//! | idempotency result (hash) | `<prefix>.idem.{ch}.<key>` |
//! | presence: client → info (hash) | `<prefix>.presence.{ch}` |
//! | presence: client → expiry ms (sorted set) | `<prefix>.presence.exp.{ch}` |
//! | presence: client → user (hash) | `<prefix>.presence.cu.{ch}` |
//! | presence: user → clients (hash) | `<prefix>.presence.users.{ch}` |
//! | pub/sub of the channel | `<prefix>.pub.{ch}` |
//! | control to every node | `<prefix>.control` |
//! | control to one node | `<prefix>.node.<id>` |
//!
//! `{ch}` is the channel itself, or `{#<hex hash>}<channel>` when the name
//! holds a brace (which would otherwise cut the hash tag short).

/// The hash-tagged form of a channel name.
fn tagged(channel: &str) -> String {
    if channel.is_empty() || channel.contains(['{', '}']) {
        format!("{{#{:016x}}}{channel}", fnv1a(channel.as_bytes()))
    } else {
        let mut t = String::with_capacity(channel.len() + 2);
        t.push('{');
        t.push_str(channel);
        t.push('}');
        t
    }
}

/// The names of one channel's keys, each made when asked for (a publish
/// needs three of the eight; they are built with one exact allocation
/// each, no formatting machinery, as this runs on every publish).
#[derive(Debug, Clone)]
pub(crate) struct ChannelKeys<'a> {
    prefix: &'a str,
    tagged: String,
}

impl<'a> ChannelKeys<'a> {
    pub(crate) fn new(prefix: &'a str, channel: &str) -> Self {
        ChannelKeys {
            prefix,
            tagged: tagged(channel),
        }
    }

    /// `<prefix><kind><tagged><suffix>`.
    fn name(&self, kind: &str, suffix: &str) -> String {
        let mut n = String::with_capacity(
            self.prefix.len() + kind.len() + self.tagged.len() + suffix.len(),
        );
        n.push_str(self.prefix);
        n.push_str(kind);
        n.push_str(&self.tagged);
        n.push_str(suffix);
        n
    }

    /// The publications (a Redis stream).
    pub(crate) fn stream(&self) -> String {
        self.name(".stream.", "")
    }

    /// The position hash.
    pub(crate) fn meta(&self) -> String {
        self.name(".meta.", "")
    }

    /// The idempotency result of one key.
    pub(crate) fn idem(&self, key: &str) -> String {
        let mut n = self.name(".idem.", ".");
        n.push_str(key);
        n
    }

    /// Presence: client → info.
    pub(crate) fn presence(&self) -> String {
        self.name(".presence.", "")
    }

    /// Presence: client → expiry ms.
    pub(crate) fn presence_exp(&self) -> String {
        self.name(".presence.exp.", "")
    }

    /// Presence: client → user.
    pub(crate) fn presence_cu(&self) -> String {
        self.name(".presence.cu.", "")
    }

    /// Presence: user → clients.
    pub(crate) fn presence_users(&self) -> String {
        self.name(".presence.users.", "")
    }

    /// The channel's pub/sub.
    pub(crate) fn pubsub(&self) -> String {
        self.name(".pub.", "")
    }
}

/// The pub/sub channel that carries a channel's publications, joins and leaves.
pub(crate) fn pubsub_name(prefix: &str, channel: &str) -> String {
    format!("{prefix}.pub.{}", tagged(channel))
}

/// The control channel every node listens to.
pub(crate) fn control_all(prefix: &str) -> String {
    format!("{prefix}.control")
}

/// The control channel of one node.
pub(crate) fn control_node(prefix: &str, node: &str) -> String {
    format!("{prefix}.node.{node}")
}

/// FNV-1a, 64 bits: a stable hash (the same on every node and release) for
/// shard choice and brace-safe hash tags; ten lines, so no dependency.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Lamping and Veach's jump consistent hash: the shard of `key` among
/// `shards`; growing the shard count moves only 1/n of the keys.
pub(crate) fn jump_hash(mut key: u64, shards: usize) -> usize {
    let shards = i64::try_from(shards.max(1)).unwrap_or(i64::MAX);
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < shards {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let r = ((key >> 33) + 1) as f64;
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / r)) as i64;
    }
    usize::try_from(b).unwrap_or(0)
}

/// The shard that holds `channel`.
pub(crate) fn shard_of(channel: &str, shards: usize) -> usize {
    if shards <= 1 {
        0
    } else {
        jump_hash(fnv1a(channel.as_bytes()), shards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_share_a_slot_even_with_braces() {
        let k = ChannelKeys::new("pw", "chat");
        assert_eq!(k.stream(), "pw.stream.{chat}");
        assert_eq!(k.meta(), "pw.meta.{chat}");
        assert_eq!(k.idem("x"), "pw.idem.{chat}.x");
        assert_eq!(k.presence_users(), "pw.presence.users.{chat}");
        assert_eq!(k.pubsub(), "pw.pub.{chat}");
        assert_eq!(k.pubsub(), pubsub_name("pw", "chat"));
        let k = ChannelKeys::new("pw", "a}b{c");
        let tag = |s: &str| {
            let open = s.find('{').unwrap();
            let close = open + s[open..].find('}').unwrap();
            s[open + 1..close].to_owned()
        };
        assert_eq!(tag(&k.stream()), tag(&k.meta()));
        assert_eq!(tag(&k.stream()), tag(&k.pubsub()));
        assert!(tag(&k.stream()).starts_with('#') && tag(&k.stream()).len() == 17);
    }

    #[test]
    fn jump_hash_is_stable_and_spreads() {
        assert_eq!(jump_hash(0, 1), 0);
        let mut counts = [0usize; 2];
        for i in 0..1000 {
            counts[shard_of(&format!("ch{i}"), 2)] += 1;
        }
        assert!(counts[0] > 350 && counts[1] > 350, "{counts:?}");
        // Going from 2 to 3 shards moves a channel only to the new shard.
        for i in 0..1000 {
            let c = format!("ch{i}");
            let (a, b) = (shard_of(&c, 2), shard_of(&c, 3));
            assert!(a == b || b == 2);
        }
    }
}
