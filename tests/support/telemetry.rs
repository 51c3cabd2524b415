//! Captures spans with the OpenTelemetry SDK's in-memory exporter.
//!
//! One tracer provider per test binary, installed before any traced call. Tests that capture
//! take a process-wide lock, so spans and process-wide settings of one test never mix with
//! another's.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

static LOCK: Mutex<()> = Mutex::new(());
static PIPELINE: OnceLock<(SdkTracerProvider, InMemorySpanExporter)> = OnceLock::new();

/// Exclusive access to the captured spans for the duration of one test.
pub struct Capture {
    _exclusive: MutexGuard<'static, ()>,
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// Starts capturing: installs the provider (once), clears earlier spans and settings.
pub fn capture() -> Capture {
    let exclusive = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (provider, exporter) = PIPELINE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        (provider, exporter)
    });
    exporter.reset();
    redis_trace::clear_default_endpoint();
    Capture {
        _exclusive: exclusive,
        exporter: exporter.clone(),
        provider: provider.clone(),
    }
}

impl Capture {
    /// Every span finished so far, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        self.exporter
            .get_finished_spans()
            .expect("in-memory exporter")
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

    /// Forgets the spans captured so far.
    pub fn clear(&self) {
        self.exporter.reset();
    }

    /// The SDK provider the spans go to (for test-made parent spans).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
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
    let expected: BTreeMap<String, Value> = expected
        .into_iter()
        .map(|(key, value)| (key, comparable(value)))
        .collect();
    assert_eq!(
        attributes(span),
        expected,
        "attributes of span {:?}",
        span.name
    );
}
