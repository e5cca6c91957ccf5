//! The hub's metrics in the Prometheus text format (0.0.4), encoded by
//! the `prometheus-client` crate: [`Hub::metrics_text`], which
//! `pushwire serve` answers `GET /metrics` with and an application that
//! embeds the hub can serve on a route of its own.
//!
//! A scrape reads the values of the moment into a fresh registry: the
//! hub core's [`Stats`] (asked of the driver), the transports' gauges and
//! the driver's round times ([`Metrics`]), and the HTTP server's
//! [`StatsSnapshot`]. Every name starts with `pushwire_`; counters end
//! in `_total`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};
use pushwire_hub::Stats;

use super::metrics::{Metrics, TransportKind};
use super::Hub;
use crate::http::stats::{ServerStats, StatsSnapshot};

/// One label, e.g. `transport="websocket"`.
type Label = [(&'static str, &'static str); 1];

impl Hub {
    /// The `Content-Type` of [`Hub::metrics_text`]: the Prometheus text
    /// format, version 0.0.4.
    pub const METRICS_CONTENT_TYPE: &'static str = prometheus_text::CONTENT_TYPE;

    /// The hub's metrics in the Prometheus text format, for a
    /// `GET /metrics` route (with [`Hub::METRICS_CONTENT_TYPE`]); with
    /// `server`, the HTTP server's counters too.
    ///
    /// - the hub's counters and gauges ([`Stats`]): `pushwire_connections`,
    ///   `pushwire_subscriptions`, `pushwire_channels`,
    ///   `pushwire_publications_total`, `pushwire_deliveries_total`,
    ///   `pushwire_queue_drops_total`, `pushwire_slow_disconnects_total`…;
    /// - connections by transport: `pushwire_transport_connections{transport="websocket"}`
    ///   (also `uni_websocket`, `uni_sse`, `uni_http_stream`, `http_stream`, `sse`) and
    ///   `pushwire_transport_connections_opened_total`;
    /// - `pushwire_hub_round_duration_seconds`, a histogram of the time
    ///   the hub's task spends per round: the client commands, API calls
    ///   and closes it took in one go (up to 256), the timers that were
    ///   due, and moving output to the connections;
    /// - `pushwire_hub_command_duration_seconds{method="subscribe"}` and
    ///   `pushwire_hub_api_duration_seconds{method="publish"}`, histograms
    ///   of the hub's own time per client command and per API call;
    /// - with `server`: `pushwire_http_connections_total`,
    ///   `pushwire_http_requests_total{protocol="http1"}`,
    ///   `pushwire_websocket_handshakes_total{protocol="http2"}`…
    ///
    /// ```no_run
    /// # async fn demo(hub: pushwire::hub::Hub) {
    /// let text = hub.metrics_text(None).await;
    /// assert!(text.contains("pushwire_connections "));
    /// # }
    /// ```
    pub async fn metrics_text(&self, server: Option<&ServerStats>) -> String {
        let stats = self.stats().await;
        let server = server.map(ServerStats::snapshot);
        encode(stats.as_ref(), &self.handle.metrics, server.as_ref())
    }
}

/// The text of one scrape. Without `stats` (the hub is stopping), the
/// hub core's part is left out.
pub(crate) fn encode(
    stats: Option<&Stats>,
    metrics: &Metrics,
    server: Option<&StatsSnapshot>,
) -> String {
    let mut registry = Registry::with_prefix("pushwire");
    if let Some(stats) = stats {
        register_stats(&mut registry, stats);
    }
    register_transports(&mut registry, metrics);
    registry.register_with_unit(
        "hub_round_duration",
        "Time the hub's task spends per round: the commands taken in one go (up to 256), due timers, and moving output to connections",
        Unit::Seconds,
        metrics.rounds(),
    );
    registry.register_with_unit(
        "hub_command_duration",
        "Time the hub takes per client command, by method (its own work, not the transport's)",
        Unit::Seconds,
        metrics.commands.client.family(),
    );
    registry.register_with_unit(
        "hub_api_duration",
        "Time the hub takes per server API call, by method (its own work, not the HTTP request's)",
        Unit::Seconds,
        metrics.commands.api.family(),
    );
    if let Some(server) = server {
        register_server(&mut registry, server);
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_text::encode(&mut text, &registry);
    text
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: u64) {
    registry.register(name, help, ConstGauge::new(value));
}

/// `name` without `_total`: the encoder appends it.
fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    registry.register(name, help, ConstCounter::new(value));
}

fn register_stats(registry: &mut Registry, s: &Stats) {
    gauge(
        registry,
        "connections",
        "Hub connections open now, any transport",
        s.connections,
    );
    counter(
        registry,
        "connections_opened",
        "Hub connections opened (transports)",
        s.connections_opened_total,
    );
    counter(
        registry,
        "connects",
        "Connections authenticated (connect accepted)",
        s.connects_total,
    );
    gauge(
        registry,
        "subscriptions",
        "Subscriptions now, all connections",
        s.subscriptions,
    );
    gauge(
        registry,
        "channels",
        "Channels with at least one subscriber now",
        s.channels,
    );
    counter(
        registry,
        "commands",
        "Client commands processed",
        s.commands_total,
    );
    counter(
        registry,
        "publications",
        "Publications accepted, from clients and the server API",
        s.publications_total,
    );
    counter(
        registry,
        "deliveries",
        "Publications queued to subscribers",
        s.deliveries_total,
    );
    counter(
        registry,
        "queue_drops",
        "Publications dropped from full queues (drop_oldest) or replaced (latest_only)",
        s.queue_drops_total,
    );
    counter(
        registry,
        "slow_disconnects",
        "Connections closed with 3008 slow (queue over its bound)",
        s.slow_disconnects_total,
    );
    counter(
        registry,
        "disconnects",
        "Disconnects decided by the hub, any code",
        s.disconnects_total,
    );
    counter(
        registry,
        "link_breaks",
        "Channels whose Redis stream this node stopped trusting (a gap, a new epoch, a failed position check, a lost connection): their subscribers recovered",
        s.link_breaks_total,
    );
}

