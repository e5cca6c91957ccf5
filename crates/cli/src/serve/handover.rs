//! Restarts without a refused connection. With `--handover`, SIGHUP
//! makes `pushwire serve` start a new `pushwire serve` with the same
//! arguments on the same listening socket, passed as systemd's socket
//! activation passes sockets (`LISTEN_FDS`, from fd 3), so the new
//! process picks up new settings or a new binary. Once the new process
//! says it serves, this one stops accepting and ends its connections
//! over the restart spread; its clients reconnect to the new one. A new
//! process that fails to start (a broken config, say) is reported, and
//! this one keeps serving.
//!
//! The same `LISTEN_FDS` convention lets a process manager hand
//! `pushwire serve` a socket it opened itself.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use command_fds::{CommandFdExt, FdMapping};
use pushwire::Shutdown;

/// How long a new process may take to start serving.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The message a new process sends once it serves.
const READY: &[u8] = b"ready";

/// The sockets this process was started with: fd 3 the listening socket,
/// fd 4 (from a handing-over `pushwire serve`) where to say it is ready.
#[derive(Default)]
pub struct Inherited {
    listener: Option<TcpListener>,
    ready: Option<UnixDatagram>,
}

impl Inherited {
    /// Takes the sockets `LISTEN_FDS` names. Call it before any other
    /// thread runs: it removes the variables from the environment.
    pub fn from_env() -> io::Result<Self> {
        let mut fds = listenfd::ListenFd::from_env();
        let listener = fds.take_tcp_listener(0)?;
        let ready = if fds.len() > 1 {
            fds.take_unix_datagram(1)?
        } else {
            None
        };
        Ok(Inherited { listener, ready })
    }

    /// The listening socket, if one was passed.
    pub(super) fn take_listener(&mut self) -> Option<TcpListener> {
        self.listener.take()
    }

    /// Tells the process that handed over that this one serves.
    pub(super) fn tell_ready(&mut self) {
        if let Some(ready) = self.ready.take() {
            if let Err(e) = ready.send(READY) {
                tracing::warn!("could not tell the previous process that this one serves: {e}");
            }
        }
    }
}

/// What a restart needs to start the next process.
pub(super) struct Handover {
    listener: OwnedFd,
    /// Environment variables the next process gets besides this one's.
    env: Vec<(String, String)>,
}

impl Handover {
    /// Keeps a copy of the listening socket for the next process, which
    /// gets `env` too (the secrets generated for the development
    /// defaults, so that tokens and the API key stay valid).
    pub(super) fn new(listener: &impl AsFd, env: Vec<(String, String)>) -> io::Result<Self> {
        Ok(Handover {
            listener: listener.as_fd().try_clone_to_owned()?,
            env,
        })
    }

    /// Starts the next process on the listening socket and waits until
    /// it serves. Returns its process id.
    async fn start_next(&self) -> io::Result<u32> {
        let (ours, theirs) = UnixDatagram::pair()?;
        ours.set_nonblocking(true)?;
        let ours = tokio::net::UnixDatagram::from_std(ours)?;
        let mut command = tokio::process::Command::new(program()?);
        command
            .args(std::env::args_os().skip(1))
            .env("LISTEN_FDS", "2")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS_FIRST_FD")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
            .fd_mappings(vec![
                FdMapping {
                    parent_fd: self.listener.try_clone()?,
                    child_fd: 3,
                },
                FdMapping {
                    parent_fd: theirs.into(),
                    child_fd: 4,
                },
            ])
            .map_err(io::Error::other)?;
        let mut child = command.spawn()?;
        drop(command);
        let pid = child.id().unwrap_or_default();
        let mut message = [0; 8];
        tokio::select! {
            received = ours.recv(&mut message) => {
                let len = received?;
                if &message[..len] == READY {
                    Ok(pid)
                } else {
                    let _ = child.start_kill();
                    Err(io::Error::other("it sent something else than its ready message"))
                }
            }
            status = child.wait() => Err(io::Error::other(format!("it exited ({})", status?))),
            () = tokio::time::sleep(READY_TIMEOUT) => {
                let _ = child.start_kill();
                Err(io::Error::other(format!("it did not serve within {READY_TIMEOUT:?}")))
            }
        }
    }
}

/// The program to start: as this one was started (so that a binary
/// replaced on disk is the one that runs next), else this executable.
fn program() -> io::Result<PathBuf> {
    match std::env::args_os().next() {
        Some(arg0) if !arg0.is_empty() => Ok(PathBuf::from(arg0)),
        _ => std::env::current_exe(),
    }
}

/// The server's shutdown signal: [`pushwire::server::shutdown_signal`],
/// except that with a hand-over a SIGHUP first starts the next process,
/// and is ignored (with an error logged) if that fails.
pub(super) async fn shutdown_signal(handover: Option<Handover>) -> Shutdown {
    loop {
        let reason = pushwire::server::shutdown_signal().await;
        let Some(handover) = handover.as_ref().filter(|_| reason == Shutdown::Restart) else {
            return reason;
        };
        tracing::info!("restart: starting a new process on the listening socket");
        match handover.start_next().await {
            Ok(pid) => {
                tracing::info!("restart: process {pid} serves now; this one stops accepting");
                return reason;
            }
            Err(e) => {
                tracing::error!(
                    "restart refused: the new process failed ({e}); this one keeps serving"
                )
            }
        }
    }
}
