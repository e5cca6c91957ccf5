//! Writing a [`RunReport`]: JSON, a markdown page and one SVG chart per
//! scenario group, all in the output directory.

mod format;
mod markdown;
mod metrics;
mod svg;

use std::path::{Path, PathBuf};

use crate::error::BenchError;
use crate::results::RunReport;

pub use markdown::summary_table;

/// Writes `results.json`, `results.md` and `<group>.svg` files into `dir`;
/// returns the paths written.
pub fn write_all(report: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let mut written = Vec::new();
    let mut write = |name: &str, contents: String| -> Result<(), BenchError> {
        let path = dir.join(name);
        std::fs::write(&path, contents)
            .map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
        written.push(path);
        Ok(())
    };
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| BenchError::Setup(format!("encoding the results as JSON: {e}")))?;
    write("results.json", json + "\n")?;
    for (group, chart) in svg::charts(report) {
        write(&format!("{group}.svg"), chart)?;
    }
    write("results.md", markdown::page(report))?;
    Ok(written)
}
