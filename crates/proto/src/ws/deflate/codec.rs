//! Compressing and inflating whole messages (RFC 7692 section 7.2).
//!
//! A codec that resets after every message (no context takeover) keeps no
//! state between messages, so all such codecs of a thread share one zlib
//! state: memory per thread instead of about 300 KB per connection, and a
//! state that stays in the CPU cache. At level 1 such a compressor takes
//! messages up to 64 KiB to the [`quick`](super::quick) encoder instead,
//! which has nothing to reset.

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::quick;
use crate::ws::error::ProtocolError;

/// The four bytes a sync flush ends with; stripped before sending and
/// appended again before inflating.
const SYNC_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most output produced per inflate call, between limit checks.
const INFLATE_STEP: usize = 64 << 10;

thread_local! {
    /// The compressors shared by this thread's deflaters that reset after
    /// each message, one per (level, window bits) in use.
    static SHARED_COMPRESSORS: RefCell<Vec<(u32, u8, Compress)>> = const { RefCell::new(Vec::new()) };
    /// The inflate state shared by this thread's inflaters that reset
    /// after each message, for messages inflated in one piece.
    static SHARED_DECOMPRESSOR: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Compresses outgoing messages. The zlib state is allocated on the first
/// message, so a connection that never sends pays nothing for it; with
/// no context takeover it is the thread's shared one.
pub struct Deflater {
    state: Option<Box<Compress>>,
    level: u32,
    /// The negotiated window (8-15); zlib gets at least 9.
    window_bits: u8,
    reset_after_message: bool,
}

impl Deflater {
    /// A compressor at zlib `level` with a `window_bits` window (8-15), that
    /// resets after each message when `no_context_takeover` is set.
    pub fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        Deflater {
            state: None,
            level,
            window_bits: window_bits.clamp(8, 15),
            reset_after_message: no_context_takeover,
        }
    }

    /// What the output depends on besides the input, when nothing else:
    /// `Some((level, window bits))` for a compressor that resets after
    /// each message. Two such compressors with the same key compress a
    /// message to the same bytes, so a message many connections send
    /// alike (a publication to a channel's subscribers) needs compressing
    /// once.
    ///
    /// ```
    /// use pushwire_proto::ws::deflate::Deflater;
    /// let (mut a, mut b) = (Deflater::new(1, 15, true), Deflater::new(1, 15, true));
    /// assert_eq!(a.stateless_key(), Some((1, 15)));
    /// assert_eq!(a.compress(b"same same same"), b.compress(b"same same same"));
    /// assert_eq!(Deflater::new(1, 15, false).stateless_key(), None);
    /// ```
    pub fn stateless_key(&self) -> Option<(u32, u8)> {
        self.reset_after_message
            .then_some((self.level, self.window_bits))
    }

    /// Compresses one whole message payload.
    ///
    /// ```
    /// use pushwire_proto::ws::deflate::{Deflater, Inflater};
    /// let mut d = Deflater::new(1, 15, false);
    /// let mut i = Inflater::new(false);
    /// let packed = d.compress(b"hello hello hello hello");
    /// let mut out = Vec::new();
    /// i.inflate(&packed, &mut out, 1 << 20).unwrap();
    /// i.finish_message(&mut out, 1 << 20).unwrap();
    /// assert_eq!(&out[..], b"hello hello hello hello");
    /// ```
    pub fn compress(&mut self, input: &[u8]) -> Bytes {
        if self.reset_after_message && self.level == 1 && input.len() <= quick::MAX_INPUT {
            return Bytes::from(quick::compress(input, self.window_bits));
        }
        // zlib's raw deflate has no 256-byte window: see the module docs.
        let (level, bits) = (self.level, self.window_bits.max(9));
        let new_state = || Compress::new_with_window_bits(Compression::new(level), false, bits);
        if !self.reset_after_message {
            let state = self.state.get_or_insert_with(|| Box::new(new_state()));
            return compress_with(state, input);
        }
        SHARED_COMPRESSORS.with(|shared| {
            let mut shared = shared.borrow_mut();
            let index = match shared
                .iter()
                .position(|(l, b, _)| (*l, *b) == (level, bits))
            {
                Some(index) => index,
                None => {
                    shared.push((level, bits, new_state()));
                    shared.len() - 1
                }
            };
            let state = &mut shared[index].2;
            let packed = compress_with(state, input);
            state.reset();
            packed
        })
    }
}

