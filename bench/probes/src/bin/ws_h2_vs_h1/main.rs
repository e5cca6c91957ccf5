//! WebSocket echo throughput over HTTP/1.1 (`Upgrade`) and over HTTP/2
//! (RFC 8441 extended CONNECT), side by side on the same server and load.
//!
//! ```text
//! ws_h2_vs_h1 server [--listen 127.0.0.1:0]
//! ws_h2_vs_h1 load --addr 127.0.0.1:PORT [--sets h1,h2x1,h2x10] [--sockets N=10]
//!     [--size BYTES=20] [--warmup-ms MS=500] [--duration-ms MS=2000]
//!     [--slice-ms MS=250] [--window browser|h2-default] [--server-pid PID]
//! ```
//!
//! `server` is a [`pushwire::Server`] with one *require* route, `/echo`,
//! that sends every data message back; it prints `listening ADDR` once
//! bound. `load` opens, for each of `--sets`, `--sockets` WebSockets to
//! it without permessage-deflate (so compression does not drown the
//! transport's cost): `h1` puts each on its own TCP connection (HTTP/1.1
//! `Upgrade`), `h2xC` makes them extended CONNECT streams spread
//! round-robin over C h2c connections (`h2x1`: all streams on one
//! connection, as a browser does per origin). Every WebSocket runs a
//! closed loop: send one binary message of `--size` bytes, wait for its
//! echo, repeat.
//!
//! One set runs at a time, the others wait idle, in turns of
//! `--slice-ms`, until each set has been measured for `--duration-ms`:
//! the sets share the machine's ups and downs, which on a shared machine
//! move a throughput by more than the difference being measured. Each
//! set first runs `--warmup-ms` on its own, and each turn starts with a
//! short settling time, unmeasured. One JSON line per set is printed:
//! messages per second and, when `--server-pid` is given, the CPU time
//! server and generator spent in its turns (from `/proc/PID/stat`, in
//! microseconds per message), which tells which side was saturated.
//!
//! The h2 client announces browser-like receive windows by default
//! (`--window browser`: 6 MiB per stream, 15 MiB per connection, as
//! Chromium does); `--window h2-default` keeps the protocol's 64 KiB.
//!
//! `bench/ws-h2-vs-h1.sh` builds this in release mode, pins server and
//! generator to different cores and prints the table.

mod load_args;
mod server;
mod set;
mod socket;

use tokio::task::JoinSet;

use crate::load_args::LoadArgs;
use crate::server::serve;
use crate::set::Set;
use crate::socket::open_sockets;

/// The `pushwire` binary's allocator, so that the server measured here
/// allocates as the one shipped does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The usage message.
const USAGE: &str = "usage:
  ws_h2_vs_h1 server [--listen ADDR=127.0.0.1:0]
  ws_h2_vs_h1 load --addr ADDR [--sets h1,h2x1,h2x10] [--sockets N=10]
      [--size BYTES=20] [--warmup-ms MS=500] [--duration-ms MS=2000]
      [--slice-ms MS=250] [--window browser|h2-default] [--server-pid PID]";

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("server") => {
            let mut listen = "127.0.0.1:0".to_owned();
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--listen" => listen = args.next().ok_or("--listen needs a value")?,
                    _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
                }
            }
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(serve(&listen))
                .map_err(|e| e.to_string())
        }
        Some("load") => {
            let load = LoadArgs::parse(args)?;
            // The generator is pinned to one core: one thread drives it all.
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(run_load(load))
        }
        _ => Err(USAGE.to_owned()),
    }
}

/// `load`: opens every set's WebSockets, warms each set up, runs the sets
/// in turns and prints one JSON line per set.
async fn run_load(load: LoadArgs) -> Result<(), String> {
    let mut tasks = JoinSet::new();
    let mut sets = Vec::with_capacity(load.sets.len());
    for &transport in &load.sets {
        let sockets = open_sockets(&load, transport).await?;
        sets.push(Set::start(transport, sockets, load.size, &mut tasks));
    }
    for set in &mut sets {
        set.turn(load.warmup, false, load.server_pid).await;
    }
    let turns = (load.duration.as_secs_f64() / load.slice.as_secs_f64()).ceil() as u32;
    for _ in 0..turns.max(1) {
        for set in &mut sets {
            set.turn(load.slice, true, load.server_pid).await;
        }
    }
    for set in &sets {
        set.stop();
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    for set in &sets {
        println!("{}", set.report(&load));
    }
    Ok(())
}
