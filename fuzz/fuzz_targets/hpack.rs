//! Feeds arbitrary header blocks, one after the other, to one HPACK
//! `Decoder` (as a connection does), and round-trips what it decodes
//! through pushwire's own `Encoder`.
//!
//! Checks, besides "no panic":
//! - the dynamic table never holds more than the size this side allowed;
//! - a decoded block's fields add up to at most the header list size
//!   asked for (RFC 7541 section 4.1 counting); a block over it fails
//!   with `ListTooLarge` and the connection goes on, any other error ends
//!   it;
//! - the fields of every decoded block, encoded by `Encoder` (after a
//!   table size the fuzzer picks) and decoded by the peer's `Decoder`,
//!   come back the same: names, values, never-indexed flags;
//! - every block's bytes Huffman-code to `huffman::encoded_len` bytes and
//!   decode back to themselves.
//!
//! Input layout:
//! - byte 0: bits 0-1 the table size this side allows (0, 64, 4,096,
//!   65,536), bits 2-3 the header list size (64, 1,024, 16,384,
//!   unlimited), bits 4-5 the table size the round trip's encoder is told
//!   of (0, 100, 4,096, 65,536);
//! - then blocks, each a 2-byte big-endian length and that many bytes
//!   (the last one may be shorter).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire_proto::bytes::Bytes;
use pushwire_proto::http2::hpack::{huffman, Decoder, Encoder, Field, Header, HpackError};

/// RFC 7541 section 4.1: a field's size is its name, its value and 32.
fn entry_size(header: &Header) -> usize {
    header.name.len() + header.value.len() + 32
}

fn check_huffman(raw: &[u8]) {
    let mut coded = Vec::new();
    huffman::encode(raw, &mut coded);
    assert_eq!(coded.len(), huffman::encoded_len(raw), "encoded_len is off");
    let mut decoded = Vec::new();
    huffman::decode(&coded, &mut decoded).expect("our Huffman code decodes");
    assert_eq!(decoded, raw, "Huffman round trip");
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, mut rest)) = data.split_first() else {
        return;
    };
    let table_size = [0, 64, 4096, 65536][usize::from(config & 3)];
    let list_size = [64, 1024, 16 << 10, usize::MAX][usize::from(config >> 2 & 3)];
    let peer_table_size = [0, 100, 4096, 65536][usize::from(config >> 4 & 3)];

    let mut decoder = Decoder::new(table_size);
    // The round trip: our encoder and the peer's decoder, across blocks.
    let mut encoder = Encoder::new();
    encoder.set_peer_table_size(peer_table_size);
    let mut peer = Decoder::new(4096);

    while let [hi, lo, tail @ ..] = rest {
        let (hi, lo): (&u8, &u8) = (hi, lo);
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (raw, tail) = tail.split_at(len);
        rest = tail;
        check_huffman(raw);

        let block = Bytes::copy_from_slice(raw);
        let result = decoder.decode(&block, list_size);
        assert!(
            decoder.table_size() <= table_size,
            "table at {} over the {table_size} allowed",
            decoder.table_size()
        );
        let fields = match result {
            Ok(fields) => fields,
            // Only the stream fails; the table is in step.
            Err(HpackError::ListTooLarge) => continue,
            // The connection ends with COMPRESSION_ERROR.
            Err(_) => return,
        };
        let total: usize = fields.iter().map(entry_size).sum();
        assert!(
            total <= list_size,
            "a list of {total} over the {list_size} allowed"
        );

        let mut encoded = Vec::new();
        encoder.encode(
            fields.iter().map(|h| Field {
                name: &h.name,
                value: &h.value,
                never_indexed: h.never_indexed,
            }),
            &mut encoded,
        );
        let again = peer
            .decode(&Bytes::from(encoded), usize::MAX)
            .expect("a block of our encoder decodes");
        assert_eq!(again, fields, "encoded and decoded again");
    }
});
