//! One listener, every protocol: HTTP/1.1 and HTTP/2 (by prior knowledge
//! in cleartext, by ALPN over TLS), serving one service.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, Version};
use hyper::service::Service;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs};
use tokio_util::sync::CancellationToken;

use super::body::Body;
use super::connection::{ConnectionInfo, ServerShared};
use super::h1::{serve_http1, Http1Settings};
use super::h2::config::Http2Config;
use super::h2::{serve_http2, Http2Settings};
use super::limits::{Admission, ConnectionLimits, Refusal};
use super::request_body::RequestBody;
use super::service::HttpService;
use super::shutdown::Shutdown;
use super::sniff::{sniff, Protocol};
use super::stats::{Counter, ServerStats};
use super::tls::Tls;

/// An HTTP server on one TCP listener: HTTP/1.1 (keep-alive, upgrades)
/// and HTTP/2 on the same port, in cleartext (HTTP/2 by prior knowledge,
/// "h2c") or over TLS (ALPN `h2`, `http/1.1`). HTTP/2 announces
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL`, so browsers may open WebSockets as
/// extended CONNECT streams (RFC 8441); see [`Upgrade`](crate::Upgrade).
///
/// Every request carries a [`ConnectionInfo`] in its extensions. The
/// defaults, each with a builder method:
///
/// | setting | default |
/// |---|---|
/// | [`header_read_timeout`](Server::header_read_timeout) | 10 s |
/// | [`body_read_timeout`](Server::body_read_timeout) | 30 s |
/// | [`max_header_bytes`](Server::max_header_bytes) | 32 KiB |
/// | [`server_names`](Server::server_names) | none: IP literals and `localhost` only, on loopback connections |
/// | [`http2`](Server::http2) | [`Http2Config::default`]: 256 streams per connection, windows of 1 MiB per stream and 4 MiB per connection, a ping every 30 s, dropped after 20 s more without reply; a connection without streams closed after 2 min, a stalled request body reset after 30 s, SETTINGS unacknowledged for 10 s end the connection |
/// | [`max_connections`](Server::max_connections) | no limit (the process's open-file limit) |
/// | [`max_connections_per_ip`](Server::max_connections_per_ip) | no limit |
/// | [`shutdown_timeout`](Server::shutdown_timeout) | 10 s |
/// | [`restart_spread`](Server::restart_spread) | none: all at once |
///
/// ```no_run
/// use std::convert::Infallible;
/// use hyper::{service::service_fn, Request, Response};
/// use pushwire::{Body, RequestBody, Server, Upgrade};
///
/// # async fn demo() -> std::io::Result<()> {
/// let server = Server::bind("127.0.0.1:8080").await?;
/// let service = service_fn(|mut req: Request<RequestBody>| async move {
///     let response = match Upgrade::require(&mut req) {
///         Ok(upgrade) => upgrade.on_upgrade(|mut ws| async move {
///             let _ = ws.echo().await;
///         }),
///         Err(rejection) => rejection.into_response(),
///     };
///     Ok::<Response<Body>, Infallible>(response)
/// });
/// server.serve_with_shutdown(service, pushwire::server::shutdown_signal()).await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    tls: Option<Tls>,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    max_header_bytes: usize,
    http2: Http2Config,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    shutdown_timeout: Duration,
    restart_spread: Duration,
    shared: Arc<ServerShared>,
}

