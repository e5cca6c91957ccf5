//! A peer server running as a child process, pinned to the server core
//! with `taskset`: started on a free port, awaited until it accepts,
//! killed when dropped. The hub on Redis is a group: a `redis-server`
//! and [`REDIS_NODES`] `pushwire serve` nodes configured to use it, all
//! pinned to the server core, started together and stopped together; its
//! CPU time is the group's, with the nodes' and Redis's also apart.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::peers::{Paths, Peer, PubSubProtocol, ServerRole, REDIS_NODES};
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
    /// Every node's address, `addr` first (one for a lone server).
    pub nodes: Vec<SocketAddr>,
    /// Every node's process id, `pid` first.
    pub node_pids: Vec<u32>,
    /// The `redis-server` of a hub on Redis.
    pub redis: Option<RedisServer>,
    /// The other processes of a group: the nodes after the first, then
    /// `redis-server` (stopped in that order).
    companions: Vec<Companion>,
    log: PathBuf,
}

/// The `redis-server` of a group.
#[derive(Debug, Clone, Copy)]
pub struct RedisServer {
    /// Its process id.
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl RedisServer {
    /// CPU time it has used (all live threads), to the nanosecond from
    /// `schedstat`: Redis spends a few µs per publication, under the 10 ms
    /// steps of `/proc/PID/stat` over a window.
    pub fn cpu_time(&self) -> Result<Duration, BenchError> {
        crate::scenarios::sched_cpu::cpu_time(self.pid)
    }
}

/// A process of a group other than its first node.
struct Companion {
    child: Child,
    what: String,
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
        if peer.is_redis_group() {
            return Self::start_redis_group(peer, paths, role, deflate, cpu);
        }
        let addr = free_port()?;
        let protocol = peer.pubsub_protocol();
        let token = if matches!(
            role,
            ServerRole::PubSub
                | ServerRole::HubOnly
                | ServerRole::HubAlone
                | ServerRole::PublishApi
        ) && protocol == PubSubProtocol::Hub
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
                ServerRole::HubOnly => "-hub",
                ServerRole::PublishApi => "-api",
                ServerRole::HubAlone => "-alone",
                ServerRole::HubEngine => "-engine",
            },
            if deflate { "-deflate" } else { "" }
        ));
        let mut child = spawn_pinned(&inner, cpu, &log, peer.name)?;
        wait_until_listening(&mut child, addr, peer.name, &log)?;
        Ok(ServerProcess {
            pid: child.id(),
            child,
            peer: peer.name,
            addr,
            deflate,
            role,
            protocol,
            token,
            nodes: vec![addr],
            node_pids: Vec::new(),
            redis: None,
            companions: Vec::new(),
            log,
        }
        .with_node_pids())
    }

    /// `node_pids` from `pid` and the companions that are nodes.
    fn with_node_pids(mut self) -> Self {
        self.node_pids = std::iter::once(self.pid)
            .chain(
                self.companions
                    .iter()
                    .filter(|c| c.what.starts_with("node"))
                    .map(|c| c.child.id()),
            )
            .collect();
        self
    }

    /// A `redis-server` (no persistence) and [`REDIS_NODES`] hub nodes on
    /// it, all pinned to `cpu`; `addr` is the first node's.
    fn start_redis_group(
        peer: &Peer,
        paths: &Paths,
        role: ServerRole,
        deflate: bool,
        cpu: usize,
    ) -> Result<Self, BenchError> {
        let token = Some(peer.hub_token(paths).map_err(BenchError::Setup)?);
        let redis_bin = crate::peers::redis_server_binary().map_err(BenchError::Setup)?;
        let dir = paths.bench.join("target");
        let log_dir = dir.join("peer-logs");
        let redis_dir = dir.join("redis");
        for d in [&log_dir, &redis_dir] {
            std::fs::create_dir_all(d)
                .map_err(|e| BenchError::io(format!("creating {}", d.display()), e))?;
        }
        let redis_addr = free_port()?;
        let mut redis = Command::new(redis_bin);
        redis
            .args(["--port", &redis_addr.port().to_string()])
            .args(["--bind", "127.0.0.1", "--protected-mode", "no"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--loglevel", "warning", "--logfile", ""])
            .arg("--dir")
            .arg(&redis_dir);
        let redis_log = log_dir.join(format!("{}-redis.log", peer.name));
        let mut redis_child = spawn_pinned(&redis, cpu, &redis_log, "redis-server")?;
        if let Err(e) =
            wait_until_listening(&mut redis_child, redis_addr, "redis-server", &redis_log)
        {
            let _ = redis_child.kill();
            let _ = redis_child.wait();
            return Err(e);
        }
        let redis_server = RedisServer {
            pid: redis_child.id(),
            addr: redis_addr,
        };
        // Dropped (and so stopped) on an early return.
        let mut companions = vec![Companion {
            child: redis_child,
            what: "redis-server".to_owned(),
            log: redis_log,
        }];
        let config = dir.join(format!("hub-bench-redis-{}.json", redis_addr.port()));
        std::fs::write(&config, crate::clients::hub::redis_config_json(redis_addr))
            .map_err(|e| BenchError::io(format!("writing {}", config.display()), e))?;
        let mut nodes = Vec::with_capacity(REDIS_NODES);
        let mut first = None;
        for n in 0..REDIS_NODES {
            let addr = free_port()?;
            let command = peer
                .hub_node_command(paths, addr, &config, deflate)
                .map_err(BenchError::Setup)?;
            let log = log_dir.join(format!("{}-node{n}.log", peer.name));
            let mut child = spawn_pinned(&command, cpu, &log, peer.name)?;
            let listening = wait_until_listening(&mut child, addr, peer.name, &log);
            nodes.push(addr);
            match first {
                None => first = Some((child, log)),
                Some(_) => companions.insert(
                    companions.len() - 1,
                    Companion {
                        child,
                        what: format!("node {n}"),
                        log,
                    },
                ),
            }
            listening?;
        }
        let (child, log) =
            first.ok_or_else(|| BenchError::Setup("a group without nodes".to_owned()))?;
        Ok(ServerProcess {
            pid: child.id(),
            child,
            peer: peer.name,
            addr: nodes[0],
            deflate,
            role,
            protocol: PubSubProtocol::Hub,
            token,
            nodes,
            node_pids: Vec::new(),
            redis: Some(redis_server),
            companions,
            log,
        }
        .with_node_pids())
    }

    /// CPU time the server has used (all threads; of a group, every
    /// process's).
    pub fn cpu_time(&self) -> Result<Duration, BenchError> {
        let mut total = self.nodes_cpu_time()?;
        if let Some(redis) = &self.redis {
            total += redis.cpu_time()?;
        }
        Ok(total)
    }

    /// CPU time the nodes have used (without `redis-server`).
    pub fn nodes_cpu_time(&self) -> Result<Duration, BenchError> {
        self.node_pids
            .iter()
            .map(|&pid| procfs::cpu_time(pid))
            .sum()
    }

    /// The server's resident memory in bytes.
    pub fn resident_bytes(&self) -> Result<u64, BenchError> {
        procfs::resident_bytes(self.pid)
    }

    /// Whether the process (every process of a group) is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
            && self
                .companions
                .iter_mut()
                .all(|c| matches!(c.child.try_wait(), Ok(None)))
    }

    /// What exited of the group, with its log's last lines.
    pub fn exited(&mut self) -> Option<String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(format!(
                "{} exited ({status}): {}",
                self.peer,
                log_tail(&self.log)
            ));
        }
        self.companions.iter_mut().find_map(|c| {
            let status = c.child.try_wait().ok()??;
            Some(format!(
                "{}'s {} exited ({status}): {}",
                self.peer,
                c.what,
                log_tail(&c.log)
            ))
        })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for companion in &mut self.companions {
            let _ = companion.child.kill();
            let _ = companion.child.wait();
        }
    }
}

