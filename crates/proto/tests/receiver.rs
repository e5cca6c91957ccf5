//! The receiver against valid, fragmented and malformed input.

use bytes::BytesMut;
use proptest::prelude::*;
use pushwire_proto::ws::deflate::{Deflater, Inflater};
use pushwire_proto::ws::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use pushwire_proto::ws::mask::apply_mask;
use pushwire_proto::{CloseCode, CloseFrame, Limits, Message, ProtocolError, Receiver, Role};

/// Encodes one frame as a client sends it (masked).
fn frame(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let header = FrameHeader {
        fin,
        rsv1,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut out = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut out);
    let mut wire = out[..n].to_vec();
    let mut body = payload.to_vec();
    apply_mask(&mut body, key, 0);
    wire.extend_from_slice(&body);
    wire
}

fn server() -> Receiver {
    Receiver::new(Role::Server, Limits::default(), None)
}

/// Feeds `wire` in pieces of `chunk` bytes; collects messages until an error.
fn feed(rx: &mut Receiver, wire: &[u8], chunk: usize) -> Result<Vec<Message>, ProtocolError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(m) = rx.decode(&mut buf)? {
            out.push(m);
        }
    }
    Ok(out)
}

fn decode_all(wire: &[u8]) -> Result<Vec<Message>, ProtocolError> {
    feed(&mut server(), wire, wire.len())
}

#[test]
fn single_frames_of_each_kind() {
    let mut wire = frame(OpCode::Text, true, false, b"hi");
    wire.extend(frame(OpCode::Binary, true, false, &[0, 1, 2]));
    wire.extend(frame(OpCode::Ping, true, false, b"p"));
    wire.extend(frame(OpCode::Pong, true, false, b""));
    wire.extend(frame(
        OpCode::Close,
        true,
        false,
        &CloseFrame::new(CloseCode::NORMAL, "bye").encode(),
    ));
    let messages = decode_all(&wire).unwrap();
    assert_eq!(
        messages,
        vec![
            Message::text("hi"),
            Message::binary(vec![0u8, 1, 2]),
            Message::Ping("p".into()),
            Message::Pong("".into()),
            Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye"))),
        ]
    );
}

#[test]
fn control_frames_interleave_with_fragments() {
    let mut wire = frame(OpCode::Text, false, false, b"frag");
    wire.extend(frame(OpCode::Ping, true, false, b"x"));
    wire.extend(frame(OpCode::Continuation, false, false, b"men"));
    wire.extend(frame(OpCode::Pong, true, false, b"y"));
    wire.extend(frame(OpCode::Continuation, true, false, b"ted"));
    let messages = decode_all(&wire).unwrap();
    assert_eq!(
        messages,
        vec![
            Message::Ping("x".into()),
            Message::Pong("y".into()),
            Message::text("fragmented")
        ]
    );
}

