//! HPACK, the header compression of HTTP/2 (RFC 7541).
//!
//! A connection has one [`Decoder`] for the header blocks it receives
//! and one [`Encoder`] for those it sends; each keeps what the blocks of
//! its direction share, so blocks go through them in the order they
//! travel.

mod decoder;
mod encoder;
pub mod huffman;
mod integer;
mod table;

use std::fmt;

use bytes::Bytes;

pub use decoder::Decoder;
pub use encoder::{Encoder, Field};

/// A decoded header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name, as received: HPACK neither checks nor lowercases it.
    pub name: Bytes,
    /// The value, as received.
    pub value: Bytes,
    /// The sender asked that it never be indexed (section 6.2.3).
    pub never_indexed: bool,
}

impl Header {
    fn new(name: Bytes, value: Bytes) -> Self {
        Header {
            name,
            value,
            never_indexed: false,
        }
    }
}

/// Why a header block could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HpackError {
    /// The block ends inside a field.
    Truncated,
    /// An integer larger than any the protocol needs.
    IntegerTooLarge,
    /// An index that names no entry (0, or past the dynamic table's end).
    BadIndex(usize),
    /// A Huffman-coded string holds the EOS symbol.
    HuffmanEos,
    /// A Huffman-coded string's padding is longer than 7 bits or not
    /// all ones.
    HuffmanPadding,
    /// A dynamic table size update above what this side allowed.
    TableSizeTooLarge(usize),
    /// A dynamic table size update after the block's first field.
    LateSizeUpdate,
    /// The fields add up to more than the header list size allowed. The
    /// block was decoded to its end: only the stream fails.
    ListTooLarge,
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HpackError::Truncated => f.write_str("header block ends inside a field"),
            HpackError::IntegerTooLarge => f.write_str("integer too large in header block"),
            HpackError::BadIndex(index) => write!(f, "no header table entry at index {index}"),
            HpackError::HuffmanEos => f.write_str("EOS inside a Huffman-coded string"),
            HpackError::HuffmanPadding => f.write_str("bad padding of a Huffman-coded string"),
            HpackError::TableSizeTooLarge(size) => {
                write!(f, "dynamic table size update to {size} exceeds the limit")
            }
            HpackError::LateSizeUpdate => {
                f.write_str("dynamic table size update after the block's first field")
            }
            HpackError::ListTooLarge => f.write_str("header list larger than allowed"),
        }
    }
}

impl std::error::Error for HpackError {}
