//! Client-side WebSocket wire work, kept minimal for speed: the upgrade
//! request and its check, frames built once per connection, and a reader
//! that counts the server's frames without copying their payloads.

pub mod frame_reader;
pub mod handshake;
pub mod outgoing;
pub mod rng;
