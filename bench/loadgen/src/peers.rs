//! The peer registry: every server the harness compares, how to start it,
//! what it supports and where its version comes from. Adding a peer is
//! adding an entry to [`all`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the harness finds the servers.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The `bench/` directory.
    pub bench: PathBuf,
    /// The `pushwire` binary (`cargo build --release -p pushwire-cli`).
    pub pushwire_bin: PathBuf,
    /// The bench workspace's release binaries.
    pub bench_bin: PathBuf,
    /// The library's `push_server` example (`cargo build --release -p
    /// pushwire --examples`, in the repository's `target/`).
    pub push_server_bin: PathBuf,
    /// `bench/peers/node` (package.json, node_modules, the two scripts).
    pub node_dir: PathBuf,
}

impl Paths {
    /// Paths relative to the `bench/` directory, `pushwire_bin` overriding
    /// the default `../target/release/pushwire`.
    pub fn new(bench: PathBuf, pushwire_bin: Option<PathBuf>) -> Self {
        let repo = bench
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| bench.clone());
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| bench.join("target"));
        Paths {
            pushwire_bin: pushwire_bin.unwrap_or_else(|| repo.join("target/release/pushwire")),
            push_server_bin: repo.join("target/release/examples/push_server"),
            bench_bin: target.join("release"),
            node_dir: bench.join("peers/node"),
            bench,
        }
    }
}

/// What a scenario needs the server to do. Every peer is an echo server;
/// some also have a broadcast server (every message any client sends goes
/// to every connection, the sender included), pushwire has its HTTP push
/// routes (the library's `longpoll` and `sse` in its `push_server` example:
/// `/publish`, `/poll`), and pushwire and Bun have an event stream fed by
/// `/publish` (`/events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerRole {
    /// A WebSocket echo server.
    #[default]
    Echo,
    /// A WebSocket broadcast server.
    Broadcast,
    /// `POST /publish`, long polling on `GET /poll` (pushwire's
    /// `push_server` example).
    HttpPush,
    /// `POST /publish` streamed to every `GET /events` as SSE events
    /// `id: <cursor>`, `data: <message>`.
    EventStream,
    /// Publications fanned out to the subscribers of a channel, each
    /// server in its own protocol ([`PubSubProtocol`]): the broadcast
    /// servers, the hub, Socket.IO.
    PubSub,
    /// What only the hub has (its connection stages).
    HubOnly,
    /// `POST /api/publish` and `POST /api/batch` with the hub's request
    /// and answer shapes: the hub, and Bun's minimal publish API
    /// (`bun-api.js`) as the floor of the job.
    PublishApi,
    /// The hub as one process: a recovery storm's memory and CPU are one
    /// server's (and its setup needs a batch applied in order, which the
    /// hub on Redis does not do: its batch's publications run
    /// concurrently).
    HubAlone,
    /// What only the hub on a remote engine has (its nodes' Redis
    /// connections, to be broken and watched coming back).
    HubEngine,
}

/// How a [`ServerRole::PubSub`] server is subscribed to and published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PubSubProtocol {
    /// A WebSocket broadcast server: every message any client sends goes
    /// to every connection.
    #[default]
    Broadcast,
    /// The hub (`pushwire serve`): Centrifugo's client protocol on
    /// `/connection/websocket`, publications through `POST /api/publish`.
    Hub,
    /// Socket.IO v4 (engine.io's WebSocket transport), a room;
    /// publications through the peer's `POST /publish`.
    SocketIo,
}

/// How a peer is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Launcher {
    /// `pushwire echo --listen ADDR [--no-deflate]`.
    Pushwire,
    /// `pushwire serve --config <bench hub config> --listen ADDR`.
    PushwireHub,
    /// A `redis-server` and [`REDIS_NODES`] `pushwire serve` nodes whose
    /// configs name it as their engine ([`crate::server`] starts them).
    PushwireHubRedis,
    /// A binary of the bench workspace taking the listen address.
    BenchBinary(&'static str),
    /// `node bench/peers/node/ws-echo.mjs PORT [--deflate]`.
    NodeWs,
    /// `bun bench/peers/node/bun-echo.js PORT [--deflate]`.
    Bun,
    /// `node bench/peers/node/socketio-broadcast.mjs PORT`.
    SocketIo,
}

