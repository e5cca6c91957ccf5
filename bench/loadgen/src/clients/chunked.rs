//! An incremental decoder of HTTP/1.1's chunked transfer coding (RFC 9112
//! section 7.1), for response bodies that stream without an end: bytes in
//! any pieces go in, the body's bytes come out as slices of the input (no
//! copy), and the state is a few words per connection.

/// The bytes are not valid chunked coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// The largest chunk size accepted (far above what servers send).
const MAX_CHUNK: u64 = 1 << 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hexadecimal size; `digits` seen so far.
    Size { value: u64, digits: u8 },
    /// Skipping a chunk extension up to the end of the size line.
    Extension { value: u64 },
    /// After the CR ending the size line.
    SizeLf { value: u64 },
    /// In a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CR after a chunk's data.
    DataCr,
    /// Expecting the LF after a chunk's data.
    DataLf,
    /// After the last chunk: skipping trailer lines; whether the current
    /// line has had any byte besides CR.
    Trailer { line_has_bytes: bool },
    /// The body ended.
    Done,
}

/// Decoder state of one body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
        }
    }
}

impl ChunkedDecoder {
    /// Whether the last chunk and its trailer have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes `input`, calling `body` with every run of body bytes in
    /// it, in order.
    pub fn feed<'a>(
        &mut self,
        mut input: &'a [u8],
        mut body: impl FnMut(&'a [u8]),
    ) -> Result<(), Malformed> {
        while let Some((&byte, rest)) = input.split_first() {
            if let State::Data(remaining) = self.state {
                let take = remaining.min(input.len() as u64) as usize;
                body(&input[..take]);
                input = &input[take..];
                let left = remaining - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            input = rest;
            self.state = match self.state {
                State::Size { value, digits } => match byte {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let digit = u64::from((byte as char).to_digit(16).unwrap_or(0));
                        let value = value * 16 + digit;
                        if value > MAX_CHUNK {
                            return Err(Malformed("chunk size too large"));
                        }
                        State::Size {
                            value,
                            digits: digits.saturating_add(1),
                        }
                    }
                    _ if digits == 0 => return Err(Malformed("chunk size expected")),
                    b';' | b' ' | b'\t' => State::Extension { value },
                    b'\r' => State::SizeLf { value },
                    b'\n' => Self::after_size(value),
                    _ => return Err(Malformed("bad chunk size")),
                },
                State::Extension { value } => match byte {
                    b'\r' => State::SizeLf { value },
                    b'\n' => Self::after_size(value),
                    _ => State::Extension { value },
                },
                State::SizeLf { value } => match byte {
                    b'\n' => Self::after_size(value),
                    _ => return Err(Malformed("CR without LF after a chunk size")),
                },
                State::DataCr => match byte {
                    b'\r' => State::DataLf,
                    b'\n' => Self::size_line(),
                    _ => return Err(Malformed("chunk data longer than its size")),
                },
                State::DataLf => match byte {
                    b'\n' => Self::size_line(),
                    _ => return Err(Malformed("CR without LF after chunk data")),
                },
                State::Trailer { line_has_bytes } => match byte {
                    b'\n' if !line_has_bytes => State::Done,
                    b'\n' => State::Trailer {
                        line_has_bytes: false,
                    },
                    b'\r' => State::Trailer { line_has_bytes },
                    _ => State::Trailer {
                        line_has_bytes: true,
                    },
                },
                State::Done => return Err(Malformed("bytes after the last chunk")),
                State::Data(_) => unreachable!("handled above"),
            };
        }
        Ok(())
    }

    fn size_line() -> State {
        State::Size {
            value: 0,
            digits: 0,
        }
    }

    fn after_size(value: u64) -> State {
        if value == 0 {
            State::Trailer {
                line_has_bytes: false,
            }
        } else {
            State::Data(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(wire: &[u8], piece: usize) -> Result<(Vec<u8>, bool), Malformed> {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        for chunk in wire.chunks(piece) {
            decoder.feed(chunk, |body| out.extend_from_slice(body))?;
        }
        Ok((out, decoder.is_done()))
    }

    #[test]
    fn decodes_split_anywhere() {
        let wire = b"2C\r\nid: 1\ndata: t=00000000000000000001 m=hello\n\n\r\n\
                     4;ext=1\r\nabcd\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-t: 1\r\n\r\n";
        for piece in [1, 2, 3, 7, 50, wire.len()] {
            let (body, done) = decode(wire, piece).unwrap();
            assert_eq!(
                body,
                b"id: 1\ndata: t=00000000000000000001 m=hello\n\nabcdabcdefghijklmnopqrstuvwxyz",
                "piece {piece}"
            );
            assert!(done);
        }
    }

    #[test]
    fn an_open_stream_is_not_done_and_bad_input_is_refused() {
        assert_eq!(
            decode(b"3\r\nabc\r\n", 1).unwrap(),
            (b"abc".to_vec(), false)
        );
        assert!(decode(b"3\r\nabcd\r\n", 2).is_err());
        assert!(decode(b"zz\r\n", 1).is_err());
        assert!(decode(b"0\r\n\r\nmore", 100).is_err());
    }
}
