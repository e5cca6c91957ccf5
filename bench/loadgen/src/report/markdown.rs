//! The markdown page: method, peers, a summary with pushwire's ratios,
//! the targets of issue 4, then one table per scenario.

use std::fmt::Write;

use super::format;
use crate::peers::{BUN, FASTWEBSOCKETS, PUSHWIRE};
use crate::results::{CellStatus, RunReport, ScenarioResult};

/// The whole page.
pub fn page(report: &RunReport) -> String {
    let mut out = String::new();
    let s = &report.settings;
    let _ = writeln!(out, "# pushwire benchmarks, side by side\n");
    let _ = writeln!(
        out,
        "Mode **{}**, {} CPUs, {}, load average at start {} (a shared machine: other builds may run). \
         Total time {:.0} s.\n",
        report.mode, report.machine.cpus, report.machine.kernel, report.machine.load_average_at_start, report.total_secs
    );
    if let Some(source) = &report.pushwire_source {
        let _ = writeln!(out, "pushwire built from {source}.\n");
    }
    let _ = writeln!(
        out,
        "Method: every server pinned to CPU {}, the generator (`pushwire-bench`, one thread, epoll) to CPU {}. \
         Per scenario each peer is probed (two echoes checked byte for byte), warmed up ({:.1} s), then measured \
         {} × {:.1} s, runs interleaved across peers; the table gives the median and the min–max. Server CPU is \
         utime+stime from `/proc/PID/stat` over the window (all threads). Ratios are the peer's median ÷ the \
         reference's; for memory lower is better.\n",
        s.server_cpu,
        s.generator_cpu,
        s.warmup.as_secs_f64(),
        s.runs,
        s.duration.as_secs_f64()
    );
    let _ = writeln!(out, "| peer | version | what |\n|---|---|---|");
    for peer in &report.peers {
        let version = peer.version.clone().unwrap_or_else(|| "?".to_owned());
        let what = match &peer.unavailable {
            Some(why) => format!("{} — **not run**: {why}", peer.description),
            None => peer.description.clone(),
        };
        let _ = writeln!(out, "| {} | {} | {} |", peer.name, version, what);
    }
    let _ = writeln!(out, "\n## Summary\n");
    out.push_str(&summary_table(report));
    let _ = writeln!(
        out,
        "\nServer CPU time per unit of work (µs, median; lower is better). On a shared machine this is \
         steadier than throughput, since it does not depend on who else got the core:\n"
    );
    out.push_str(&cpu_table(report));
    out.push_str(&targets(report));
    out.push_str(&super::metrics::targets(report));

    let mut groups: Vec<_> = Vec::new();
    for scenario in &report.scenarios {
        if !groups.contains(&scenario.spec.group) {
            groups.push(scenario.spec.group);
        }
    }
    for group in groups {
        let _ = writeln!(
            out,
            "\n## {}\n\n![{}]({}.svg)\n",
            group.title, group.title, group.id
        );
        for scenario in report.scenarios.iter().filter(|s| s.spec.group == group) {
            out.push_str(&detail_table(scenario));
            out.push_str(&super::metrics::table(scenario));
        }
    }
    out
}

/// Rows: scenarios; columns: every peer's median and pushwire's ratios.
pub fn summary_table(report: &RunReport) -> String {
    let mut out = String::new();
    let peers: Vec<&str> = report.peers.iter().map(|p| p.name.as_str()).collect();
    let _ = write!(out, "| scenario | unit |");
    for peer in &peers {
        let _ = write!(out, " {peer} |");
    }
    let _ = writeln!(out, " pushwire ÷ bun | pushwire ÷ fastwebsockets |");
    let _ = write!(out, "|---|---|");
    for _ in &peers {
        out.push_str("---:|");
    }
    out.push_str("---:|---:|\n");
    for scenario in &report.scenarios {
        let _ = write!(out, "| {} | {} |", scenario.spec.title, scenario.unit_label);
        for peer in &peers {
            let text = match scenario.cell(peer) {
                Some(cell) => match (cell.status, cell.median()) {
                    (CellStatus::Measured, Some(v)) => format::value(scenario.spec.unit, v),
                    (CellStatus::Unsupported, _) => "n/a".to_owned(),
                    (CellStatus::Unavailable, _) => "—".to_owned(),
                    _ => "failed".to_owned(),
                },
                None => "—".to_owned(),
            };
            let _ = write!(out, " {text} |");
        }
        let ratio = |reference| {
            scenario
                .ratio(PUSHWIRE, reference)
                .map(format::ratio)
                .unwrap_or_else(|| "—".to_owned())
        };
        let _ = writeln!(out, " {} | {} |", ratio(BUN), ratio(FASTWEBSOCKETS));
    }
    out
}

