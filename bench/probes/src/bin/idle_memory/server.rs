//! The server under measurement: `pushwire echo` as a child process.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::args::Args;

/// The server child, killed and reaped when dropped (also on error paths).
pub struct Server {
    /// The `pushwire echo` process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Starts `args.server_bin echo` on a free port and waits until it accepts.
pub async fn start_server(args: &Args) -> Result<Server, String> {
    let port = free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut cmd = Command::new(&args.server_bin);
    cmd.arg("echo")
        .arg("--listen")
        .arg(addr.to_string())
        .args(&args.server_args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in &args.child_env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", args.server_bin))?;
    let mut server = Server { child, addr };
    let start = Instant::now();
    loop {
        if let Ok(tcp) = TcpStream::connect(addr).await {
            drop(tcp);
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("server exited early: {status}"));
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err("server did not accept within 10 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
