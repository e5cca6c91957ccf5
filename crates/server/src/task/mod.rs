//! Task utilities: a task that polls many futures in rounds, waking
//! only those whose waker fired, the keep-alive ping timer, and the one
//! way pushwire takes a lock.

pub(crate) mod ping_timer;
pub(crate) mod poll_rounds;
pub(crate) mod wake_flag;

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, even if a thread panicked while holding it: every
/// state pushwire keeps behind a lock is valid after each step, and a
/// panicking task (a handler's panic is caught) must not take down the
/// connections that share the state.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
