//! What the engine tells its node.

use std::sync::Arc;

use bytes::Bytes;
use pushwire_hub::history::Publication;

/// An event from Redis for this node, in the order Redis delivered it per
/// shard.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EngineEvent {
    /// A publication on a channel this node is subscribed to (made on any
    /// node, this one included), built once per node with
    /// [`PublicationParts::encode`](pushwire_hub::history::PublicationParts::encode).
    /// `publication.offset` is 0 and `epoch` empty without history.
    Publication {
        /// The channel.
        channel: Arc<str>,
        /// The publication with its offset.
        publication: Publication,
        /// The stream's epoch.
        epoch: String,
    },
    /// A client joined the channel (on any node): encoded ClientInfo JSON.
    Join {
        /// The channel.
        channel: Arc<str>,
        /// Encoded ClientInfo JSON.
        info: Bytes,
    },
    /// A client left the channel (on any node): encoded ClientInfo JSON.
    Leave {
        /// The channel.
        channel: Arc<str>,
        /// Encoded ClientInfo JSON.
        info: Bytes,
    },
    /// A control message (to every node or to this one).
    Control(Bytes),
    /// A pub/sub connection dropped, or the event queue overflowed: these
    /// channels may have missed publications; their subscribers must recover.
    Lost {
        /// The channels.
        channels: Vec<Arc<str>>,
    },
    /// These channels are subscribed again after a reconnect (sent in
    /// batches, each after Redis confirmed it): a history read now cannot
    /// miss a publication.
    Resubscribed {
        /// The channels.
        channels: Vec<Arc<str>>,
    },
}
