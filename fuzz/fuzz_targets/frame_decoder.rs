//! Feeds arbitrary bytes to a `Receiver` in pieces and checks that it never
//! panics, keeps its buffer bounded, honours its limits, and decodes the
//! same messages whatever the piece sizes.
//!
//! Input layout:
//! - byte 0, the configuration:
//!   - bit 0: role (0 server, 1 client);
//!   - bit 1: permessage-deflate negotiated (an `Inflater` is given);
//!   - bit 2: the inflater resets after each message (no context takeover);
//!   - bits 3-4: limits, from tiny (so that every limit triggers) to the
//!     default frame limit;
//! - byte 1: the seed of the piece sizes (bits 0-1 pick the largest piece:
//!   1, 8, 100 or 4096 bytes);
//! - the rest: the bytes as they come off the wire.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire_proto::bytes::BytesMut;
use pushwire_proto::ws::deflate::Inflater;
use pushwire_proto::ws::frame::MAX_CONTROL_PAYLOAD;
use pushwire_proto::{Limits, Message, ProtocolError, Receiver, Role};

/// The receiver reserves at most this much ahead of the data that came
/// (`RESERVE_AHEAD` in receiver.rs).
const RESERVE_AHEAD: usize = 256 << 10;

/// What a receiver made of the input: its messages, then how it stopped.
#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Message>,
    /// The final error, if any; `None`: the input ended (maybe mid-frame).
    error: Option<ProtocolError>,
}

fn limits(tier: u8) -> Limits {
    match tier & 3 {
        0 => Limits::default().max_frame_size(64).max_message_size(128).max_fragments(4).max_handshake_bytes(1024),
        1 => Limits::default().max_frame_size(1024).max_message_size(4096).max_fragments(16).max_handshake_bytes(1024),
        2 => Limits::default().max_frame_size(64 << 10).max_message_size(256 << 10).max_fragments(1000).max_handshake_bytes(16 << 10),
        // The default frame limit (16 MiB): headers may claim far more than
        // the input holds. Messages stay at 1 MiB to keep inflating fast.
        _ => Limits::default().max_message_size(1 << 20),
    }
}

/// Piece sizes: a small xorshift stream seeded by the input.
struct Pieces {
    state: u32,
    max: usize,
}

impl Pieces {
    fn new(seed: u8) -> Self {
        Pieces {
            state: 0x9e37_79b9 ^ (u32::from(seed) << 8 | u32::from(seed)),
            max: [1, 8, 100, 4096][usize::from(seed & 3)],
        }
    }

    fn next(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.max
    }
}

/// Checks what every decoded message must satisfy.
fn check(message: &Message, limits: &Limits) {
    match message {
        Message::Text(text) => {
            assert!(std::str::from_utf8(text.as_bytes()).is_ok(), "invalid text");
            assert!(text.as_bytes().len() <= limits.max_message_size);
        }
        Message::Binary(data) => assert!(data.len() <= limits.max_message_size),
        Message::Ping(data) | Message::Pong(data) => assert!(data.len() <= MAX_CONTROL_PAYLOAD),
        Message::Close(None) => {}
        Message::Close(Some(frame)) => {
            assert!(frame.code.is_sendable(), "unsendable close code");
            assert!(2 + frame.reason.len() <= MAX_CONTROL_PAYLOAD);
        }
    }
}

/// Feeds `wire` to `rx` in pieces of `piece()` bytes, decoding after each
/// piece until the receiver needs more bytes or fails.
fn run(mut rx: Receiver, wire: &[u8], mut piece: impl FnMut() -> usize) -> Outcome {
    let limits = *rx.limits();
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut fed = 0;
    loop {
        let n = piece().min(wire.len() - fed);
        buf.extend_from_slice(&wire[fed..fed + n]);
        fed += n;
        loop {
            let before = buf.len();
            match rx.decode(&mut buf) {
                Ok(Some(message)) => {
                    assert!(buf.len() < before, "a message that consumed nothing");
                    check(&message, &limits);
                    messages.push(message);
                }
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        messages,
                        error: Some(error),
                    }
                }
            }
        }
        // Memory grows with the bytes that came, never with a claimed length.
        assert!(
            buf.capacity() <= 8 * (fed + RESERVE_AHEAD),
            "buffer capacity {} after {fed} bytes",
            buf.capacity()
        );
        if fed == wire.len() {
            return Outcome {
                messages,
                error: None,
            };
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [config, seed, wire @ ..] = data else {
        return;
    };
    let role = if config & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let deflate = config & 2 != 0;
    let no_context_takeover = config & 4 != 0;
    let limits = limits(config >> 3);
    let receiver = || {
        let inflater = deflate.then(|| Inflater::new(no_context_takeover));
        Receiver::new(role, limits, inflater)
    };

    let mut pieces = Pieces::new(*seed);
    let in_pieces = run(receiver(), wire, || pieces.next());
    let at_once = run(receiver(), wire, || usize::MAX);
    assert_eq!(
        in_pieces, at_once,
        "decoding in pieces differs from decoding at once"
    );
});
