//! Polling a group of futures in rounds within one task poll: a wake-up
//! that comes while the task is polling asks for one more round instead
//! of another poll of the task.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use futures_util::task::AtomicWaker;

/// The task is not being polled: a wake-up wakes it.
const IDLE: u8 = 0;
/// The task is being polled: a wake-up asks for one more round.
const POLLING: u8 = 1;
/// The task is being polled, and something woke meanwhile.
const WOKEN: u8 = 2;

/// The waker a task gives to the futures it polls in rounds.
///
/// One HTTP/2 connection task drives the connection and its streams:
/// the connection wakes a stream when a message arrives, the stream
/// wakes the connection when it answers. Those wake-ups happen while the
/// task polls, and each would cost a full extra poll of the task once
/// it returns; with this waker they only run another round at once.
pub(crate) struct PollRounds {
    shared: Arc<Shared>,
    waker: Waker,
}

struct Shared {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        match self
            .state
            .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) | Err(WOKEN) => {}
            Err(_) => self.task.wake(),
        }
    }
}

impl PollRounds {
    pub(crate) fn new() -> Self {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(IDLE),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(shared.clone());
        PollRounds { shared, waker }
    }

    /// The waker that asks for another round while the task polls, and
    /// wakes it otherwise.
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Starts a poll of the task: returns the context to poll the
    /// futures with.
    pub(crate) fn begin(&self, cx: &Context<'_>) -> Context<'_> {
        self.shared.task.register(cx.waker());
        self.shared.state.store(POLLING, Ordering::Release);
        Context::from_waker(&self.waker)
    }

    /// Ends a round: whether something woke during it, so that another
    /// round is due. When not, the task's poll is over, and a later
    /// wake-up wakes the task.
    pub(crate) fn another_round(&self) -> bool {
        match self
            .shared
            .state
            .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(_) => {
                self.shared.state.store(POLLING, Ordering::Release);
                true
            }
        }
    }

    /// Ends the task's poll with rounds still due, to let other tasks
    /// run: the task is woken to go on later.
    pub(crate) fn yield_now(&self, cx: &Context<'_>) {
        self.shared.state.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
    }
}
