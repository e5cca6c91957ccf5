//! A waker that notes that it woke: a task that polls several futures
//! polls again only those whose waker did.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// A flag, set by its waker, which also wakes the task that polls.
pub(crate) struct WakeFlag {
    shared: Arc<Shared>,
    waker: Waker,
}

struct Shared {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl WakeFlag {
    /// A flag whose waker wakes `task`. It starts set: what it guards
    /// has not been polled yet.
    pub(crate) fn new(task: Waker) -> Self {
        let shared = Arc::new(Shared {
            woken: AtomicBool::new(true),
            task,
        });
        let waker = Waker::from(shared.clone());
        WakeFlag { shared, waker }
    }

    /// The waker to poll the guarded futures with.
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Whether the waker woke since the last call; clears the flag.
    pub(crate) fn take(&self) -> bool {
        self.shared.woken.swap(false, Ordering::AcqRel)
    }

    /// Whether the waker woke since the last [`take`](WakeFlag::take).
    pub(crate) fn is_set(&self) -> bool {
        self.shared.woken.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn its_waker_sets_the_flag_and_wakes_the_task() {
        let count = Arc::new(Count(0.into()));
        let flag = WakeFlag::new(Waker::from(count.clone()));
        assert!(flag.take(), "set at first");
        assert!(!flag.take());
        flag.waker().wake_by_ref();
        assert!(flag.is_set());
        assert!(flag.take());
        assert!(!flag.is_set());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
