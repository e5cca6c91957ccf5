//! Sans-IO protocol cores for pushwire, one folder per protocol.
//!
//! Everything here is pure computation on byte buffers: no sockets, no
//! async runtime, no clock. The IO layer (the `pushwire` crate) feeds
//! the bytes it receives to these state machines and writes out what
//! they encode.
//!
//! - [`ws`]: WebSocket (RFC 6455): frames, masking, UTF-8 validation,
//!   close codes, the opening handshake, permessage-deflate (RFC 7692),
//!   and the [`Receiver`] / [`Sender`] state machines;
//! - [`http1`]: HTTP/1.x request heads and bodies (RFC 9112);
//! - [`http2`]: HTTP/2 frames, SETTINGS, HPACK and a served
//!   connection's state (RFC 9113);
//! - [`sse`]: Server-Sent Events, encoder and incremental parser;
//! - [`OutputQueue`]: the bytes a connection has queued for its peer,
//!   whatever the protocol.
//!
//! The WebSocket types most users need are re-exported here, so
//! `pushwire_proto::Message` names [`ws::Message`]:
//!
//! ```
//! use bytes::BytesMut;
//! use pushwire_proto::{Limits, Message, Receiver, Role, Sender};
//! let mut client = Sender::new(Role::Client, None, 0);
//! let frame = client.encode(&Message::text("ping!"), [7, 7, 7, 7]);
//! let mut wire = BytesMut::new();
//! wire.extend_from_slice(frame.header());
//! wire.extend_from_slice(&frame.payload);
//! let mut server = Receiver::new(Role::Server, Limits::default(), None);
//! assert_eq!(server.decode(&mut wire).unwrap(), Some(Message::text("ping!")));
//! ```
#![deny(missing_docs)]

pub mod http1;
pub mod http2;
mod output_queue;
pub mod sse;
pub mod ws;

pub use bytes;
pub use output_queue::OutputQueue;
pub use ws::{
    CloseCode, CloseFrame, EncodedFrame, Limits, Message, ProtocolError, Receiver, Role, Sender,
    Utf8Bytes,
};
