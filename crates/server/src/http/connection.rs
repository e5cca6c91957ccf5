//! What a handler may know about the connection a request came on.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio_util::task::task_tracker::TaskTrackerToken;

use super::shutdown::{Lifecycle, Shutdown, Turn};
use super::stats::ServerStats;

/// The connection a request arrived on, and the server serving it.
///
/// A [`Server`](crate::Server) puts one in the extensions of every
/// request; cloning it is cheap.
///
/// ```
/// # fn handler(req: hyper::Request<pushwire::RequestBody>) {
/// if let Some(conn) = req.extensions().get::<pushwire::ConnectionInfo>() {
///     println!("request from {} over TLS: {}", conn.remote_addr(), conn.is_tls());
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    inner: Arc<Inner>,
}

/// Names a server's shutdown turn; see [`ConnectionInfo::turn_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TurnKey {
    server: ServerId,
    turn: u8,
}

/// Tells a server apart from every other of the process, including one
/// made after it was dropped (which its address would not). Each
/// `default()` is a new id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ServerId(u64);

impl Default for ServerId {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        ServerId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[derive(Debug)]
struct Inner {
    remote_addr: SocketAddr,
    local_addr: SocketAddr,
    tls: bool,
    /// When its long-lived handlers are told to finish within a
    /// restart's spread.
    turn: Turn,
    alpn: Option<Vec<u8>>,
    server: Arc<ServerShared>,
}

/// What every connection of one server shares.
#[derive(Debug, Default)]
pub(crate) struct ServerShared {
    pub(crate) id: ServerId,
    pub(crate) stats: Arc<ServerStats>,
    pub(crate) lifecycle: Lifecycle,
    /// The host names the server answers to, besides IP literals and
    /// `localhost` (see [`Server::server_names`](crate::Server::server_names)).
    pub(crate) server_names: Box<[String]>,
}

impl ConnectionInfo {
    pub(crate) fn new(
        remote_addr: SocketAddr,
        local_addr: SocketAddr,
        server: Arc<ServerShared>,
    ) -> Self {
        let turn = server.lifecycle.next_turn();
        ConnectionInfo::with(remote_addr, local_addr, false, turn, None, server)
    }

    fn with(
        remote_addr: SocketAddr,
        local_addr: SocketAddr,
        tls: bool,
        turn: Turn,
        alpn: Option<Vec<u8>>,
        server: Arc<ServerShared>,
    ) -> Self {
        ConnectionInfo {
            inner: Arc::new(Inner {
                remote_addr,
                local_addr,
                tls,
                turn,
                alpn,
                server,
            }),
        }
    }

    /// The same connection, found to be TLS with `alpn` agreed on.
    pub(crate) fn over_tls(&self, alpn: Option<Vec<u8>>) -> Self {
        let inner = &self.inner;
        ConnectionInfo::with(
            inner.remote_addr,
            inner.local_addr,
            true,
            inner.turn,
            alpn,
            inner.server.clone(),
        )
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner.remote_addr
    }

    /// The server's address this connection was accepted on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.inner.tls
    }

    /// The ALPN protocol TLS agreed on (`h2` or `http/1.1`), if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.inner.alpn.as_deref()
    }

    /// The host names the server was given with
    /// [`Server::server_names`](crate::Server::server_names).
    pub fn server_names(&self) -> &[String] {
        &self.inner.server.server_names
    }

    /// The server's counters.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.inner.server.stats
    }

    /// Whether the server has begun shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.server.lifecycle.draining.is_cancelled()
    }

    /// Resolves when a long-lived handler (a WebSocket, an event stream)
    /// on this connection should finish, e.g. close its WebSocket with
    /// [`ConnectionInfo::shutdown`]'s close frame (1001, or 1012 for a
    /// restart), before the server's deadline: when a stop begins, or at
    /// this connection's turn within a restart's
    /// [spread](crate::Server::restart_spread).
    pub fn shutting_down(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner
            .server
            .lifecycle
            .turn(self.inner.turn)
            .clone()
            .cancelled_owned()
    }

    /// Why the server shuts down, once it has begun: its
    /// [`Shutdown::close_frame`] is what to close a WebSocket with.
    ///
    /// ```
    /// # async fn handler(info: pushwire::ConnectionInfo, mut ws: pushwire::WebSocket<pushwire::upgrade::UpgradedStream>) {
    /// info.shutting_down().await;
    /// let reason = info.shutdown().unwrap_or_default();
    /// let _ = ws.close(Some(reason.close_frame())).await;
    /// # }
    /// ```
    pub fn shutdown(&self) -> Option<Shutdown> {
        self.inner.server.lifecycle.reason()
    }

    /// Which server and turn [`ConnectionInfo::shutting_down`] waits for:
    /// equal for the connections it ends together.
    pub(crate) fn turn_key(&self) -> TurnKey {
        TurnKey {
            server: self.inner.server.id,
            turn: self.inner.turn.index(),
        }
    }

    /// Keeps the server's graceful shutdown waiting, like a task of its
    /// own, for as long as it is held: for work on this connection that
    /// runs on some other task.
    pub(crate) fn hold(&self) -> TaskTrackerToken {
        self.inner.server.lifecycle.token()
    }

    /// Spawns a task the server's shutdown waits for (and drops at its
    /// deadline).
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.server.lifecycle.spawn(task);
    }
}
