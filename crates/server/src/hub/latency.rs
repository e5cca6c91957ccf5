//! How long the hub takes per command: each client command by its method
//! and each server API call by its method, as Prometheus histograms
//! (`pushwire_hub_command_duration_seconds{method}`,
//! `pushwire_hub_api_duration_seconds{method}`). The driver times the
//! hub's own work on the command, not the transport around it.

use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use pushwire_hub::protocol::Method;

/// The upper bounds (seconds) of the buckets: 1 µs to 100 ms.
const BUCKETS: [f64; 13] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1,
];

/// A histogram's `method` label.
pub(crate) type MethodLabel = [(&'static str, &'static str); 1];

/// Histograms by method.
pub(crate) type ByMethod = Family<MethodLabel, Histogram, fn() -> Histogram>;

/// One family of histograms by method, with a handle per known method so
/// that timing a command looks nothing up in the family's map.
#[derive(Debug)]
pub(crate) struct MethodTimes {
    family: ByMethod,
    handles: Vec<(&'static str, Histogram)>,
}

impl MethodTimes {
    fn new(methods: &[&'static str]) -> Self {
        let family = ByMethod::new_with_constructor(|| Histogram::new(BUCKETS));
        let handles = methods
            .iter()
            .map(|&method| (method, family.get_or_create(&[("method", method)]).clone()))
            .collect();
        MethodTimes { family, handles }
    }

    /// `method` took `elapsed`; an unknown method is not counted.
    pub(crate) fn observe(&self, method: &str, elapsed: Duration) {
        if let Some((_, histogram)) = self.handles.iter().find(|(m, _)| *m == method) {
            histogram.observe(elapsed.as_secs_f64());
        }
    }

    /// The family, for a scrape (shares its counts).
    pub(crate) fn family(&self) -> ByMethod {
        self.family.clone()
    }
}

/// The hub's command timings.
#[derive(Debug)]
pub(crate) struct CommandTimes {
    /// Client protocol commands, by [`Method::name`].
    pub(crate) client: MethodTimes,
    /// Server API calls, by `/api/<method>`.
    pub(crate) api: MethodTimes,
}

impl Default for CommandTimes {
    fn default() -> Self {
        CommandTimes {
            client: MethodTimes::new(&Method::NAMES),
            api: MethodTimes::new(&pushwire_hub::api::METHODS),
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn known_methods_are_timed_and_unknown_ones_left_out() {
        let times = CommandTimes::default();
        times.client.observe("subscribe", Duration::from_micros(3));
        times.client.observe("subscribe", Duration::from_micros(30));
        times.client.observe("no_such", Duration::from_micros(3));
        times.api.observe("publish", Duration::from_millis(2));
        let mut registry = Registry::default();
        registry.register("command_duration", "", times.client.family());
        registry.register("api_duration", "", times.api.family());
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"command_duration_count{method="subscribe"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"command_duration_bucket{le="0.000005",method="subscribe"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"api_duration_count{method="publish"} 1"#),
            "{text}"
        );
        assert!(!text.contains("no_such"));
        // Every known method is listed from the start, at zero.
        assert!(text.contains(r#"command_duration_count{method="sub_refresh"} 0"#));
        assert!(text.contains(r#"api_duration_count{method="batch"} 0"#));
    }
}