/// One server in the comparison.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Short name, used in tables, JSON and `--peers`.
    pub name: &'static str,
    /// What it is, for the report.
    pub description: &'static str,
    /// Whether it speaks permessage-deflate.
    pub supports_deflate: bool,
    launcher: Launcher,
}

/// Name of the peer all throughput ratios are quoted against first.
pub const BUN: &str = "bun";
/// Name of the second reference peer.
pub const FASTWEBSOCKETS: &str = "fastwebsockets";
/// Name of the product.
pub const PUSHWIRE: &str = "pushwire";
/// Name of the product's hub.
pub const PUSHWIRE_HUB: &str = "pushwire-hub";
/// Name of the product's hub on Redis: two nodes and a `redis-server`.
pub const PUSHWIRE_HUB_REDIS: &str = "pushwire-hub-redis";
/// `pushwire serve` nodes of [`PUSHWIRE_HUB_REDIS`].
pub const REDIS_NODES: usize = 2;
/// Name of the Socket.IO peer.
pub const SOCKET_IO: &str = "socket.io";

/// Every peer, pushwire first.
pub fn all() -> Vec<Peer> {
    vec![
        Peer {
            name: PUSHWIRE,
            description: "`pushwire echo` (crates/cli), tokio runtime",
            supports_deflate: true,
            launcher: Launcher::Pushwire,
        },
        Peer {
            name: PUSHWIRE_HUB,
            description: "`pushwire serve`'s hub (Centrifugo client protocol v2, JSON, on \
                          /connection/websocket; publisher on POST /api/publish), pub/sub only",
            supports_deflate: true,
            launcher: Launcher::PushwireHub,
        },
        Peer {
            name: PUSHWIRE_HUB_REDIS,
            description: "two `pushwire serve` hub nodes on one `redis-server` (engine.type redis), \
                          all three on the server core; subscribers spread over both nodes, \
                          publisher on the first node's POST /api/publish",
            supports_deflate: true,
            launcher: Launcher::PushwireHubRedis,
        },
        Peer {
            name: BUN,
            description: "Bun.serve (uWebSockets), npm package `bun`: its websocket handler; in the \
                          publish-API scenarios a minimal publish API (bun-api.js)",
            supports_deflate: true,
            launcher: Launcher::Bun,
        },
        Peer {
            name: FASTWEBSOCKETS,
            description: "fastwebsockets + hyper upgrade, FragmentCollector, current-thread tokio",
            supports_deflate: false,
            launcher: Launcher::BenchBinary("fastwebsockets-echo"),
        },
        Peer {
            name: "tokio-tungstenite",
            description:
                "tokio-tungstenite accept_async + forward, default config, current-thread tokio",
            supports_deflate: false,
            launcher: Launcher::BenchBinary("tungstenite-echo"),
        },
        Peer {
            name: SOCKET_IO,
            description: "Socket.IO (npm `socket.io`) on Node, a room; POST /publish emits to it; pub/sub only",
            supports_deflate: false,
            launcher: Launcher::SocketIo,
        },
        Peer {
            name: "node-ws",
            description: "Node.js `ws` WebSocketServer, perMessageDeflate defaults when on",
            supports_deflate: true,
            launcher: Launcher::NodeWs,
        },
    ]
}

