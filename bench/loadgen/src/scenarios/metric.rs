//! A named number of a run beyond its main value (a latency percentile,
//! bytes per message, the publication rate reached), reported in a table
//! of its own next to the scenario's main table.

use serde::Serialize;

use crate::clients::latency::Histogram;

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

/// The metrics of a delivery scenario (fan-out, long polling): latency
/// mean and percentiles, the publication rate reached, and the share of
/// the `expected` deliveries that arrived.
pub fn delivery_metrics(
    latency: &Histogram,
    published: u64,
    deliveries: u64,
    expected: f64,
    wall_secs: f64,
) -> Vec<Metric> {
    let delivered = if expected > 0.0 {
        deliveries as f64 / expected * 100.0
    } else {
        f64::NAN
    };
    vec![
        Metric::new("mean ms", latency.mean_ms()),
        Metric::new("p50 ms", latency.quantile_ms(0.5)),
        Metric::new("p99 ms", latency.quantile_ms(0.99)),
        Metric::new("max ms", latency.max_ms()),
        Metric::new("pub/s sent", published as f64 / wall_secs),
        Metric::new("delivered %", delivered),
    ]
}
