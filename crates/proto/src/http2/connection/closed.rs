//! The streams a connection closed last, and who closed them: frames
//! the client sent before it learned of the server's RST_STREAM are
//! ignored, while frames after the client's own RST_STREAM or
//! END_STREAM are errors (RFC 9113 section 5.1).

use std::collections::VecDeque;

/// How many closed streams a connection remembers. Of an older stream,
/// a DATA frame gets RST_STREAM (`STREAM_CLOSED`) and a HEADERS frame
/// ends the connection (`PROTOCOL_ERROR`, section 5.1.1).
pub(crate) const CLOSED_STREAMS_KEPT: usize = 32;

/// Who closed a stream the connection no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClosedBy {
    /// The server reset it (or refused it): the client may not know yet.
    ServerReset,
    /// The client reset it.
    ClientReset,
    /// Both sides sent END_STREAM.
    BothEnded,
}

/// The last [`CLOSED_STREAMS_KEPT`] closed streams, newest at the back.
#[derive(Debug, Default)]
pub(crate) struct ClosedStreams(VecDeque<(u32, ClosedBy)>);

impl ClosedStreams {
    /// Remembers that `by` closed `stream_id`, forgetting the oldest.
    pub(crate) fn remember(&mut self, stream_id: u32, by: ClosedBy) {
        if self.0.len() == CLOSED_STREAMS_KEPT {
            self.0.pop_front();
        }
        self.0.push_back((stream_id, by));
    }

    /// Who closed `stream_id`, if it is remembered.
    pub(crate) fn by(&self, stream_id: u32) -> Option<ClosedBy> {
        self.0
            .iter()
            .rev()
            .find(|(id, _)| *id == stream_id)
            .map(|&(_, by)| by)
    }
}