impl Peer {
    /// Whether the peer has a server for `role`.
    pub fn supports(&self, role: ServerRole) -> bool {
        if self.launcher == Launcher::PushwireHub {
            return matches!(
                role,
                ServerRole::PubSub
                    | ServerRole::HubOnly
                    | ServerRole::HubAlone
                    | ServerRole::PublishApi
            );
        }
        if self.launcher == Launcher::PushwireHubRedis {
            return matches!(
                role,
                ServerRole::PubSub
                    | ServerRole::HubOnly
                    | ServerRole::HubEngine
                    | ServerRole::PublishApi
            );
        }
        if self.launcher == Launcher::SocketIo {
            return role == ServerRole::PubSub;
        }
        match role {
            ServerRole::Echo => true,
            ServerRole::Broadcast | ServerRole::PubSub => matches!(
                self.launcher,
                Launcher::Pushwire | Launcher::Bun | Launcher::NodeWs
            ),
            ServerRole::HttpPush => self.launcher == Launcher::Pushwire,
            ServerRole::EventStream => matches!(self.launcher, Launcher::Pushwire | Launcher::Bun),
            ServerRole::PublishApi => self.launcher == Launcher::Bun,
            ServerRole::HubOnly | ServerRole::HubAlone | ServerRole::HubEngine => false,
        }
    }

    /// How its [`ServerRole::PubSub`] server is spoken to.
    pub fn pubsub_protocol(&self) -> PubSubProtocol {
        match self.launcher {
            Launcher::PushwireHub | Launcher::PushwireHubRedis => PubSubProtocol::Hub,
            Launcher::SocketIo => PubSubProtocol::SocketIo,
            _ => PubSubProtocol::Broadcast,
        }
    }

    /// The role its servers are checked with before a run: echo, or the
    /// only one it has.
    pub fn first_role(&self) -> ServerRole {
        if self.supports(ServerRole::Echo) {
            ServerRole::Echo
        } else {
            ServerRole::PubSub
        }
    }

    /// The command that starts this peer's first server ([`Peer::first_role`])
    /// on `addr`, or why it cannot start.
    pub fn command(
        &self,
        paths: &Paths,
        addr: SocketAddr,
        deflate: bool,
    ) -> Result<Command, String> {
        self.command_as(paths, addr, self.first_role(), deflate)
    }

