//! The analyzer's metrics: one `prometheus-client` registry that every stage registers into,
//! encoded by the library as the Prometheus text format (`GET /metrics`). No stage writes
//! exposition text itself.
//!
//! Counters stay where they are counted (atomics in each stage's counter struct, cheap on the
//! hot path); at a scrape each stage adds a [`Snapshot`] of them to the registry. Latencies are
//! [`Histogram`]s in seconds that the stages observe into directly. `agentsight_build_info`
//! names the version that answers.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// Every metric's name starts with this (and an underscore).
pub const PREFIX: &str = "agentsight";

/// Bucket bounds, in seconds, of every latency histogram: from a millisecond (an index add) to a
/// minute (a judge request to a slow model).
pub const LATENCY_BUCKETS: [f64; 15] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A latency histogram with [`LATENCY_BUCKETS`].
pub fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A latency histogram ([`LATENCY_BUCKETS`]) that a stage's `#[derive(Default)]` counters can
/// hold; clones share their counts.
#[derive(Debug, Clone)]
pub struct Latency(Histogram);

impl Default for Latency {
    fn default() -> Self {
        Latency(latency())
    }
}

impl Latency {
    pub fn observe(&self, d: std::time::Duration) {
        self.0.observe(d.as_secs_f64());
    }

    /// Registers this histogram as `{name}` (give it in seconds: `…_seconds`).
    pub fn register(&self, registry: &mut Registry, name: &'static str, help: &'static str) {
        registry.register(name, help.trim_end_matches('.'), self.0.clone());
    }
}

/// A registry with the prefix and `build_info`, for the stages to register into.
pub fn registry() -> Registry {
    let mut r = Registry::with_prefix(PREFIX);
    r.register("build", "The version of AgentSight answering", Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]));
    r
}

/// The registry in the Prometheus text format (version 0.0.4).
pub fn text(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; an encoder error would be a bug in a metric's labels.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

/// A stage's counters and gauges as read at one scrape: a [`Collector`] the stage registers.
/// Names are given without the prefix, and counters without `_total` (the encoder adds it).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    families: Vec<Family>,
}

#[derive(Debug, Clone)]
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    /// The labels' names; empty for one sample without labels.
    labels: &'static [&'static str],
    /// Label values (as many as `labels`) and the value.
    samples: Vec<(Vec<String>, u64)>,
}

impl Snapshot {
    pub fn counter(self, name: &'static str, help: &'static str, value: u64) -> Self {
        self.family(name, help, true, &[], [(Vec::new(), value)])
    }

    /// One counter per combination of `labels`' values.
    pub fn counters(
        self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        samples: impl IntoIterator<Item = (Vec<String>, u64)>,
    ) -> Self {
        self.family(name, help, true, labels, samples)
    }

    pub fn gauge(self, name: &'static str, help: &'static str, value: u64) -> Self {
        self.family(name, help, false, &[], [(Vec::new(), value)])
    }

    /// One gauge per combination of `labels`' values.
    pub fn gauges(
        self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        samples: impl IntoIterator<Item = (Vec<String>, u64)>,
    ) -> Self {
        self.family(name, help, false, labels, samples)
    }

    fn family(
        mut self,
        name: &'static str,
        help: &'static str,
        counter: bool,
        labels: &'static [&'static str],
        samples: impl IntoIterator<Item = (Vec<String>, u64)>,
    ) -> Self {
        let samples = samples.into_iter().collect();
        // The encoder ends every help text with a period.
        let help = help.trim_end_matches('.');
        self.families.push(Family { name, help, counter, labels, samples });
        self
    }

    /// Adds these samples to `registry`.
    pub fn register(self, registry: &mut Registry) {
        registry.register_collector(Box::new(self));
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let kind = if f.counter { MetricType::Counter } else { MetricType::Gauge };
            let mut metric = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            if f.labels.is_empty() {
                if let Some((_, value)) = f.samples.first() {
                    sample(metric, f.counter, *value)?;
                }
                continue;
            }
            for (values, value) in &f.samples {
                let labels: Vec<(&str, &str)> =
                    f.labels.iter().copied().zip(values.iter().map(String::as_str)).collect();
                sample(metric.encode_family(&labels)?, f.counter, *value)?;
            }
        }
        Ok(())
    }
}

/// One label value, for [`Snapshot::counters`] and [`Snapshot::gauges`].
pub fn label(v: impl Into<String>) -> Vec<String> {
    vec![v.into()]
}

fn sample(m: MetricEncoder<'_>, counter: bool, value: u64) -> Result<(), std::fmt::Error> {
    match counter {
        true => ConstCounter::new(value).encode(m),
        false => ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_snapshots_and_histograms_encode_as_prometheus_text() {
        let mut r = registry();
        Snapshot::default()
            .counter("windows_received", "Windows received.", 3)
            .counters("dropped", "Things not processed, by reason.", &["reason"], [(label("judge_queue_full"), 1)])
            .gauges("tokens_today", "Tokens spent today.", &["direction"], [(label("input"), 10), (label("output"), 2)])
            .counters("findings", "Findings.", &["kind", "detector"], [(vec!["loop".into(), "exact_repeat".into()], 4)])
            .register(&mut r);
        let h = latency();
        h.observe(0.2);
        r.register("ingest_seconds", "Time to ingest a batch.", h);
        let t = text(&r);
        for line in [
            "agentsight_build_info{version=\"",
            "# TYPE agentsight_windows_received_total counter\nagentsight_windows_received_total 3\n",
            "agentsight_dropped_total{reason=\"judge_queue_full\"} 1\n",
            "# TYPE agentsight_tokens_today gauge\n",
            "agentsight_tokens_today{direction=\"output\"} 2\n",
            "agentsight_findings_total{kind=\"loop\",detector=\"exact_repeat\"} 4\n",
            "# TYPE agentsight_ingest_seconds histogram\n",
            "agentsight_ingest_seconds_bucket{le=\"0.25\"} 1\n",
            "agentsight_ingest_seconds_bucket{le=\"0.1\"} 0\n",
            "agentsight_ingest_seconds_count 1\n",
        ] {
            assert!(t.contains(line), "{line:?} missing from\n{t}");
        }
    }
}