impl Server {
    /// Binds a TCP listener.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        let mut failed = None;
        for addr in tokio::net::lookup_host(addr).await? {
            match listen(addr) {
                Ok(listener) => return Ok(Server::from_listener(listener)),
                Err(e) => failed = Some(e),
            }
        }
        Err(failed.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            )
        }))
    }

    /// Serves on a listener bound elsewhere.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            tls: None,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_header_bytes: 32 << 10,
            http2: Http2Config::default(),
            max_connections: None,
            max_connections_per_ip: None,
            shutdown_timeout: Duration::from_secs(10),
            restart_spread: Duration::ZERO,
            shared: Arc::default(),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The listening socket, e.g. to hand it to the process that takes
    /// over at a restart.
    #[cfg(unix)]
    pub fn listener_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.listener.as_fd()
    }

    /// Serves TLS only (ALPN `h2` and `http/1.1`).
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// How long a client may take to complete its TLS handshake, to send
    /// its first bytes, and (HTTP/1.1) to send each request head; a
    /// client slower than that (slowloris) is disconnected. On HTTP/1.1
    /// keep-alive it also bounds the wait for the next request.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long an HTTP/1.1 request body may stall: once the service
    /// asks for more of the body, the client must send 1 KiB of it (or
    /// its end) within this time, or be answered `408 Request Timeout`
    /// (when no response was started) and disconnected. Counted from the
    /// `100 Continue` for a client that waited for one. Slow services do
    /// not count against it: only while the service waits for the body.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// The most bytes a request's header section may take: HTTP/1.1
    /// answers `431` beyond it, HTTP/2 announces it as
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// The settings of every HTTP/2 connection: streams, flow-control
    /// windows, frame size, output and abuse limits, keep-alive pings.
    pub fn http2(mut self, config: Http2Config) -> Self {
        self.http2 = config;
        self
    }

    /// The most streams (requests, WebSockets, event streams) a client may
    /// open at once on one HTTP/2 connection: the shorthand for
    /// [`Http2Config::max_concurrent_streams`](Http2Config#structfield.max_concurrent_streams).
    pub fn max_concurrent_streams(mut self, streams: u32) -> Self {
        self.http2.max_concurrent_streams = streams;
        self
    }

    /// Pings each HTTP/2 connection at this interval and drops it when a
    /// ping is not answered in time; `None` sends no pings. The shorthand
    /// for [`Http2Config::keep_alive_interval`](Http2Config#structfield.keep_alive_interval).
    pub fn http2_keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.http2.keep_alive_interval = interval;
        self
    }

    /// The most connections served at once; `None` for no limit. A
    /// connection beyond it is answered `503 Service Unavailable` (with
    /// `Retry-After`) on its first request and closed, and logged (at
    /// most one line a second).
    pub fn max_connections(mut self, max: Option<usize>) -> Self {
        self.max_connections = max;
        self
    }

    /// The most connections one client IP address (for IPv6, one /64
    /// network) may hold at once; `None` for no limit. A connection beyond it is answered
    /// `429 Too Many Requests` on its first request and closed, and logged
    /// (at most one line a second). Behind a proxy every client has the
    /// proxy's address: leave this unset there.
    pub fn max_connections_per_ip(mut self, max: Option<usize>) -> Self {
        self.max_connections_per_ip = max;
        self
    }

    /// How long [`Server::serve_with_shutdown`] lets connections finish
    /// after the signal before dropping them.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Over how long a restart ([`Shutdown::Restart`]) spreads the end
    /// of long-lived connections (WebSockets, event streams, held polls;
    /// see [`ConnectionInfo::shutting_down`]), so that their clients do
    /// not all reconnect in the same second; the
    /// [`shutdown_timeout`](Server::shutdown_timeout) counts from the end
    /// of the spread. Worth it when the clients have somewhere to go
    /// meanwhile: another node, or a new process that took this one's
    /// listening socket over. Zero (the default) ends them all at once.
    pub fn restart_spread(mut self, spread: Duration) -> Self {
        self.restart_spread = spread;
        self
    }

    /// The host names pages reach this server by, for the same-origin
    /// rule of [`OriginPolicy`](crate::OriginPolicy) (against DNS
    /// rebinding). A request's `Host` (or `:authority`) is taken for the
    /// server's own origin only if it names the server: an IP literal,
    /// `localhost` or a `*.localhost` name, or one of these names
    /// (compared case-insensitively; `*.example.com` covers the
    /// subdomains). Without names, a loopback connection (the server
    /// listening on a loopback address, or the client connecting from
    /// one) knows no others, so that a page of `http://evil.example`
    /// rebound to 127.0.0.1 is not same-origin; on other connections any
    /// `Host` is taken as it is.
    pub fn server_names<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        let names = names
            .into_iter()
            .map(|n| n.into().to_ascii_lowercase())
            .collect();
        // Before serving, nothing else holds the shared state.
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.server_names = names;
        }
        self
    }

    /// The server's counters, readable while it runs.
    pub fn stats(&self) -> Arc<ServerStats> {
        self.shared.stats.clone()
    }

    /// Serves until the process ends. The service is any
    /// [`HttpService`]: a hyper service answering a
    /// `Request<`[`RequestBody`]`>`, cloned for each connection.
    pub async fn serve<S>(self, service: S) -> io::Result<()>
    where
        S: HttpService + Clone + Send + 'static,
    {
        self.serve_with_shutdown(service, std::future::pending::<()>())
            .await
    }

    /// Serves until `signal` resolves, then shuts down gracefully: stops
    /// accepting, lets HTTP/1.1 connections finish their request, sends
    /// HTTP/2 `GOAWAY`, tells long-lived handlers through
    /// [`ConnectionInfo::shutting_down`], waits up to the
    /// [`shutdown_timeout`](Server::shutdown_timeout) for all of it, then
    /// drops whatever is left and returns.
    ///
    /// The signal resolves to `()` or to a [`Shutdown`], which handlers
    /// read from [`ConnectionInfo::shutdown`]: WebSockets close with 1001
    /// for [`Shutdown::Stop`], 1012 for [`Shutdown::Restart`].
    pub async fn serve_with_shutdown<S, F>(self, service: S, signal: F) -> io::Result<()>
    where
        S: HttpService + Clone + Send + 'static,
        F: Future,
        F::Output: Into<Shutdown>,
    {
        let local_addr = self.listener.local_addr()?;
        let conn = Arc::new(ConnSettings::new(&self));
        let Server {
            listener,
            shutdown_timeout,
            restart_spread,
            shared,
            ..
        } = self;
        let mut signal = pin!(signal);
        let reason = loop {
            let accepted = tokio::select! {
                reason = &mut signal => break reason.into(),
                accepted = listener.accept() => accepted,
            };
            let (tcp, remote_addr) = match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait for some to free.
                    tracing::warn!("accept failed: {e}");
                    tokio::select! {
                        reason = &mut signal => break reason.into(),
                        () = tokio::time::sleep(Duration::from_millis(50)) => continue,
                    }
                }
            };
            let info = ConnectionInfo::new(remote_addr, local_addr, shared.clone());
            match conn.limits.admit(remote_addr.ip()) {
                Ok(admission) => shared.lifecycle.spawn(conn.clone().serve_tcp(
                    tcp,
                    info,
                    Some(admission),
                    service.clone(),
                )),
                Err(refusal) => {
                    let refuse = Refuse(refusal);
                    shared
                        .lifecycle
                        .spawn(conn.clone().serve_tcp(tcp, info, None, refuse));
                }
            }
        };
        drop(listener);
        tracing::info!(
            "shutting down ({reason:?}): waiting up to {shutdown_timeout:?} for open connections"
        );
        if !shared
            .lifecycle
            .shut_down(reason, restart_spread, shutdown_timeout)
            .await
        {
            tracing::warn!("shutdown deadline passed: dropped the connections still open");
        }
        Ok(())
    }
}

