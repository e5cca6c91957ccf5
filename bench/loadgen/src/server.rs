//! A peer server running as a child process, pinned to the server core
//! with `taskset`: started on a free port, awaited until it accepts,
//! killed when dropped.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::peers::{Paths, Peer, PubSubProtocol, ServerRole};
use crate::procfs;

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running peer server.
pub struct ServerProcess {
    child: Child,
    /// The peer's name.
    pub peer: &'static str,
    /// The server's process id (taskset execs the server, so it is the child's).
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it was started with permessage-deflate on.
    pub deflate: bool,
    /// What kind of server it is (echo, broadcast, HTTP push).
    pub role: ServerRole,
    /// How it is spoken to as a [`ServerRole::PubSub`] server.
    pub protocol: PubSubProtocol,
    /// A hub's connection token for its clients.
    pub token: Option<String>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `peer`'s server of `role` on a free loopback port, pinned
    /// to `cpu`, and waits until it accepts connections. Its stderr goes
    /// to a log file under `bench/target/peer-logs/`.
    pub fn start_as(
        peer: &Peer,
        paths: &Paths,
        role: ServerRole,
        deflate: bool,
        cpu: usize,
    ) -> Result<Self, BenchError> {
        let addr = free_port()?;
        let protocol = peer.pubsub_protocol();
        let token = if matches!(role, ServerRole::PubSub | ServerRole::HubOnly)
            && protocol == PubSubProtocol::Hub
        {
            Some(peer.hub_token(paths).map_err(BenchError::Setup)?)
        } else {
            None
        };
        let inner = peer
            .command_as(paths, addr, role, deflate)
            .map_err(BenchError::Setup)?;
        let log_dir = paths.bench.join("target/peer-logs");
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| BenchError::io(format!("creating {}", log_dir.display()), e))?;
        let log = log_dir.join(format!(
            "{}{}{}.log",
            peer.name,
            match role {
                ServerRole::Echo => "",
                ServerRole::Broadcast => "-broadcast",
                ServerRole::HttpPush => "-push",
                ServerRole::EventStream => "-sse",
                ServerRole::PubSub => "-pubsub",
                ServerRole::HubOnly => "-api",
            },
            if deflate { "-deflate" } else { "" }
        ));
        let log_file = File::create(&log)
            .map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(cpu.to_string())
            .arg(inner.get_program())
            .args(inner.get_args())
            .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        if let Some(dir) = inner.get_current_dir() {
            command.current_dir(dir);
        }
        let child = command
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {} with taskset", peer.name), e))?;
        let mut server = ServerProcess {
            pid: child.id(),
            child,
            peer: peer.name,
            addr,
            deflate,
            role,
            protocol,
            token,
            log,
        };
        server.wait_until_listening()?;
        Ok(server)
    }

    fn wait_until_listening(&mut self) -> Result<(), BenchError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::Peer(format!(
                    "{} exited at start ({status}); its log {} says: {}",
                    self.peer,
                    self.log.display(),
                    self.log_tail()
                )));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(BenchError::Peer(format!(
                    "{} did not listen on {} within {START_TIMEOUT:?}",
                    self.peer, self.addr
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the server's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        let tail: Vec<&str> = lines.into_iter().rev().collect();
        if tail.is_empty() {
            "(nothing)".to_owned()
        } else {
            tail.join(" | ")
        }
    }

    /// CPU time the server has used (all threads).
    pub fn cpu_time(&self) -> Result<Duration, BenchError> {
        procfs::cpu_time(self.pid)
    }

    /// The server's resident memory in bytes.
    pub fn resident_bytes(&self) -> Result<u64, BenchError> {
        procfs::resident_bytes(self.pid)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address with a port that was free a moment ago.
fn free_port() -> Result<SocketAddr, BenchError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::io("finding a free port", e))?;
    listener
        .local_addr()
        .map_err(|e| BenchError::io("finding a free port", e))
}