/// Starts `inner` under `taskset -c cpu`, its stderr into `log` (and
/// `redis-server`'s stdout, where it logs).
fn spawn_pinned(inner: &Command, cpu: usize, log: &Path, name: &str) -> Result<Child, BenchError> {
    let log_file =
        File::create(log).map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
    let stdout = if name == "redis-server" {
        Stdio::from(
            log_file
                .try_clone()
                .map_err(|e| BenchError::io(format!("opening {}", log.display()), e))?,
        )
    } else {
        Stdio::null()
    };
    let mut command = Command::new("taskset");
    command
        .arg("-c")
        .arg(cpu.to_string())
        .arg(inner.get_program())
        .args(inner.get_args())
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(log_file);
    if let Some(dir) = inner.get_current_dir() {
        command.current_dir(dir);
    }
    command
        .spawn()
        .map_err(|e| BenchError::io(format!("starting {name} with taskset"), e))
}

/// Waits until `addr` accepts connections, failing if `child` exits first
/// or [`START_TIMEOUT`] passes.
fn wait_until_listening(
    child: &mut Child,
    addr: SocketAddr,
    name: &str,
    log: &Path,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(BenchError::Peer(format!(
                "{name} exited at start ({status}); its log {} says: {}",
                log.display(),
                log_tail(log)
            )));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Peer(format!(
                "{name} did not listen on {addr} within {START_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last lines of a log.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    let tail: Vec<&str> = lines.into_iter().rev().collect();
    if tail.is_empty() {
        "(nothing)".to_owned()
    } else {
        tail.join(" | ")
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
