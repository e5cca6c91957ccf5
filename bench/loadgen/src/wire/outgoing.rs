//! Frames a client sends, encoded once per connection and then re-sent
//! byte for byte: a masked (and, with permessage-deflate, compressed)
//! message, and a masked close frame.
//!
//! Re-sending the same bytes is sound: the server unmasks (and inflates)
//! every copy as a new message. A compressed frame is made by a fresh
//! compressor ending in a sync flush, so it never refers to earlier
//! messages and stays valid whether or not the server keeps its
//! decompression context between messages.

use pushwire_proto::ws::deflate::{DeflateParams, Deflater};
use pushwire_proto::{CloseCode, CloseFrame, Message, Role, Sender};

/// zlib level for client frames (encoded once, so the level costs nothing
/// during a run; 6 is zlib's default and what browsers use).
const CLIENT_COMPRESSION_LEVEL: u32 = 6;

/// The bytes of one client frame carrying `message`, masked with `key`,
/// compressed when `deflate` was agreed.
pub fn message_frame(message: &Message, key: [u8; 4], deflate: Option<&DeflateParams>) -> Vec<u8> {
    let deflater = deflate.map(|params| {
        Deflater::new(
            CLIENT_COMPRESSION_LEVEL,
            params.client_max_window_bits,
            true,
        )
    });
    let frame = Sender::new(Role::Client, deflater, 0).encode(message, key);
    let mut bytes = Vec::with_capacity(frame.len());
    bytes.extend_from_slice(frame.header());
    bytes.extend_from_slice(&frame.payload);
    bytes
}

/// The bytes of a client close frame with code 1000, masked with `key`.
pub fn close_frame(key: [u8; 4]) -> Vec<u8> {
    let close = Message::Close(Some(CloseFrame {
        code: CloseCode::NORMAL,
        reason: "".into(),
    }));
    message_frame(&close, key, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushwire_proto::bytes::BytesMut;
    use pushwire_proto::ws::deflate::Inflater;
    use pushwire_proto::{Limits, Receiver};

    fn params() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }

    #[test]
    fn repeated_compressed_frames_decode_with_context_takeover() {
        let message = Message::text(crate::payload::json_like(1024));
        let frame = message_frame(&message, [1, 2, 3, 4], Some(&params()));
        assert!(
            frame.len() < 600,
            "1 KiB of JSON compresses: {} bytes",
            frame.len()
        );
        let mut server = Receiver::new(Role::Server, Limits::default(), Some(Inflater::new(false)));
        let mut wire = BytesMut::new();
        for _ in 0..3 {
            wire.extend_from_slice(&frame);
        }
        for _ in 0..3 {
            assert_eq!(server.decode(&mut wire).unwrap(), Some(message.clone()));
        }
    }

    #[test]
    fn close_frame_decodes() {
        let mut server = Receiver::new(Role::Server, Limits::default(), None);
        let mut wire = BytesMut::from(&close_frame([9, 8, 7, 6])[..]);
        assert!(matches!(
            server.decode(&mut wire).unwrap(),
            Some(Message::Close(Some(_)))
        ));
    }
}
