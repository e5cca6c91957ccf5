//! How a [`Server`](crate::server::Server) hands an accepted upgrade's
//! stream to its [`Upgrade`](crate::upgrade::Upgrade): the connection
//! keeps a sender, the request carries the receiver in its extensions,
//! and the stream goes over once the response accepting it is sent.
//!
//! A leaf: the connections know only this, not the upgrade layer above.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::h2::tasks::StreamSpawner;
use super::h2::tunnel::Http2Stream;
use crate::io::ByteStream;

/// What a connection hands to the upgrade that accepted its request.
pub(crate) enum Handover {
    /// An HTTP/1.1 connection after its `101`, and the bytes it read
    /// past the request (the start of what the client sent over the new
    /// protocol).
    Connection {
        io: Box<dyn ByteStream>,
        leftover: Bytes,
    },
    /// An HTTP/2 stream after its extended CONNECT's `2xx`.
    Tunnel(Http2Stream),
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handover::Connection { leftover, .. } => f
                .debug_struct("Connection")
                .field("leftover", &leftover.len())
                .finish_non_exhaustive(),
            Handover::Tunnel(stream) => f.debug_tuple("Tunnel").field(stream).finish(),
        }
    }
}

/// A new slot: the server's sender, and the claim a request carries.
/// `stream_tasks` runs the WebSocket among the streams of the HTTP/2
/// connection that carries it.
pub(crate) fn upgrade_slot(
    stream_tasks: Option<StreamSpawner>,
) -> (oneshot::Sender<Handover>, UpgradeSlot) {
    let (tx, rx) = oneshot::channel();
    let slot = UpgradeSlot {
        claim: Arc::new(Mutex::new(Some(rx))),
        stream_tasks,
    };
    (tx, slot)
}

/// A request's claim on its upgraded stream, taken once by
/// [`Upgrade`](crate::upgrade::Upgrade). (Request extensions must be
/// `Clone`; every clone shares the one claim.)
#[derive(Clone)]
pub(crate) struct UpgradeSlot {
    claim: Arc<Mutex<Option<oneshot::Receiver<Handover>>>>,
    stream_tasks: Option<StreamSpawner>,
}

impl UpgradeSlot {
    /// The stream, once the response is sent; `None` if already taken.
    pub(crate) fn take(&self) -> Option<oneshot::Receiver<Handover>> {
        self.claim.lock().ok()?.take()
    }

    /// Where the WebSocket's task runs, when the stream is one of an
    /// HTTP/2 connection's.
    pub(crate) fn stream_tasks(&self) -> Option<&StreamSpawner> {
        self.stream_tasks.as_ref()
    }
}
