//! In-memory telemetry for tests (feature `testing`): documented, with an example, where the
//! `redis-trace` crate re-exports it as `redis_trace::testing`.
//!
//! Tests of one binary run on several threads while providers and settings are process-wide, so
//! [`Telemetry::install`] takes a process-wide lock, held until the value is dropped.

mod patterns;
mod tree;
mod view;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider,
    Temporality,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

pub use patterns::{PatternReport, PatternRow};
pub use tree::{SpanNode, SpanTree};
pub use view::{TraceView, DEFAULT_ATTRIBUTES};

static EXCLUSIVE: Mutex<()> = Mutex::new(());

static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

#[derive(Clone)]
struct Pipeline {
    tracer_provider: SdkTracerProvider,
    spans: InMemorySpanExporter,
    meter_provider: SdkMeterProvider,
    metrics: InMemoryMetricExporter,
}

impl Pipeline {
    fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        // Delta: each flush holds only what happened since the previous one. The reader never
        // fires on its own (one hour); `metric_points` flushes.
        let metrics = InMemoryMetricExporterBuilder::new()
            .with_temporality(Temporality::Delta)
            .build();
        let reader = PeriodicReader::builder(metrics.clone())
            .with_interval(Duration::from_secs(3600))
            .build();
        let meter_provider = SdkMeterProvider::builder().with_reader(reader).build();
        Self {
            tracer_provider,
            spans,
            meter_provider,
            metrics,
        }
    }
}

/// In-memory telemetry for one test: install it first, then read what was recorded.
pub struct Telemetry {
    _exclusive: MutexGuard<'static, ()>,
    pipeline: Pipeline,
    /// Metric points flushed so far (a flush takes them out of the exporter).
    points: RefCell<Vec<(String, MetricPoint)>>,
}