/// Accept errors that concern one connection only.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// What every connection task needs, built once.
struct ConnSettings {
    shared: Arc<ServerShared>,
    limits: Arc<ConnectionLimits>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_read_timeout: Duration,
    h1: Http1Settings,
    h2: Http2Settings,
}

impl ConnSettings {
    fn new(server: &Server) -> Self {
        let h1 = Http1Settings {
            header_read_timeout: server.header_read_timeout,
            body_read_timeout: server.body_read_timeout,
            max_header_bytes: server.max_header_bytes,
        };
        let h2 = Http2Settings {
            config: server.http2,
            max_header_list_size: u32::try_from(server.max_header_bytes).unwrap_or(u32::MAX),
            handshake_timeout: server.header_read_timeout,
        };
        ConnSettings {
            shared: server.shared.clone(),
            limits: Arc::new(ConnectionLimits::new(
                server.max_connections,
                server.max_connections_per_ip,
            )),
            tls: server
                .tls
                .as_ref()
                .map(|tls| tokio_rustls::TlsAcceptor::from(tls.rustls_config().clone())),
            header_read_timeout: server.header_read_timeout,
            h1,
            h2,
        }
    }

    /// Serves one accepted connection: `admission` is its place under the
    /// connection limits, `None` for a refused one (then `service` answers
    /// its first request with the refusal, and the connection closes).
    ///
    /// (A function returning an `async move` block: the block uses its
    /// captures in place, where an `async fn` would keep its arguments
    /// twice in the connection's task.)
    #[allow(clippy::manual_async_fn)]
    fn serve_tcp<S>(
        self: Arc<Self>,
        tcp: TcpStream,
        info: ConnectionInfo,
        admission: Option<Admission>,
        service: S,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: HttpService + Send + 'static,
    {
        async move {
            let stats = &self.shared.stats;
            stats.bump(Counter::Connections);
            let refused = admission.is_none();
            if refused {
                stats.bump(Counter::RefusedConnections);
            }
            let _open = stats.connection_guard();
            let _ = tcp.set_nodelay(true);
            let Some(acceptor) = &self.tls else {
                return self.serve_io(tcp, info, service, refused).await;
            };
            // Boxed: a TLS connection's state (its handshake, its stream of
            // over a kilobyte) stays out of every cleartext connection's task.
            let tls = self.serve_tls(acceptor, tcp, info, service, refused);
            Box::pin(tls).await;
        }
    }

    /// Completes a TLS handshake, then serves the connection.
    async fn serve_tls<S>(
        &self,
        acceptor: &tokio_rustls::TlsAcceptor,
        tcp: TcpStream,
        info: ConnectionInfo,
        service: S,
        refused: bool,
    ) where
        S: HttpService + Send + 'static,
    {
        let stats = &self.shared.stats;
        let handshake = tokio::time::timeout(self.header_read_timeout, acceptor.accept(tcp));
        let tls = tokio::select! {
            result = handshake => result,
            () = self.shared.lifecycle.draining.cancelled() => return,
        };
        match tls {
            Ok(Ok(tls)) => {
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                self.serve_io(tls, info.over_tls(alpn), service, refused)
                    .await;
            }
            Ok(Err(e)) => {
                stats.bump(Counter::TlsHandshakeFailures);
                tracing::info!("{}: TLS handshake failed: {e}", info.remote_addr());
            }
            Err(_) => {
                stats.bump(Counter::TlsHandshakeFailures);
                tracing::info!(
                    "{}: TLS handshake not done within {:?}",
                    info.remote_addr(),
                    self.header_read_timeout
                );
            }
        }
    }

    /// Serves HTTP/1.1 or HTTP/2 on a connection; a `refused` one is
    /// closed after answering what its client sent at once.
    /// (Not an `async fn`, for the reason given at `serve_tcp`.)
    #[allow(clippy::manual_async_fn)]
    fn serve_io<I, S>(
        &self,
        mut io: I,
        info: ConnectionInfo,
        service: S,
        refused: bool,
    ) -> impl Future<Output = ()> + Send + '_
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: HttpService + Send + 'static,
    {
        async move {
            let draining = &self.shared.lifecycle.draining;
            let remote_addr = info.remote_addr();
            // Boxed: waiting for the first bytes takes no room in a
            // connection's task afterwards.
            let sniffed = Box::pin(async {
                tokio::select! {
                    sniffed = tokio::time::timeout(self.header_read_timeout, sniff(&mut io)) => Some(sniffed),
                    () = draining.cancelled() => None,
                }
            });
            let (protocol, prefix) = match sniffed.await {
                None | Some(Ok(Ok(None))) => return,
                Some(Ok(Ok(Some(sniffed)))) => sniffed,
                Some(Ok(Err(e))) => {
                    tracing::debug!("{remote_addr}: read failed: {e}");
                    return;
                }
                Some(Err(_)) => {
                    tracing::info!(
                        "{remote_addr}: closed: nothing received within {:?}",
                        self.header_read_timeout
                    );
                    return;
                }
            };
            let service = WithConnection {
                inner: service,
                info: info.clone(),
            };
            match protocol {
                Protocol::Http1 => {
                    let keep_alive = !refused;
                    let h1 = serve_http1(io, prefix, &self.h1, service, draining, keep_alive, info);
                    h1.await;
                }
                Protocol::Http2 => {
                    // A refused connection shuts down at once: HTTP/2's two-step
                    // GOAWAY still answers the streams the client sent with its
                    // preface.
                    let already_cancelled = CancellationToken::new();
                    already_cancelled.cancel();
                    let draining = if refused {
                        &already_cancelled
                    } else {
                        draining
                    };
                    // Boxed: the HTTP/2 state does not widen HTTP/1.1 tasks.
                    let conn = Box::pin(serve_http2(io, prefix, &self.h2, service, draining));
                    match conn.await {
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                            tracing::info!("{remote_addr}: closed: {e}");
                        }
                        Err(e) => tracing::debug!("{remote_addr}: HTTP/2 connection ended: {e}"),
                        Ok(()) => {}
                    }
                }
            }
        }
    }
}

