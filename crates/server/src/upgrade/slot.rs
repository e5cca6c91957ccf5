//! How a [`Server`](crate::Server) hands an accepted upgrade's stream to
//! its [`Upgrade`](crate::Upgrade): the connection keeps a sender, the
//! request carries the receiver in its extensions, and the stream goes
//! over once the response accepting it is sent.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::stream::{ByteStream, Io};
use super::tunnel::Http2Stream;
use crate::http::http2_tasks::StreamSpawner;

/// An upgraded stream, and the bytes its connection read past the
/// request (the start of what the client sent over the new protocol).
#[derive(Debug)]
pub(crate) struct Handover {
    pub(crate) io: Io,
    pub(crate) leftover: Bytes,
}

impl Handover {
    /// An HTTP/1.1 connection after its `101`.
    pub(crate) fn connection(io: Box<dyn ByteStream>, leftover: Bytes) -> Self {
        Handover {
            io: Io::Connection(io),
            leftover,
        }
    }

    /// An HTTP/2 stream after its extended CONNECT's `2xx`.
    pub(crate) fn http2(stream: Http2Stream) -> Self {
        Handover {
            io: Io::Tunnel(stream),
            leftover: Bytes::new(),
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
/// [`Upgrade`](crate::Upgrade). (Request extensions must be `Clone`;
/// every clone shares the one claim.)
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
