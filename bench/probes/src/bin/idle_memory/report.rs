//! What a run measured, printed as text and, with `--json`, as one JSON
//! line (the line `bench/idle-memory.sh` reads).

use pushwire_probes::procfs::Rss;

use crate::args::Args;

/// The server's RSS at each step of a run.
pub struct Report {
    /// Connections that agreed on permessage-deflate.
    pub deflate_negotiated: usize,
    /// After the warm-up connection, before the measured ones.
    pub baseline: Rss,
    /// With every connection open and idle.
    pub idle: Rss,
    /// After each connection echoed one message (unless `--no-echo`).
    pub echoed: Option<Rss>,
    /// Time to open every connection, seconds.
    pub connect_secs: f64,
    /// Time of the whole run, seconds.
    pub total_secs: f64,
}

/// Growth per connection from `before` to `after`, bytes: (RSS, anonymous).
fn per_conn(after: Rss, before: Rss, n: usize) -> (f64, f64) {
    let d = |a: u64, b: u64| (a as f64 - b as f64) * 1024.0 / n.max(1) as f64;
    (
        d(after.rss_kib, before.rss_kib),
        d(after.anon_kib, before.anon_kib),
    )
}

/// Prints the report (and the JSON line with `--json`).
pub fn print_report(args: &Args, r: &Report) {
    let n = args.connections;
    let arena = args
        .child_env
        .iter()
        .find(|(k, _)| k == "MALLOC_ARENA_MAX")
        .map(|(_, v)| v.clone());
    let (idle_rss, idle_anon) = per_conn(r.idle, r.baseline, n);
    println!(
        "server {} echo, {n} idle connections ({} with deflate), client offers deflate: {}{}",
        args.server_bin,
        r.deflate_negotiated,
        args.deflate,
        arena
            .as_deref()
            .map(|a| format!(", MALLOC_ARENA_MAX={a}"))
            .unwrap_or_default()
    );
    println!(
        "  baseline            RSS {:>8} KiB  anon {:>8} KiB",
        r.baseline.rss_kib, r.baseline.anon_kib
    );
    println!(
        "  idle (handshake)    RSS {:>8} KiB  anon {:>8} KiB  -> {idle_rss:>7.0} B/conn RSS, {idle_anon:>7.0} B/conn anon",
        r.idle.rss_kib, r.idle.anon_kib
    );
    let mut echoed_json = "null".to_owned();
    let mut echoed_anon_json = "null".to_owned();
    if let Some(e) = r.echoed {
        let (rss, anon) = per_conn(e, r.baseline, n);
        println!(
            "  idle (after 1 echo) RSS {:>8} KiB  anon {:>8} KiB  -> {rss:>7.0} B/conn RSS, {anon:>7.0} B/conn anon",
            e.rss_kib, e.anon_kib
        );
        echoed_json = format!("{rss:.1}");
        echoed_anon_json = format!("{anon:.1}");
    }
    println!(
        "  connect {:.2} s, total {:.2} s",
        r.connect_secs, r.total_secs
    );
    if args.json {
        println!(
            "{{\"connections\":{n},\"client_offers_deflate\":{},\"deflate_negotiated\":{},\"malloc_arena_max\":{},\"baseline_rss_kib\":{},\"baseline_anon_kib\":{},\"idle_rss_kib\":{},\"idle_anon_kib\":{},\"idle_bytes_per_conn\":{idle_rss:.1},\"idle_anon_bytes_per_conn\":{idle_anon:.1},\"echoed_rss_kib\":{},\"echoed_bytes_per_conn\":{echoed_json},\"echoed_anon_bytes_per_conn\":{echoed_anon_json},\"connect_secs\":{:.3},\"total_secs\":{:.3}}}",
            args.deflate,
            r.deflate_negotiated,
            arena.map(|a| format!("\"{a}\"")).unwrap_or("null".to_owned()),
            r.baseline.rss_kib,
            r.baseline.anon_kib,
            r.idle.rss_kib,
            r.idle.anon_kib,
            r.echoed.map_or("null".to_owned(), |e| e.rss_kib.to_string()),
            r.connect_secs,
            r.total_secs,
        );
    }
}
