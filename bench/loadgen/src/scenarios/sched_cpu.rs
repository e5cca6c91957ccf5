//! A server's CPU time to the nanosecond: the sum of the first field of
//! `/proc/PID/task/*/schedstat` (time on CPU, all live threads). The
//! clock-tick times of `/proc/PID/stat` (10 ms steps) are too coarse for
//! a scenario that delivers a hundred small messages.

use std::time::Duration;

use crate::error::BenchError;

/// CPU time of all live threads of `pid`.
pub fn cpu_time(pid: u32) -> Result<Duration, BenchError> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| BenchError::io(format!("reading {dir}"), e))?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        // A thread may exit between the listing and the read: skip it.
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += text
            .split_ascii_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(Duration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_threads_have_run() {
        assert!(super::cpu_time(std::process::id()).unwrap() > std::time::Duration::ZERO);
    }
}
