//! WebSocket (RFC 6455), sans IO: the opening handshake, frames, and the
//! state machines that turn bytes into messages and messages into bytes.
//!
//! - [`frame`]: frame headers (RFC 6455 section 5.2);
//! - [`mask`]: payload masking;
//! - [`utf8`]: incremental UTF-8 validation;
//! - [`close`]: close codes and payloads;
//! - [`handshake`]: the opening handshake, both roles;
//! - [`deflate`]: permessage-deflate (RFC 7692);
//! - [`Message`], [`Utf8Bytes`]: what an endpoint sends and receives;
//! - [`Limits`]: the bounds a [`Receiver`] enforces;
//! - [`ProtocolError`]: why a [`Receiver`] fails a connection;
//! - [`Role`]: client or server, which decides masking;
//! - [`Receiver`] / [`Sender`]: the protocol state machines.

pub mod close;
mod config;
pub mod deflate;
mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
mod message;
mod receiver;
mod role;
mod sender;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use config::Limits;
pub use error::ProtocolError;
pub use message::{Message, Utf8Bytes};
pub use receiver::Receiver;
pub use role::Role;
pub use sender::{EncodedFrame, Sender};