/// Puts the [`ConnectionInfo`] into each request and counts it.
#[derive(Clone)]
struct WithConnection<S> {
    inner: S,
    info: ConnectionInfo,
}

impl<S: HttpService> Service<Request<RequestBody>> for WithConnection<S> {
    type Response = Response<S::ResBody>;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut req: Request<RequestBody>) -> Self::Future {
        let counter = if req.version() == Version::HTTP_2 {
            Counter::H2Requests
        } else {
            Counter::H1Requests
        };
        self.info.stats().bump(counter);
        req.extensions_mut().insert(self.info.clone());
        HttpService::call(&self.inner, req)
    }
}

/// The service of a refused connection: every request gets the refusal's
/// status (`503` or `429`), `Retry-After` and `Connection: close`.
#[derive(Clone, Copy)]
struct Refuse(Refusal);

impl Service<Request<RequestBody>> for Refuse {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Response<Body>, Self::Error>>;

    fn call(&self, _req: Request<RequestBody>) -> Self::Future {
        let mut response = Response::new(Body::from(self.0.message()));
        *response.status_mut() = self.0.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
        std::future::ready(Ok(response))
    }
}

/// Connections the kernel queues before they are accepted (it clamps this
/// to `net.core.somaxconn`). The usual 128 overflows when thousands of
/// clients reconnect at once, and each dropped SYN costs its client a
/// second before it tries again.
const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