#[test]
fn each_malformed_input_gets_its_error_and_code() {
    let cases: Vec<(Vec<u8>, ProtocolError, u16)> = vec![
        (
            vec![0x83, 0x80, 0, 0, 0, 0],
            ProtocolError::ReservedOpcode(3),
            1002,
        ),
        (
            vec![0xc1, 0x80, 0, 0, 0, 0],
            ProtocolError::ReservedBits,
            1002,
        ),
        (
            vec![0xa1, 0x80, 0, 0, 0, 0],
            ProtocolError::ReservedBits,
            1002,
        ),
        (
            vec![0x91, 0x80, 0, 0, 0, 0],
            ProtocolError::ReservedBits,
            1002,
        ),
        (vec![0x81, 0x00], ProtocolError::UnmaskedFrame, 1002),
        (
            frame(OpCode::Ping, false, false, b""),
            ProtocolError::FragmentedControl,
            1002,
        ),
        (
            frame(OpCode::Ping, true, false, &[0; 126]),
            ProtocolError::ControlTooLong,
            1002,
        ),
        (
            frame(OpCode::Continuation, true, false, b"x"),
            ProtocolError::UnexpectedContinuation,
            1002,
        ),
        (
            [
                frame(OpCode::Text, false, false, b"a"),
                frame(OpCode::Text, true, false, b"b"),
            ]
            .concat(),
            ProtocolError::ExpectedContinuation,
            1002,
        ),
        (
            frame(OpCode::Close, true, false, &[3]),
            ProtocolError::InvalidClosePayload,
            1002,
        ),
        (
            frame(OpCode::Close, true, false, &[0x03, 0xee]),
            ProtocolError::InvalidClosePayload,
            1002,
        ),
        (
            frame(OpCode::Close, true, false, &[0x03, 0xe8, 0xc0]),
            ProtocolError::InvalidUtf8,
            1007,
        ),
        (
            frame(OpCode::Text, true, false, &[0xce, 0xba, 0xed, 0xa0, 0x80]),
            ProtocolError::InvalidUtf8,
            1007,
        ),
        (
            frame(OpCode::Text, true, false, &[0xe2, 0x82]),
            ProtocolError::InvalidUtf8,
            1007,
        ),
        (
            frame(OpCode::Binary, true, true, b"x"),
            ProtocolError::ReservedBits,
            1002,
        ),
    ];
    for (wire, error, code) in cases {
        assert_eq!(decode_all(&wire), Err(error), "{wire:x?}");
        assert_eq!(error.close_code(), CloseCode(code));
    }
}

#[test]
fn client_rejects_masked_frames() {
    let mut rx = Receiver::new(Role::Client, Limits::default(), None);
    let wire = frame(OpCode::Text, true, false, b"x");
    assert_eq!(feed(&mut rx, &wire, 100), Err(ProtocolError::MaskedFrame));
}

#[test]
fn invalid_text_fails_before_the_frame_is_complete() {
    let mut payload = b"valid text ".to_vec();
    payload.extend_from_slice(&[0xed, 0xa0, 0x80]);
    payload.extend_from_slice(&[b'x'; 1000]);
    let wire = frame(OpCode::Text, true, false, &payload);
    let mut rx = server();
    let mut buf = BytesMut::from(&wire[..4 + 2 + 16]);
    assert_eq!(rx.decode(&mut buf), Err(ProtocolError::InvalidUtf8));
}

#[test]
fn limits_are_enforced_from_the_header() {
    let limits = Limits::default()
        .max_frame_size(100)
        .max_message_size(150)
        .max_fragments(3);
    let mut rx = Receiver::new(Role::Server, limits, None);
    // The header alone is enough: no payload needs to arrive.
    let header_only = &frame(OpCode::Binary, true, false, &[0; 101])[..8];
    assert_eq!(
        feed(&mut rx, header_only, 100),
        Err(ProtocolError::FrameTooBig)
    );

    let mut rx = Receiver::new(Role::Server, limits, None);
    let wire = [
        frame(OpCode::Binary, false, false, &[0; 100]),
        frame(OpCode::Continuation, true, false, &[0; 51]),
    ]
    .concat();
    assert_eq!(
        feed(&mut rx, &wire, 1000),
        Err(ProtocolError::MessageTooBig)
    );

    let mut rx = Receiver::new(Role::Server, limits, None);
    let wire = [
        frame(OpCode::Binary, false, false, b""),
        frame(OpCode::Continuation, false, false, b""),
        frame(OpCode::Continuation, false, false, b""),
        frame(OpCode::Continuation, true, false, b""),
    ]
    .concat();
    assert_eq!(
        feed(&mut rx, &wire, 1000),
        Err(ProtocolError::TooManyFragments)
    );
}

