//! Span and metric capture for this project's tests: `redis_trace::testing` (what users get),
//! plus exact attribute-map comparisons.

use std::collections::BTreeMap;

use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
pub use redis_trace::testing::Telemetry as Capture;

/// Starts capturing: see [`redis_trace::testing::Telemetry::install`].
pub fn capture() -> Capture {
    Capture::install()
}

/// Normalizes an expected attribute map like [`attributes`] does.
pub fn normalized(expected: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    expected
        .into_iter()
        .map(|(key, value)| (key, comparable(value)))
        .collect()
}

/// The span's attributes by name, without `code.line.number` (checked by [`line_number`]).
pub fn attributes(span: &SpanData) -> BTreeMap<String, Value> {
    let mut attributes = redis_trace::testing::attributes(span);
    attributes.remove("code.line.number");
    attributes
}

/// `Value` compares static and owned strings as different; compare by content.
fn comparable(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(text.as_str().to_owned().into()),
        other => other,
    }
}

/// The span's `code.line.number`.
pub fn line_number(span: &SpanData) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == "code.line.number")
        .and_then(|kv| match kv.value {
            Value::I64(line) => Some(line),
            _ => None,
        })
}

/// Builds an expected attribute map: `expected([("db.system.name", "redis".into()), ...])`.
pub fn expected<const N: usize>(pairs: [(&str, Value); N]) -> BTreeMap<String, Value> {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), comparable(value)))
        .collect()
}

/// Asserts the span's attributes (all but `code.line.number`) are exactly `expected`.
#[track_caller]
pub fn assert_exact_attributes(span: &SpanData, expected: BTreeMap<String, Value>) {
    let expected = normalized(expected);
    assert_eq!(
        attributes(span),
        expected,
        "attributes of span {:?}",
        span.name
    );
}

/// A meter provider of its own, to hand to `redis_trace::use_meter_provider`, and a way to read
/// the sums it collected for one counter: what a provider installed later receives.
pub struct LaterMeterProvider {
    pub provider: opentelemetry_sdk::metrics::SdkMeterProvider,
    exporter: opentelemetry_sdk::metrics::InMemoryMetricExporter,
}

impl LaterMeterProvider {
    pub fn new() -> Self {
        let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
        let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter.clone()).build();
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(reader)
            .build();
        Self { provider, exporter }
    }

    /// The points of the counter `name`, collected now.
    pub fn sums(&self, name: &str) -> Vec<u64> {
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
        self.provider.force_flush().unwrap();
        self.exporter
            .get_finished_metrics()
            .unwrap()
            .iter()
            .flat_map(|resource| resource.scope_metrics())
            .flat_map(|scope| scope.metrics())
            .filter(|metric| metric.name() == name)
            .flat_map(|metric| match metric.data() {
                AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                    sum.data_points().map(|point| point.value()).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    }
}

impl Default for LaterMeterProvider {
    fn default() -> Self {
        Self::new()
    }
}
