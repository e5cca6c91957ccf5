//! SVG bar charts, written by hand (a few dozen elements need no plotting
//! library or font files): one chart per scenario group, one panel per
//! scenario, one bar per peer with its min–max whisker. Each panel has its
//! own linear scale starting at zero.

use std::fmt::Write;

use super::format;
use crate::peers::PUSHWIRE;
use crate::results::{CellStatus, RunReport, ScenarioResult};

const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 150.0;
const VALUE_WIDTH: f64 = 120.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 6.0;
const PANEL_TITLE: f64 = 26.0;
const PANEL_GAP: f64 = 18.0;
const TOP: f64 = 40.0;

/// (group id, SVG text) for every group in the report.
pub fn charts(report: &RunReport) -> Vec<(String, String)> {
    let mut groups = Vec::new();
    for scenario in &report.scenarios {
        if !groups.contains(&scenario.spec.group) {
            groups.push(scenario.spec.group);
        }
    }
    groups
        .into_iter()
        .map(|group| {
            let panels: Vec<&ScenarioResult> = report
                .scenarios
                .iter()
                .filter(|s| s.spec.group == group)
                .collect();
            (group.id.to_owned(), chart(group.title, &panels))
        })
        .collect()
}

fn chart(title: &str, panels: &[&ScenarioResult]) -> String {
    let panel_height = |p: &ScenarioResult| {
        PANEL_TITLE + p.cells.len() as f64 * (BAR_HEIGHT + BAR_GAP) + PANEL_GAP
    };
    let height = TOP + panels.iter().map(|p| panel_height(p)).sum::<f64>() + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let mut y = TOP;
    for panel in panels {
        draw_panel(&mut out, panel, y);
        y += panel_height(panel);
    }
    out.push_str("</svg>\n");
    out
}

fn draw_panel(out: &mut String, scenario: &ScenarioResult, top: f64) {
    let unit = scenario.spec.unit;
    let better = if scenario.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let _ = writeln!(
        out,
        r##"<text x="10" y="{}" font-weight="bold">{} <tspan font-weight="normal" fill="#555">({}, {better})</tspan></text>"##,
        top + 16.0,
        escape(&scenario.spec.title),
        unit.label()
    );
    let scale_max = scenario
        .cells
        .iter()
        .filter_map(|c| c.summary.map(|s| s.max.max(s.median)))
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let bar_space = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20.0;
    let x0 = LABEL_WIDTH + 10.0;
    for (row, cell) in scenario.cells.iter().enumerate() {
        let y = top + PANEL_TITLE + row as f64 * (BAR_HEIGHT + BAR_GAP);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL_WIDTH,
            y + BAR_HEIGHT * 0.75,
            escape(&cell.peer)
        );
        let summary = match (cell.status, cell.summary) {
            (CellStatus::Measured, Some(summary)) => summary,
            (status, _) => {
                let why = match status {
                    CellStatus::Unsupported => "n/a (not supported)",
                    CellStatus::Unavailable => "not run",
                    _ => "failed",
                };
                let _ = writeln!(
                    out,
                    r##"<text x="{x0}" y="{}" fill="#888">{why}</text>"##,
                    y + BAR_HEIGHT * 0.75
                );
                continue;
            }
        };
        let width = |v: f64| (v.max(0.0) / scale_max * bar_space).max(0.5);
        let color = if cell.peer == PUSHWIRE {
            "#e8590c"
        } else {
            "#4263eb"
        };
        let _ = writeln!(
            out,
            r#"<rect x="{x0}" y="{y}" width="{:.1}" height="{BAR_HEIGHT}" fill="{color}"/>"#,
            width(summary.median)
        );
        let whisker_y = y + BAR_HEIGHT / 2.0;
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{whisker_y}" x2="{:.1}" y2="{whisker_y}" stroke="#222" stroke-width="1.5"/>"##,
            x0 + width(summary.min),
            x0 + width(summary.max)
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}">{}</text>"#,
            x0 + width(summary.max.max(summary.median)) + 6.0,
            y + BAR_HEIGHT * 0.75,
            escape(&format::value(unit, summary.median))
        );
    }
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
