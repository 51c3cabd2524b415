//! Per key pattern, at a glance: calls, errors, p50, p99 and cache hit ratio of the Redis spans
//! recorded, grouped by `db.query.summary` (an annotated function's key template, a traced
//! connection's key pattern when summaries are on), else by span name.

use std::collections::BTreeMap;
use std::fmt::{self, Display, Formatter};
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

use super::view::{cut, duration, format_duration};
use crate::semconv;

/// One pattern's row of a [`PatternReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatternRow {
    /// The summary (`GET user:{id}`), else the span name.
    pub pattern: String,
    /// Spans of the pattern.
    pub calls: u64,
    /// Those that ended with an error status.
    pub errors: u64,
    /// Median duration (nearest rank).
    pub p50: Duration,
    /// 99th-percentile duration (nearest rank).
    pub p99: Duration,
    /// Keys found, from `cache.hit` and `cache.hit_count`.
    pub hits: u64,
    /// Keys not found, from `cache.hit` and `cache.miss_count`.
    pub misses: u64,
}

impl PatternRow {
    /// Hits among the lookups, `None` when the pattern made none.
    #[must_use]
    pub fn hit_ratio(&self) -> Option<f64> {
        let lookups = self.hits + self.misses;
        (lookups > 0).then(|| self.hits as f64 / lookups as f64)
    }
}

/// The Redis spans grouped by pattern, most called first; `Display` prints a table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatternReport {
    /// One row per pattern.
    pub rows: Vec<PatternRow>,
}

impl PatternReport {
    /// The report of `spans` (those with `db.system.name` or `db.system` = `redis`).
    #[must_use]
    pub fn new(spans: &[SpanData]) -> Self {
        let mut groups: BTreeMap<String, Vec<&SpanData>> = BTreeMap::new();
        for span in spans.iter().filter(|span| is_redis(span)) {
            let pattern = attribute(span, semconv::DB_QUERY_SUMMARY)
                .map_or_else(|| span.name.to_string(), |summary| summary.to_string());
            groups.entry(pattern).or_default().push(span);
        }
        let mut rows: Vec<PatternRow> = groups
            .into_iter()
            .map(|(pattern, spans)| row(pattern, &spans))
            .collect();
        rows.sort_by(|a, b| {
            b.calls
                .cmp(&a.calls)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        Self { rows }
    }

    /// The row of `pattern`, if any span had it.
    #[must_use]
    pub fn row(&self, pattern: &str) -> Option<&PatternRow> {
        self.rows.iter().find(|row| row.pattern == pattern)
    }
}

fn row(pattern: String, spans: &[&SpanData]) -> PatternRow {
    let mut durations: Vec<Duration> = spans.iter().map(|span| duration(span)).collect();
    durations.sort_unstable();
    let (mut hits, mut misses) = (0, 0);
    for span in spans {
        match attribute(span, semconv::CACHE_HIT) {
            Some(Value::Bool(true)) => hits += 1,
            Some(Value::Bool(false)) => misses += 1,
            _ => {}
        }
        let count = |name| match attribute(span, name) {
            Some(Value::I64(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        hits += count(semconv::CACHE_HIT_COUNT);
        misses += count(semconv::CACHE_MISS_COUNT);
    }
    PatternRow {
        pattern,
        calls: spans.len() as u64,
        errors: spans
            .iter()
            .filter(|span| matches!(span.status, Status::Error { .. }))
            .count() as u64,
        p50: nearest_rank(&durations, 50),
        p99: nearest_rank(&durations, 99),
        hits,
        misses,
    }
}

/// The `percent`th percentile of `sorted`, by nearest rank.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn attribute<'a>(span: &'a SpanData, name: &str) -> Option<&'a Value> {
    (span.attributes.iter())
        .find(|kv| kv.key.as_str() == name)
        .map(|kv| &kv.value)
}

fn is_redis(span: &SpanData) -> bool {
    [semconv::DB_SYSTEM_NAME, semconv::old::DB_SYSTEM]
        .iter()
        .any(|name| attribute(span, name).is_some_and(|value| value.as_str() == "redis"))
}

/// Widest pattern column before cutting.
const PATTERN_WIDTH: usize = 40;

impl Display for PatternReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let width = (self.rows.iter())
            .map(|row| row.pattern.chars().count())
            .max()
            .unwrap_or(0)
            .clamp("pattern".len(), PATTERN_WIDTH);
        writeln!(
            f,
            "{:<width$}  {:>6}  {:>6}  {:>10}  {:>10}  {:>9}",
            "pattern", "calls", "errors", "p50", "p99", "hit ratio"
        )?;
        for row in &self.rows {
            let ratio = row
                .hit_ratio()
                .map_or_else(|| "-".to_owned(), |ratio| format!("{:.1} %", ratio * 100.0));
            writeln!(
                f,
                "{:<width$}  {:>6}  {:>6}  {:>10}  {:>10}  {:>9}",
                cut(&row.pattern, width),
                row.calls,
                row.errors,
                format_duration(row.p50),
                format_duration(row.p99),
                ratio,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span, Tracer, TracerProvider};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use std::time::UNIX_EPOCH;

    /// Spans of fixed durations: `user` 1..=100 ms with every other one a hit and one error,
    /// an MGET with two keys found of three, and a span of another system.
    fn spans() -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("test");
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let record = |name: &str, millis: u64, attributes: Vec<KeyValue>, failed: bool| {
            let mut span = tracer
                .span_builder(name.to_owned())
                .with_start_time(start)
                .with_attributes(attributes)
                .start(&tracer);
            if failed {
                span.set_status(Status::error("WRONGTYPE"));
            }
            span.end_with_timestamp(start + Duration::from_millis(millis));
        };
        for millis in 1..=100 {
            let attributes = vec![
                KeyValue::new("db.system.name", "redis"),
                KeyValue::new("db.query.summary", "GET user:{id}"),
                KeyValue::new("cache.hit", millis % 2 == 0),
            ];
            record("GET user:{id}", millis, attributes, millis == 100);
        }
        let mget = vec![
            KeyValue::new("db.system", "redis"),
            KeyValue::new("cache.hit_count", 2_i64),
            KeyValue::new("cache.miss_count", 1_i64),
        ];
        record("MGET 127.0.0.1:6379", 3, mget, false);
        record(
            "SELECT",
            1,
            vec![KeyValue::new("db.system.name", "postgresql")],
            false,
        );
        exporter.get_finished_spans().unwrap()
    }

    #[test]
    fn rows_count_calls_errors_percentiles_and_hits() {
        let report = PatternReport::new(&spans());
        assert_eq!(report.rows.len(), 2, "the postgresql span is not Redis");
        let user = report.row("GET user:{id}").unwrap();
        assert_eq!((user.calls, user.errors), (100, 1));
        assert_eq!(user.p50, Duration::from_millis(50));
        assert_eq!(user.p99, Duration::from_millis(99));
        assert_eq!(user.hit_ratio(), Some(0.5));
        let mget = report.row("MGET 127.0.0.1:6379").unwrap();
        assert_eq!((mget.hits, mget.misses), (2, 1));
        let table = report.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("pattern") && lines[0].ends_with("hit ratio"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("GET user:{id}") && lines[1].ends_with("50.0 %"),
            "{table}"
        );
        assert!(
            lines[1].contains("50.00 ms") && lines[1].contains("99.00 ms"),
            "{table}"
        );
        assert!(lines[2].ends_with("66.7 %"), "{table}");
    }
}
