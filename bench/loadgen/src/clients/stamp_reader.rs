//! Reads a server's WebSocket frames and hands out the timestamp at the
//! start of each data message ([`super::stamp`]); the rest of a payload is
//! skipped without copying. Per connection it keeps only a frame header
//! and the first bytes of the current payload, so 15,000 subscribers cost
//! little memory.

use super::stamp::{self, STAMP_LEN};

/// What a finished frame was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameEvent {
    /// A whole data message; its timestamp when it starts with one.
    Data(Option<u64>),
    /// A close frame, with its status code when it has one.
    Close(Option<u16>),
    /// A ping (never sent by the servers measured; counted, not answered).
    Ping,
}

/// The byte stream is not a valid stream of server frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Incremental frame reader for one connection.
#[derive(Debug, Default)]
pub struct StampReader {
    header: [u8; 10],
    header_len: u8,
    in_payload: bool,
    remaining: u64,
    opcode: u8,
    fin: bool,
    /// Whether the current frame starts a message (not a continuation).
    starts_message: bool,
    head: [u8; STAMP_LEN],
    head_len: u8,
}

impl StampReader {
    /// Consumes `data`, calling `event` for every frame it completes.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        mut event: impl FnMut(FrameEvent),
    ) -> Result<(), Malformed> {
        while !data.is_empty() {
            if self.in_payload {
                let take = self.remaining.min(data.len() as u64) as usize;
                let room = STAMP_LEN - usize::from(self.head_len);
                if self.starts_message && room > 0 {
                    let copy = room.min(take);
                    let at = usize::from(self.head_len);
                    self.head[at..at + copy].copy_from_slice(&data[..copy]);
                    self.head_len += copy as u8;
                }
                self.remaining -= take as u64;
                data = &data[take..];
                if self.remaining == 0 {
                    self.finish(&mut event);
                }
                continue;
            }
            let needed = self.header_needed();
            let take = (needed - usize::from(self.header_len)).min(data.len());
            let at = usize::from(self.header_len);
            self.header[at..at + take].copy_from_slice(&data[..take]);
            self.header_len += take as u8;
            data = &data[take..];
            if usize::from(self.header_len) == self.header_needed() {
                self.start_payload(&mut event)?;
            }
        }
        Ok(())
    }

    fn header_needed(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        match self.header[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        }
    }

    fn start_payload(&mut self, event: &mut impl FnMut(FrameEvent)) -> Result<(), Malformed> {
        let (first, second) = (self.header[0], self.header[1]);
        let opcode = first & 0x0f;
        let length = match second & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            127 => u64::from_be_bytes(self.header[2..10].try_into().map_err(|_| Malformed)?),
            short => u64::from(short),
        };
        let control = opcode & 0x08 != 0;
        if second & 0x80 != 0
            || !matches!(opcode, 0x0..=0x2 | 0x8..=0xa)
            || (control && (length > 125 || first & 0x80 == 0))
        {
            return Err(Malformed);
        }
        self.header_len = 0;
        self.opcode = opcode;
        self.fin = first & 0x80 != 0;
        if control || opcode != 0 {
            // A data frame starting a message, or a control frame: read
            // its first bytes afresh. Continuations keep the head.
            self.starts_message = true;
            self.head_len = 0;
        } else {
            self.starts_message = false;
        }
        self.remaining = length;
        self.in_payload = true;
        if length == 0 {
            self.finish(event);
        }
        Ok(())
    }

    fn finish(&mut self, event: &mut impl FnMut(FrameEvent)) {
        self.in_payload = false;
        let head = &self.head[..usize::from(self.head_len)];
        match self.opcode {
            0x0..=0x2 if self.fin => event(FrameEvent::Data(stamp::parse(head))),
            0x8 => event(FrameEvent::Close(
                (head.len() >= 2).then(|| u16::from_be_bytes([head[0], head[1]])),
            )),
            0x9 => event(FrameEvent::Ping),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        if payload.len() < 126 {
            out.push(payload.len() as u8);
        } else {
            out.push(126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn stamps_and_close_split_at_every_size() {
        let mut stream = frame(1, stamp::stamped(42, 50).as_bytes());
        stream.extend(frame(1, stamp::stamped(7, 300).as_bytes()));
        stream.extend(frame(2, b"no stamp"));
        stream.extend(frame(8, &1008u16.to_be_bytes()));
        for chunk in [1, 2, 5, 23, stream.len()] {
            let mut reader = StampReader::default();
            let mut events = Vec::new();
            for piece in stream.chunks(chunk) {
                reader.feed(piece, |e| events.push(e)).unwrap();
            }
            assert_eq!(
                events,
                vec![
                    FrameEvent::Data(Some(42)),
                    FrameEvent::Data(Some(7)),
                    FrameEvent::Data(None),
                    FrameEvent::Close(Some(1008)),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn masked_server_frame_is_malformed() {
        let mut reader = StampReader::default();
        assert_eq!(
            reader.feed(&[0x81, 0x85, 1, 2, 3, 4], |_| {}),
            Err(Malformed)
        );
    }
}
