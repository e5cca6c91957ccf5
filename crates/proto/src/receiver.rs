//! The receiving half of the protocol: bytes in, messages out.

use bytes::{Buf, BytesMut};

use crate::close::{parse_close_payload, ClosePayloadError};
use crate::config::Limits;
use crate::deflate::Inflater;
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, OpCode};
use crate::mask::apply_mask;
use crate::message::{Message, Utf8Bytes};
use crate::role::Role;
use crate::utf8::Utf8Validator;

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
    partial: Option<Partial>,
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: BytesMut,
    fragments: usize,
    utf8: Utf8Validator,
}

impl Receiver {
    /// A receiver for `role`; `inflater` is set when permessage-deflate was negotiated.
    pub fn new(role: Role, limits: Limits, inflater: Option<Inflater>) -> Self {
        Receiver {
            role,
            limits,
            inflater,
            partial: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes the next message or control frame from the front of `buf`.
    ///
    /// Consumes whole frames only. Returns `Ok(None)` when `buf` holds no
    /// complete message yet, after reserving room for the frame in progress.
    /// An error is final: close the connection with its
    /// [`close_code`](ProtocolError::close_code).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, ProtocolError> {
        loop {
            let Some((header, header_len)) = FrameHeader::parse(buf)? else {
                return Ok(None);
            };
            self.check_header(&header)?;
            let total = header_len + header.payload_len as usize;
            if buf.len() < total {
                buf.reserve((total - buf.len()).min(RESERVE_AHEAD));
                return Ok(None);
            }
            buf.advance(header_len);
            let mut payload = buf.split_to(header.payload_len as usize);
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            if let Some(message) = self.on_frame(&header, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Checks what the header alone decides, before any payload is buffered.
    fn check_header(&self, h: &FrameHeader) -> Result<(), ProtocolError> {
        if h.rsv2 || h.rsv3 {
            return Err(ProtocolError::ReservedBits);
        }
        if h.rsv1
            && (self.inflater.is_none() || !matches!(h.opcode, OpCode::Text | OpCode::Binary))
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
                    && p.data.len() as u64 + h.payload_len > self.limits.max_message_size as u64 =>
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

    /// Handles one unmasked frame; returns a message when one is complete.
    fn on_frame(&mut self, h: &FrameHeader, payload: BytesMut) -> Result<Option<Message>, ProtocolError> {
        let limit = self.limits.max_message_size;
        match h.opcode {
            OpCode::Ping => Ok(Some(Message::Ping(payload.freeze()))),
            OpCode::Pong => Ok(Some(Message::Pong(payload.freeze()))),
            OpCode::Close => match parse_close_payload(&payload) {
                Ok(frame) => Ok(Some(Message::Close(frame))),
                Err(ClosePayloadError::InvalidReason) => Err(ProtocolError::InvalidUtf8),
                Err(_) => Err(ProtocolError::InvalidClosePayload),
            },
            OpCode::Text | OpCode::Binary if h.fin && !h.rsv1 => {
                Ok(Some(complete(h.opcode == OpCode::Text, payload)?))
            }
            OpCode::Text | OpCode::Binary => {
                let mut partial = Partial {
                    text: h.opcode == OpCode::Text,
                    compressed: h.rsv1,
                    data: BytesMut::new(),
                    fragments: 1,
                    utf8: Utf8Validator::default(),
                };
                self.append(&mut partial, &payload, limit)?;
                if h.fin {
                    return self.finish(partial).map(Some);
                }
                self.partial = Some(partial);
                Ok(None)
            }
            OpCode::Continuation => {
                let mut partial = self.partial.take().expect("checked in check_header");
                partial.fragments += 1;
                self.append(&mut partial, &payload, limit)?;
                if h.fin {
                    return self.finish(partial).map(Some);
                }
                self.partial = Some(partial);
                Ok(None)
            }
        }
    }

    /// Adds one fragment's payload, inflating it if needed, and validates
    /// the new text at once.
    fn append(&mut self, partial: &mut Partial, payload: &[u8], limit: usize) -> Result<(), ProtocolError> {
        let before = partial.data.len();
        if partial.compressed {
            let inflater = self.inflater.as_mut().expect("rsv1 only with deflate");
            inflater.inflate(payload, &mut partial.data, limit)?;
        } else {
            partial.data.extend_from_slice(payload);
        }
        if partial.text {
            partial
                .utf8
                .feed(&partial.data[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// Completes a reassembled (or compressed) message.
    fn finish(&mut self, mut partial: Partial) -> Result<Message, ProtocolError> {
        if partial.compressed {
            let before = partial.data.len();
            let limit = self.limits.max_message_size;
            let inflater = self.inflater.as_mut().expect("rsv1 only with deflate");
            inflater.finish_message(&mut partial.data, limit)?;
            if partial.text {
                partial
                    .utf8
                    .feed(&partial.data[before..])
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        if partial.text {
            partial.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            return Ok(Message::Text(Utf8Bytes::from_validated(partial.data.freeze())));
        }
        Ok(Message::Binary(partial.data.freeze()))
    }
}

/// A message that arrived whole in one uncompressed frame.
fn complete(text: bool, payload: BytesMut) -> Result<Message, ProtocolError> {
    let payload = payload.freeze();
    if text {
        Utf8Bytes::try_from_bytes(payload)
            .map(Message::Text)
            .map_err(|_| ProtocolError::InvalidUtf8)
    } else {
        Ok(Message::Binary(payload))
    }
}
