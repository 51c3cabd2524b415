//! `db.query.summary` by key pattern: an annotated function's from its key template (computed
//! at compile time), a traced connection's from its keys' patterns (opt-in, within a limit of
//! distinct summaries). One metric series per pattern and outcome, span names equal to the
//! summaries. Against a real redis-server, values compared exactly.

use std::collections::BTreeMap;

use opentelemetry::Value;
use redis::AsyncCommands;
use redis_trace::{redis_traced, Config, TracedConnection};
use redis_trace_harness::{capture, expected, normalized, Capture, RedisServer};

type Conn = redis::aio::MultiplexedConnection;

struct Store {
    conn: Conn,
}

impl Store {
    #[redis_traced(op = "GET", key = "user:{id}")]
    async fn user(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}")).await
    }

    #[redis_traced(op = "GET", key = "session:{sid}")]
    async fn session(&self, sid: &str) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("session:{sid}")).await
    }
}

/// Every series of `metric` (its attributes) with its total, deltas of several flushes added.
fn series(capture: &Capture, metric: &str) -> BTreeMap<Vec<(String, String)>, u64> {
    let mut totals = BTreeMap::new();
    for point in capture.metric_points(metric) {
        let key = point
            .attributes
            .iter()
            .map(|(name, value)| (name.clone(), value.to_string()))
            .collect();
        *totals.entry(key).or_insert(0) += point.value;
    }
    totals
}

/// `attributes` as [`series`] lists them.
fn key(attributes: BTreeMap<String, Value>) -> Vec<(String, String)> {
    normalized(attributes)
        .into_iter()
        .map(|(name, value)| (name, value.to_string()))
        .collect()
}

#[tokio::test]
async fn key_templates_group_spans_and_metrics_by_pattern() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;
    for id in (0..100).step_by(2) {
        let _: () = conn.set(format!("user:{id}"), "ada").await.unwrap();
        let _: () = conn.set(format!("session:s{id}"), "t").await.unwrap();
    }
    // One failure: a GET on a list answers WRONGTYPE.
    let _: () = conn.rpush("user:1000", "x").await.unwrap();
    let store = Store { conn };
    for id in 0..100 {
        store.user(id).await.unwrap();
        store.session(&format!("s{id}")).await.unwrap();
    }
    store.user(1000).await.unwrap_err();

    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for span in capture.spans() {
        *names.entry(span.name.to_string()).or_default() += 1;
    }
    let expected_names = [
        ("GET session:{sid}".to_owned(), 100),
        ("GET user:{id}".to_owned(), 101),
    ];
    assert_eq!(names, expected_names.into_iter().collect());

    let common = |summary: &str| {
        [
            ("db.system.name", Value::from("redis")),
            ("db.operation.name", "GET".into()),
            ("db.query.summary", summary.to_owned().into()),
        ]
    };
    let [system, operation, user] = common("GET user:{id}");
    let failed = expected([
        system.clone(),
        operation.clone(),
        user.clone(),
        ("error.type", "WRONGTYPE".into()),
        ("db.response.status_code", "WRONGTYPE".into()),
    ]);
    let durations: BTreeMap<_, _> = [
        (key(expected(common("GET user:{id}"))), 100),
        (key(failed), 1),
        (key(expected(common("GET session:{sid}"))), 100),
    ]
    .into_iter()
    .collect();
    assert_eq!(series(&capture, "db.client.operation.duration"), durations);

    let lookups = |summary: &str, function: &str, hit: bool| {
        let [system, operation, summary] = common(summary);
        key(expected([
            system,
            operation,
            summary,
            (
                "code.function.name",
                format!("summary::Store::{function}").into(),
            ),
            ("cache.hit", hit.into()),
        ]))
    };
    let requests: BTreeMap<_, _> = [
        (lookups("GET user:{id}", "user", true), 50),
        (lookups("GET user:{id}", "user", false), 50),
        (lookups("GET session:{sid}", "session", true), 50),
        (lookups("GET session:{sid}", "session", false), 50),
    ]
    .into_iter()
    .collect();
    assert_eq!(series(&capture, "redis_trace.cache.requests"), requests);
}

