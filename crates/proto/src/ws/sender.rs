//! The sending half of the protocol: messages in, frames out.

use bytes::Bytes;

use crate::ws::deflate::Deflater;
use crate::ws::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use crate::ws::mask::apply_mask;
use crate::ws::message::Message;
use crate::ws::role::Role;

/// One encoded frame as it goes on the wire: [`header()`](Self::header),
/// then [`payload`](Self::payload).
///
/// An unmasked payload is kept apart from the header so that it is never
/// copied: a server sending the same bytes to many connections shares one
/// buffer among all of them. A masked payload (client role) is a copy
/// anyway, and that copy starts with the header: the whole frame is then
/// one buffer, `payload`, and `header()` is empty.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    /// What follows `header()` on the wire: the (compressed) payload, or
    /// the whole frame when it was masked.
    pub payload: Bytes,
}

impl EncodedFrame {
    /// The header bytes kept apart from the payload; empty when the
    /// header leads `payload`.
    pub fn header(&self) -> &[u8] {
        &self.header[..self.header_len as usize]
    }

    /// The frame's length on the wire, header included.
    pub fn len(&self) -> usize {
        self.header_len as usize + self.payload.len()
    }

    /// Never true: a frame has at least a two-byte header.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Encodes messages into frames: masks in the client role, compresses
/// data messages when permessage-deflate was negotiated.
///
/// ```
/// use pushwire_proto::{Message, Role, Sender};
/// let mut tx = Sender::new(Role::Server, None, 0);
/// let frame = tx.encode(&Message::text("Hello"), [0; 4]);
/// assert_eq!(frame.header(), &[0x81, 0x05]);
/// assert_eq!(&frame.payload[..], b"Hello");
/// ```
#[derive(Debug)]
pub struct Sender {
    role: Role,
    deflater: Option<Deflater>,
    min_compress_size: usize,
}

impl Sender {
    /// A sender for `role`; with a `deflater`, data messages of at least
    /// `min_compress_size` bytes are compressed.
    pub fn new(role: Role, deflater: Option<Deflater>, min_compress_size: usize) -> Self {
        Sender {
            role,
            deflater,
            min_compress_size,
        }
    }

    /// The role this sender encodes for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Encodes `message` as one frame. `mask_key` masks it in the client
    /// role and must come from a strong random source there (RFC 6455
    /// section 5.3); the server role ignores it.
    pub fn encode(&mut self, message: &Message, mask_key: [u8; 4]) -> EncodedFrame {
        self.encode_with(message, mask_key, |deflater, payload| {
            deflater.compress(payload)
        })
    }

    /// [`Sender::encode`], with `compress` doing the compression when the
    /// message is compressed: for a caller that keeps what a stateless
    /// compressor made of a message many connections send alike (see
    /// [`Deflater::stateless_key`]).
    pub fn encode_with(
        &mut self,
        message: &Message,
        mask_key: [u8; 4],
        compress: impl FnOnce(&mut Deflater, &Bytes) -> Bytes,
    ) -> EncodedFrame {
        let (opcode, payload) = match message {
            Message::Text(t) => (OpCode::Text, t.as_bytes().clone()),
            Message::Binary(b) => (OpCode::Binary, b.clone()),
            Message::Ping(b) => (OpCode::Ping, b.clone()),
            Message::Pong(b) => (OpCode::Pong, b.clone()),
            Message::Close(None) => (OpCode::Close, Bytes::new()),
            Message::Close(Some(frame)) => (OpCode::Close, frame.encode()),
        };
        self.encode_payload(opcode, payload, mask_key, compress)
    }

    /// [`Sender::encode_with`] for a text message given as its bytes,
    /// which the caller vouches are UTF-8 (they are not checked again: a
    /// server sending the same text to many connections checks it once,
    /// or made it itself).
    pub fn encode_text_with(
        &mut self,
        text: Bytes,
        mask_key: [u8; 4],
        compress: impl FnOnce(&mut Deflater, &Bytes) -> Bytes,
    ) -> EncodedFrame {
        self.encode_payload(OpCode::Text, text, mask_key, compress)
    }

    fn encode_payload(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
        mask_key: [u8; 4],
        compress: impl FnOnce(&mut Deflater, &Bytes) -> Bytes,
    ) -> EncodedFrame {
        let (payload, compressed) = match &mut self.deflater {
            Some(d) if !opcode.is_control() && payload.len() >= self.min_compress_size => {
                (compress(d, &payload), true)
            }
            _ => (payload, false),
        };
        let mask = (self.role == Role::Client).then_some(mask_key);
        let header = FrameHeader {
            fin: true,
            rsv1: compressed,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let header_len = header.encode(&mut bytes);
        match mask {
            Some(key) if !payload.is_empty() => {
                let mut frame = Vec::with_capacity(header_len + payload.len());
                frame.extend_from_slice(&bytes[..header_len]);
                frame.extend_from_slice(&payload);
                apply_mask(&mut frame[header_len..], key, 0);
                EncodedFrame {
                    header: bytes,
                    header_len: 0,
                    payload: Bytes::from(frame),
                }
            }
            _ => EncodedFrame {
                header: bytes,
                header_len: header_len as u8,
                payload,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, Receiver};
    use bytes::BytesMut;

    #[test]
    fn a_masked_frame_is_one_buffer_that_decodes_back() {
        let mut tx = Sender::new(Role::Client, None, 0);
        let message = Message::binary(vec![7u8; 300]);
        let frame = tx.encode(&message, [1, 2, 3, 4]);
        assert!(frame.header().is_empty());
        assert_eq!(frame.len(), 2 + 2 + 4 + 300);
        assert_eq!(&frame.payload[..4], &[0x82, 0x80 | 126, 1, 44]);
        assert_eq!(&frame.payload[4..8], &[1, 2, 3, 4]);
        assert_eq!(frame.payload[8], 7 ^ 1);

        let mut rx = Receiver::new(Role::Server, Limits::default(), None);
        let mut wire = BytesMut::from(&frame.payload[..]);
        assert_eq!(rx.decode(&mut wire).unwrap(), Some(message));
    }

    #[test]
    fn a_server_frame_keeps_its_payload_apart() {
        let mut tx = Sender::new(Role::Server, None, 0);
        let payload = Bytes::from(vec![7u8; 300]);
        let frame = tx.encode(&Message::Binary(payload.clone()), [0; 4]);
        assert_eq!(frame.header(), &[0x82, 126, 1, 44]);
        assert_eq!(frame.payload.as_ptr(), payload.as_ptr(), "not copied");
        assert_eq!(frame.len(), 304);
    }
}