/// Rows: throughput scenarios; columns: every peer's server CPU per unit
/// of work and pushwire's ratios (pushwire's cost ÷ the reference's).
fn cpu_table(report: &RunReport) -> String {
    let mut out = String::new();
    let peers: Vec<&str> = report.peers.iter().map(|p| p.name.as_str()).collect();
    let _ = write!(out, "| scenario | per |");
    for peer in &peers {
        let _ = write!(out, " {peer} |");
    }
    let _ = writeln!(out, " pushwire ÷ bun | pushwire ÷ fastwebsockets |");
    let _ = write!(out, "|---|---|");
    for _ in &peers {
        out.push_str("---:|");
    }
    out.push_str("---:|---:|\n");
    let cost = |scenario: &ScenarioResult, peer: &str| {
        scenario
            .cell(peer)
            .filter(|c| c.status == CellStatus::Measured)
            .and_then(|c| c.server_cpu_us_per_work)
    };
    for scenario in report.scenarios.iter().filter(|s| s.higher_is_better) {
        let _ = write!(
            out,
            "| {} | {} |",
            scenario.spec.title,
            scenario.spec.unit.work_label()
        );
        for peer in &peers {
            let text = cost(scenario, peer)
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "—".to_owned());
            let _ = write!(out, " {text} |");
        }
        let ratio = |reference| match (cost(scenario, PUSHWIRE), cost(scenario, reference)) {
            (Some(p), Some(r)) if r > 0.0 => format::ratio(p / r),
            _ => "—".to_owned(),
        };
        let _ = writeln!(out, " {} | {} |", ratio(BUN), ratio(FASTWEBSOCKETS));
    }
    out
}

/// Issue 4's targets, each with what this run measured.
fn targets(report: &RunReport) -> String {
    let mut out = String::from("\n## Targets (issues 4 and 19)\n\n");
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    for scenario in report
        .scenarios
        .iter()
        .filter(|s| s.spec.group.id == "echo")
    {
        for (reference, goal) in [(BUN, 1.0), (FASTWEBSOCKETS, 1.2)] {
            if let Some(r) = scenario.ratio(PUSHWIRE, reference) {
                let _ = writeln!(
                    out,
                    "- echo {}: pushwire {} of {reference} (target ≥ {goal:.1}×): {}",
                    scenario.spec.title,
                    format::ratio(r),
                    verdict(r >= goal)
                );
            }
        }
    }
    for scenario in report
        .scenarios
        .iter()
        .filter(|s| s.spec.group.id == "idle-memory")
    {
        if let Some(v) = scenario.cell(PUSHWIRE).and_then(|c| c.median()) {
            let _ = writeln!(
                out,
                "- idle memory, {}: pushwire {} per connection (target ≤ 1,024 B): {}",
                scenario.spec.title,
                format::bytes(v),
                verdict(v <= 1024.0)
            );
        }
    }
    let plain = report
        .scenarios
        .iter()
        .find(|s| s.spec.group.id == "echo" && s.spec.id.contains("x1KiB"));
    let deflated = report
        .scenarios
        .iter()
        .find(|s| s.spec.group.id == "echo-deflate" && s.spec.id.contains("x1KiB"));
    if let (Some(p), Some(d)) = (
        plain
            .and_then(|s| s.cell(PUSHWIRE))
            .and_then(|c| c.median()),
        deflated
            .and_then(|s| s.cell(PUSHWIRE))
            .and_then(|c| c.median()),
    ) {
        let r = d / p;
        let _ = writeln!(
            out,
            "- deflate echo of 1 KiB JSON: pushwire {} of its uncompressed rate (target ≥ 0.5×): {}",
            format::ratio(r),
            verdict(r >= 0.5)
        );
    }
    out
}

/// One scenario: a row per peer with everything measured.
fn detail_table(scenario: &ScenarioResult) -> String {
    let mut out = String::new();
    let unit = scenario.spec.unit;
    let _ = writeln!(
        out,
        "### {} (`{}`)\n",
        scenario.spec.title, scenario.spec.id
    );
    let _ = writeln!(
        out,
        "| peer | median {} | min–max | × bun | × fastwebsockets | server CPU µs/{} | server CPU | generator CPU | errors | notes |",
        unit.label(),
        unit.work_label()
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for cell in &scenario.cells {
        let dash = || "—".to_owned();
        let (median, range) = match cell.summary {
            Some(s) => (
                format::value(unit, s.median),
                format!(
                    "{} – {}",
                    format::value(unit, s.min),
                    format::value(unit, s.max)
                ),
            ),
            None => (dash(), dash()),
        };
        let ratio = |reference| {
            scenario
                .ratio(&cell.peer, reference)
                .map(format::ratio)
                .unwrap_or_else(dash)
        };
        let percent = |v: Option<f64>| v.map(|p| format!("{p:.0}%")).unwrap_or_else(dash);
        let mut notes = Vec::new();
        match cell.status {
            CellStatus::Measured => {}
            CellStatus::Unsupported => notes.push("not supported".to_owned()),
            CellStatus::Unavailable => notes.push("not run".to_owned()),
            CellStatus::Failed => notes.push("failed".to_owned()),
        }
        if let Some(note) = &cell.note {
            notes.push(note.replace('|', "/"));
        }
        if scenario.spec.deflate {
            if let Some(ext) = &cell.extensions {
                notes.push(format!("`{}`", ext.replace('|', "/")));
            }
        }
        if cell.status == CellStatus::Measured
            && cell.generator_cpu_percent.unwrap_or(0.0) > 90.0
            && cell.server_cpu_percent.unwrap_or(100.0) < 85.0
        {
            notes.push("generator-bound?".to_owned());
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell.peer,
            median,
            range,
            ratio(BUN),
            ratio(FASTWEBSOCKETS),
            cell.server_cpu_us_per_work
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(dash),
            percent(cell.server_cpu_percent),
            percent(cell.generator_cpu_percent),
            cell.errors,
            notes.join("; ")
        );
    }
    out.push('\n');
    out
}
