//! Counts the frames a server sends without copying payloads: only the
//! header (2 to 14 bytes) is kept between reads; payload bytes are
//! skipped. This is all the hot loop needs: how many whole messages came
//! back, and whether a close frame arrived. Payload correctness is
//! checked once per peer, outside the timed loop, by [`crate::probe`].

/// What one call to [`FrameReader::feed`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Whole data messages (text or binary, ending in a FIN frame).
    pub messages: u32,
    /// Ping frames (they are counted, not answered: the echo servers here never ping).
    pub pings: u32,
    /// A close frame arrived.
    pub close: bool,
    /// The bytes are not a valid server frame stream (reserved opcode,
    /// a masked server frame, an over-long control frame).
    pub malformed: bool,
}

/// Incremental frame counter for one connection.
#[derive(Debug, Default)]
pub struct FrameReader {
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes of the current frame still to skip.
    remaining: u64,
    /// The current frame's opcode and FIN bit, valid while `in_payload`.
    opcode: u8,
    fin: bool,
    in_payload: bool,
}

impl FrameReader {
    /// Consumes `data`, adding what it completes to `tally`.
    pub fn feed(&mut self, mut data: &[u8], tally: &mut Tally) {
        while !data.is_empty() {
            if self.in_payload {
                let skip = (self.remaining.min(data.len() as u64)) as usize;
                self.remaining -= skip as u64;
                data = &data[skip..];
                if self.remaining == 0 {
                    self.finish_frame(tally);
                }
                continue;
            }
            // Gather the header: 2 bytes, then whatever they say follows.
            let needed = self.header_needed();
            let take = (needed - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
            self.header_len += take;
            data = &data[take..];
            // The first two bytes may reveal that more header follows.
            if self.header_len == needed
                && needed == self.header_needed()
                && !self.start_payload(tally)
            {
                return;
            }
        }
    }

    /// Header bytes needed given what is known so far.
    fn header_needed(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let masked = self.header[1] & 0x80 != 0;
        let extended = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + extended + if masked { 4 } else { 0 }
    }

    /// Reads the complete header; false if the stream is malformed.
    fn start_payload(&mut self, tally: &mut Tally) -> bool {
        let first = self.header[0];
        let second = self.header[1];
        let opcode = first & 0x0f;
        let length = match second & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            127 => u64::from_be_bytes(self.header[2..10].try_into().unwrap_or([0xff; 8])),
            short => u64::from(short),
        };
        let control = opcode & 0x08 != 0;
        let valid_opcode = matches!(opcode, 0x0..=0x2 | 0x8..=0xa);
        if second & 0x80 != 0 || !valid_opcode || (control && (length > 125 || first & 0x80 == 0)) {
            tally.malformed = true;
            self.header_len = 0;
            return false;
        }
        self.opcode = opcode;
        self.fin = first & 0x80 != 0;
        self.remaining = length;
        self.in_payload = true;
        self.header_len = 0;
        if length == 0 {
            self.finish_frame(tally);
        }
        true
    }

    fn finish_frame(&mut self, tally: &mut Tally) {
        self.in_payload = false;
        match self.opcode {
            0x0..=0x2 if self.fin => tally.messages += 1,
            0x8 => tally.close = true,
            0x9 => tally.pings += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(fin: bool, opcode: u8, payload_len: usize) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload_len {
            0..=125 => out.push(payload_len as u8),
            126..=0xffff => {
                out.push(126);
                out.extend_from_slice(&(payload_len as u16).to_be_bytes());
            }
            _ => {
                out.push(127);
                out.extend_from_slice(&(payload_len as u64).to_be_bytes());
            }
        }
        out.extend(std::iter::repeat_n(b'x', payload_len));
        out
    }

    #[test]
    fn counts_messages_split_at_every_byte() {
        let mut stream = Vec::new();
        stream.extend(server_frame(true, 1, 20));
        stream.extend(server_frame(false, 2, 200));
        stream.extend(server_frame(true, 0, 70_000));
        stream.extend(server_frame(true, 0x9, 0));
        stream.extend(server_frame(true, 1, 0));
        stream.extend(server_frame(true, 0x8, 2));
        for chunk in [1, 2, 3, 7, 100, stream.len()] {
            let mut reader = FrameReader::default();
            let mut tally = Tally::default();
            for piece in stream.chunks(chunk) {
                reader.feed(piece, &mut tally);
            }
            assert_eq!(
                tally,
                Tally {
                    messages: 3,
                    pings: 1,
                    close: true,
                    malformed: false
                },
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn masked_server_frame_is_malformed() {
        let mut reader = FrameReader::default();
        let mut tally = Tally::default();
        reader.feed(&[0x81, 0x80, 1, 2, 3, 4], &mut tally);
        assert!(tally.malformed);
    }
}
