//! permessage-deflate (RFC 7692): negotiation and the per-message codec.
//!
//! All four parameters are negotiated in both roles:
//! `server_no_context_takeover`, `client_no_context_takeover`,
//! `server_max_window_bits` and `client_max_window_bits` (8-15).
//!
//! Messages up to 64 KiB compressed without context takeover at level 1
//! (as `pushwire serve` does by default) are encoded by a quick encoder of
//! this crate, which keeps to any window, 8 bits included. Everything else
//! goes to zlib, which cannot compress with a 256-byte window: where 8
//! window bits are negotiated, it compresses with 9, as the reference
//! implementations do, and every peer that inflates with the standard
//! 32 KiB window (as browsers and Autobahn do) reads it. This side always
//! inflates with a 32 KiB window, which reads any smaller one.

mod codec;
mod negotiate;
mod quick;

pub use codec::{Deflater, Inflater};
pub use negotiate::{
    accept_offer, client_offer, parse_extensions, validate_response, Extension, NegotiationError,
};

/// What this endpoint asks for or accepts when negotiating permessage-deflate.
///
/// ```
/// use pushwire_proto::ws::deflate::DeflateConfig;
/// let config = DeflateConfig::default().server_max_window_bits(10);
/// assert_eq!(config.compression_level, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The server resets its compressor after each message: less memory,
    /// less compression. As server, always announced in the response; as
    /// client, requested in the offer. Default: false.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message. As server,
    /// asked of the client in the response; as client, announced in the
    /// offer. Default: false.
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window, as a power of two, the server compresses
    /// with (8-15). Default: 15.
    pub server_max_window_bits: u8,
    /// The largest LZ77 window the client compresses with (8-15).
    /// Default: 15.
    pub client_max_window_bits: u8,
    /// zlib compression level, 0-9. Default: 1, the fastest that compresses
    /// (without context takeover, messages up to 64 KiB are then encoded
    /// by this crate's quick encoder, zlib's level-1 method without its
    /// per-message reset).
    pub compression_level: u32,
    /// Messages shorter than this many bytes are sent uncompressed, where
    /// compressing would cost more than it saves. Default: 0 (compress all).
    pub min_compress_size: usize,
}

impl DeflateConfig {
    /// Sets [`DeflateConfig::server_no_context_takeover`](#structfield.server_no_context_takeover).
    #[must_use]
    pub fn server_no_context_takeover(mut self, server_no_context_takeover: bool) -> Self {
        self.server_no_context_takeover = server_no_context_takeover;
        self
    }

    /// Sets [`DeflateConfig::client_no_context_takeover`](#structfield.client_no_context_takeover).
    #[must_use]
    pub fn client_no_context_takeover(mut self, client_no_context_takeover: bool) -> Self {
        self.client_no_context_takeover = client_no_context_takeover;
        self
    }

    /// Sets [`DeflateConfig::server_max_window_bits`](#structfield.server_max_window_bits).
    #[must_use]
    pub fn server_max_window_bits(mut self, server_max_window_bits: u8) -> Self {
        self.server_max_window_bits = server_max_window_bits;
        self
    }

    /// Sets [`DeflateConfig::client_max_window_bits`](#structfield.client_max_window_bits).
    #[must_use]
    pub fn client_max_window_bits(mut self, client_max_window_bits: u8) -> Self {
        self.client_max_window_bits = client_max_window_bits;
        self
    }

    /// Sets [`DeflateConfig::compression_level`](#structfield.compression_level).
    #[must_use]
    pub fn compression_level(mut self, compression_level: u32) -> Self {
        self.compression_level = compression_level;
        self
    }

    /// Sets [`DeflateConfig::min_compress_size`](#structfield.min_compress_size).
    #[must_use]
    pub fn min_compress_size(mut self, min_compress_size: usize) -> Self {
        self.min_compress_size = min_compress_size;
        self
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            compression_level: 1,
            min_compress_size: 0,
        }
    }
}

/// The parameters both ends agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The window the server compresses with.
    pub server_max_window_bits: u8,
    /// The window the client compresses with.
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value that announces these parameters.
    ///
    /// ```
    /// use pushwire_proto::ws::deflate::DeflateParams;
    /// let p = DeflateParams { server_no_context_takeover: true, client_no_context_takeover: false,
    ///                         server_max_window_bits: 10, client_max_window_bits: 15 };
    /// assert_eq!(p.to_header(), "permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
    /// ```
    pub fn to_header(&self) -> String {
        let mut out = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            out.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        out
    }
}
