//! Metrics, key policies, semantic-convention modes, the deny-list and require-parent, against
//! a real redis-server; spans and metrics from the SDK's in-memory exporters.

use redis_trace_harness as support;

use std::collections::BTreeMap;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Context, Value};
use redis::AsyncCommands;
use redis_trace::{redis_traced, Config, KeyPolicy, SemconvMode};
use support::{assert_exact_attributes, attributes, capture, expected, normalized, RedisServer};

struct Cache {
    conn: redis::aio::MultiplexedConnection,
}

impl Cache {
    #[redis_traced(op = "GET", key = key, name = "cache get")]
    async fn get(&self, key: &str) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(key).await
    }

    #[redis_traced(op = "SET", key = key, ttl = seconds, fields(app.tier = tier))]
    async fn put(
        &self,
        key: &str,
        value: &str,
        seconds: u64,
        tier: &str,
    ) -> redis::RedisResult<()> {
        self.conn.clone().set_ex(key, value, seconds).await
    }

    #[redis_traced(op = "HGETALL", key = key)]
    async fn hash(&self, key: &str) -> redis::RedisResult<BTreeMap<String, String>> {
        self.conn.clone().hgetall(key).await
    }

    /// Also returns the span context the body ran under.
    #[redis_traced(op = "GET", key = key, name = "cache probe")]
    async fn probe(&self, key: &str) -> redis::RedisResult<(Option<String>, SpanContext)> {
        let value = self.conn.clone().get(key).await?;
        Ok((value, Context::current().span().span_context().clone()))
    }

    #[redis_traced(op = "PING")]
    async fn ping(&self) -> redis::RedisResult<String> {
        redis::cmd("PING").query_async(&mut self.conn.clone()).await
    }
}

async fn cache(server: &RedisServer) -> Cache {
    redis_trace::set_default_endpoint(server.client());
    Cache {
        conn: server.connection(0).await,
    }
}

