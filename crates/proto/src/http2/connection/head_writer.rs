//! Response heads and trailers written as field blocks: HEADERS frames,
//! with CONTINUATION frames where the peer's frame size makes them need.

use bytes::BytesMut;
use http::{HeaderMap, StatusCode};

use super::super::frame;
use super::super::hpack::{Encoder, Field};

/// Writes response heads and trailers as field blocks: HEADERS frames,
/// with CONTINUATION frames where the peer's frame size makes them need.
#[derive(Debug, Default)]
pub struct HeadWriter {
    encoder: Encoder,
    /// Scratch space for the encoded block.
    block: Vec<u8>,
}

impl HeadWriter {
    /// The peer announced `SETTINGS_HEADER_TABLE_SIZE`.
    pub fn set_peer_table_size(&mut self, size: usize) {
        self.encoder.set_peer_table_size(size);
    }

    /// Writes a response's head: `:status` first, then `headers` (marked
    /// never-indexed where their values are sensitive).
    pub fn put_head(
        &mut self,
        dst: &mut BytesMut,
        stream_id: u32,
        status: StatusCode,
        headers: &HeaderMap,
        end_stream: bool,
        max_frame_size: u32,
    ) {
        let status = Field {
            name: b":status",
            value: status.as_str().as_bytes(),
            never_indexed: false,
        };
        let fields = std::iter::once(status).chain(fields(headers));
        self.put(dst, stream_id, fields, end_stream, max_frame_size);
    }

    /// Writes a trailer section, which ends the stream.
    pub fn put_trailers(
        &mut self,
        dst: &mut BytesMut,
        stream_id: u32,
        trailers: &HeaderMap,
        max_frame_size: u32,
    ) {
        self.put(dst, stream_id, fields(trailers), true, max_frame_size);
    }

    fn put<'a>(
        &mut self,
        dst: &mut BytesMut,
        stream_id: u32,
        fields: impl Iterator<Item = Field<'a>>,
        end_stream: bool,
        max_frame_size: u32,
    ) {
        self.block.clear();
        self.encoder.encode(fields, &mut self.block);
        frame::put_headers(dst, stream_id, &self.block, end_stream, max_frame_size);
    }
}

fn fields(headers: &HeaderMap) -> impl Iterator<Item = Field<'_>> {
    headers.iter().map(|(name, value)| Field {
        name: name.as_str().as_bytes(),
        value: value.as_bytes(),
        never_indexed: value.is_sensitive(),
    })
}
