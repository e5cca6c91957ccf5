//! Sans-IO hub core for pushwire: channels, namespaces, publications with
//! offset and epoch, history and recovery, presence, per-connection
//! outboxes, and the JSON client protocol that Centrifugo's SDKs speak.
//!
//! No sockets, no async runtime, no clock: time is an argument.
#![deny(missing_docs)]