fn endpoint_attributes(server: &RedisServer) -> [(&'static str, Value); 3] {
    [
        ("server.address", "127.0.0.1".into()),
        ("server.port", i64::from(server.port()).into()),
        ("db.namespace", "0".into()),
    ]
}

#[tokio::test]
async fn duration_histogram_and_cache_counter() {
    let capture = capture();
    let server = RedisServer::start();
    let cache = cache(&server).await;
    cache.put("user:1", "ada", 60, "gold").await.unwrap();
    for key in ["user:1", "user:2", "user:1", "user:3"] {
        cache.get(key).await.unwrap();
    }
    cache.put("list", "x", 60, "free").await.unwrap();
    let error = cache.hash("list").await.unwrap_err();
    assert_eq!(error.code(), Some("WRONGTYPE"));

    let durations = capture.metric_points("db.client.operation.duration");
    let [ip, port, namespace] = endpoint_attributes(&server);
    let common = |operation: &str| {
        let mut map = expected([
            ("db.system.name", "redis".into()),
            ("db.operation.name", operation.to_owned().into()),
        ]);
        for (key, value) in [ip.clone(), port.clone(), namespace.clone()] {
            map.insert(key.to_owned(), value);
        }
        map
    };
    let mut get = common("GET");
    get.insert("db.query.summary".into(), "cache get".into());
    let mut failed_hgetall = common("HGETALL");
    failed_hgetall.insert("error.type".into(), "WRONGTYPE".into());
    failed_hgetall.insert("db.response.status_code".into(), "WRONGTYPE".into());
    let set = common("SET");
    let mut expected_points = vec![
        (normalized(get), 4),
        (normalized(failed_hgetall), 1),
        (normalized(set), 2),
    ];
    expected_points.sort_by_key(|(attributes, _)| format!("{attributes:?}"));
    let actual: Vec<_> = durations
        .iter()
        .map(|point| (point.attributes.clone(), point.value))
        .collect();
    assert_eq!(actual, expected_points);
    for point in &durations {
        assert_eq!(point.unit, "s");
        assert_eq!(
            point.bounds,
            [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]
        );
    }

    let lookups = capture.metric_points("redis_trace.cache.requests");
    let lookup = |hit: bool| {
        let mut map = common("GET");
        map.insert("db.query.summary".into(), "cache get".into());
        map.insert("code.function.name".into(), "policy::Cache::get".into());
        map.insert("cache.hit".into(), hit.into());
        normalized(map)
    };
    let actual: Vec<_> = lookups
        .iter()
        .map(|point| (point.attributes.clone(), point.value))
        .collect();
    let mut expected_lookups = vec![(lookup(false), 2), (lookup(true), 2)];
    expected_lookups.sort_by_key(|(attributes, _)| format!("{attributes:?}"));
    assert_eq!(actual, expected_lookups);
    assert!(lookups.iter().all(|point| point.unit == "{request}"));
}

#[tokio::test]
async fn fields_and_ttl_are_recorded() {
    let capture = capture();
    let server = RedisServer::start();
    let cache = cache(&server).await;
    cache.put("session:42", "v", 90, "gold").await.unwrap();
    let span = capture.span(&format!("SET 127.0.0.1:{}", server.port()));
    let recorded = attributes(&span);
    assert_eq!(recorded["redis.ttl"], Value::I64(90));
    assert_eq!(recorded["app.tier"], Value::from("gold".to_owned()));
    assert_eq!(recorded["redis.key"], Value::from("session:?".to_owned()));
}

#[tokio::test]
async fn code_attributes_can_be_left_out() {
    let capture = capture();
    let server = RedisServer::start();
    let cache = cache(&server).await;
    Config::builder().with_code_attributes(false).install();
    cache.get("user:7").await.unwrap();
    let span = capture.span("cache get");
    let recorded = redis_trace::testing::attributes(&span);
    let code: Vec<_> = recorded
        .keys()
        .filter(|name| name.starts_with("code."))
        .collect();
    assert!(code.is_empty(), "no code.* attributes: {recorded:?}");
    assert_eq!(recorded["redis.key"], Value::from("user:?"));
    assert_eq!(recorded["cache.hit"], Value::from(false));
    assert_eq!(
        span.attributes.capacity(),
        span.attributes.len(),
        "the span's list is sized for what it carries"
    );
    // The cache counter still names the function: its ratio is computed per function.
    let lookups = capture.metric_points("redis_trace.cache.requests");
    assert_eq!(
        lookups[0].attributes["code.function.name"],
        Value::from("policy::Cache::get")
    );
}

#[redis_traced(op = "SET", key = key)]
fn set_default_policy(conn: &mut redis::Connection, key: &[u8]) -> redis::RedisResult<()> {
    redis::Commands::set(conn, key, "v")
}

#[redis_traced(op = "SET", key = key, key_policy = "raw")]
fn set_raw(conn: &mut redis::Connection, key: &[u8]) -> redis::RedisResult<()> {
    redis::Commands::set(conn, key, "v")
}

#[redis_traced(op = "SET", key = key, key_policy = "hash")]
fn set_hashed(conn: &mut redis::Connection, key: &[u8]) -> redis::RedisResult<()> {
    redis::Commands::set(conn, key, "v")
}

#[redis_traced(op = "SET", key = key, key_policy = "omit")]
fn set_omitted(conn: &mut redis::Connection, key: &[u8]) -> redis::RedisResult<()> {
    redis::Commands::set(conn, key, "v")
}

fn key_length(key: &[u8]) -> Option<String> {
    Some(format!("{} bytes", key.len()))
}

#[redis_traced(op = "SET", key = key, key_policy = key_length)]
fn set_custom(conn: &mut redis::Connection, key: &[u8]) -> redis::RedisResult<()> {
    redis::Commands::set(conn, key, "v")
}

#[test]
fn key_policies_on_binary_empty_huge_and_control_keys() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.client().get_connection().unwrap();
    let huge = vec![b'k'; 1 << 20];
    // `key_policy = "hash"` uses the configured secret.
    Config::builder().with_hash_secret("policy-test").install();
    let hash = |key: &[u8]| {
        KeyPolicy::hash_with_secret("policy-test")
            .render(key, 256)
            .unwrap()
    };
    let escaped_huge = "k".repeat(256);
    // key, pattern, raw, custom
    let table: [(&[u8], &str, &str, String); 5] = [
        (
            b"user:12345:profile",
            "user:?:profile",
            "user:12345:profile",
            "18 bytes".into(),
        ),
        (
            b"bin:\x00\xff\xfe",
            "?",
            "bin:\\u{0}\\xff\\xfe",
            "7 bytes".into(),
        ),
        (b"", "", "", "0 bytes".into()),
        (
            &huge,
            &escaped_huge,
            &escaped_huge,
            format!("{} bytes", 1 << 20),
        ),
        (
            b"line\nbreak\t:7",
            "?:?",
            "line\\nbreak\\t:7",
            "13 bytes".into(),
        ),
    ];
    for (key, pattern, raw, custom) in &table {
        capture.clear();
        set_default_policy(&mut conn, key).unwrap();
        set_raw(&mut conn, key).unwrap();
        set_hashed(&mut conn, key).unwrap();
        set_omitted(&mut conn, key).unwrap();
        set_custom(&mut conn, key).unwrap();
        // The value really is stored under the key.
        let stored: Option<String> = redis::Commands::get(&mut conn, *key).unwrap();
        assert_eq!(stored.as_deref(), Some("v"));

        let spans = capture.spans();
        let key_of = |index: usize| {
            attributes(&spans[index])
                .get("redis.key")
                .map(|v| v.as_str().into_owned())
        };
        assert_eq!(
            key_of(0).as_deref(),
            Some(*pattern),
            "pattern of {:?}",
            String::from_utf8_lossy(&key[..key.len().min(20)])
        );
        assert_eq!(key_of(1).as_deref(), Some(*raw));
        assert_eq!(key_of(2), Some(hash(key)));
        assert_eq!(key_of(3), None, "omit records no key");
        assert_eq!(key_of(4).as_deref(), Some(custom.as_str()));
        for index in 0..5 {
            assert!(key_of(index).is_none_or(|rendered| rendered.len() <= 256));
        }
    }
}