fn register_transports(registry: &mut Registry, metrics: &Metrics) {
    let open = Family::<Label, Gauge<u64, AtomicU64>>::default();
    let opened = Family::<Label, Counter>::default();
    for kind in TransportKind::ALL {
        let label = [("transport", kind.label())];
        open.get_or_create(&label).set(metrics.open_now(kind));
        opened
            .get_or_create(&label)
            .inc_by(metrics.opened_total(kind));
    }
    registry.register(
        "transport_connections",
        "Hub connections open now, by transport",
        open,
    );
    registry.register(
        "transport_connections_opened",
        "Hub connections opened, by transport",
        opened,
    );
}

fn register_server(registry: &mut Registry, s: &StatsSnapshot) {
    counter(
        registry,
        "http_connections",
        "TCP connections accepted",
        s.connections,
    );
    gauge(
        registry,
        "http_open_connections",
        "TCP connections served now (not counting those that became WebSockets)",
        s.open_connections,
    );
    counter(
        registry,
        "http_refused_connections",
        "Connections refused over the connection limits (503 or 429)",
        s.refused_connections,
    );
    counter(
        registry,
        "tls_handshake_failures",
        "TLS handshakes that failed or timed out",
        s.tls_handshake_failures,
    );
    let requests = Family::<Label, Counter>::default();
    requests
        .get_or_create(&[("protocol", "http1")])
        .inc_by(s.h1_requests);
    requests
        .get_or_create(&[("protocol", "http2")])
        .inc_by(s.h2_requests);
    registry.register(
        "http_requests",
        "HTTP requests received, by protocol",
        requests,
    );
    let handshakes = Family::<Label, Counter>::default();
    handshakes
        .get_or_create(&[("protocol", "http1")])
        .inc_by(s.h1_upgrades);
    handshakes
        .get_or_create(&[("protocol", "http2")])
        .inc_by(s.extended_connects);
    registry.register(
        "websocket_handshakes",
        "WebSockets accepted: HTTP/1.1 Upgrade (http1) or HTTP/2 extended CONNECT (http2)",
        handshakes,
    );
    gauge(
        registry,
        "open_websockets",
        "WebSockets open now, any route and protocol",
        s.open_websockets,
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// `name{labels} value` per sample line; `# HELP`/`# TYPE` otherwise.
    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let (name, value) = line.rsplit_once(' ').expect("name and value");
                let bare = name.split('{').next().unwrap();
                assert!(
                    bare.starts_with("pushwire_")
                        && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                if let Some(labels) = name.strip_prefix(bare) {
                    assert!(
                        labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}'))
                    );
                }
                let value = if value == "+Inf" {
                    f64::INFINITY
                } else {
                    value.parse().expect(line)
                };
                (name.to_string(), value)
            })
            .collect()
    }

    fn value(samples: &[(String, f64)], name: &str) -> f64 {
        samples
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .1
    }

    #[test]
    fn every_source_is_encoded_with_its_type() {
        let mut stats = Stats::default();
        stats.connections = 2;
        stats.publications_total = 7;
        stats.slow_disconnects_total = 1;
        let metrics = Metrics::default();
        metrics.opened(TransportKind::UniSse);
        metrics.round(Duration::from_micros(40));
        let server = StatsSnapshot {
            h1_requests: 3,
            extended_connects: 1,
            ..StatsSnapshot::default()
        };
        let text = encode(Some(&stats), &metrics, Some(&server));
        let samples = samples(&text);
        assert_eq!(value(&samples, "pushwire_connections"), 2.0);
        assert_eq!(value(&samples, "pushwire_publications_total"), 7.0);
        assert_eq!(value(&samples, "pushwire_slow_disconnects_total"), 1.0);
        assert_eq!(
            value(
                &samples,
                r#"pushwire_transport_connections{transport="uni_sse"}"#
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                r#"pushwire_transport_connections{transport="websocket"}"#
            ),
            0.0
        );
        assert_eq!(
            value(
                &samples,
                r#"pushwire_transport_connections_opened_total{transport="uni_sse"}"#
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                r#"pushwire_http_requests_total{protocol="http1"}"#
            ),
            3.0
        );
        assert_eq!(
            value(
                &samples,
                r#"pushwire_websocket_handshakes_total{protocol="http2"}"#
            ),
            1.0
        );
        assert_eq!(
            value(&samples, "pushwire_hub_round_duration_seconds_count"),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                r#"pushwire_hub_round_duration_seconds_bucket{le="+Inf"}"#
            ),
            1.0
        );
        assert!(
            text.contains("# TYPE pushwire_publications_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE pushwire_connections gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE pushwire_hub_round_duration_seconds histogram\n"),
            "{text}"
        );
        for family in ["command", "api"] {
            assert!(
                text.contains(&format!(
                    "# TYPE pushwire_hub_{family}_duration_seconds histogram\n"
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn a_stopping_hub_and_no_server_leave_their_parts_out() {
        let text = encode(None, &Metrics::default(), None);
        assert!(!text.contains("pushwire_publications_total"), "{text}");
        assert!(!text.contains("pushwire_http_requests_total"), "{text}");
        assert!(text.contains("pushwire_transport_connections{"), "{text}");
    }
}
