//! The metrics tables: for a scenario whose runs carry extra numbers
//! ([`crate::scenarios::Metric`]: latency percentiles, bytes, rates), one
//! row per peer with the median of each over the runs; and the targets
//! of issue 4 that those numbers decide (fan-out p99 and deliveries/s).

use std::fmt::Write;

use crate::peers::{BUN, PUSHWIRE, PUSHWIRE_HUB, PUSHWIRE_HUB_REDIS};
use crate::results::{Cell, CellStatus, RunReport, ScenarioResult};
use crate::stats::Summary;

/// The median of metric `name` over a cell's runs.
pub fn median(cell: &Cell, name: &str) -> Option<f64> {
    let values: Vec<f64> = cell
        .samples
        .iter()
        .filter_map(|s| s.metrics.iter().find(|m| m.name == name))
        .map(|m| m.value)
        .collect();
    Summary::of(&values).map(|s| s.median)
}

/// The metrics table of one scenario, or nothing when it has none.
pub fn table(scenario: &ScenarioResult) -> String {
    let mut names: Vec<&str> = Vec::new();
    for sample in scenario.cells.iter().flat_map(|c| &c.samples) {
        for metric in &sample.metrics {
            if !names.contains(&metric.name) {
                names.push(metric.name);
            }
        }
    }
    if names.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = write!(out, "| peer |");
    for name in &names {
        let _ = write!(out, " {name} |");
    }
    out.push_str("\n|---|");
    for _ in &names {
        out.push_str("---:|");
    }
    out.push('\n');
    for cell in scenario
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Measured)
    {
        let _ = write!(out, "| {} |", cell.peer);
        for name in &names {
            let text = match median(cell, name) {
                Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
                Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
                Some(v) => format!("{v:.3}"),
                None => "—".to_owned(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push_str("\n(medians over the runs)\n\n");
    out
}

/// Issue 4's fan-out target lines: p99 ≤ 20 ms at 100 pub/s to 15,000
/// subscribers, and deliveries/s ≥ Bun's `server.publish`; then issue
/// 19's for the hub ([`hub_targets`]).
pub fn targets(report: &RunReport) -> String {
    let mut out = String::new();
    out.push_str(&hub_targets(report));
    out.push_str(&redis_ratios(report));
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    for scenario in report
        .scenarios
        .iter()
        .filter(|s| s.spec.group.id == "fanout")
    {
        let Some(cell) = scenario.cell(PUSHWIRE) else {
            continue;
        };
        if scenario.spec.id.ends_with("-100ps") {
            if let Some(p99) = median(cell, "p99 ms") {
                let _ = writeln!(
                    out,
                    "- fan-out, {}: pushwire p99 {p99:.1} ms (target ≤ 20 ms): {}",
                    scenario.spec.title,
                    verdict(p99 <= 20.0)
                );
            }
        }
        if let Some(r) = scenario.ratio(PUSHWIRE, BUN) {
            let _ = writeln!(
                out,
                "- fan-out, {}: pushwire {r:.2}× Bun's deliveries/s (target ≥ 1.0×): {}",
                scenario.spec.title,
                verdict(r >= 0.995)
            );
        }
    }
    out
}

/// Issue 19's hub fan-out targets, from the same run: deliveries/s ≥ 0.9×
/// `pushwire echo --broadcast`'s and ≥ 1.0× Bun's, p99 ≤ 1.2× the
/// broadcast endpoint's; and the publish API's ≥ 100,000 publications/s,
/// with its ratio to Bun's minimal publish API.
pub fn hub_targets(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    for scenario in report
        .scenarios
        .iter()
        .filter(|s| s.spec.group.id == "hub-fanout")
    {
        let title = &scenario.spec.title;
        if let Some(r) = scenario.ratio(PUSHWIRE_HUB, PUSHWIRE) {
            let _ = writeln!(
                out,
                "- hub fan-out, {title}: hub {r:.2}× `pushwire echo --broadcast`'s deliveries/s \
                 (target ≥ 0.9×): {}",
                verdict(r >= 0.895)
            );
        }
        if let Some(r) = scenario.ratio(PUSHWIRE_HUB, BUN) {
            let _ = writeln!(
                out,
                "- hub fan-out, {title}: hub {r:.2}× Bun's deliveries/s (target ≥ 1.0×): {}",
                verdict(r >= 0.995)
            );
        }
        let p99 = |peer| scenario.cell(peer).and_then(|cell| median(cell, "p99 ms"));
        if let (Some(hub), Some(broadcast)) = (p99(PUSHWIRE_HUB), p99(PUSHWIRE)) {
            let r = hub / broadcast;
            let _ = writeln!(
                out,
                "- hub fan-out, {title}: hub p99 {hub:.1} ms, `echo --broadcast` p99 {broadcast:.1} ms: \
                 {r:.2}× (target ≤ 1.2×): {}",
                verdict(r <= 1.2)
            );
        }
    }
    for scenario in report
        .scenarios
        .iter()
        .filter(|s| s.spec.id.starts_with("hub-api-publish"))
    {
        let Some(hub) = scenario.cell(PUSHWIRE_HUB).and_then(|c| c.median()) else {
            continue;
        };
        let _ = write!(
            out,
            "- publish API, {}: hub {}/s (target ≥ 100,000/s): {}",
            scenario.spec.title,
            crate::report::format::count(hub),
            verdict(hub >= 100_000.0)
        );
        if let Some(r) = scenario.ratio(PUSHWIRE_HUB, BUN) {
            let _ = write!(out, "; {r:.2}× Bun's minimal publish API in the same run");
        }
        out.push('\n');
    }
    out
}

/// Issue 21's side-by-side lines: the hub on Redis (two nodes and a
/// `redis-server`) against the single in-memory node of the same run, in
/// fan-out (deliveries/s, p99, Redis CPU per publication) and through the
/// publish API (publications/s per node, Redis CPU per publication).
pub fn redis_ratios(report: &RunReport) -> String {
    let mut out = String::new();
    for scenario in report
        .scenarios
        .iter()
        .filter(|s| matches!(s.spec.group.id, "hub-fanout" | "hub-api"))
    {
        let title = &scenario.spec.title;
        let unit = scenario.unit_label;
        let Some(redis) = scenario.cell(PUSHWIRE_HUB_REDIS) else {
            continue;
        };
        if let Some(r) = scenario.ratio(PUSHWIRE_HUB_REDIS, PUSHWIRE_HUB) {
            let _ = write!(
                out,
                "- hub on Redis, {title}: {r:.2}× the single node's {unit}"
            );
            let p99 = |peer| scenario.cell(peer).and_then(|cell| median(cell, "p99 ms"));
            if let (Some(on_redis), Some(single)) = (p99(PUSHWIRE_HUB_REDIS), p99(PUSHWIRE_HUB)) {
                let _ = write!(
                    out,
                    "; p99 {on_redis:.1} ms against {single:.1} ms ({:.2}×)",
                    on_redis / single
                );
            }
            if let Some(us) = median(redis, "Redis CPU µs/pub") {
                let _ = write!(out, "; Redis CPU {us:.1} µs per publication");
                if let Some(over) = median(redis, "Redis CPU µs/pub over idle") {
                    let _ = write!(out, " ({over:.1} µs above its idle rate)");
                }
            }
            out.push('\n');
        }
    }
    out
}
