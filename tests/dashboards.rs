//! The Prometheus rules in `dashboards/` name only metrics and labels redis-trace emits: a
//! workload against a real redis-server (annotated lookups that hit, miss and fail, a traced
//! connection with query summaries past their limit, a pool that makes a caller wait and time
//! out) records every metric the rules use; each metric is translated the way the OpenTelemetry
//! Collector's Prometheus exporter names it, and every metric, label and `$labels.x` of the rules
//! must be among them. (`promtool check rules` checks the syntax, in CI.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use redis::AsyncCommands;
use redis_trace::pool::deadpool::TracedPool;
use redis_trace::{redis_traced, semconv, Config, TracedConnection};
use redis_trace_harness::{capture, Capture, RedisServer};

const RULES: &str = "dashboards/prometheus-rules.yml";

struct Store {
    conn: redis::aio::MultiplexedConnection,
}

impl Store {
    #[redis_traced(op = "GET", key = "user:{id}")]
    async fn user(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}")).await
    }
}

/// How an instrument is exported to Prometheus.
#[derive(Clone, Copy)]
enum Kind {
    Histogram,
    Counter,
    Gauge,
}

/// Every instrument redis-trace creates, with its kind.
const INSTRUMENTS: &[(&str, Kind)] = &[
    (semconv::DB_CLIENT_OPERATION_DURATION, Kind::Histogram),
    (semconv::CACHE_REQUESTS, Kind::Counter),
    (semconv::QUERY_SUMMARY_OVERFLOWS, Kind::Counter),
    (semconv::DB_CLIENT_CONNECTION_COUNT, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_MAX, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_IDLE_MAX, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_IDLE_MIN, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_PENDING_REQUESTS, Kind::Gauge),
    (semconv::DB_CLIENT_CONNECTION_TIMEOUTS, Kind::Counter),
    (semconv::DB_CLIENT_CONNECTION_CREATE_TIME, Kind::Histogram),
    (semconv::DB_CLIENT_CONNECTION_WAIT_TIME, Kind::Histogram),
    (semconv::DB_CLIENT_CONNECTION_USE_TIME, Kind::Histogram),
    (semconv::MESSAGING_CLIENT_SENT_MESSAGES, Kind::Counter),
    (semconv::MESSAGING_CLIENT_CONSUMED_MESSAGES, Kind::Counter),
    (semconv::MESSAGING_PROCESS_DURATION, Kind::Histogram),
    (
        semconv::MESSAGING_CLIENT_OPERATION_DURATION,
        Kind::Histogram,
    ),
    (semconv::REDIS_TRACE_CONNECTION_RECONNECTS, Kind::Counter),
    (semconv::REDIS_CLIENT_STREAM_LAG, Kind::Histogram),
    (semconv::REDIS_CLIENT_CSC_REQUESTS, Kind::Counter),
    (semconv::REDIS_CLIENT_CSC_EVICTIONS, Kind::Counter),
];

/// `name` as the Collector's Prometheus exporter writes it: dots as underscores, `_seconds` for
/// the unit `s` (units in braces are dropped), `_total` on counters; the series of a histogram.
fn prometheus_names(name: &str, unit: &str, kind: Kind) -> Vec<String> {
    let mut base = name.replace('.', "_");
    if unit == "s" {
        base.push_str("_seconds");
    }
    match kind {
        Kind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{base}{suffix}"))
            .collect(),
        Kind::Counter => vec![format!("{base}_total")],
        Kind::Gauge => vec![base],
    }
}

/// The Prometheus series names emitted by the workload, with the labels each carries.
fn emitted(capture: &Capture) -> BTreeMap<String, BTreeSet<String>> {
    let mut series = BTreeMap::new();
    for &(name, kind) in INSTRUMENTS {
        for point in capture.metric_points(name) {
            for prometheus in prometheus_names(name, &point.unit, kind) {
                let labels: &mut BTreeSet<String> = series.entry(prometheus.clone()).or_default();
                labels.extend(point.attributes.keys().map(|key| key.replace('.', "_")));
                if prometheus.ends_with("_bucket") {
                    labels.insert("le".to_owned());
                }
            }
        }
    }
    series
}

async fn workload(server: &RedisServer) {
    let mut conn = server.connection(0).await;
    let _: () = conn.set("user:1", "ada").await.unwrap();
    let _: () = conn.rpush("user:3", "x").await.unwrap();
    let store = Store { conn };
    store.user(1).await.unwrap();
    store.user(2).await.unwrap();
    store.user(3).await.unwrap_err();

    Config::builder()
        .with_query_summaries(true)
        .with_query_summary_limit(1)
        .install();
    let mut traced = TracedConnection::new(server.connection(0).await);
    for key in ["user:1", "order:2"] {
        let _: Option<String> = traced.get(key).await.unwrap();
    }
    // A stream consumer's lag.
    redis_trace_harness::create_stream_group(&mut traced, "invoices", "billing").await;
    let _: String = traced
        .xadd("invoices", "*", &[("order", "1")])
        .await
        .unwrap();
    let options = redis::streams::StreamReadOptions::default().group("billing", "worker");
    let _: redis::streams::StreamReadReply = traced
        .xread_options(&["invoices"], &[">"], &options)
        .await
        .unwrap();

    // A client-side cache: a miss, then a hit.
    let caching = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let cache =
        redis::AsyncConnectionConfig::new().set_cache_config(redis::caching::CacheConfig::new());
    let mut cached = TracedConnection::new(
        caching
            .get_multiplexed_async_connection_with_config(&cache)
            .await
            .unwrap(),
    )
    .with_endpoint(&caching)
    .with_client_side_caching();
    for _ in 0..2 {
        let _: Option<String> = cached.get("user:1").await.unwrap();
    }
    // Another client's write evicts the entry.
    let _: () = server.connection(0).await.set("user:1", "b").await.unwrap();
    let _: Option<String> = cached.get("user:1").await.unwrap();

    let mut config = deadpool_redis::Config::from_url(server.url(0));
    config.pool = Some(deadpool_redis::PoolConfig {
        max_size: 1,
        timeouts: deadpool_redis::Timeouts {
            wait: Some(Duration::from_millis(100)),
            ..Default::default()
        },
        ..Default::default()
    });
    let inner = config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let pool = TracedPool::new(inner, server.client());
    let lease = pool.get().await.unwrap();
    assert!(pool.get().await.is_err(), "the second get times out");
    drop(lease);
}

