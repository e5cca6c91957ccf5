//! Incremental UTF-8 validation for text messages that arrive in pieces.

/// The text payload is not valid UTF-8 (close code 1007).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl std::fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid UTF-8 in text payload")
    }
}

impl std::error::Error for InvalidUtf8 {}

/// Validates UTF-8 fed in arbitrary pieces and fails as soon as a piece
/// makes the text invalid, even in the middle of a code point split across
/// pieces: it never waits for the end of the message to reject it.
///
/// ```
/// use pushwire_proto::ws::utf8::Utf8Validator;
/// let bytes = "κόσμε".as_bytes();
/// let mut v = Utf8Validator::default();
/// v.feed(&bytes[..1]).unwrap();  // half of 'κ': fine so far
/// v.feed(&bytes[1..]).unwrap();
/// v.finish().unwrap();
///
/// let mut v = Utf8Validator::default();
/// assert!(v.feed(&[0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0]).is_err());
/// ```
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// The start of a code point whose remaining bytes have not arrived.
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// Validates the next piece of the text.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let have = self.partial_len as usize;
            let need = sequence_width(self.partial[0]) - have;
            let take = need.min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            let now = have + take;
            match std::str::from_utf8(&self.partial[..now]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {
                    self.partial_len = now as u8;
                    return Ok(());
                }
            }
            input = &input[take..];
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &input[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Ends the text: fails if it stops inside a code point.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// The length of the sequence that a valid lead byte starts.
fn sequence_width(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_in_pieces(bytes: &[u8], cuts: &[usize]) -> bool {
        let mut v = Utf8Validator::default();
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, bytes.len());
            if v.feed(&bytes[start..cut]).is_err() {
                return false;
            }
            start = cut;
        }
        v.feed(&bytes[start..]).is_ok() && v.finish().is_ok()
    }

    proptest! {
        #[test]
        fn agrees_with_std_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                                        mut cuts in proptest::collection::vec(0usize..64, 0..8)) {
            cuts.sort_unstable();
            prop_assert_eq!(validate_in_pieces(&bytes, &cuts), std::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn accepts_any_string_cut_anywhere(s in "\\PC{0,40}", mut cuts in proptest::collection::vec(0usize..200, 0..8)) {
            cuts.sort_unstable();
            prop_assert!(validate_in_pieces(s.as_bytes(), &cuts));
        }
    }

    #[test]
    fn fails_fast_inside_a_split_code_point() {
        // U+D800 (a surrogate) starts 0xED 0xA0: invalid after its second byte.
        let mut v = Utf8Validator::default();
        v.feed(&[b'a', 0xed]).unwrap();
        assert_eq!(v.feed(&[0xa0]), Err(InvalidUtf8));
        // Beyond U+10FFFF: 0xF4 0x90 is invalid as soon as 0x90 arrives.
        let mut v = Utf8Validator::default();
        v.feed(&[0xf4]).unwrap();
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
    }

    #[test]
    fn byte_at_a_time_four_byte_sequence() {
        let mut v = Utf8Validator::default();
        for b in "𝄞".as_bytes() {
            v.feed(std::slice::from_ref(b)).unwrap();
        }
        v.finish().unwrap();
    }

    #[test]
    fn truncated_text_fails_at_finish() {
        let mut v = Utf8Validator::default();
        v.feed(&[0xe2, 0x82]).unwrap();
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }
}
