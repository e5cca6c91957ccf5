//! The receiving half of the protocol: bytes in, messages out.

use bytes::{Buf, BytesMut};

use crate::ws::close::{parse_close_payload, ClosePayloadError};
use crate::ws::config::Limits;
use crate::ws::deflate::Inflater;
use crate::ws::error::ProtocolError;
use crate::ws::frame::{FrameHeader, OpCode};
use crate::ws::mask::apply_mask;
use crate::ws::message::{Message, Utf8Bytes};
use crate::ws::role::Role;
use crate::ws::utf8::Utf8Validator;

/// How much room is reserved ahead for a frame still arriving: the buffer
/// grows with the data that comes, not with the length a header claims.
const RESERVE_AHEAD: usize = 256 << 10;

/// Decodes frames into messages: checks every rule of RFC 6455 and the
/// configured [`Limits`], reassembles fragments, validates text as it
/// arrives, and inflates compressed messages.
///
/// Sans-IO in the style of a codec: [`Receiver::decode`] consumes whole
/// frames from a buffer and returns `Ok(None)` when it needs more bytes.
///
/// ```
/// use bytes::BytesMut;
/// use pushwire_proto::{Limits, Message, Receiver, Role};
/// let mut rx = Receiver::new(Role::Client, Limits::default(), None);
/// // "Hel" then "lo", as two fragments (RFC 6455 section 5.7).
/// let mut buf = BytesMut::from(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02][..]);
/// assert_eq!(rx.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(&[0x6c, 0x6f]);
/// assert_eq!(rx.decode(&mut buf).unwrap(), Some(Message::text("Hello")));
/// ```
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    limits: Limits,
    inflater: Option<Inflater>,
    /// The frame whose payload is still arriving.
    frame: Option<FrameInProgress>,
    /// The fragmented message being reassembled (boxed: rare, and an idle
    /// connection should stay small).
    partial: Option<Box<Partial>>,
    /// Validates the text message in progress, frame by frame and byte by byte.
    utf8: Utf8Validator,
}

/// A frame whose header is parsed and whose payload is partly here: the
/// fields of [`FrameHeader`] a payload still needs, packed (24 bytes, not
/// 40) because every connection carries one between reads.
#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    payload_len: u64,
    /// Payload bytes already unmasked (and, for plain text, validated).
    seen: usize,
    /// The masking key; all zeros when the frame is unmasked, which makes
    /// unmasking a no-op.
    mask: [u8; 4],
    opcode: OpCode,
    header_len: u8,
    fin: bool,
    rsv1: bool,
}

impl FrameInProgress {
    fn new(header: &FrameHeader, header_len: usize) -> Self {
        FrameInProgress {
            payload_len: header.payload_len,
            seen: 0,
            mask: header.mask.unwrap_or([0; 4]),
            opcode: header.opcode,
            // At most MAX_HEADER_LEN (14).
            header_len: header_len as u8,
            fin: header.fin,
            rsv1: header.rsv1,
        }
    }
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
    fragments: usize,
    /// Compressed bytes received for this message.
    compressed_len: usize,
}

