//! Measures the memory a `pushwire echo` server holds per idle WebSocket
//! connection: the server's RSS before and after N connections that
//! complete the handshake and then stay idle.
//!
//! ```text
//! idle_memory --server-bin target/release/pushwire --connections 10000 [--deflate] [--json]
//! ```
//!
//! The server runs as a child process (`PATH echo --listen 127.0.0.1:PORT`).
//! After a warm-up connection, its VmRSS and RssAnon are read from
//! `/proc/PID/status`; then N connections are opened (at most
//! `--concurrency` at a time) from client addresses 127.0.0.2, 127.0.0.3,
//! ... (`--per-ip` connections each) and left idle, and after
//! `--settle-ms` the RSS is read again ("idle"). Unless `--no-echo`, each
//! connection then sends one text message and awaits its echo, so the
//! server allocates (and should release) its per-message buffers and, with
//! deflate, its codecs; after another settle the RSS is read a third time
//! ("echoed"). Kernel socket buffers are not part of RSS, so the deltas are
//! the server's user-space memory per connection.
//!
//! `--deflate` makes the client offer permessage-deflate (the echo server
//! accepts it); by default the client offers nothing. `--child-env K=V`
//! sets a variable for the server only (e.g. `MALLOC_ARENA_MAX=2`), and
//! `--server-arg ARG` passes an extra argument to `echo`.
//!
//! `bench/idle-memory.sh` builds this in release mode and prints the table.

mod args;
mod client;
mod report;
mod server;
mod sizes;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pushwire_probes::procfs::read_rss;

use crate::args::{parse_args, Args};
use crate::client::{client_config, echo_all, echo_once, open, open_all};
use crate::report::{print_report, Report};
use crate::server::start_server;
use crate::sizes::print_sizes;

/// Starts the server, opens the connections and reads the server's RSS
/// before, while idle and after one echo each.
async fn run(args: &Args) -> Result<Report, String> {
    let started = Instant::now();
    let server = start_server(args).await?;
    let pid = server.child.id();
    // Warm-up: one full connection, so one-time allocations (thread-locals,
    // first task, timer) are in the baseline.
    let config = client_config(args.deflate);
    let mut warm = open(usize::MAX >> 1, Ipv4Addr::LOCALHOST, server.addr, &config).await?;
    echo_once(&mut warm, "warm-up").await?;
    let _ = warm.close(None).await;
    drop(warm);
    tokio::time::sleep(args.settle.min(Duration::from_millis(500))).await;
    let baseline = read_rss(pid)?;

    let t = Instant::now();
    let conns = open_all(args, server.addr).await?;
    let connect_secs = t.elapsed().as_secs_f64();
    let deflate_negotiated = conns
        .iter()
        .filter(|ws| ws.negotiated().deflate.is_some())
        .count();
    tokio::time::sleep(args.settle).await;
    let idle = read_rss(pid)?;

    let (conns, echoed) = if args.echo {
        let conns = echo_all(args, conns).await?;
        tokio::time::sleep(args.settle).await;
        (conns, Some(read_rss(pid)?))
    } else {
        (conns, None)
    };
    if !args.hold.is_zero() {
        eprintln!(
            "holding {} connections to server pid {pid} for {:?}",
            conns.len(),
            args.hold
        );
        tokio::time::sleep(args.hold).await;
    }
    // Server first, so it does not spend time on 10k closes.
    drop(server);
    drop(conns);
    Ok(Report {
        deflate_negotiated,
        baseline,
        idle,
        echoed,
        connect_secs,
        total_secs: started.elapsed().as_secs_f64(),
    })
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.sizes {
        print_sizes();
        if args.server_bin.is_empty() {
            return std::process::ExitCode::SUCCESS;
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match tokio::time::timeout(args.deadline, run(&args)).await {
            Ok(result) => result,
            Err(_) => Err(format!("did not finish within {:?}", args.deadline)),
        }
    });
    match result {
        Ok(report) => {
            print_report(&args, &report);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idle_memory: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
