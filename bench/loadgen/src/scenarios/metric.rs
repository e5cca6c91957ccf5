//! A named number of a run beyond its main value (a latency percentile,
//! bytes per message, the publication rate reached), reported in a table
//! of its own next to the scenario's main table.

use serde::Serialize;

/// One extra number of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// Column heading, with its unit (`p99 ms`).
    pub name: &'static str,
    /// The value.
    pub value: f64,
}

impl Metric {
    /// A metric called `name`.
    pub fn new(name: &'static str, value: f64) -> Self {
        Metric { name, value }
    }
}