impl Telemetry {
    /// Installs in-memory tracer and meter providers (for redis-trace and as OpenTelemetry's
    /// global providers), resets redis-trace's settings to their defaults (no default endpoint),
    /// and forgets earlier spans and metrics. Blocks while another test holds a `Telemetry`.
    pub fn install() -> Self {
        let exclusive = EXCLUSIVE.lock().unwrap_or_else(PoisonError::into_inner);
        let pipeline = PIPELINE.get_or_init(Pipeline::new).clone();
        opentelemetry::global::set_tracer_provider(pipeline.tracer_provider.clone());
        opentelemetry::global::set_meter_provider(pipeline.meter_provider.clone());
        crate::globals::use_tracer_provider(&pipeline.tracer_provider);
        crate::globals::use_meter_provider(&pipeline.meter_provider);
        crate::ConfigBuilder::default().install();
        crate::globals::clear_default_endpoint();
        let telemetry = Self {
            _exclusive: exclusive,
            pipeline,
            points: RefCell::default(),
        };
        telemetry.clear();
        telemetry
    }

    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        // The in-memory exporter fails only when its lock is poisoned by a panicking test.
        self.pipeline.spans.get_finished_spans().unwrap_or_default()
    }

    /// The one finished span named `name`.
    ///
    /// # Panics
    ///
    /// When no span or several spans have that name; the message lists the finished spans.
    #[track_caller]
    pub fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let mut matching = spans.iter().filter(|span| span.name == name);
        match (matching.next(), matching.next()) {
            (Some(span), None) => span.clone(),
            (found, _) => {
                let names: Vec<&str> = spans.iter().map(|span| span.name.as_ref()).collect();
                let count = if found.is_some() { "several" } else { "no" };
                panic!("{count} spans named {name:?}; finished spans: {names:?}")
            }
        }
    }

    /// The finished spans as trees: each span under its parent, children in start order.
    pub fn tree(&self) -> SpanTree {
        SpanTree::new(self.spans())
    }

    /// The finished Redis spans grouped by key pattern (`Display`: a table of calls, errors,
    /// p50, p99 and cache hit ratio), for printing after [`Telemetry::view`].
    pub fn patterns(&self) -> PatternReport {
        PatternReport::new(&self.spans())
    }

    /// The finished spans drawn as a tree with a timeline (`Display`), for printing.
    pub fn view(&self) -> TraceView {
        TraceView::new(self.spans())
    }

    /// The data points of the metric `name` recorded since [`Telemetry::install`] (or the last
    /// [`Telemetry::clear`]), one per attribute set, sorted by attributes. Each flush is a
    /// delta: calling it twice returns the earlier points again plus what came since.
    pub fn metric_points(&self, name: &str) -> Vec<MetricPoint> {
        let flushed = self.flush_metrics();
        let mut points = self.points.borrow_mut();
        for (metric, point, current) in flushed {
            // A current value (an up-down counter's) replaces the one flushed before for the
            // same attributes; sums and histograms are deltas and add up.
            if current {
                points
                    .retain(|(known, old)| *known != metric || old.attributes != point.attributes);
            }
            points.push((metric, point));
        }
        let mut matching: Vec<MetricPoint> = points
            .iter()
            .filter(|(metric, _)| metric == name)
            .map(|(_, point)| point.clone())
            .collect();
        matching.sort_by_key(|point| format!("{:?}", point.attributes));
        matching
    }

    /// Forgets the spans and metrics recorded so far.
    pub fn clear(&self) {
        self.pipeline.spans.reset();
        self.flush_metrics();
        self.points.borrow_mut().clear();
    }

    /// The tracer provider spans go to: make your own parent spans with it, or build a
    /// tracing-opentelemetry layer from one of its tracers.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.pipeline.tracer_provider
    }

    /// The meter provider metrics go to.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.pipeline.meter_provider
    }

    /// Flushes the meter provider and takes what it exported: each point with its metric's
    /// name and whether it is a current value (an up-down counter's) rather than a delta.
    fn flush_metrics(&self) -> Vec<(String, MetricPoint, bool)> {
        // A failed flush leaves the points for the next one; nothing to report in a test helper.
        let _ = self.pipeline.meter_provider.force_flush();
        let exported = self
            .pipeline
            .metrics
            .get_finished_metrics()
            .unwrap_or_default();
        self.pipeline.metrics.reset();
        let mut points = Vec::new();
        for resource in &exported {
            for metric in resource.scope_metrics().flat_map(|scope| scope.metrics()) {
                let name = metric.name();
                let unit = metric.unit();
                let current = matches!(
                    metric.data(),
                    AggregatedMetrics::I64(MetricData::Sum(sum)) if !sum.is_monotonic()
                );
                let point = |attributes: BTreeMap<String, Value>, value, sum, bounds| {
                    let point = MetricPoint {
                        attributes,
                        value,
                        sum,
                        bounds,
                        unit: unit.to_owned(),
                    };
                    (name.to_owned(), point, current)
                };
                match metric.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        points.extend(histogram.data_points().map(|data| {
                            point(
                                attribute_map(data.attributes()),
                                data.count(),
                                data.sum(),
                                data.bounds().collect(),
                            )
                        }));
                    }
                    // An observable counter reports a zero delta for an attribute set that did
                    // not change since the last flush: nothing happened.
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        points.extend(sum.data_points().filter(|data| data.value() > 0).map(
                            |data| {
                                let value = data.value();
                                point(
                                    attribute_map(data.attributes()),
                                    value,
                                    value as f64,
                                    vec![],
                                )
                            },
                        ))
                    }
                    // An up-down counter (the pool's connection counts) reports its current
                    // value at every flush: the latest replaces earlier ones (`metric_points`).
                    AggregatedMetrics::I64(MetricData::Sum(sum)) if !sum.is_monotonic() => points
                        .extend(sum.data_points().map(|data| {
                            let value = u64::try_from(data.value()).unwrap_or(0);
                            point(
                                attribute_map(data.attributes()),
                                value,
                                value as f64,
                                vec![],
                            )
                        })),
                    // Instruments redis-trace does not create (yours) are not summarized here.
                    _ => {}
                }
            }
        }
        points
    }
}

/// One exported metric data point.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// Its attributes (string values compared by content, see [`attributes`]).
    pub attributes: BTreeMap<String, Value>,
    /// A counter's sum, a histogram's count, or an up-down counter's current value.
    pub value: u64,
    /// A histogram's sum of measurements (a counter's value).
    pub sum: f64,
    /// A histogram's bucket boundaries (empty for a counter).
    pub bounds: Vec<f64>,
    /// The instrument's unit.
    pub unit: String,
}

/// A span's attributes by name. String values are compared by content (`Value` otherwise
/// tells a static string from an owned one).
pub fn attributes(span: &SpanData) -> BTreeMap<String, Value> {
    attribute_map(span.attributes.iter())
}

/// Asserts that `span` carries each of the `expected` attributes with that value (other
/// attributes are allowed).
///
/// # Panics
///
/// On the first missing or different attribute; the message shows all of the span's attributes.
#[track_caller]
pub fn assert_attributes(span: &SpanData, expected: &[(&str, Value)]) {
    let actual = attributes(span);
    for (key, value) in expected {
        let value = comparable(value.clone());
        match actual.get(*key) {
            Some(found) if *found == value => {}
            found => panic!(
                "span {:?}: attribute {key} is {}, expected {value}\nits attributes: {actual:#?}",
                span.name,
                found.map_or_else(|| "absent".to_owned(), |found| format!("{found}")),
            ),
        }
    }
}

fn attribute_map<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, Value> {
    attributes
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
