//! The permessage-deflate flags shared by `pushwire serve` and `pushwire echo`.

use pushwire::WebSocketConfig;

/// Without context takeover, the shortest message worth compressing: a
/// 50-byte JSON message deflates to about 46 bytes, a 100-byte one to 81.
pub const MIN_COMPRESS_SIZE: usize = 64;

/// How the server compresses WebSocket messages.
///
/// By default both sides reset their compressor after every message (no
/// context takeover), so the server keeps one zlib state per thread
/// instead of about 300 KB per connection, as uWebSockets does; messages
/// under [`MIN_COMPRESS_SIZE`] bytes then go uncompressed, since without
/// a context deflate does not make them smaller.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct DeflateArgs {
    /// Do not accept permessage-deflate.
    #[arg(long)]
    no_deflate: bool,
    /// Keep the compression context from message to message on both
    /// sides: better ratios for small, similar messages, at about 300 KB
    /// per connection.
    #[arg(long, conflicts_with = "no_deflate")]
    deflate_context_takeover: bool,
    /// Send messages shorter than this many bytes uncompressed. Default:
    /// 64 without context takeover, 0 with it.
    #[arg(long, value_name = "BYTES", conflicts_with = "no_deflate")]
    deflate_min_size: Option<usize>,
}

impl DeflateArgs {
    /// The WebSocket settings these flags ask for.
    pub fn websocket_config(self) -> WebSocketConfig {
        let mut config = WebSocketConfig::default();
        match &mut config.deflate {
            _ if self.no_deflate => config.deflate = None,
            Some(deflate) => {
                let takeover = self.deflate_context_takeover;
                deflate.server_no_context_takeover = !takeover;
                deflate.client_no_context_takeover = !takeover;
                let default_min = if takeover { 0 } else { MIN_COMPRESS_SIZE };
                deflate.min_compress_size = self.deflate_min_size.unwrap_or(default_min);
            }
            None => {}
        }
        config
    }
}