#[redis_traced(op = "GET", key = key, name = "mode probe")]
async fn mode_probe(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<Option<String>> {
    conn.get(key).await
}

#[tokio::test]
async fn semantic_convention_modes() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(2).await;
    let port = i64::from(server.port());
    let code = |map: &mut BTreeMap<String, Value>| {
        map.insert("code.function.name".into(), "policy::mode_probe".into());
        map.insert("code.file.path".into(), "tests/policy.rs".into());
        map.insert("redis.key".into(), "k".into());
        map.insert("cache.hit".into(), false.into());
    };
    let mut stable = expected([
        ("db.system.name", "redis".into()),
        ("db.operation.name", "GET".into()),
        ("db.query.summary", "mode probe".into()),
        ("db.namespace", "2".into()),
        ("server.address", "127.0.0.1".into()),
        ("server.port", port.into()),
    ]);
    code(&mut stable);
    let mut old = expected([
        ("db.system", "redis".into()),
        ("db.operation", "GET".into()),
        ("db.redis.database_index", 2_i64.into()),
        ("net.peer.name", "127.0.0.1".into()),
        ("net.peer.port", port.into()),
    ]);
    code(&mut old);
    let mut both = stable.clone();
    both.extend(old.clone());

    for (mode, expected_attributes) in [
        (SemconvMode::Stable, stable),
        (SemconvMode::Old, old),
        (SemconvMode::Both, both),
    ] {
        capture.clear();
        Config::builder()
            .with_semconv(mode)
            .with_default_endpoint(server.client_for_db(2))
            .install();
        mode_probe(&mut conn, "k").await.unwrap();
        assert_exact_attributes(&capture.span("mode probe"), expected_attributes.clone());
        // The metric follows the mode too, though the function recorded in another before.
        let points = capture.metric_points("db.client.operation.duration");
        let in_this_mode: Vec<_> = points
            .iter()
            .filter(|point| {
                point.attributes.keys().all(|name| {
                    expected_attributes.contains_key(name) || name == "db.query.summary"
                })
            })
            .collect();
        assert_eq!(in_this_mode.len(), 1, "{mode:?}: {points:?}");
    }
}

#[tokio::test]
async fn deny_list_and_require_parent() {
    let capture = capture();
    let server = RedisServer::start();
    let cache = cache(&server).await;

    Config::builder()
        .with_denied_commands(["ping"])
        .with_default_endpoint(server.client())
        .install();
    assert_eq!(cache.ping().await.unwrap(), "PONG");
    cache.get("k").await.unwrap();
    let names: Vec<String> = capture.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["cache get"], "PING is denied: no span");
    let operations: Vec<String> = capture
        .metric_points("db.client.operation.duration")
        .iter()
        .map(|point| point.attributes["db.operation.name"].as_str().into_owned())
        .collect();
    assert_eq!(
        operations,
        ["GET", "PING"],
        "denied commands still count in metrics"
    );

    capture.clear();
    Config::builder()
        .with_require_parent(true)
        .with_default_endpoint(server.client())
        .install();
    cache.get("k").await.unwrap();
    assert!(
        capture.spans().is_empty(),
        "no root span when a parent is required"
    );
    let tracer = capture.tracer_provider().tracer("test");
    let parent = Context::current_with_span(tracer.start("request"));
    opentelemetry::context::FutureExt::with_context(cache.get("k"), parent.clone())
        .await
        .unwrap();
    parent.span().end();
    let child = capture.span("cache get");
    assert_eq!(
        child.parent_span_id,
        capture.span("request").span_context.span_id()
    );

    capture.clear();
    Config::builder().with_metrics(false).install();
    cache.get("k").await.unwrap();
    assert!(capture
        .metric_points("db.client.operation.duration")
        .is_empty());
    assert_eq!(capture.spans().len(), 1, "spans are independent of metrics");
}

