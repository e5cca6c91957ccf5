//! Protocol violations, each mapped to the close code that answers it.

use crate::ws::close::CloseCode;

/// A violation of the WebSocket protocol by the peer, or of a configured
/// limit. [`ProtocolError::close_code`] gives the code to close with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An opcode the RFC reserves (0x3-0x7, 0xB-0xF).
    ReservedOpcode(u8),
    /// A 64-bit length with its most significant bit set.
    InvalidLength,
    /// A payload length not encoded in the fewest bytes: the 16-bit form
    /// for a length under 126, or the 64-bit form for one under 65,536
    /// (RFC 6455 section 5.2).
    NonMinimalLength,
    /// A control frame without FIN.
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// RSV bits set that no negotiated extension defines.
    ReservedBits,
    /// A server received an unmasked frame.
    UnmaskedFrame,
    /// A client received a masked frame.
    MaskedFrame,
    /// A continuation frame with no message in progress.
    UnexpectedContinuation,
    /// A new data frame while a fragmented message is in progress.
    ExpectedContinuation,
    /// A close frame of one byte, or with a code that must not be sent.
    InvalidClosePayload,
    /// Text, or a close reason, that is not valid UTF-8.
    InvalidUtf8,
    /// A compressed payload that does not inflate.
    InvalidCompressedData,
    /// A frame longer than `max_frame_size`.
    FrameTooBig,
    /// A message longer than `max_message_size` (after inflating).
    MessageTooBig,
    /// A message of more fragments than `max_fragments`.
    TooManyFragments,
}

impl ProtocolError {
    /// The close code to answer this violation with.
    ///
    /// ```
    /// use pushwire_proto::{ws::close::CloseCode, ProtocolError};
    /// assert_eq!(ProtocolError::InvalidUtf8.close_code(), CloseCode::INVALID_DATA);
    /// assert_eq!(ProtocolError::MessageTooBig.close_code(), CloseCode::TOO_BIG);
    /// ```
    pub fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 => CloseCode::INVALID_DATA,
            ProtocolError::FrameTooBig
            | ProtocolError::MessageTooBig
            | ProtocolError::TooManyFragments => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            ProtocolError::ReservedOpcode(op) => return write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidLength => "payload length has its most significant bit set",
            ProtocolError::NonMinimalLength => "payload length not in the fewest bytes",
            ProtocolError::FragmentedControl => "fragmented control frame",
            ProtocolError::ControlTooLong => "control frame payload over 125 bytes",
            ProtocolError::ReservedBits => "reserved bits set without a negotiated extension",
            ProtocolError::UnmaskedFrame => "client frame is not masked",
            ProtocolError::MaskedFrame => "server frame is masked",
            ProtocolError::UnexpectedContinuation => "continuation frame without a message",
            ProtocolError::ExpectedContinuation => "new message inside a fragmented message",
            ProtocolError::InvalidClosePayload => "invalid close frame payload",
            ProtocolError::InvalidUtf8 => "invalid UTF-8",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
            ProtocolError::FrameTooBig => "frame exceeds max_frame_size",
            ProtocolError::MessageTooBig => "message exceeds max_message_size",
            ProtocolError::TooManyFragments => "message exceeds max_fragments",
        };
        f.write_str(text)
    }
}

impl std::error::Error for ProtocolError {}
