//! The frame header (RFC 6455 section 5.2): parsing and encoding.

use crate::ws::error::ProtocolError;

/// The largest frame header: 2 bytes, 8 of extended length, 4 of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Decodes the low four bits of the first header byte.
    pub fn from_bits(bits: u8) -> Result<OpCode, ProtocolError> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    /// The four bits on the wire.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xa,
        }
    }

    /// Close, ping and pong are control frames.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final fragment of a message.
    pub fin: bool,
    /// RSV1: set on the first frame of a compressed message (RFC 7692).
    pub rsv1: bool,
    /// RSV2: no extension defines it.
    pub rsv2: bool,
    /// RSV3: no extension defines it.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every frame a client sends.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header,
    /// otherwise the header and its length in bytes. Checks what the header
    /// alone can tell: opcode, control-frame rules, length encoding (the
    /// most significant bit clear, in the fewest bytes).
    ///
    /// ```
    /// use pushwire_proto::ws::frame::{FrameHeader, OpCode};
    /// let (h, len) = FrameHeader::parse(&[0x81, 0x05, b'H']).unwrap().unwrap();
    /// assert_eq!((h.opcode, h.fin, h.payload_len, len), (OpCode::Text, true, 5, 2));
    /// assert!(FrameHeader::parse(&[0x81]).unwrap().is_none());
    /// ```
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (buf[0], buf[1]);
        let opcode = OpCode::from_bits(b0 & 0x0f)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut pos) = match b1 & 0x7f {
            // The minimal number of bytes MUST be used (RFC 6455 section
            // 5.2): a length that fits a shorter form is refused.
            126 => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let len = u16::from_be_bytes([buf[2], buf[3]]);
                if len < 126 {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (len as u64, 4)
            }
            127 => {
                if buf.len() < 10 {
                    return Ok(None);
                }
                let mut len = [0u8; 8];
                len.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(len);
                if len >> 63 != 0 {
                    return Err(ProtocolError::InvalidLength);
                }
                if len <= u16::MAX as u64 {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (len, 10)
            }
            short => (short as u64, 2),
        };
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControl);
            }
            if payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlTooLong);
            }
        }
        let mask = if masked {
            if buf.len() < pos + 4 {
                return Ok(None);
            }
            let key = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
            pos += 4;
            Some(key)
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, pos)))
    }

    /// Encodes the header into `out`, returning the number of bytes written.
    /// The length uses the shortest encoding, as the RFC requires.
    ///
    /// ```
    /// use pushwire_proto::ws::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
    /// let h = FrameHeader { fin: true, rsv1: false, rsv2: false, rsv3: false,
    ///                       opcode: OpCode::Binary, mask: None, payload_len: 300 };
    /// let mut out = [0u8; MAX_HEADER_LEN];
    /// let n = h.encode(&mut out);
    /// assert_eq!(&out[..n], &[0x82, 126, 0x01, 0x2c]);
    /// ```
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (self.fin as u8) << 7
            | (self.rsv1 as u8) << 6
            | (self.rsv2 as u8) << 5
            | (self.rsv3 as u8) << 4
            | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut pos = if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
            2
        } else if self.payload_len <= u16::MAX as u64 {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            4
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len: len,
        }
    }

    #[test]
    fn round_trips_every_length_encoding() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(OpCode::Binary, len, mask);
                let mut out = [0u8; MAX_HEADER_LEN];
                let n = h.encode(&mut out);
                assert_eq!(FrameHeader::parse(&out[..n]).unwrap(), Some((h, n)));
                for short in 0..n {
                    assert_eq!(FrameHeader::parse(&out[..short]).unwrap(), None);
                }
            }
        }
    }

    #[test]
    fn rejects_what_the_rfc_forbids() {
        assert_eq!(
            FrameHeader::parse(&[0x83, 0]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(
            FrameHeader::parse(&[0x8b, 0]),
            Err(ProtocolError::ReservedOpcode(0xb))
        );
        assert_eq!(
            FrameHeader::parse(&[0x09, 0]),
            Err(ProtocolError::FragmentedControl)
        );
        assert_eq!(
            FrameHeader::parse(&[0x89, 126, 0, 126]),
            Err(ProtocolError::ControlTooLong)
        );
        let mut huge = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(FrameHeader::parse(&huge), Err(ProtocolError::InvalidLength));
        huge[2] = 0x7f;
        assert!(FrameHeader::parse(&huge).unwrap().is_some());
    }

    /// RFC 6455 section 5.2: "the minimal number of bytes MUST be used to
    /// encode the length".
    #[test]
    fn rejects_lengths_not_in_the_fewest_bytes() {
        let non_minimal: [&[u8]; 5] = [
            &[0x82, 126, 0, 0],
            &[0x82, 126, 0, 125],
            &[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5],
            &[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 126],
            &[0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
        ];
        for header in non_minimal {
            assert_eq!(
                FrameHeader::parse(header),
                Err(ProtocolError::NonMinimalLength),
                "{header:x?}"
            );
        }
        // Masked, and on a control frame, the same.
        assert_eq!(
            FrameHeader::parse(&[0x89, 0x80 | 126, 0, 5, 1, 2, 3, 4]),
            Err(ProtocolError::NonMinimalLength)
        );
        // The smallest length of each form is accepted.
        let minimal: [(&[u8], u64); 3] = [
            (&[0x82, 125], 125),
            (&[0x82, 126, 0, 126], 126),
            (&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0], 65536),
        ];
        for (header, len) in minimal {
            let (h, _) = FrameHeader::parse(header).unwrap().unwrap();
            assert_eq!(h.payload_len, len);
        }
    }

    #[test]
    fn reads_reserved_bits() {
        let (h, _) = FrameHeader::parse(&[0xf1, 0]).unwrap().unwrap();
        assert!(h.rsv1 && h.rsv2 && h.rsv3);
    }
}
