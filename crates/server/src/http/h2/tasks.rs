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
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use futures_util::future::{CatchUnwind, FutureExt};
use futures_util::stream::{FuturesUnordered, Stream};

use crate::task::wake_flag::WakeFlag;

/// A stream's work: its service call and response, or the handler of
/// the WebSocket it carries.
pub(crate) type StreamTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs futures among the streams of one HTTP/2 connection. Cloned into
/// the requests of the connection's extended CONNECTs, so that the
/// [`Upgrade`](crate::Upgrade) runs its WebSocket there.
#[derive(Clone)]
pub(crate) struct StreamSpawner(Weak<Inbox>);

impl StreamSpawner {
    /// Runs `task` in the connection's task; gives it back if the
    /// connection has ended.
    pub(crate) fn spawn(&self, task: StreamTask) -> Result<(), StreamTask> {
        let Some(inbox) = self.0.upgrade() else {
            return Err(task);
        };
        inbox
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        inbox.arrived.waker().wake_by_ref();
        Ok(())
    }
}

impl std::fmt::Debug for StreamSpawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSpawner").finish_non_exhaustive()
    }
}

/// The tasks spawned since the connection last ran its streams. Only
/// [`StreamTasks`] holds it strongly: once the connection is gone, a
/// spawner gets its task back. A flag tells whether any arrived, so that
/// looking costs no lock.
struct Inbox {
    tasks: Mutex<Vec<StreamTask>>,
    arrived: WakeFlag,
}

/// The running tasks of one connection's streams. A task that panics
/// ends alone, as a task of its own would: its stream is reset, the
/// connection and its other streams go on.
pub(crate) struct StreamTasks {
    running: FuturesUnordered<CatchUnwind<AssertUnwindSafe<StreamTask>>>,
    inbox: Arc<Inbox>,
    spawner: StreamSpawner,
    /// Set when a task wakes.
    ///
    /// FuturesUnordered stops after two of its futures woke themselves
    /// while polled, to let other tasks run; and a WebSocket that answers
    /// may wake itself (a stream that waited for room to send is woken
    /// as it gets it). Run again at once, one pass per two tasks, rather than
    /// after another round of the connection, the answers of all the
    /// streams that had a message go out in one write instead of two at
    /// a time.
    woken: WakeFlag,
}

/// The fewest times [`StreamTasks::run_ready`] goes over the tasks that
/// woke while it ran them.
const MIN_PASSES: usize = 8;

impl StreamTasks {
    /// Tasks whose wake-ups wake `connection`, the waker of the task
    /// that runs them.
    pub(crate) fn new(connection: Waker) -> Self {
        let inbox = Arc::new(Inbox {
            tasks: Mutex::new(Vec::new()),
            arrived: WakeFlag::new(connection.clone()),
        });
        StreamTasks {
            running: FuturesUnordered::new(),
            spawner: StreamSpawner(Arc::downgrade(&inbox)),
            inbox,
            woken: WakeFlag::new(connection),
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

    /// Whether no task is left, running or spawned.
    pub(crate) fn is_empty(&self) -> bool {
        self.running.is_empty() && !self.inbox.arrived.is_set()
    }

    /// Runs every task that is ready, and those spawned or woken
    /// meanwhile, until none is (or, with tasks that keep waking
    /// themselves, for a pass per two tasks: the connection's task is
    /// woken then).
    pub(crate) fn run_ready(&mut self) {
        let tasks_cx = &mut Context::from_waker(self.woken.waker());
        let passes = MIN_PASSES.max(self.running.len() / 2 + 1);
        for _ in 0..passes {
            if self.inbox.arrived.take() {
                let arrived = std::mem::take(
                    &mut *self.inbox.tasks.lock().unwrap_or_else(|e| e.into_inner()),
                );
                self.running
                    .extend(arrived.into_iter().map(catching_panics));
            }
            self.woken.take();
            while let Poll::Ready(Some(ended)) = Pin::new(&mut self.running).poll_next(tasks_cx) {
                if ended.is_err() {
                    tracing::error!("an HTTP/2 stream's task panicked; its stream is reset");
                }
            }
            if !self.woken.is_set() && !self.inbox.arrived.is_set() {
                return;
            }
        }
    }
}

/// `task`, ending with an error where it would panic.
fn catching_panics(task: StreamTask) -> CatchUnwind<AssertUnwindSafe<StreamTask>> {
    AssertUnwindSafe(task).catch_unwind()
}
