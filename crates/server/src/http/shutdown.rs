//! Graceful shutdown: stop accepting, let connections finish, then a
//! deadline after which whatever is left is dropped. A restart may
//! spread the long-lived connections' ends over a window, so that their
//! clients do not all reconnect in the same second.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use pushwire_proto::{CloseCode, CloseFrame};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

/// How many turns a restart's spread is cut into.
const TURNS: u8 = 64;

/// A connection's turn within a restart's spread: connections take them
/// in the order they were accepted, round and round, so every turn ends
/// about as many.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turn(u8);

/// The tasks of one server and the moments of its shutdown.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    /// Cancelled when shutdown begins: connections finish their requests,
    /// HTTP/2 sends GOAWAY.
    pub(crate) draining: CancellationToken,
    /// When long-lived handlers (WebSockets, event streams, held polls)
    /// are told to finish: all with `draining` on a stop, one turn after
    /// another over the spread on a restart.
    turns: Box<[CancellationToken]>,
    /// The turn the next connection takes.
    next_turn: AtomicU8,
    /// Cancelled when the deadline passes: every task is dropped.
    kill: CancellationToken,
    tracker: TaskTracker,
    /// Set just before `draining` is cancelled.
    reason: OnceLock<Shutdown>,
}

/// Why a server shuts down, which decides what its WebSockets are told:
/// the value a [`Server::serve_with_shutdown`](crate::Server::serve_with_shutdown)
/// signal resolves to. A signal that resolves to `()` means
/// [`Shutdown::Stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Shutdown {
    /// The server is going away: WebSockets close with 1001 (Going Away).
    #[default]
    Stop,
    /// The server restarts and will be back: WebSockets close with 1012
    /// (Service Restart), telling clients to reconnect shortly.
    Restart,
}

impl Shutdown {
    /// The close code a WebSocket gets: 1001 or 1012.
    pub fn close_code(self) -> CloseCode {
        match self {
            Shutdown::Stop => CloseCode::GOING_AWAY,
            Shutdown::Restart => CloseCode::SERVICE_RESTART,
        }
    }

    /// The close frame a WebSocket gets: the code and a short reason.
    ///
    /// ```
    /// use pushwire::{CloseCode, Shutdown};
    /// assert_eq!(Shutdown::Restart.close_frame().code, CloseCode::SERVICE_RESTART);
    /// ```
    pub fn close_frame(self) -> CloseFrame {
        let reason = match self {
            Shutdown::Stop => "server shutting down",
            Shutdown::Restart => "server restarting",
        };
        CloseFrame::new(self.close_code(), reason)
    }
}

impl From<()> for Shutdown {
    fn from((): ()) -> Self {
        Shutdown::Stop
    }
}

impl Turn {
    /// Its number, 0 to 63.
    pub(crate) fn index(self) -> u8 {
        self.0
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            draining: CancellationToken::new(),
            turns: (0..TURNS).map(|_| CancellationToken::new()).collect(),
            next_turn: AtomicU8::new(0),
            kill: CancellationToken::new(),
            tracker: TaskTracker::new(),
            reason: OnceLock::new(),
        }
    }
}

/// A server gone without a shutdown (dropped, with no connection left)
/// ends its turns: whatever still waits for one, such as the hub's
/// watcher of a turn, finishes instead of waiting forever.
impl Drop for Lifecycle {
    fn drop(&mut self) {
        for turn in self.turns.iter() {
            turn.cancel();
        }
    }
}

impl Lifecycle {
    /// The turn of a connection accepted now.
    pub(crate) fn next_turn(&self) -> Turn {
        // The counter wraps at 256, a multiple of TURNS: still round-robin.
        Turn(self.next_turn.fetch_add(1, Ordering::Relaxed) % TURNS)
    }

    /// The token that tells the handlers of connections of `turn` to
    /// finish.
    pub(crate) fn turn(&self, turn: Turn) -> &CancellationToken {
        &self.turns[usize::from(turn.0)]
    }

    /// Counts as a task that shutdown waits for while it is held.
    pub(crate) fn token(&self) -> TaskTrackerToken {
        self.tracker.token()
    }

    /// Spawns a task that shutdown waits for, dropped at the deadline.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(UntilKilled {
            task,
            killed: self.kill.clone().cancelled_owned(),
        });
    }

    /// Why the server shuts down, once it has begun.
    pub(crate) fn reason(&self) -> Option<Shutdown> {
        self.reason.get().copied()
    }

    /// Begins draining, tells the long-lived handlers to finish (a
    /// restart: turn by turn over `spread`), waits up to `deadline` more
    /// for every task, then drops the rest. Returns whether everything
    /// finished in time.
    pub(crate) async fn shut_down(
        &self,
        reason: Shutdown,
        spread: Duration,
        deadline: Duration,
    ) -> bool {
        let _ = self.reason.set(reason);
        self.draining.cancel();
        self.tracker.close();
        let spread = match reason {
            Shutdown::Restart => spread,
            Shutdown::Stop => Duration::ZERO,
        };
        self.take_turns(spread).await;
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

    /// Ends the turns one after another over `spread` (at once when it is
    /// zero, or when no task is left to tell).
    async fn take_turns(&self, spread: Duration) {
        let step = spread / u32::from(TURNS);
        for (i, turn) in self.turns.iter().enumerate() {
            if i > 0 && !step.is_zero() {
                tokio::select! {
                    () = self.tracker.wait() => break,
                    () = tokio::time::sleep(step) => {}
                }
            }
            turn.cancel();
        }
        self.turns.iter().for_each(CancellationToken::cancel);
    }
}

/// Resolves on ctrl-c (SIGINT) or, on Unix, SIGTERM, to [`Shutdown::Stop`];
/// on Unix also on SIGHUP, to [`Shutdown::Restart`] (for a process
/// manager that starts the server again: its WebSockets close with 1012).
/// The usual signal to pass to
/// [`Server::serve_with_shutdown`](crate::Server::serve_with_shutdown).
///
/// ```no_run
/// # async fn demo(server: pushwire::Server) -> std::io::Result<()> {
/// use hyper::service::service_fn;
/// let service = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(hyper::Response::new(pushwire::Body::from("hi"))) });
/// server.serve_with_shutdown(service, pushwire::server::shutdown_signal()).await
/// # }
/// ```
pub async fn shutdown_signal() -> Shutdown {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let unix_signal = |kind: SignalKind, name: &'static str| async move {
            match signal(kind) {
                Ok(mut s) => s.recv().await,
                Err(e) => {
                    tracing::warn!("cannot listen for {name}: {e}");
                    std::future::pending().await
                }
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Shutdown::Stop,
            _ = unix_signal(SignalKind::terminate(), "SIGTERM") => Shutdown::Stop,
            _ = unix_signal(SignalKind::hangup(), "SIGHUP") => Shutdown::Restart,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Shutdown::Stop
    }
}

pin_project_lite::pin_project! {
    /// A task that the shutdown deadline drops. (A future of its own
    /// rather than a `select!`, which would hold the task twice.)
    struct UntilKilled<F> {
        #[pin]
        task: F,
        #[pin]
        killed: WaitForCancellationFutureOwned,
    }
}

impl<F: Future<Output = ()>> Future for UntilKilled<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let me = self.project();
        if me.killed.poll(cx).is_ready() {
            return Poll::Ready(());
        }
        me.task.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_lifecycle_ends_its_turns() {
        let lifecycle = Lifecycle::default();
        let turn = lifecycle.turn(lifecycle.next_turn()).clone();
        assert!(!turn.is_cancelled());
        drop(lifecycle);
        assert!(turn.is_cancelled());
    }
}