#[tokio::test]
async fn a_connection_summarizes_by_key_pattern_within_its_limit() {
    let capture = capture();
    Config::builder().with_query_summaries(true).install();
    let limit = Config::current().query_summary_limit();
    assert_eq!(limit, 1000, "the default limit");
    let server = RedisServer::start();
    let mut conn = TracedConnection::new(server.connection(0).await);

    // A pipeline of one pattern is a batch of it; of two, the pipeline.
    let mut same = redis::pipe();
    same.get("user:1").get("user:2");
    let _: (Option<String>, Option<String>) = same.query_async(&mut conn).await.unwrap();
    let mut mixed = redis::pipe();
    mixed.get("user:1").get("order:2");
    let _: (Option<String>, Option<String>) = mixed.query_async(&mut conn).await.unwrap();
    let names: Vec<String> = (capture.spans().iter())
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["BATCH GET user:?", "PIPELINE"]);
    capture.clear();

    // 10,000 distinct key shapes: `shape{i}:x` is not id-like, so the pattern keeps each.
    for i in 0..10_000 {
        let _: Option<String> = conn.get(format!("shape{i}:x")).await.unwrap();
    }
    let spans = capture.spans();
    assert_eq!(spans.first().unwrap().name, "GET shape0:x");
    assert_eq!(spans.last().unwrap().name, "GET");
    let durations = series(&capture, "db.client.operation.duration");
    let summaries: Vec<String> = durations
        .keys()
        .filter_map(|attributes| {
            let summary = attributes
                .iter()
                .find(|(name, _)| name == "db.query.summary");
            summary.map(|(_, value)| value.clone())
        })
        .collect();
    // The budget holds `BATCH GET user:?` only: a pipeline's commands take no place.
    let kept = limit - 1;
    assert_eq!(durations.len(), kept + 1, "at most limit + 1 series");
    assert_eq!(summaries.iter().filter(|s| *s == "GET").count(), 1);
    let overflowed = 10_000 - kept as u64;
    assert_eq!(durations.values().sum::<u64>(), 10_000);
    assert_eq!(Config::current().query_summary_overflows(), overflowed);
    let overflows = capture.metric_points("redis_trace.query_summary.overflows");
    assert_eq!(overflows.iter().map(|p| p.value).sum::<u64>(), overflowed);
    // Reported once: an event on the first span that fell back.
    let reported: Vec<usize> = (spans.iter().enumerate())
        .filter(|(_, span)| {
            (span.events.iter())
                .any(|event| event.name == "redis_trace.query_summary.limit_reached")
        })
        .map(|(at, _)| at)
        .collect();
    assert_eq!(reported, [kept]);
    assert_eq!(spans[kept].name, "GET");
    let event = &spans[kept].events.iter().next().unwrap();
    let limit = &event.attributes[0];
    assert_eq!(limit.key.as_str(), "redis_trace.query_summary.limit");
    assert_eq!(limit.value, opentelemetry::Value::I64(1000));
}

#[tokio::test]
async fn summaries_are_off_by_default_and_hidden_under_the_omit_policy() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(server.client());
    let _: Option<String> = conn.get("user:1").await.unwrap();
    Config::builder()
        .with_query_summaries(true)
        .with_key_policy(redis_trace::KeyPolicy::Omit)
        .install();
    let _: Option<String> = conn.get("user:1").await.unwrap();
    let port = server.port();
    for span in capture.spans() {
        assert_eq!(span.name, format!("GET 127.0.0.1:{port}"));
        let has_summary = span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "db.query.summary");
        assert!(!has_summary, "{span:?}");
    }
    assert_eq!(capture.spans().len(), 2);
}
