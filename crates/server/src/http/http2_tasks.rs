//! The tasks of one HTTP/2 connection's streams, run inside the
//! connection's own task.
//!
//! Every frame of a stream passes through the connection: a WebSocket
//! message that arrives is read by the connection, handed to the
//! stream's handler, answered, and written by the connection again. In
//! tasks of their own, that is three task polls and two wake-ups between
//! tasks per message; here it is one poll, in which the connection reads
//! what arrived, every stream handles its part, and the connection
//! writes all the answers in one go.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::{CatchUnwind, FutureExt};
use futures_util::stream::{FuturesUnordered, Stream};
use tokio::sync::mpsc;

/// A stream's work: its service call and response, or the handler of
/// the WebSocket it carries.
pub(crate) type StreamTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs futures among the streams of one HTTP/2 connection. Cloned into
/// the requests of the connection's extended CONNECTs, so that the
/// [`Upgrade`](crate::Upgrade) runs its WebSocket there.
#[derive(Debug, Clone)]
pub(crate) struct StreamSpawner(mpsc::UnboundedSender<StreamTask>);

impl StreamSpawner {
    /// Runs `task` in the connection's task; gives it back if the
    /// connection has ended.
    pub(crate) fn spawn(&self, task: StreamTask) -> Result<(), StreamTask> {
        self.0.send(task).map_err(|refused| refused.0)
    }
}

/// The running tasks of one connection's streams. A task that panics
/// ends alone, as a task of its own would: its stream is reset, the
/// connection and its other streams go on.
pub(crate) struct StreamTasks {
    running: FuturesUnordered<CatchUnwind<AssertUnwindSafe<StreamTask>>>,
    inbox: mpsc::UnboundedReceiver<StreamTask>,
    spawner: StreamSpawner,
    /// Set when a task wakes; `waker` is the one it wakes with.
    woken: Arc<Woken>,
    waker: Waker,
}

/// The fewest times [`StreamTasks::run_ready`] goes over the tasks that
/// woke while it ran them.
const MIN_PASSES: usize = 8;

/// Notes that a stream's task woke, and wakes the connection's task.
///
/// FuturesUnordered stops after two of its futures woke themselves while
/// polled, to let other tasks run; and a WebSocket that answers wakes
/// itself (h2 wakes a stream that asks for send capacity as it grants
/// it). Run again at once, one pass per two tasks, rather than after
/// another round of the connection, the answers of all the streams that
/// had a message go out in one write instead of two at a time.
struct Woken {
    flag: AtomicBool,
    connection: Waker,
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.flag.store(true, Ordering::Release);
        self.connection.wake_by_ref();
    }
}

impl StreamTasks {
    /// Tasks whose wake-ups wake `connection`, the waker of the task
    /// that runs them.
    pub(crate) fn new(connection: Waker) -> Self {
        let (tx, inbox) = mpsc::unbounded_channel();
        let woken = Arc::new(Woken {
            flag: AtomicBool::new(false),
            connection,
        });
        StreamTasks {
            running: FuturesUnordered::new(),
            inbox,
            spawner: StreamSpawner(tx),
            waker: Waker::from(woken.clone()),
            woken,
        }
    }

    /// A handle that adds tasks from within a stream.
    pub(crate) fn spawner(&self) -> &StreamSpawner {
        &self.spawner
    }

    /// Adds a task; it first runs at the next [`StreamTasks::run_ready`].
    pub(crate) fn push(&mut self, task: StreamTask) {
        self.running.push(catching_panics(task));
    }

    /// Whether no task is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Runs every task that is ready, and those spawned or woken
    /// meanwhile, until none is (or, with tasks that keep waking
    /// themselves, for a pass per two tasks: the connection's task is
    /// woken then).
    pub(crate) fn run_ready(&mut self, cx: &mut Context<'_>) {
        let tasks_cx = &mut Context::from_waker(&self.waker);
        let passes = MIN_PASSES.max(self.running.len() / 2 + 1);
        for _ in 0..passes {
            while let Poll::Ready(Some(task)) = self.inbox.poll_recv(cx) {
                self.running.push(catching_panics(task));
            }
            self.woken.flag.store(false, Ordering::Release);
            while let Poll::Ready(Some(ended)) = Pin::new(&mut self.running).poll_next(tasks_cx) {
                if ended.is_err() {
                    tracing::error!("an HTTP/2 stream's task panicked; its stream is reset");
                }
            }
            if !self.woken.flag.load(Ordering::Acquire) && self.inbox.is_empty() {
                return;
            }
        }
    }
}

/// `task`, ending with an error where it would panic.
fn catching_panics(task: StreamTask) -> CatchUnwind<AssertUnwindSafe<StreamTask>> {
    AssertUnwindSafe(task).catch_unwind()
}
