//! Decoding header blocks (RFC 7541 section 6).

use bytes::Bytes;

use super::table::{entry_size, DynamicTable};
use super::{huffman, integer, Header, HpackError};

/// The decoding side of one connection: its dynamic table lives as long
/// as the connection, so every header block of the connection goes
/// through the same `Decoder`, in order.
///
/// ```
/// use pushwire_proto::bytes::Bytes;
/// use pushwire_proto::http2::hpack::Decoder;
/// let mut decoder = Decoder::new(4096);
/// // RFC 7541 C.4.1: a request's header fields, Huffman-coded.
/// let block = Bytes::from_static(&[
///     0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b,
///     0xa0, 0xab, 0x90, 0xf4, 0xff,
/// ]);
/// let fields = decoder.decode(&block, 16 << 10).unwrap();
/// assert_eq!(fields[3].name, ":authority");
/// assert_eq!(fields[3].value, "www.example.com");
/// ```
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The most the peer may make the table hold: the
    /// `SETTINGS_HEADER_TABLE_SIZE` this side announced.
    max_table_size: usize,
}

impl Decoder {
    /// A decoder whose peer may size the dynamic table up to
    /// `max_table_size` bytes (4096 unless this side's SETTINGS said
    /// otherwise); the table starts at that size.
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_table_size,
        }
    }

    /// The dynamic table's current size, as RFC 7541 section 4.1 counts
    /// it.
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Decodes one whole header block (a HEADERS frame's fragment and
    /// those of the CONTINUATION frames after it).
    ///
    /// A block whose fields add up to more than `max_list_size` (as
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` counts them) is still decoded to
    /// its end, so that the dynamic table stays in step with the peer's,
    /// and then refused with [`HpackError::ListTooLarge`]: the stream
    /// fails, the connection lives on. Any other error leaves the table
    /// out of step, and the connection must end (`COMPRESSION_ERROR`).
    pub fn decode(
        &mut self,
        block: &Bytes,
        max_list_size: usize,
    ) -> Result<Vec<Header>, HpackError> {
        let mut fields = Vec::new();
        let mut list_size = 0;
        let mut pos = 0;
        let mut fields_begun = false;
        while pos < block.len() {
            let first = block[pos];
            let header = if first & 0x80 != 0 {
                // Indexed field (section 6.1).
                let index = integer::decode(block, &mut pos, 7)?;
                let (name, value) = self.table.get(index).ok_or(HpackError::BadIndex(index))?;
                Header::new(name, value)
            } else if first & 0xc0 == 0x40 {
                // Literal with incremental indexing (section 6.2.1).
                let (name, value) = self.literal(block, &mut pos, 6)?;
                self.table.insert(name.clone(), value.clone());
                Header::new(name, value)
            } else if first & 0xe0 == 0x20 {
                // Dynamic table size update (section 6.3), only before
                // the block's first field (section 4.2).
                if fields_begun {
                    return Err(HpackError::LateSizeUpdate);
                }
                let size = integer::decode(block, &mut pos, 5)?;
                if size > self.max_table_size {
                    return Err(HpackError::TableSizeTooLarge(size));
                }
                self.table.set_max_size(size);
                continue;
            } else {
                // Literal without indexing (0000) or never indexed
                // (0001), section 6.2.2-6.2.3.
                let never_indexed = first & 0x10 != 0;
                let (name, value) = self.literal(block, &mut pos, 4)?;
                Header {
                    never_indexed,
                    ..Header::new(name, value)
                }
            };
            fields_begun = true;
            list_size += entry_size(&header.name, &header.value);
            if list_size <= max_list_size {
                fields.push(header);
            }
        }
        if list_size > max_list_size {
            return Err(HpackError::ListTooLarge);
        }
        Ok(fields)
    }

    /// A literal field's name (indexed, or a string after an index of 0)
    /// and value, its index having a `prefix_bits` prefix.
    fn literal(
        &self,
        block: &Bytes,
        pos: &mut usize,
        prefix_bits: u8,
    ) -> Result<(Bytes, Bytes), HpackError> {
        let index = integer::decode(block, pos, prefix_bits)?;
        let name = if index == 0 {
            string(block, pos)?
        } else {
            self.table.get(index).ok_or(HpackError::BadIndex(index))?.0
        };
        Ok((name, string(block, pos)?))
    }
}

/// A string literal (section 5.2): raw bytes are a slice of the block,
/// Huffman-coded ones are decoded into a buffer of their own.
fn string(block: &Bytes, pos: &mut usize) -> Result<Bytes, HpackError> {
    let huffman_coded = block.get(*pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let len = integer::decode(block, pos, 7)?;
    let end = pos.checked_add(len).filter(|&end| end <= block.len());
    let end = end.ok_or(HpackError::Truncated)?;
    let raw = block.slice(*pos..end);
    *pos = end;
    if !huffman_coded {
        return Ok(raw);
    }
    let mut decoded = Vec::new();
    huffman::decode(&raw, &mut decoded)?;
    Ok(Bytes::from(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(hex: &str) -> Bytes {
        let digits: Vec<u8> = hex.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect::<Vec<u8>>()
            .into()
    }

    fn pairs(fields: &[Header]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|h| {
                let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
                (text(&h.name), text(&h.value))
            })
            .collect()
    }

    fn decode(decoder: &mut Decoder, hex: &str) -> Vec<(String, String)> {
        pairs(&decoder.decode(&unhex(hex), usize::MAX).unwrap())
    }

    fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    const REQUEST_1: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];

    /// RFC 7541 C.3 (raw strings) and C.4 (Huffman): three requests on
    /// one connection, each indexing a field the next one reuses.
    #[test]
    fn rfc_request_sequences() {
        let sequences = [
            [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ],
            [
                "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                "8286 84be 5886 a8eb 1064 9cbf",
                "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            ],
        ];
        for blocks in sequences {
            let mut decoder = Decoder::new(4096);
            assert_eq!(decode(&mut decoder, blocks[0]), owned(&REQUEST_1));
            assert_eq!(decoder.table_size(), 57);
            let mut second = owned(&REQUEST_1);
            second.push(("cache-control".into(), "no-cache".into()));
            assert_eq!(decode(&mut decoder, blocks[1]), second);
            assert_eq!(decoder.table_size(), 110);
            let third = owned(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value"),
            ]);
            assert_eq!(decode(&mut decoder, blocks[2]), third);
            assert_eq!(decoder.table_size(), 164);
        }
    }

    /// RFC 7541 C.6: three responses through a table of 256 bytes, the
    /// last one evicting entries of the first.
    #[test]
    fn rfc_response_sequence_with_eviction() {
        let mut decoder = Decoder::new(256);
        let first = decode(
            &mut decoder,
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        );
        assert_eq!(
            first,
            owned(&[
                (":status", "302"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                ("location", "https://www.example.com"),
            ])
        );
        assert_eq!(decoder.table_size(), 222);
        let second = decode(&mut decoder, "4883 640e ffc1 c0bf");
        assert_eq!(second[0], (":status".into(), "307".into()));
        assert_eq!(second[1..], first[1..]);
        assert_eq!(decoder.table_size(), 222);
        let third = decode(
            &mut decoder,
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        );
        assert_eq!(
            third,
            owned(&[
                (":status", "200"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                ("location", "https://www.example.com"),
                ("content-encoding", "gzip"),
                (
                    "set-cookie",
                    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
                ),
            ])
        );
        assert_eq!(decoder.table_size(), 215);
    }

    #[test]
    fn never_indexed_fields_say_so() {
        // RFC 7541 C.2.3: "password: secret", never indexed.
        let block = unhex("1008 7061 7373 776f 7264 0673 6563 7265 74");
        let mut decoder = Decoder::new(4096);
        let fields = decoder.decode(&block, usize::MAX).unwrap();
        assert_eq!(pairs(&fields), owned(&[("password", "secret")]));
        assert!(fields[0].never_indexed);
        assert_eq!(decoder.table_size(), 0);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        let cases = [
            ("80", HpackError::BadIndex(0)),
            ("be", HpackError::BadIndex(62)),
            ("40 0a 6375 7374", HpackError::Truncated),
            ("0f", HpackError::Truncated),
            ("3fe2 1f", HpackError::TableSizeTooLarge(4097)),
            ("82 20", HpackError::LateSizeUpdate),
            ("4081 00 00", HpackError::HuffmanPadding),
        ];
        for (hex, error) in cases {
            let mut decoder = Decoder::new(4096);
            assert_eq!(decoder.decode(&unhex(hex), usize::MAX), Err(error), "{hex}");
        }
    }

    #[test]
    fn size_updates_before_the_first_field_resize_the_table() {
        let mut decoder = Decoder::new(4096);
        decode(
            &mut decoder,
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        );
        assert_eq!(decoder.table_size(), 57);
        // Two updates, 0 then 4096, empty the table; then a field.
        assert_eq!(
            decode(&mut decoder, "20 3fe1 1f 82"),
            owned(&[(":method", "GET")])
        );
        assert_eq!(decoder.table_size(), 0);
    }

    #[test]
    fn an_oversized_list_is_refused_after_the_table_is_updated() {
        let block = unhex("8286 84be 5808 6e6f 2d63 6163 6865");
        let mut decoder = Decoder::new(4096);
        decode(
            &mut decoder,
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        );
        assert_eq!(decoder.decode(&block, 100), Err(HpackError::ListTooLarge));
        // The refused block still added cache-control: it is index 62.
        assert_eq!(
            decode(&mut decoder, "be"),
            owned(&[("cache-control", "no-cache")])
        );
    }

    proptest::proptest! {
        /// Arbitrary bytes are decoded or refused, never a panic, and
        /// the table never outgrows its limit.
        #[test]
        fn arbitrary_blocks_never_panic(blocks in proptest::collection::vec(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 1..4,
        )) {
            let mut decoder = Decoder::new(256);
            for block in blocks {
                let _ = decoder.decode(&block.into(), 1024);
                proptest::prop_assert!(decoder.table_size() <= 256);
            }
        }
    }
}
