//! Sans-IO WebSocket protocol core for pushwire.
//!
//! Everything here is pure computation on byte buffers: no sockets, no
//! async runtime, no clock. The IO layer (the `pushwire` crate) feeds
//! received bytes to a [`Receiver`] and writes what a [`Sender`] encodes.
//!
//! - [`frame`]: frame headers (RFC 6455 section 5.2);
//! - [`mask`]: payload masking;
//! - [`utf8`]: incremental UTF-8 validation;
//! - [`close`]: close codes and payloads;
//! - [`handshake`]: the opening handshake, both roles;
//! - [`http1`]: HTTP/1.x request heads (RFC 9112);
//! - [`deflate`]: permessage-deflate (RFC 7692);
//! - [`sse`]: Server-Sent Events, encoder and incremental parser;
//! - [`http2`]: HTTP/2 frames, SETTINGS and HPACK;
//! - [`Receiver`] / [`Sender`]: the protocol state machines.
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

pub mod close;
mod config;
pub mod deflate;
mod error;
pub mod frame;
pub mod handshake;
pub mod http1;
pub mod http2;
pub mod mask;
mod message;
mod receiver;
mod role;
mod sender;
pub mod sse;
pub mod utf8;

pub use bytes;
pub use close::{CloseCode, CloseFrame};
pub use config::Limits;
pub use error::ProtocolError;
pub use message::{Message, Utf8Bytes};
pub use receiver::Receiver;
pub use role::Role;
pub use sender::{EncodedFrame, Sender};
