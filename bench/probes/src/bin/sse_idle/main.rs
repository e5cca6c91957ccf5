//! Memory per idle Server-Sent Events stream: a server with one event
//! stream per request, and a client that opens many and holds them.
//!
//! ```text
//! sse_idle server [--listen 127.0.0.1:0] [--heartbeat-secs S=15] [--source channel|pending]
//! sse_idle client --addr 127.0.0.1:PORT --streams N [--http h1|h2]
//!     [--streams-per-connection K=100] [--per-ip P=1000] [--concurrency C=200]
//! ```
//!
//! `server` is a [`pushwire::Server`] whose `/events` answers with an
//! [`Sse`] response that sends a heartbeat comment every
//! `--heartbeat-secs` and ends when the server shuts down. With
//! `--source channel` (the default, what an application feeding events
//! does) each stream is fed by [`Sse::channel`] and the server keeps its
//! [`SseSender`] in a registry, as a pub/sub hub would; with
//! `--source pending` the stream's event source never yields. It prints
//! `listening ADDR` once bound.
//!
//! `client` opens `--streams` event streams and holds them open without
//! reading: over HTTP/1.1 one TCP connection each, from the client
//! addresses 127.0.0.2, 127.0.0.3, ... (`--per-ip` connections each, to
//! get past one address's ephemeral ports); over HTTP/2 (h2c by prior
//! knowledge) `--streams-per-connection` streams on each connection. Once
//! every stream's response head (`200`, `text/event-stream`) has arrived
//! it prints `established N` and holds them until killed.
//!
//! `bench/sse-idle-memory.sh` reads the server's RSS before and after and
//! prints the table.
//!
//! [`Sse`]: pushwire::sse::Sse
//! [`Sse::channel`]: pushwire::sse::Sse::channel
//! [`SseSender`]: pushwire::sse::SseSender

mod client;
mod options;
mod server;

use crate::client::hold_streams;
use crate::options::Options;
use crate::server::serve;

/// The usage message.
const USAGE: &str = "usage:
  sse_idle server [--listen ADDR=127.0.0.1:0] [--heartbeat-secs S=15] [--source channel|pending]
  sse_idle client --addr ADDR --streams N [--http h1|h2] [--streams-per-connection K=100]
      [--per-ip P=1000] [--concurrency C=200]";

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let options = Options::parse(args)?;
    let runtime = match command.as_deref() {
        // The server gets as many workers as cores it may run on.
        Some("server") => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        Some("client") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => return Err(USAGE.to_owned()),
    }
    .map_err(|e| e.to_string())?;
    if command.as_deref() == Some("server") {
        runtime.block_on(serve(options)).map_err(|e| e.to_string())
    } else {
        runtime.block_on(hold_streams(options))
    }
}
