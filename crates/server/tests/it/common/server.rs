//! [`TestServer`]: a `Server` on 127.0.0.1, port 0, run in a task until
//! it is told to shut down or dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use pushwire::server::{HttpService, ServerStats, StatsSnapshot};
use pushwire::{Server, Shutdown};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{app, http1, LIMIT};

/// A running test server, with `state` the test shares with its service
/// (nothing for the [test application](app::route)). Dropping it shuts the
/// server down.
pub struct TestServer<T = ()> {
    pub addr: SocketAddr,
    pub stats: Arc<ServerStats>,
    pub state: T,
    stop: Option<oneshot::Sender<Shutdown>>,
    pub task: JoinHandle<io::Result<()>>,
}

impl TestServer {
    /// Serves the [test application](app::route), the server set up by
    /// `configure`.
    pub async fn start(configure: impl FnOnce(Server) -> Server) -> TestServer {
        TestServer::serve(configure, (), service_fn(app::route)).await
    }
}

impl<T> TestServer<T> {
    /// Serves `service`, the server set up by `configure`; `state` is kept
    /// for the test.
    pub async fn serve<S>(
        configure: impl FnOnce(Server) -> Server,
        state: T,
        service: S,
    ) -> TestServer<T>
    where
        S: HttpService + Clone + Send + 'static,
    {
        let server = configure(Server::bind("127.0.0.1:0").await.unwrap());
        let addr = server.local_addr().unwrap();
        let stats = server.stats();
        let (stop, stopped) = oneshot::channel::<Shutdown>();
        let task = tokio::spawn(
            server.serve_with_shutdown(service, async { stopped.await.unwrap_or_default() }),
        );
        TestServer {
            addr,
            stats,
            state,
            stop: Some(stop),
            task,
        }
    }

    /// Sends the shutdown signal.
    pub fn stop(&mut self) {
        self.shut_down(Shutdown::Stop);
    }

    /// Sends the shutdown signal with this reason; the server must still
    /// be waiting for it.
    pub fn shut_down(&mut self, reason: Shutdown) {
        if let Some(stop) = self.stop.take() {
            assert!(stop.send(reason).is_ok(), "the server had stopped");
        }
    }

    /// Waits until `check` holds for the counters.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&StatsSnapshot) -> bool) {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let now = self.stats.snapshot();
            if check(&now) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A new raw HTTP/1.1 connection to the server.
    pub async fn http1(&self) -> http1::Conn {
        http1::Conn::open(self.addr).await
    }
}