#[tokio::test]
async fn spans_the_sampler_drops_still_carry_the_context_and_the_metrics() {
    let capture = capture();
    let server = RedisServer::start();
    let cache = cache(&server).await;
    Config::builder()
        .with_default_endpoint(server.client())
        .install();

    // The SDK's default sampler follows the parent: an unsampled parent drops our span.
    let unsampled = SpanContext::new(
        TraceId::from(7),
        SpanId::from(9),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let parent = Context::new().with_remote_span_context(unsampled.clone());
    let (_, seen) = opentelemetry::context::FutureExt::with_context(cache.probe("k"), parent)
        .await
        .unwrap();
    assert!(capture.spans().is_empty(), "the sampler dropped the span");
    assert!(seen.is_valid(), "the body runs under the dropped span");
    assert_eq!(seen.trace_id(), unsampled.trace_id());
    assert_ne!(seen.span_id(), unsampled.span_id(), "a span of its own");
    assert!(!seen.is_sampled());
    let points = capture.metric_points("db.client.operation.duration");
    assert_eq!(
        points.len(),
        1,
        "the duration is recorded whatever the sampler says"
    );
    assert_eq!(
        points[0].attributes["db.query.summary"],
        Value::from("cache probe")
    );

    // Metrics off: the SDK stamps a kept span, and the body runs under it.
    capture.clear();
    Config::builder().with_metrics(false).install();
    let before = std::time::SystemTime::now();
    let (_, seen) = cache.probe("k").await.unwrap();
    let after = std::time::SystemTime::now();
    let span = capture.span("cache probe");
    assert_eq!(seen.span_id(), span.span_context.span_id());
    assert!(before <= span.start_time && span.start_time <= span.end_time);
    assert!(span.end_time <= after);
}

#[tokio::test]
async fn cache_counts_follow_the_endpoint_and_the_meter_provider() {
    let capture = capture();
    let server = RedisServer::start();
    let cache = cache(&server).await;
    let count = |capture: &support::Capture| -> Vec<(Value, u64)> {
        capture
            .metric_points("redis_trace.cache.requests")
            .iter()
            .map(|point| (point.attributes["db.namespace"].clone(), point.value))
            .collect()
    };

    // One function, calls alternating between two endpoints: two tallies, each exact.
    let endpoints = [
        redis_trace::Endpoint::tcp("127.0.0.1", server.port()).with_database(0),
        redis_trace::Endpoint::tcp("127.0.0.1", server.port()).with_database(5),
    ];
    for round in 0..3 {
        for endpoint in &endpoints {
            Config::builder()
                .with_default_endpoint(endpoint.clone())
                .install();
            cache.get(&format!("absent:{round}")).await.unwrap();
        }
    }
    assert_eq!(
        count(&capture),
        [(Value::from("0"), 3), (Value::from("5"), 3)]
    );
    // The duration too: a function reuses what it found for an endpoint only for that endpoint.
    let durations: Vec<(Value, u64)> = capture
        .metric_points("db.client.operation.duration")
        .iter()
        .map(|point| (point.attributes["db.namespace"].clone(), point.value))
        .collect();
    assert_eq!(durations, [(Value::from("0"), 3), (Value::from("5"), 3)]);

    // Counted again from zero in a provider installed later.
    let later = support::LaterMeterProvider::new();
    redis_trace::use_meter_provider(&later.provider);
    cache.get("absent").await.unwrap();
    let sums = later.sums("redis_trace.cache.requests");
    assert_eq!(sums, [1], "one miss in the new provider");
    redis_trace::reload_global_meter();
    drop(capture);
}
