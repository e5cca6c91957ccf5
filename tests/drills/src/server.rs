//! The processes a drill runs against: `pushwire serve` (pinned to CPU 0
//! with `taskset` when it is available) with the drill's hub
//! configuration, and `redis-server` for the Redis variants. Each is
//! started on a free loopback port, waited for, sampled through `/proc`,
//! and killed when dropped.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::http;

/// Where the drills write their files (configs, server logs).
pub fn temp_dir() -> PathBuf {
    let dir = std::env::var_os("DRILLS_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("pushwire-drills"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Where a server's config file is written.
pub fn config_path(spec: &ServerSpec) -> PathBuf {
    temp_dir().join(format!("{}.json", spec.name))
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A running `pushwire serve`.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// Its process id.
    pub pid: u32,
}

/// How to start a server.
#[derive(Clone)]
pub struct ServerSpec {
    /// The hub configuration (JSON).
    pub config: String,
    /// A name for its files.
    pub name: String,
    /// Extra command-line arguments.
    pub args: Vec<String>,
}

impl Server {
    /// Starts `pushwire serve` on `port` and waits until `/healthz`
    /// answers (at most 20 s).
    pub async fn start(spec: &ServerSpec, port: u16) -> io::Result<Server> {
        let dir = temp_dir();
        let config = config_path(spec);
        std::fs::write(&config, &spec.config)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", spec.name)))?;
        let bin = std::env::var("DRILLS_PUSHWIRE").unwrap_or_else(|_| "pushwire".into());
        let pin = std::env::var("DRILLS_SERVER_CPU").unwrap_or_else(|_| "0".into());
        let mut cmd = if pin.is_empty() {
            Command::new(&bin)
        } else {
            let mut c = Command::new("taskset");
            c.args(["-c", &pin, &bin]);
            c
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        cmd.arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--config")
            .arg(&config)
            .args(&spec.args)
            .env(
                "RUST_LOG",
                std::env::var("DRILLS_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("server exited at once"))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http::get(addr, "/healthz", Duration::from_secs(2)).await {
                if r.status == 200 {
                    break;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(io::Error::other(format!("pushwire serve exited: {status}")));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(
                    "pushwire serve did not answer /healthz in 20 s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Server { addr, child, pid })
    }

    /// Resident memory in bytes (0 once it has gone).
    pub fn rss(&self) -> u64 {
        rss_of(self.pid)
    }

    /// Open file descriptors (0 once it has gone).
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> io::Result<String> {
        let r = http::get(self.addr, "/metrics", Duration::from_secs(10)).await?;
        Ok(String::from_utf8_lossy(&r.body).into_owned())
    }

    /// One sample of `/metrics` (0 when absent or unreadable).
    pub async fn metric(&self, name: &str) -> f64 {
        match self.metrics().await {
            Ok(text) => http::metric(&text, name).unwrap_or(0.0),
            Err(_) => 0.0,
        }
    }

    /// Sends `signal` (`HUP`, `TERM`…) with kill(1).
    pub fn signal(&self, signal: &str) -> io::Result<()> {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill -{signal} failed")))
        }
    }

    /// Waits up to `wait` for the process to exit; true when it did.
    pub async fn wait_exit(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.child.wait()).await.is_ok()
    }
}

/// CPU seconds (user + system, all threads) `pid` has used; "self" for
/// this process. Assumes Linux's 100 clock ticks a second.
pub fn cpu_seconds(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Resident memory of `pid` in bytes (0 when unreadable).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// A `redis-server` of its own (no persistence) on a free port.
pub struct Redis {
    /// Where it listens.
    pub addr: SocketAddr,
    _child: Child,
}

impl Redis {
    /// Starts it and waits until it accepts connections.
    pub async fn start() -> io::Result<Redis> {
        let port = free_port()?;
        let dir = temp_dir();
        let log = std::fs::File::create(dir.join("redis.log"))?;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other("redis-server did not start in 10 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Redis {
            addr,
            _child: child,
        })
    }
}
