//! HTTP/2 (RFC 9113) protocol pieces, sans IO.
//!
//! - [`frame`]: frame headers, the layout checks of each frame type,
//!   and writing frames;
//! - [`Settings`]: SETTINGS parameters;
//! - [`ErrorCode`]: the codes of RST_STREAM and GOAWAY;
//! - [`Window`], [`RecvWindow`]: flow-control windows;
//! - [`hpack`]: header compression (RFC 7541);
//! - [`connection`]: a served connection's state: streams, flow
//!   control, the frames to write (waker-free: the driver wakes).

pub mod connection;
mod error_code;
pub mod frame;
pub mod hpack;
mod settings;
mod window;

pub use error_code::ErrorCode;
pub use settings::Settings;
pub use window::{RecvWindow, Window, WindowOverflow};
