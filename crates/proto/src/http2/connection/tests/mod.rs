//! The connection driven deterministically: a test driver feeds it the
//! client's frames as bytes, does what the server's driver does with
//! them, and decodes what it writes back. No sockets, no runtime, no
//! clock but the instants the tests pass in.

mod driver;
mod field_blocks;
mod flow_control;
mod handles;
mod lifecycle;
mod stream_states;