    /// A connection token for the bench's hub (user `bench`, valid a
    /// day), minted by `pushwire token` with the bench config's secret.
    pub fn hub_token(&self, paths: &Paths) -> Result<String, String> {
        let out = Command::new(&paths.pushwire_bin)
            .args(["token", "--secret", crate::clients::hub::SECRET])
            .args(["--user", "bench", "--ttl", "24h"])
            .output()
            .map_err(|e| format!("running pushwire token: {e}"))?;
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || token.is_empty() {
            return Err(format!(
                "pushwire token failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(token)
    }

    /// The command that starts this peer's server for `role` on `addr`,
    /// or why it cannot start.
    pub fn command_as(
        &self,
        paths: &Paths,
        addr: SocketAddr,
        role: ServerRole,
        deflate: bool,
    ) -> Result<Command, String> {
        if !self.supports(role) {
            return Err(format!("{} has no {role:?} server", self.name));
        }
        let port = addr.port().to_string();
        let existing = |path: PathBuf, hint: &str| {
            if path.exists() {
                Ok(path)
            } else {
                Err(format!("{} is missing ({hint})", path.display()))
            }
        };
        let mut command = match self.launcher {
            Launcher::Pushwire
                if matches!(role, ServerRole::HttpPush | ServerRole::EventStream) =>
            {
                // The library's long poll and event stream, without the
                // hub's protocol around them (crates/server/examples/push_server.rs).
                let bin = existing(
                    paths.push_server_bin.clone(),
                    "cargo build --release -p pushwire --examples",
                )?;
                let mut command = Command::new(bin);
                command.args(["--listen", &addr.to_string()]);
                command.env("RUST_LOG", "warn");
                command
            }
            Launcher::Pushwire => {
                let bin = existing(
                    paths.pushwire_bin.clone(),
                    "cargo build --release -p pushwire-cli",
                )?;
                let mut command = Command::new(bin);
                match role {
                    ServerRole::Echo => {
                        command.args(["echo", "--listen", &addr.to_string()]);
                    }
                    ServerRole::Broadcast | ServerRole::PubSub => {
                        command.args(["echo", "--broadcast", "--listen", &addr.to_string()]);
                    }
                    ServerRole::HttpPush
                    | ServerRole::EventStream
                    | ServerRole::HubOnly
                    | ServerRole::HubAlone
                    | ServerRole::HubEngine
                    | ServerRole::PublishApi => {
                        command.args([
                            "serve",
                            "--listen",
                            &addr.to_string(),
                            "--max-connections",
                            "0",
                            "--max-connections-per-ip",
                            "0",
                        ]);
                    }
                }
                if !deflate {
                    command.arg("--no-deflate");
                }
                command.env("RUST_LOG", "warn");
                command
            }
            Launcher::PushwireHub => {
                let bin = existing(
                    paths.pushwire_bin.clone(),
                    "cargo build --release -p pushwire-cli",
                )?;
                let dir = paths.bench.join("target");
                let config = dir.join("hub-bench.json");
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&config, crate::clients::hub::config_json()))
                    .map_err(|e| format!("writing {}: {e}", config.display()))?;
                let mut command = Command::new(bin);
                command
                    .args(["serve", "--listen", &addr.to_string(), "--config"])
                    .arg(&config)
                    .args(["--max-connections", "0", "--max-connections-per-ip", "0"]);
                if !deflate {
                    command.arg("--no-deflate");
                }
                command.env("RUST_LOG", "warn");
                command
            }
            Launcher::PushwireHubRedis => {
                // One node's command, its config naming a Redis on port 0
                // (never started so): `ServerProcess` writes the real
                // config and starts `redis-server` and the nodes. Here it
                // is what says whether the peer can run.
                redis_server_binary()?;
                let config = paths.bench.join("target/hub-bench-redis-0.json");
                self.hub_node_command(paths, addr, &config, deflate)?
            }
            Launcher::BenchBinary(name) => {
                let bin = existing(
                    paths.bench_bin.join(name),
                    "cargo build --release in bench/",
                )?;
                let mut command = Command::new(bin);
                command.arg(addr.to_string());
                command
            }
            Launcher::NodeWs => {
                existing(
                    paths.node_dir.join("node_modules/ws"),
                    "npm ci in bench/peers/node",
                )?;
                let script = match role {
                    ServerRole::Broadcast | ServerRole::PubSub => "ws-broadcast.mjs",
                    _ => "ws-echo.mjs",
                };
                let mut command = Command::new("node");
                command.arg(paths.node_dir.join(script)).arg(&port);
                if deflate {
                    command.arg("--deflate");
                }
                command
            }
            Launcher::SocketIo => {
                existing(
                    paths.node_dir.join("node_modules/socket.io"),
                    "npm ci in bench/peers/node",
                )?;
                let mut command = Command::new("node");
                command
                    .arg(paths.node_dir.join("socketio-broadcast.mjs"))
                    .arg(&port);
                command
            }
            Launcher::Bun => {
                let bin = existing(bun_binary(paths), "npm ci in bench/peers/node")?;
                let script = match role {
                    ServerRole::Broadcast | ServerRole::PubSub => "bun-broadcast.js",
                    ServerRole::EventStream => "bun-sse.js",
                    ServerRole::PublishApi => "bun-api.js",
                    _ => "bun-echo.js",
                };
                let mut command = Command::new(bin);
                command.arg(paths.node_dir.join(script)).arg(&port);
                if deflate {
                    command.arg("--deflate");
                }
                command
            }
        };
        command.current_dir(&paths.bench);
        Ok(command)
    }

    /// The peer's version, as far as it can be found.
    pub fn version(&self, paths: &Paths) -> Option<String> {
        match self.launcher {
            Launcher::PushwireHubRedis => {
                let pushwire = command_output(Command::new(&paths.pushwire_bin).arg("--version"))?;
                let redis = command_output(Command::new("redis-server").arg("--version"))
                    .and_then(|v| {
                        v.split_whitespace()
                            .find_map(|w| w.strip_prefix("v="))
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                Some(format!("{pushwire} on redis-server {redis}"))
            }
            Launcher::Pushwire | Launcher::PushwireHub => {
                command_output(Command::new(&paths.pushwire_bin).arg("--version"))
            }
            Launcher::BenchBinary(name) => {
                let crate_name = if name.starts_with("fastwebsockets") {
                    "fastwebsockets"
                } else {
                    "tokio-tungstenite"
                };
                locked_version(&paths.bench.join("Cargo.lock"), crate_name)
                    .map(|v| format!("{crate_name} {v}"))
            }
            Launcher::NodeWs => {
                let package =
                    std::fs::read_to_string(paths.node_dir.join("node_modules/ws/package.json"))
                        .ok()?;
                let json: serde_json::Value = serde_json::from_str(&package).ok()?;
                let node =
                    command_output(Command::new("node").arg("--version")).unwrap_or_default();
                Some(format!("ws {} on node {node}", json["version"].as_str()?))
            }
            Launcher::Bun => command_output(Command::new(bun_binary(paths)).arg("--version"))
                .map(|v| format!("bun {v}")),
            Launcher::SocketIo => {
                let package = std::fs::read_to_string(
                    paths.node_dir.join("node_modules/socket.io/package.json"),
                )
                .ok()?;
                let json: serde_json::Value = serde_json::from_str(&package).ok()?;
                let node =
                    command_output(Command::new("node").arg("--version")).unwrap_or_default();
                Some(format!(
                    "socket.io {} on node {node}",
                    json["version"].as_str()?
                ))
            }
        }
    }
}

impl Peer {
    /// Whether this peer is hub nodes on a `redis-server` (started by
    /// [`crate::server::ServerProcess`] as a group).
    pub fn is_redis_group(&self) -> bool {
        self.launcher == Launcher::PushwireHubRedis
    }

    /// `pushwire serve --listen addr --config config` with the bench's
    /// limits, for a hub node.
    pub fn hub_node_command(
        &self,
        paths: &Paths,
        addr: SocketAddr,
        config: &Path,
        deflate: bool,
    ) -> Result<Command, String> {
        if !paths.pushwire_bin.exists() {
            return Err(format!(
                "{} is missing (cargo build --release -p pushwire-cli)",
                paths.pushwire_bin.display()
            ));
        }
        let mut command = Command::new(&paths.pushwire_bin);
        command
            .args(["serve", "--listen", &addr.to_string(), "--config"])
            .arg(config)
            .args(["--max-connections", "0", "--max-connections-per-ip", "0"]);
        if !deflate {
            command.arg("--no-deflate");
        }
        command.env("RUST_LOG", "warn");
        command.current_dir(&paths.bench);
        Ok(command)
    }
}

/// `redis-server` on the PATH (Debian's `redis-server` package), or why not.
pub fn redis_server_binary() -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("redis-server"))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            "redis-server is not on the PATH (apt-get install redis-server, or \
             scripts/lib/redis.sh's ensure_redis_server)"
                .to_owned()
        })
}

/// The `bun` executable installed by npm.
fn bun_binary(paths: &Paths) -> PathBuf {
    paths.node_dir.join("node_modules/.bin/bun")
}

/// The trimmed standard output of a command that succeeded.
fn command_output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The version of `crate_name` recorded in a Cargo.lock.
fn locked_version(lock: &Path, crate_name: &str) -> Option<String> {
    let text = std::fs::read_to_string(lock).ok()?;
    let needle = format!("name = \"{crate_name}\"");
    let mut lines = text.lines().skip_while(|line| line.trim() != needle);
    lines.next()?;
    lines
        .next()?
        .trim()
        .strip_prefix("version = \"")?
        .strip_suffix('"')
        .map(str::to_owned)
}
