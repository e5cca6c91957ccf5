//! What the tests of the `pushwire` binary share: starting it on a free
//! port and waiting for it to exit.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `pushwire` process, killed when dropped.
pub struct Running {
    pub child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    /// Its log up to the line that announced the address, that one included.
    pub log: Vec<String>,
    /// The log lines after those, as they come (also those of processes
    /// it started that write to the same stderr).
    pub later: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `pushwire ARGS` and reads its log until the line with `announce`,
/// which the listening address follows (up to a `/` or the line's end).
pub fn start(args: &[&str], announce: &str) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pushwire binary runs");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let addr = loop {
        let line = lines.next().expect("a log line").unwrap();
        let addr = line
            .split(announce)
            .nth(1)
            .map(|rest| rest.split('/').next().unwrap().trim().to_owned());
        log.push(line);
        if let Some(addr) = addr {
            break addr;
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    let (send, later) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    Running {
        child,
        addr,
        log,
        later,
    }
}

/// `pushwire serve` on a free port, with more arguments.
pub fn serve(args: &[&str]) -> Running {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    start(&all, "serving http://")
}

/// Waits up to `limit` for a log line after the start that contains
/// `needle`, and returns it.
pub fn wait_for_line(running: &Running, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match running.later.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no log line with {needle:?}: {e}"),
        }
    }
}

/// Waits up to `limit` for the process to exit by itself.
pub async fn exit_status(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "pushwire did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
