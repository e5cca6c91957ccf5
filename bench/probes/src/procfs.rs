//! A process's resident memory and CPU time, read from `/proc` (Linux).

/// A process's resident set, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    /// `VmRSS`: all resident pages, KiB.
    pub rss_kib: u64,
    /// `RssAnon`: resident anonymous pages (the heap, stacks), KiB; 0
    /// where the kernel does not report it.
    pub anon_kib: u64,
}

/// Reads the resident set of process `pid`.
pub fn read_rss(pid: u32) -> Result<Rss, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Ok(Rss {
        rss_kib: field("VmRSS:").ok_or("no VmRSS")?,
        anon_kib: field("RssAnon:").unwrap_or(0),
    })
}

/// CPU time a process has used, in clock ticks (utime + stime of
/// `/proc/PID/stat`; Linux reports them in units of 1/100 s). `pid` is a
/// number or `self`.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: count fields after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}
