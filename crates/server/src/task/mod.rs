//! Task utilities: a task that polls many futures in rounds, waking
//! only those whose waker fired.

pub(crate) mod poll_rounds;
pub(crate) mod wake_flag;