#[test]
fn compressed_bomb_closes_with_1009() {
    let limits = Limits::default().max_message_size(1 << 20);
    let mut rx = Receiver::new(Role::Server, limits, Some(Inflater::new(false)));
    let packed = Deflater::new(9, 15, false).compress(&vec![b'a'; 8 << 20]);
    let wire = frame(OpCode::Text, true, true, &packed);
    let err = feed(&mut rx, &wire, 4096).unwrap_err();
    assert_eq!(
        (err, err.close_code()),
        (ProtocolError::MessageTooBig, CloseCode::TOO_BIG)
    );
}

#[test]
fn compressed_fragments_decode() {
    let mut rx = Receiver::new(Role::Server, Limits::default(), Some(Inflater::new(false)));
    let text = "compressed ".repeat(100);
    let packed = Deflater::new(1, 15, false).compress(text.as_bytes());
    let (a, b) = packed.split_at(packed.len() / 2);
    let wire = [
        frame(OpCode::Text, false, true, a),
        frame(OpCode::Continuation, true, false, b),
    ]
    .concat();
    assert_eq!(feed(&mut rx, &wire, 7).unwrap(), vec![Message::text(text)]);
}

#[test]
fn empty_compressed_messages_keep_the_stream_in_sync() {
    let mut rx = Receiver::new(Role::Server, Limits::default(), Some(Inflater::new(false)));
    let mut deflater = Deflater::new(1, 15, false);
    let mut wire = frame(OpCode::Text, true, true, &deflater.compress(b"first"));
    wire.extend(frame(OpCode::Text, true, true, b"")); // a peer's empty payload
    wire.extend(frame(OpCode::Text, true, true, &deflater.compress(b"")));
    wire.extend(frame(
        OpCode::Text,
        true,
        true,
        &deflater.compress(b"after"),
    ));
    let expected = ["first", "", "", "after"].map(Message::text).to_vec();
    assert_eq!(feed(&mut rx, &wire, 3).unwrap(), expected);
}

#[test]
fn message_after_a_bfinal_block_is_not_lost() {
    // RFC 7692 section 7.2.3.4 ("Hello" ending in a BFINAL block), then 7.2.3.1.
    let mut rx = Receiver::new(Role::Client, Limits::default(), Some(Inflater::new(false)));
    let wire = [
        0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0xc1, 0x07, 0xf2, 0x48, 0xcd,
        0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(
        feed(&mut rx, &wire, 5).unwrap(),
        vec![Message::text("Hello"), Message::text("Hello")]
    );
}

proptest! {
    /// Any split of a message into fragments, delivered in any chunk size,
    /// decodes to the same message.
    #[test]
    fn any_fragmentation_decodes_the_same(text in "\\PC{0,200}", cuts in proptest::collection::vec(0usize..800, 0..6),
                                           chunk in 1usize..64, compress in any::<bool>()) {
        let bytes = text.as_bytes();
        let (body, inflater) = if compress {
            (Deflater::new(1, 15, false).compress(bytes).to_vec(), Some(Inflater::new(false)))
        } else {
            (bytes.to_vec(), None)
        };
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut wire = Vec::new();
        let mut start = 0;
        let mut pieces: Vec<&[u8]> = Vec::new();
        for cut in cuts {
            pieces.push(&body[start..cut]);
            start = cut;
        }
        pieces.push(&body[start..]);
        let last = pieces.len() - 1;
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i == 0 { OpCode::Text } else { OpCode::Continuation };
            wire.extend(frame(opcode, i == last, compress && i == 0, piece));
        }
        let mut rx = Receiver::new(Role::Server, Limits::default(), inflater);
        prop_assert_eq!(feed(&mut rx, &wire, chunk).unwrap(), vec![Message::text(text)]);
    }

    /// Random bytes never panic the receiver.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), chunk in 1usize..32) {
        let _ = feed(&mut server(), &bytes, chunk);
        let mut rx = Receiver::new(Role::Client, Limits::default(), Some(Inflater::new(false)));
        let _ = feed(&mut rx, &bytes, chunk);
    }
}
