//! Captures spans with the OpenTelemetry SDK's in-memory exporter.
//!
//! One tracer provider per test binary, installed before any traced call. Tests that capture
//! take a process-wide lock, so spans and process-wide settings of one test never mix with
//! another's.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider,
    Temporality,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

static LOCK: Mutex<()> = Mutex::new(());
static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

#[derive(Clone)]
struct Pipeline {
    tracer_provider: SdkTracerProvider,
    spans: InMemorySpanExporter,
    meter_provider: SdkMeterProvider,
    metrics: InMemoryMetricExporter,
}

/// Exclusive access to the captured spans and metrics for the duration of one test.
pub struct Capture {
    _exclusive: MutexGuard<'static, ()>,
    pipeline: Pipeline,
    /// Metric points flushed so far in this test.
    points: std::cell::RefCell<Vec<(String, MetricPoint)>>,
}

/// Starts capturing: installs the providers (once), clears earlier spans, metrics and the
/// process-wide configuration.
pub fn capture() -> Capture {
    let exclusive = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let pipeline = PIPELINE
        .get_or_init(|| {
            let spans = InMemorySpanExporter::default();
            let tracer_provider = SdkTracerProvider::builder()
                .with_simple_exporter(spans.clone())
                .build();
            opentelemetry::global::set_tracer_provider(tracer_provider.clone());
            // Delta: each flush holds only what happened since the previous one.
            let metrics = InMemoryMetricExporterBuilder::new()
                .with_temporality(Temporality::Delta)
                .build();
            let reader = PeriodicReader::builder(metrics.clone())
                .with_interval(std::time::Duration::from_secs(3600))
                .build();
            let meter_provider = SdkMeterProvider::builder().with_reader(reader).build();
            opentelemetry::global::set_meter_provider(meter_provider.clone());
            Pipeline {
                tracer_provider,
                spans,
                meter_provider,
                metrics,
            }
        })
        .clone();
    redis_trace::ConfigBuilder::default().install();
    redis_trace::clear_default_endpoint();
    let capture = Capture {
        _exclusive: exclusive,
        pipeline,
        points: std::cell::RefCell::default(),
    };
    capture.clear();
    capture
}

impl Capture {
    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        self.pipeline
            .spans
            .get_finished_spans()
            .expect("in-memory exporter")
    }

    /// The data points recorded for the metric `name` since the start of the test (or the last
    /// [`Capture::clear`]), sorted by attributes.
    pub fn metric_points(&self, name: &str) -> Vec<MetricPoint> {
        let flushed = self.flush_metrics();
        let mut points = self.points.borrow_mut();
        points.extend(flushed);
        let mut matching: Vec<MetricPoint> = points
            .iter()
            .filter(|(metric, _)| metric == name)
            .map(|(_, point)| point.clone())
            .collect();
        matching.sort_by_key(|point| format!("{:?}", point.attributes));
        matching
    }

    /// Flushes the meter provider and takes what it exported.
    fn flush_metrics(&self) -> Vec<(String, MetricPoint)> {
        self.pipeline
            .meter_provider
            .force_flush()
            .expect("flush metrics");
        let exported = self
            .pipeline
            .metrics
            .get_finished_metrics()
            .expect("in-memory exporter");
        self.pipeline.metrics.reset();
        let mut points = Vec::new();
        for resource in &exported {
            for scope in resource.scope_metrics() {
                for metric in scope.metrics() {
                    let name = metric.name().to_owned();
                    let unit = metric.unit().to_owned();
                    match metric.data() {
                        AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                            points.extend(histogram.data_points().map(|point| {
                                let point = MetricPoint {
                                    attributes: attribute_map(point.attributes()),
                                    value: point.count(),
                                    bounds: point.bounds().collect(),
                                    unit: unit.clone(),
                                };
                                (name.clone(), point)
                            }));
                        }
                        AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                            // An observable counter reports a zero delta for an attribute set
                            // that did not change since the last flush: no requests.
                            let changed = sum.data_points().filter(|point| point.value() > 0);
                            points.extend(changed.map(|point| {
                                let point = MetricPoint {
                                    attributes: attribute_map(point.attributes()),
                                    value: point.value(),
                                    bounds: Vec::new(),
                                    unit: unit.clone(),
                                };
                                (name.clone(), point)
                            }));
                        }
                        other => panic!("unexpected data for {name}: {other:?}"),
                    }
                }
            }
        }
        points
    }

    /// The one finished span named `name`; fails when there is none or more than one.
    pub fn span(&self, name: &str) -> SpanData {
        let mut matching: Vec<SpanData> = self
            .spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        let names: Vec<String> = self.spans().iter().map(|s| s.name.to_string()).collect();
        assert_eq!(
            matching.len(),
            1,
            "expected one span named {name:?}, finished spans: {names:?}"
        );
        matching.remove(0)
    }

    /// Forgets the spans and metrics captured so far.
    pub fn clear(&self) {
        self.pipeline.spans.reset();
        self.flush_metrics();
        self.points.borrow_mut().clear();
    }

    /// The SDK provider the spans go to (for test-made parent spans).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.pipeline.tracer_provider
    }
}

/// One exported metric data point.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    /// Its attributes (string values compared by content).
    pub attributes: BTreeMap<String, Value>,
    /// A counter's sum or a histogram's count.
    pub value: u64,
    /// A histogram's bucket boundaries.
    pub bounds: Vec<f64>,
    /// The instrument's unit.
    pub unit: String,
}

fn attribute_map<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, Value> {
    attributes
        .map(|kv| (kv.key.to_string(), comparable(kv.value.clone())))
        .collect()
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
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str() != "code.line.number")
        .map(|kv| (kv.key.to_string(), comparable(kv.value.clone())))
        .collect()
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
pub fn assert_attributes(span: &SpanData, expected: BTreeMap<String, Value>) {
    let expected = normalized(expected);
    assert_eq!(
        attributes(span),
        expected,
        "attributes of span {:?}",
        span.name
    );
}
