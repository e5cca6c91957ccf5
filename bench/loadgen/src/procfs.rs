//! What the kernel says about a process: CPU time from `/proc/PID/stat`
//! (utime + stime, all threads) and resident memory (now and at its peak)
//! from `/proc/PID/status`.

use std::sync::OnceLock;
use std::time::Duration;

use crate::error::BenchError;

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`).
fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100)
    })
}

/// User plus system CPU time a process has used so far, over all its threads.
pub fn cpu_time(pid: u32) -> Result<Duration, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("reading {path}"), e))?;
    parse_cpu_ticks(&text)
        .map(|ticks| Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64))
        .ok_or_else(|| BenchError::Setup(format!("{path} has no utime/stime fields")))
}

/// CPU time of this process.
pub fn own_cpu_time() -> Result<Duration, BenchError> {
    cpu_time(std::process::id())
}

/// utime + stime in clock ticks from the text of `/proc/PID/stat`. The
/// command name (field 2) may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size of a process in bytes (`VmRSS`).
pub fn resident_bytes(pid: u32) -> Result<u64, BenchError> {
    status_bytes(pid, "VmRSS:")
}

/// The peak resident set size of a process in bytes (`VmHWM`): the
/// largest `VmRSS` since it started or since [`reset_peak_resident`].
pub fn peak_resident_bytes(pid: u32) -> Result<u64, BenchError> {
    status_bytes(pid, "VmHWM:")
}

/// Resets a process's `VmHWM` to its current `VmRSS` (writes `5` to
/// `/proc/PID/clear_refs`; allowed for a process of the same user unless
/// the kernel's ptrace policy forbids it).
pub fn reset_peak_resident(pid: u32) -> Result<(), BenchError> {
    let path = format!("/proc/{pid}/clear_refs");
    std::fs::write(&path, "5").map_err(|e| BenchError::io(format!("writing 5 to {path}"), e))
}

/// A `kB` line of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in bytes.
fn status_bytes(pid: u32, key: &str) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("reading {path}"), e))?;
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| BenchError::Setup(format!("{path} has no {key} line")))
}

/// The kernel's TCP counters of this network namespace (`TcpExt:` of
/// `/proc/net/netstat`: `ListenOverflows`, `TCPSynRetrans`, …), by name.
/// They count every process of the namespace, not one server.
pub fn tcp_counters() -> Result<std::collections::HashMap<String, u64>, BenchError> {
    let path = "/proc/net/netstat";
    let text =
        std::fs::read_to_string(path).map_err(|e| BenchError::io(format!("reading {path}"), e))?;
    Ok(parse_tcp_ext(&text))
}

/// The `TcpExt:` names and values of `/proc/net/netstat`'s text (a line
/// of names, then a line of values).
fn parse_tcp_ext(text: &str) -> std::collections::HashMap<String, u64> {
    let mut rows = text.lines().filter_map(|line| line.strip_prefix("TcpExt:"));
    match (rows.next(), rows.next()) {
        (Some(names), Some(values)) => names
            .split_whitespace()
            .zip(values.split_whitespace())
            .filter_map(|(name, value)| Some((name.to_owned(), value.parse().ok()?)))
            .collect(),
        _ => Default::default(),
    }
}

/// The local ports of `pid`'s TCP connections to `remote_port` (over
/// IPv4): its sockets' inodes from `/proc/PID/fd`, matched with
/// `/proc/PID/net/tcp`. How the bench tells one hub node's Redis
/// connections from another's.
pub fn local_ports_to(pid: u32, remote_port: u16) -> Result<Vec<u16>, BenchError> {
    let dir = format!("/proc/{pid}/fd");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| BenchError::io(format!("reading {dir}"), e))?;
    let inodes: std::collections::HashSet<u64> = entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|link| {
            link.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let path = format!("/proc/{pid}/net/tcp");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("reading {path}"), e))?;
    Ok(parse_tcp_table(&text)
        .into_iter()
        .filter(|&(_, remote, inode)| remote == remote_port && inodes.contains(&inode))
        .map(|(local, _, _)| local)
        .collect())
}

/// (local port, remote port, inode) of each line of a `/proc/net/tcp` table.
fn parse_tcp_table(text: &str) -> Vec<(u16, u16, u64)> {
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some((
                port(fields.get(1)?)?,
                port(fields.get(2)?)?,
                fields.get(9)?.parse().ok()?,
            ))
        })
        .collect()
}

/// The CPUs this process may run on, as the kernel lists them (`Cpus_allowed_list`).
pub fn allowed_cpus() -> Option<String> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .map(|list| list.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_skip_a_name_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(12));
    }

    #[test]
    fn tcp_ext_pairs_names_with_values() {
        let text =
            "TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 0 42\nIpExt: InNoRoutes\nIpExt: 1\n";
        let counters = parse_tcp_ext(text);
        assert_eq!(counters.get("ListenOverflows"), Some(&42));
        assert_eq!(counters.get("InNoRoutes"), None);
    }

    #[test]
    fn tcp_table_lines_give_ports_and_inode() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
            0: 0100007F:A2C4 0100007F:18EB 01 00000000:00000000 00:00000000 00000000  1000        0 5512345 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(parse_tcp_table(text), vec![(0xA2C4, 0x18EB, 5512345)]);
    }

    #[test]
    fn own_process_has_resident_memory_and_cpu_time() {
        assert!(resident_bytes(std::process::id()).unwrap() > 0);
        assert!(peak_resident_bytes(std::process::id()).unwrap() > 0);
        own_cpu_time().unwrap();
    }
}
