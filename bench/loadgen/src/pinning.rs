//! Keeps the generator on its own core: if this process may run on other
//! CPUs than the generator core, it re-executes itself under
//! `taskset -c CORE` (once; an environment variable marks the second start).

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::error::BenchError;
use crate::procfs::allowed_cpus;

/// Set in the re-executed process.
const PINNED_MARK: &str = "PUSHWIRE_BENCH_PINNED";

/// Re-executes under taskset unless already pinned to `cpu`. Returns only
/// when no re-execution was needed or possible (then with a warning text).
pub fn pin_self(cpu: usize) -> Result<Option<String>, BenchError> {
    let wanted = cpu.to_string();
    if allowed_cpus().as_deref() == Some(wanted.as_str()) {
        return Ok(None);
    }
    if std::env::var_os(PINNED_MARK).is_some() {
        return Ok(Some(format!(
            "could not pin the generator to CPU {cpu} (allowed: {})",
            allowed_cpus().unwrap_or_default()
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::io("finding the generator's own path", e))?;
    let error = Command::new("taskset")
        .arg("-c")
        .arg(&wanted)
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(PINNED_MARK, "1")
        .exec();
    Ok(Some(format!(
        "taskset is not usable ({error}); the generator is not pinned"
    )))
}

/// The soft limit on open files of this process.
pub fn open_file_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|line| line.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}