/// Compresses `input` as one message with a sync flush, its trailer stripped.
fn compress_with(state: &mut Compress, input: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    let start = state.total_in();
    loop {
        let consumed = (state.total_in() - start) as usize;
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        // A compressor used only with in-memory buffers cannot fail.
        state
            .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
            .expect("deflate of an in-memory buffer");
        let consumed = (state.total_in() - start) as usize;
        if consumed == input.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&SYNC_TRAILER) {
        out.truncate(out.len() - SYNC_TRAILER.len());
    }
    if out.is_empty() {
        // A sync flush with no new input emits nothing; an empty
        // message is one empty stored block (RFC 7692 section 7.2.3.6).
        out.push(0x00);
    }
    Bytes::from(out)
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("window_bits", &self.window_bits)
            .field("reset_after_message", &self.reset_after_message)
            .finish()
    }
}

/// Inflates incoming messages frame by frame, never producing more than a
/// given limit: a compression bomb stops at the limit, not in memory.
pub struct Inflater {
    state: Option<Box<Decompress>>,
    reset_after_message: bool,
    /// The message ended its DEFLATE stream with a BFINAL block
    /// (RFC 7692 section 7.2.3.4): the rest of it is ignored and the next
    /// message starts a new stream.
    stream_ended: bool,
}

impl Inflater {
    /// An inflater that resets after each message when the peer compresses
    /// with `no_context_takeover`.
    pub fn new(no_context_takeover: bool) -> Self {
        Inflater {
            state: None,
            reset_after_message: no_context_takeover,
            stream_ended: false,
        }
    }

    /// Inflates a whole message that came in one frame into `out`: the
    /// same as [`Inflater::inflate`] then [`Inflater::finish_message`],
    /// on the thread's shared state when the peer resets after each
    /// message, so that only messages in several frames need one of
    /// their own.
    pub fn inflate_message(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        if !self.reset_after_message {
            self.inflate(input, out, limit)?;
            return self.finish_message(out, limit);
        }
        SHARED_DECOMPRESSOR.with(|shared| {
            let mut shared = shared.borrow_mut();
            let state = shared.get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
            // Reset first: a message that failed left the state anywhere.
            state.reset(false);
            let mut stream_ended = false;
            inflate_with(state, &mut stream_ended, input, out, limit)?;
            inflate_with(state, &mut stream_ended, &SYNC_TRAILER, out, limit)
        })
    }

    /// Inflates the next compressed piece of a message into `out`, failing
    /// with [`ProtocolError::MessageTooBig`] as soon as `out` would pass `limit`.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        let state = self
            .state
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, 15)));
        inflate_with(state, &mut self.stream_ended, input, out, limit)
    }

    /// Ends a message: feeds the stripped sync trailer and flushes what it frees.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        self.inflate(&SYNC_TRAILER, out, limit)?;
        if self.reset_after_message || std::mem::take(&mut self.stream_ended) {
            if let Some(state) = &mut self.state {
                state.reset(false);
            }
        }
        Ok(())
    }

    /// Frees the inflate state of this inflater's own (tens of KiB with
    /// its window) when the peer resets after each message, so that a
    /// connection holds one only while a message arrives in several
    /// pieces; the next such message allocates it again. Call it between
    /// messages. With context takeover the state is the context: kept.
    pub fn release_state(&mut self) {
        if self.reset_after_message {
            self.state = None;
            self.stream_ended = false;
        }
    }

    /// Whether an inflate state of this connection's own is allocated
    /// (rather than none, or the thread's shared one).
    #[cfg(test)]
    fn holds_state(&self) -> bool {
        self.state.is_some()
    }
}