/// One rule of the file: its name (`record:` or `alert:`), its expression, the labels its
/// annotations read (`$labels.x`).
#[derive(Debug, Default)]
struct Rule {
    name: String,
    recorded: bool,
    expr: String,
    annotation_labels: BTreeSet<String>,
}

/// The rules of `text`, read line by line (the file's own layout: `- record:` / `- alert:`
/// items, `expr:` inline or as a folded block).
fn rules(text: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut in_expr = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        if let Some((key, value)) = trimmed.trim_start_matches("- ").split_once(": ") {
            in_expr = false;
            match key {
                "record" | "alert" => rules.push(Rule {
                    name: value.to_owned(),
                    recorded: key == "record",
                    ..Rule::default()
                }),
                "expr" if value == ">" => in_expr = true,
                "expr" => rules.last_mut().unwrap().expr = value.to_owned(),
                _ => {
                    if let Some(rule) = rules.last_mut() {
                        for (at, marker) in value.match_indices("$labels.") {
                            let label: String = value[at + marker.len()..]
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            rule.annotation_labels.insert(label);
                        }
                    }
                }
            }
        } else if in_expr {
            let rule = rules.last_mut().unwrap();
            rule.expr.push(' ');
            rule.expr.push_str(trimmed);
        }
    }
    rules
}

/// The metric names an expression selects (`name{...}` or `name[...]`) and the labels it names
/// (in selectors and in `by (...)`).
fn selectors(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let (mut metrics, mut labels) = (BTreeSet::new(), BTreeSet::new());
    let mut rest = expr;
    while let Some(start) = rest.find(|c: char| c.is_alphabetic() || c == '_') {
        let word_len = rest[start..]
            .find(|c: char| !is_name(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        let after = &rest[start + word_len..];
        // A selector, or a recording rule's series (its name has colons).
        if after.starts_with('{') || after.starts_with('[') || word.contains(':') {
            metrics.insert(word.to_owned());
        }
        if after.starts_with('{') {
            let inside = &after[1..after.find('}').unwrap()];
            for matcher in inside.split(',') {
                let label = matcher.split(['=', '!', '~']).next().unwrap().trim();
                labels.insert(label.to_owned());
            }
        }
        if word == "by" {
            let list = after.trim_start().trim_start_matches('(');
            for label in list[..list.find(')').unwrap()].split(',') {
                labels.insert(label.trim().to_owned());
            }
        }
        rest = &rest[start + word_len..];
    }
    (metrics, labels)
}

/// The labels a recording rule's series keep: its outermost `by (...)` list.
fn kept_labels(expr: &str) -> BTreeSet<String> {
    selectors(expr)
        .1
        .into_iter()
        .filter(|label| label != "le")
        .collect()
}

#[tokio::test]
async fn the_rules_name_only_what_the_library_emits() {
    let capture = capture();
    let server = RedisServer::start();
    workload(&server).await;
    let series = emitted(&capture);
    assert!(
        series.contains_key("db_client_operation_duration_seconds_bucket")
            && series.contains_key("db_client_connection_timeouts_total"),
        "the workload records the operation and pool metrics: {series:#?}"
    );

    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RULES)).unwrap();
    let rules = rules(&text);
    assert!(rules.len() >= 10, "the rules are read: {rules:#?}");
    let recorded: BTreeMap<&str, BTreeSet<String>> = (rules.iter())
        .filter(|rule| rule.recorded)
        .map(|rule| (rule.name.as_str(), kept_labels(&rule.expr)))
        .collect();
    let mut unknown = Vec::new();
    for rule in &rules {
        let (metrics, labels) = selectors(&rule.expr);
        assert!(!rule.expr.is_empty(), "{rule:?}");
        let mut available = BTreeSet::new();
        for metric in &metrics {
            match (series.get(metric), recorded.get(metric.as_str())) {
                (Some(labels), _) | (None, Some(labels)) => available.extend(labels.clone()),
                (None, None) => unknown.push(format!("{}: metric {metric}", rule.name)),
            }
        }
        for label in labels.iter().chain(&rule.annotation_labels) {
            if !available.contains(label) {
                unknown.push(format!("{}: label {label}", rule.name));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "{RULES} names what is not emitted: {unknown:#?}"
    );
}

#[test]
fn the_check_can_fail() {
    let (metrics, labels) = selectors(
        "sum by (db_query_summary) (rate(redis_trace_cache_requests_total{cache_hit=\"true\"}[5m]))",
    );
    assert_eq!(
        metrics.into_iter().collect::<Vec<_>>(),
        ["redis_trace_cache_requests_total"]
    );
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        ["cache_hit", "db_query_summary"]
    );
    let parsed = rules("  - alert: A\n    expr: x{y=\"1\"} > 0\n    annotations:\n      summary: \"{{ $labels.z }}\"\n");
    assert_eq!(parsed[0].expr, "x{y=\"1\"} > 0");
    assert_eq!(
        parsed[0].annotation_labels.iter().collect::<Vec<_>>(),
        ["z"]
    );
}
