//! Encoding header blocks (RFC 7541 section 6).

use super::table::STATIC;
use super::{huffman, integer};

/// One header field to encode.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The name, lowercase as HTTP/2 requires.
    pub name: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Never to be indexed by the peer or any intermediary (a secret,
    /// such as a cookie or a token: section 7.1.3).
    pub never_indexed: bool,
}

/// The encoding side of one connection.
///
/// It indexes nothing in the dynamic table: a field is a static-table
/// index when name and value are both there, otherwise a literal that
/// names a static entry where it can, its strings Huffman-coded when
/// that is shorter. Every peer decodes such blocks, nothing has to be
/// remembered between them, and a stream's fields cannot be learnt
/// from another's by their compressed size.
///
/// ```
/// use pushwire_proto::http2::hpack::{Decoder, Encoder, Field};
/// let mut encoder = Encoder::new();
/// let mut block = Vec::new();
/// let status = Field { name: b":status", value: b"200", never_indexed: false };
/// encoder.encode([status], &mut block);
/// assert_eq!(block, [0x88]);
/// let fields = Decoder::new(4096).decode(&block.into(), 16 << 10).unwrap();
/// assert_eq!((&fields[0].name[..], &fields[0].value[..]), (&b":status"[..], &b"200"[..]));
/// ```
#[derive(Debug, Default)]
pub struct Encoder {
    /// A table size the peer's decoder must be told of at the start of
    /// the next block.
    pending_size_update: Option<usize>,
}

/// The dynamic table size a decoder starts with (RFC 9113 section 6.5.2).
const DEFAULT_TABLE_SIZE: usize = 4096;

impl Encoder {
    /// An encoder for a peer whose decoder starts with the default table.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Takes in the peer's `SETTINGS_HEADER_TABLE_SIZE`. The table this
    /// encoder uses is empty, but a decoder whose limit went below the
    /// size it was using expects the next block to say the table shrank
    /// (RFC 7541 section 4.2), so it will.
    pub fn set_peer_table_size(&mut self, size: usize) {
        if size < DEFAULT_TABLE_SIZE {
            self.pending_size_update = Some(size);
        }
    }

    /// Appends one header block holding `fields`, in order, to `dst`.
    pub fn encode<'a>(&mut self, fields: impl IntoIterator<Item = Field<'a>>, dst: &mut Vec<u8>) {
        if let Some(size) = self.pending_size_update.take() {
            integer::encode(size, 5, 0x20, dst);
        }
        for field in fields {
            encode_field(field, dst);
        }
    }
}

fn encode_field(field: Field<'_>, dst: &mut Vec<u8>) {
    let mut name_index = 0;
    for (i, (name, value)) in STATIC.iter().enumerate() {
        if name.as_bytes() == field.name {
            if value.as_bytes() == field.value && !field.never_indexed {
                integer::encode(i + 1, 7, 0x80, dst);
                return;
            }
            if name_index == 0 {
                name_index = i + 1;
            }
        }
    }
    let flags = if field.never_indexed { 0x10 } else { 0x00 };
    integer::encode(name_index, 4, flags, dst);
    if name_index == 0 {
        encode_string(field.name, dst);
    }
    encode_string(field.value, dst);
}

/// A string literal (section 5.2), Huffman-coded if that is shorter.
fn encode_string(s: &[u8], dst: &mut Vec<u8>) {
    let coded_len = huffman::encoded_len(s);
    if coded_len < s.len() {
        integer::encode(coded_len, 7, 0x80, dst);
        huffman::encode(s, dst);
    } else {
        integer::encode(s.len(), 7, 0x00, dst);
        dst.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Decoder;
    use super::*;
    use proptest::prelude::*;

    fn field<'a>(name: &'a str, value: &'a str) -> Field<'a> {
        Field {
            name: name.as_bytes(),
            value: value.as_bytes(),
            never_indexed: false,
        }
    }

    #[test]
    fn static_matches_are_indices_and_names_are_reused() {
        let mut block = Vec::new();
        Encoder::new().encode(
            [
                field(":method", "GET"),
                field(":path", "/chat"),
                field("x-y", "zz"),
            ],
            &mut block,
        );
        // :method GET is index 2. :path is index 4, and "/chat" is
        // shorter Huffman-coded: 011000 00100 100111 00011 01001, padded
        // with ones. "x-y" (20 bits) and "zz" (14) are not: raw.
        assert_eq!(
            block,
            [
                0x82, 0x04, 0x84, 0x60, 0x93, 0x8d, 0x3f, 0x00, 0x03, b'x', b'-', b'y', 0x02, b'z',
                b'z'
            ]
        );
    }

    #[test]
    fn a_secret_is_never_indexed_and_the_decoder_is_told_of_a_smaller_table() {
        let mut encoder = Encoder::new();
        encoder.set_peer_table_size(0);
        let mut block = Vec::new();
        let secret = Field {
            never_indexed: true,
            ..field(":method", "GET")
        };
        encoder.encode([secret], &mut block);
        assert_eq!(block, [0x20, 0x12, 0x03, b'G', b'E', b'T']);
        let fields = Decoder::new(0).decode(&block.into(), usize::MAX).unwrap();
        assert!(fields[0].never_indexed);
        // Said once: the next block begins with its field.
        let mut next = Vec::new();
        encoder.encode([field(":status", "200")], &mut next);
        assert_eq!(next, [0x88]);
    }

    proptest! {
        #[test]
        fn whatever_is_encoded_decodes_back(
            fields in proptest::collection::vec(
                (
                    proptest::sample::select(vec![":status", ":path", "content-type", "x-custom", "date"]),
                    proptest::collection::vec(any::<u8>(), 0..40),
                    any::<bool>(),
                ),
                0..12,
            )
        ) {
            let mut block = Vec::new();
            Encoder::new().encode(
                fields.iter().map(|(name, value, never_indexed)| Field {
                    name: name.as_bytes(),
                    value,
                    never_indexed: *never_indexed,
                }),
                &mut block,
            );
            let decoded = Decoder::new(4096).decode(&block.into(), usize::MAX).unwrap();
            prop_assert_eq!(decoded.len(), fields.len());
            for (got, (name, value, never_indexed)) in decoded.iter().zip(&fields) {
                prop_assert_eq!(&got.name[..], name.as_bytes());
                prop_assert_eq!(&got.value[..], &value[..]);
                prop_assert_eq!(got.never_indexed, *never_indexed);
            }
        }
    }
}