/// Inflates `input` into `out` with `state`, straight into `out`'s spare
/// room, checking `limit` after every step of at most [`INFLATE_STEP`].
fn inflate_with(
    state: &mut Decompress,
    stream_ended: &mut bool,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), ProtocolError> {
    if *stream_ended {
        return Ok(());
    }
    let start = state.total_in();
    loop {
        let consumed_before = (state.total_in() - start) as usize;
        let produced_before = out.len();
        let room = limit
            .saturating_sub(out.len())
            .saturating_add(1)
            .min(INFLATE_STEP);
        if out.capacity() - out.len() < room {
            // Grow by doubling, but never past one byte over the limit.
            let capacity = (out.capacity() * 2).clamp(out.len() + room, limit.saturating_add(1));
            out.reserve_exact(capacity - out.len());
        }
        let status = state.decompress_vec(&input[consumed_before..], out, FlushDecompress::Sync);
        // Over the limit is cut back before anything is returned, an error
        // in the compressed data included: `out` never holds more.
        let over = out.len() > limit;
        if over {
            out.truncate(limit);
        }
        let status = status.map_err(|_| ProtocolError::InvalidCompressedData)?;
        if over {
            return Err(ProtocolError::MessageTooBig);
        }
        let consumed = (state.total_in() - start) as usize;
        if status == Status::StreamEnd {
            *stream_ended = true;
            return Ok(());
        }
        let produced = out.len() - produced_before;
        let stalled = produced == 0 && consumed == consumed_before;
        if stalled || (consumed == input.len() && out.len() < out.capacity()) {
            return Ok(());
        }
    }
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("reset_after_message", &self.reset_after_message)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(d: &mut Deflater, i: &mut Inflater, msg: &[u8]) -> Vec<u8> {
        let packed = d.compress(msg);
        let mut out = Vec::new();
        i.inflate(&packed, &mut out, 1 << 24).unwrap();
        i.finish_message(&mut out, 1 << 24).unwrap();
        out.to_vec()
    }

    #[test]
    fn round_trips_with_and_without_context_takeover_at_every_window() {
        let msg: Vec<u8> = (0..5000u32)
            .map(|i| b"abcdefgh"[(i * i % 7) as usize])
            .collect();
        for bits in 8..=15 {
            for reset in [false, true] {
                let mut d = Deflater::new(6, bits, reset);
                let mut i = Inflater::new(reset);
                for _ in 0..3 {
                    assert_eq!(round_trip(&mut d, &mut i, &msg), msg);
                }
                assert_eq!(round_trip(&mut d, &mut i, b""), b"");
                assert_eq!(round_trip(&mut d, &mut i, b""), b"");
                assert_eq!(round_trip(&mut d, &mut i, &msg), msg);
            }
        }
    }

    /// Codecs without context takeover share their thread's zlib state:
    /// interleaved connections with different windows, and a message
    /// that fails halfway, leave every other message intact.
    #[test]
    fn codecs_sharing_a_thread_state_stay_independent() {
        let long: Vec<u8> = (0..20_000u32)
            .map(|i| b"pushwire"[(i % 8) as usize])
            .collect();
        let mut deflaters = [Deflater::new(1, 15, true), Deflater::new(6, 10, true)];
        let mut inflaters = [Inflater::new(true), Inflater::new(true)];
        for _ in 0..3 {
            let packed = [
                deflaters[0].compress(&long),
                deflaters[1].compress(b"short"),
            ];
            let mut out = Vec::new();
            assert!(inflaters[0]
                .inflate_message(&[0xff; 16], &mut out, 1 << 20)
                .is_err());
            for (inflater, (packed, plain)) in inflaters
                .iter_mut()
                .zip(packed.iter().zip([&long[..], b"short"]))
            {
                let mut out = Vec::new();
                inflater.inflate_message(packed, &mut out, 1 << 20).unwrap();
                assert_eq!(out, plain);
            }
        }
    }

    #[test]
    fn empty_message_is_one_empty_block() {
        let mut d = Deflater::new(1, 15, false);
        assert_eq!(&d.compress(b"")[..], &[0x00]);
        d.compress(b"data");
        assert_eq!(&d.compress(b"")[..], &[0x00]);
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 7692 section 7.2.3.1: "Hello" compressed without context.
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100)
            .unwrap();
        i.finish_message(&mut out, 100).unwrap();
        assert_eq!(&out[..], b"Hello");
    }

    #[test]
    fn bfinal_block_ends_only_its_message() {
        // RFC 7692 section 7.2.3.4 ("Hello" in a BFINAL block), then 7.2.3.1.
        let mut i = Inflater::new(false);
        for packed in [
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00][..],
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        ] {
            let mut out = Vec::new();
            i.inflate(packed, &mut out, 100).unwrap();
            i.finish_message(&mut out, 100).unwrap();
            assert_eq!(&out[..], b"Hello");
        }
    }

    /// Found by the `inflater` fuzz target: data that turns invalid right
    /// after the byte past the limit left that byte in `out`.
    #[test]
    fn invalid_data_past_the_limit_leaves_no_more_than_the_limit() {
        let mut payload = vec![242];
        payload.extend([1; 14]);
        payload.extend([138, 31, 7, 0]);
        let limit = 16;
        for piece in [1, payload.len()] {
            let mut inflater = Inflater::new(true);
            let mut out = Vec::new();
            let mut failed = false;
            for chunk in payload.chunks(piece) {
                failed = inflater.inflate(chunk, &mut out, limit).is_err();
                assert!(out.len() <= limit, "{} bytes out of {limit}", out.len());
                if failed {
                    break;
                }
            }
            if !failed {
                let _ = inflater.finish_message(&mut out, limit);
                assert!(out.len() <= limit, "{} bytes out of {limit}", out.len());
            }
        }
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        let mut d = Deflater::new(9, 15, false);
        let packed = d.compress(&vec![0u8; 50 << 20]);
        assert!(packed.len() < 100 << 10);
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        assert_eq!(
            i.inflate(&packed, &mut out, 1 << 20),
            Err(ProtocolError::MessageTooBig)
        );
        assert!(out.len() <= 1 << 20);
    }

    /// A peer that resets after each message need leave no inflate state
    /// behind: only a message in several pieces needs one, and only while
    /// it arrives. With context takeover the state is the context, kept.
    #[test]
    fn state_is_released_after_each_message_without_context_takeover() {
        let text = b"fragments of one compressed message ".repeat(20);
        for reset in [true, false] {
            let packed = Deflater::new(6, 15, reset).compress(&text);
            let (first, second) = packed.split_at(packed.len() / 2);
            let mut i = Inflater::new(reset);
            let mut out = Vec::new();
            i.inflate(first, &mut out, 1 << 20).unwrap();
            i.inflate(second, &mut out, 1 << 20).unwrap();
            assert!(i.holds_state());
            i.finish_message(&mut out, 1 << 20).unwrap();
            assert_eq!(out, text);
            i.release_state();
            assert_eq!(i.holds_state(), !reset, "reset: {reset}");
            // The next message in pieces inflates as well.
            let mut again = Vec::new();
            i.inflate(
                &Deflater::new(6, 15, true).compress(&text),
                &mut again,
                1 << 20,
            )
            .unwrap();
            i.finish_message(&mut again, 1 << 20).unwrap();
            assert_eq!(again, text);
        }
    }

    #[test]
    fn garbage_is_invalid() {
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        assert_eq!(
            i.inflate(&[0xff; 16], &mut out, 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }
}
