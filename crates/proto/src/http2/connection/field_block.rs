//! A field block that CONTINUATION frames are still adding to, and the
//! limits that keep a CONTINUATION flood from growing it without bound.

use bytes::{Bytes, BytesMut};

use super::super::frame::FrameError;
use super::super::ErrorCode;

/// A HEADERS frame without END_HEADERS, and the CONTINUATION frames
/// added to it so far.
#[derive(Debug)]
pub(crate) struct PartialBlock {
    pub(crate) stream_id: u32,
    block: BytesMut,
    pub(crate) end_stream: bool,
    frames: usize,
}

impl PartialBlock {
    /// The block a HEADERS frame begins.
    pub(crate) fn new(stream_id: u32, fragment: &[u8], end_stream: bool) -> Self {
        PartialBlock {
            stream_id,
            block: BytesMut::from(fragment),
            end_stream,
            frames: 1,
        }
    }

    /// Adds a CONTINUATION frame's fragment: refused (`ENHANCE_YOUR_CALM`)
    /// beyond `max_frames` frames or `max_len` bytes.
    pub(crate) fn add(
        &mut self,
        fragment: &[u8],
        max_frames: usize,
        max_len: usize,
    ) -> Result<(), FrameError> {
        self.frames += 1;
        if self.frames > max_frames || self.block.len() + fragment.len() > max_len {
            return Err(FrameError::connection(
                ErrorCode::ENHANCE_YOUR_CALM,
                "field block too long",
            ));
        }
        self.block.extend_from_slice(fragment);
        Ok(())
    }

    /// The whole block.
    pub(crate) fn finish(self) -> Bytes {
        self.block.freeze()
    }
}