impl Receiver {
    /// A receiver for `role`; `inflater` is set when permessage-deflate was negotiated.
    pub fn new(role: Role, limits: Limits, inflater: Option<Inflater>) -> Self {
        Receiver {
            role,
            limits,
            inflater,
            frame: None,
            partial: None,
            utf8: Utf8Validator::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a frame's header has been decoded and its payload is still
    /// arriving; [`decode`](Receiver::decode) has then reserved room for it.
    pub fn awaits_payload(&self) -> bool {
        self.frame.is_some()
    }

    /// Whether a data message has begun and not yet arrived whole: a data
    /// frame's payload is still arriving, or a fragmented message awaits
    /// its final fragment. (A caller can time such a message out: the
    /// protocol itself sets no limit on how long a message may take.)
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use pushwire_proto::{Limits, Receiver, Role};
    /// let mut rx = Receiver::new(Role::Client, Limits::default(), None);
    /// // The first of two fragments ("Hel", then "lo").
    /// let mut buf = BytesMut::from(&[0x01, 0x03, 0x48, 0x65, 0x6c][..]);
    /// assert_eq!(rx.decode(&mut buf).unwrap(), None);
    /// assert!(rx.message_in_progress());
    /// buf.extend_from_slice(&[0x80, 0x02, 0x6c, 0x6f]);
    /// assert!(rx.decode(&mut buf).unwrap().is_some());
    /// assert!(!rx.message_in_progress());
    /// ```
    pub fn message_in_progress(&self) -> bool {
        self.partial.is_some() || self.frame.is_some_and(|f| !f.opcode.is_control())
    }

    /// The capacity for a buffer that starts with `bytes`, so that the
    /// frame they begin arrives without the buffer growing: the frame's
    /// whole length (header included), up to the most reserved ahead for
    /// one frame; 0 while its header is incomplete or invalid (which
    /// decoding then reports).
    ///
    /// ```
    /// use pushwire_proto::Receiver;
    /// // A binary frame of 300 bytes, after a 4-byte header.
    /// assert_eq!(Receiver::frame_capacity(&[0x82, 0x7e, 0x01, 0x2c]), 304);
    /// // Masked, the same frame's header is not complete yet.
    /// assert_eq!(Receiver::frame_capacity(&[0x82, 0xfe, 0x01, 0x2c]), 0);
    /// ```
    pub fn frame_capacity(bytes: &[u8]) -> usize {
        match FrameHeader::parse(bytes) {
            Ok(Some((header, header_len))) => {
                let len = (header_len as u64).saturating_add(header.payload_len);
                len.min(RESERVE_AHEAD as u64) as usize
            }
            _ => 0,
        }
    }

    /// Decodes the next message or control frame from the front of `buf`.
    ///
    /// Consumes whole frames only. Returns `Ok(None)` when `buf` holds no
    /// complete message yet, after reserving room for the frame in progress.
    /// The payload of a frame still arriving is unmasked and, for text,
    /// validated as it comes: invalid UTF-8 fails at once, not at the end.
    /// An error is final: close the connection with its
    /// [`close_code`](ProtocolError::close_code).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, ProtocolError> {
        loop {
            let mut frame = match self.frame.take() {
                Some(frame) => frame,
                None => {
                    let Some((header, header_len)) = FrameHeader::parse(buf)? else {
                        return Ok(None);
                    };
                    self.check_header(&header)?;
                    FrameInProgress::new(&header, header_len)
                }
            };
            let payload_len = frame.payload_len as usize;
            let header_len = frame.header_len as usize;
            let arrived = (buf.len() - header_len).min(payload_len);
            if arrived > frame.seen {
                let fresh = &mut buf[header_len + frame.seen..header_len + arrived];
                if frame.mask != [0; 4] {
                    apply_mask(fresh, frame.mask, frame.seen);
                }
                if self.validates_raw_text(&frame) {
                    self.utf8
                        .feed(fresh)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                frame.seen = arrived;
            }
            if arrived < payload_len {
                buf.reserve((payload_len - arrived).min(RESERVE_AHEAD));
                self.frame = Some(frame);
                return Ok(None);
            }
            buf.advance(header_len);
            let payload = buf.split_to(payload_len);
            if let Some(message) = self.on_frame(&frame, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Whether this frame carries uncompressed text, validated as it arrives.
    fn validates_raw_text(&self, h: &FrameInProgress) -> bool {
        match h.opcode {
            OpCode::Text => !h.rsv1,
            OpCode::Continuation => self
                .partial
                .as_ref()
                .is_some_and(|p| p.text && !p.compressed),
            _ => false,
        }
    }

    /// Checks what the header alone decides, before any payload is buffered.
    fn check_header(&self, h: &FrameHeader) -> Result<(), ProtocolError> {
        if h.rsv2 || h.rsv3 {
            return Err(ProtocolError::ReservedBits);
        }
        if h.rsv1 && (self.inflater.is_none() || !matches!(h.opcode, OpCode::Text | OpCode::Binary))
        {
            return Err(ProtocolError::ReservedBits);
        }
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if h.payload_len > self.limits.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooBig);
        }
        match (h.opcode, &self.partial) {
            (OpCode::Continuation, None) => Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => Err(ProtocolError::ExpectedContinuation),
            (OpCode::Continuation, Some(p)) if p.fragments >= self.limits.max_fragments => {
                Err(ProtocolError::TooManyFragments)
            }
            (OpCode::Continuation, Some(p))
                if !p.compressed
                    && p.data.len() as u64 + h.payload_len
                        > self.limits.max_message_size as u64 =>
            {
                Err(ProtocolError::MessageTooBig)
            }
            (OpCode::Text | OpCode::Binary, None)
                if !h.rsv1 && h.payload_len > self.limits.max_message_size as u64 =>
            {
                Err(ProtocolError::MessageTooBig)
            }
            _ => Ok(()),
        }
    }

    /// Handles one whole, unmasked frame; returns a message when one is complete.
    fn on_frame(
        &mut self,
        h: &FrameInProgress,
        payload: BytesMut,
    ) -> Result<Option<Message>, ProtocolError> {
        let mut partial = match h.opcode {
            OpCode::Ping => return Ok(Some(Message::Ping(payload.freeze()))),
            OpCode::Pong => return Ok(Some(Message::Pong(payload.freeze()))),
            OpCode::Close => {
                return match parse_close_payload(&payload) {
                    Ok(frame) => Ok(Some(Message::Close(frame))),
                    Err(ClosePayloadError::InvalidReason) => Err(ProtocolError::InvalidUtf8),
                    Err(_) => Err(ProtocolError::InvalidClosePayload),
                }
            }
            OpCode::Text if h.fin && !h.rsv1 => {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                return Ok(Some(Message::Text(Utf8Bytes::from_validated(
                    payload.freeze(),
                ))));
            }
            OpCode::Binary if h.fin && !h.rsv1 => {
                return Ok(Some(Message::Binary(payload.freeze())))
            }
            OpCode::Text | OpCode::Binary if h.fin => return self.inflate_whole(h, &payload),
            OpCode::Text | OpCode::Binary => Box::new(Partial {
                text: h.opcode == OpCode::Text,
                compressed: h.rsv1,
                data: Vec::new(),
                fragments: 1,
                compressed_len: 0,
            }),
            OpCode::Continuation => {
                let mut partial = self.partial.take().expect("checked in check_header");
                partial.fragments += 1;
                partial
            }
        };
        if partial.compressed {
            partial.compressed_len += payload.len();
            self.inflate(&mut partial, &payload, false)?;
        } else {
            reserve_within(
                &mut partial.data,
                payload.len(),
                self.limits.max_message_size,
            );
            partial.data.extend_from_slice(&payload);
        }
        if !h.fin {
            self.partial = Some(partial);
            return Ok(None);
        }
        // Some peers send an empty payload for an empty compressed message:
        // feeding the sync trailer alone would leave the inflater inside a
        // stored block, so there is nothing to finish.
        if partial.compressed && partial.compressed_len > 0 {
            self.inflate(&mut partial, &[], true)?;
        }
        if partial.compressed {
            // Only messages in several frames need an inflate state of the
            // connection's own: without context takeover, free it until
            // the next one (an idle connection keeps none).
            if let Some(inflater) = &mut self.inflater {
                inflater.release_state();
            }
        }
        if partial.text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            return Ok(Some(Message::Text(Utf8Bytes::from_validated(
                partial.data.into(),
            ))));
        }
        Ok(Some(Message::Binary(partial.data.into())))
    }

    /// Inflates a compressed message that came in one frame.
    fn inflate_whole(
        &mut self,
        h: &FrameInProgress,
        payload: &[u8],
    ) -> Result<Option<Message>, ProtocolError> {
        let inflater = self.inflater.as_mut().expect("rsv1 only with deflate");
        let mut data = Vec::new();
        // An empty payload is an empty message (see `on_frame`).
        if !payload.is_empty() {
            inflater.inflate_message(payload, &mut data, self.limits.max_message_size)?;
        }
        if h.opcode == OpCode::Binary {
            return Ok(Some(Message::Binary(data.into())));
        }
        let text = String::from_utf8(data).map_err(|_| ProtocolError::InvalidUtf8)?;
        Ok(Some(Message::Text(text.into())))
    }

    /// Inflates one fragment of a compressed message (or, at the end, the
    /// sync trailer) and validates the text it produces at once.
    fn inflate(
        &mut self,
        partial: &mut Partial,
        payload: &[u8],
        last: bool,
    ) -> Result<(), ProtocolError> {
        let before = partial.data.len();
        let limit = self.limits.max_message_size;
        let inflater = self.inflater.as_mut().expect("rsv1 only with deflate");
        if last {
            inflater.finish_message(&mut partial.data, limit)?;
        } else {
            inflater.inflate(payload, &mut partial.data, limit)?;
        }
        if partial.text {
            self.utf8
                .feed(&partial.data[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }
}

/// Makes room in `data` for `more` bytes, doubling as `Vec` does but
/// never past `limit` (unless `more` itself needs it): a message at the
/// limit holds the limit, not twice it.
fn reserve_within(data: &mut Vec<u8>, more: usize, limit: usize) {
    let needed = data.len() + more;
    if needed > data.capacity() {
        let target = (data.capacity() * 2).min(limit).max(needed);
        data.reserve_exact(target - data.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every idle connection holds a receiver: keep it small.
    #[test]
    fn receiver_stays_small() {
        assert!(std::mem::size_of::<Option<FrameInProgress>>() <= 24);
        assert!(std::mem::size_of::<Receiver>() <= 88);
    }

    /// Fragments reassembled up to the message limit hold the limit, not
    /// the next power of two above it.
    #[test]
    fn reassembly_never_reserves_past_the_limit() {
        let limit = 1000;
        let mut data = Vec::new();
        for _ in 0..10 {
            reserve_within(&mut data, 100, limit);
            data.extend_from_slice(&[7; 100]);
        }
        assert_eq!((data.len(), data.capacity()), (limit, limit));
        // Past the limit is the header check's to refuse; room is made anyway.
        reserve_within(&mut data, 1, limit);
        assert!(data.capacity() > limit);
    }

    /// A data message is in progress from its first frame's header to its
    /// last frame's end; control frames between its fragments do not end it.
    #[test]
    fn a_message_is_in_progress_until_its_last_byte() {
        let mut rx = Receiver::new(Role::Client, Limits::default(), None);
        let mut buf = BytesMut::new();
        assert!(!rx.message_in_progress());
        // A ping's header alone: a control frame, not a message.
        buf.extend_from_slice(&[0x89, 0x01]);
        assert_eq!(rx.decode(&mut buf).unwrap(), None);
        assert!(!rx.message_in_progress());
        buf.extend_from_slice(b"p");
        assert!(rx.decode(&mut buf).unwrap().is_some());
        // A binary frame's header, then its payload.
        buf.extend_from_slice(&[0x82, 0x02, 1]);
        assert_eq!(rx.decode(&mut buf).unwrap(), None);
        assert!(rx.message_in_progress());
        buf.extend_from_slice(&[2]);
        assert!(rx.decode(&mut buf).unwrap().is_some());
        assert!(!rx.message_in_progress());
        // A first fragment, a ping between fragments, the last fragment.
        buf.extend_from_slice(&[0x02, 0x01, 1, 0x89, 0x00]);
        assert_eq!(
            rx.decode(&mut buf).unwrap(),
            Some(Message::Ping(bytes::Bytes::new()))
        );
        assert!(rx.message_in_progress());
        buf.extend_from_slice(&[0x80, 0x01, 2]);
        assert!(rx.decode(&mut buf).unwrap().is_some());
        assert!(!rx.message_in_progress());
    }
}
