//! Stand-alone measurements of pushwire, one binary each, each run by a
//! script in `bench/` that builds it in release mode and prints a table:
//!
//! - `idle_memory` (`bench/idle-memory.sh`): the RSS a `pushwire echo`
//!   server holds per idle WebSocket connection;
//! - `ws_h2_vs_h1` (`bench/ws-h2-vs-h1.sh`): WebSocket echo throughput
//!   over HTTP/2 extended CONNECT against HTTP/1.1 `Upgrade`;
//! - `sse_idle` (`bench/sse-idle-memory.sh`): a server of idle
//!   Server-Sent Events streams and a client that holds N of them.
//!
//! This library holds what they share: a process's memory and CPU time
//! read from `/proc`, and client connections from the loopback addresses
//! 127.0.0.2 onwards.

pub mod procfs;
pub mod source_addr;
