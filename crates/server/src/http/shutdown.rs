//! Graceful shutdown: stop accepting, let connections finish, then a
//! deadline after which whatever is left is dropped.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The tasks of one server and the two moments of its shutdown.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    /// Cancelled when shutdown begins: connections finish their requests,
    /// HTTP/2 sends GOAWAY, WebSocket handlers may close with 1001.
    pub(crate) draining: CancellationToken,
    /// Cancelled when the deadline passes: every task is dropped.
    kill: CancellationToken,
    tracker: TaskTracker,
}

impl Lifecycle {
    /// Spawns a task that shutdown waits for, dropped at the deadline.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let kill = self.kill.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = task => {}
                () = kill.cancelled() => {}
            }
        });
    }

    /// Begins draining, waits up to `deadline` for every task, then drops
    /// the rest. Returns whether everything finished in time.
    pub(crate) async fn shut_down(&self, deadline: std::time::Duration) -> bool {
        self.draining.cancel();
        self.tracker.close();
        if tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        self.kill.cancel();
        self.tracker.wait().await;
        false
    }
}

/// Resolves on ctrl-c (SIGINT) or, on Unix, SIGTERM: the usual signal to
/// pass to [`Server::serve_with_shutdown`](crate::Server::serve_with_shutdown).
///
/// ```no_run
/// # async fn demo(server: pushwire::Server) -> std::io::Result<()> {
/// use hyper::service::service_fn;
/// let service = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(hyper::Response::new(pushwire::Body::from("hi"))) });
/// server.serve_with_shutdown(service, pushwire::shutdown_signal()).await
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
