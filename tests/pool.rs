//! Connection pools against a real redis-server: the `db.client.connection.*` metrics compared
//! exactly, connection set-up spans, and recovery after the server restarts.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry::Value;
use redis::AsyncCommands;
use redis_trace::pool::{bb8, deadpool, r2d2};
use redis_trace::TracedConnection;
use redis_trace_harness::{attributes, capture, Capture, RedisServer};

const POOL_NAME: &str = "db.client.connection.pool.name";

/// The current value of an up-down counter (or a counter's sum, a histogram's count) for the
/// pool named `pool`, with `state` when given.
fn value(capture: &Capture, metric: &str, pool: &str, state: Option<&str>) -> Option<u64> {
    let mut wanted = BTreeMap::from([(POOL_NAME.to_owned(), Value::from(pool.to_owned()))]);
    if let Some(state) = state {
        let key = "db.client.connection.state".to_owned();
        wanted.insert(key, Value::from(state.to_owned()));
    }
    let points = capture.metric_points(metric);
    let matching: Vec<u64> = (points.iter())
        .filter(|point| point.attributes == wanted)
        .map(|point| point.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

fn name(server: &RedisServer) -> String {
    format!("127.0.0.1:{}/0", server.port())
}

#[tokio::test]
async fn bb8_reports_connections_by_state_and_times_them() {
    let capture = capture();
    let server = RedisServer::start();
    let builder = ::bb8::Pool::builder().max_size(6).min_idle(Some(0));
    let pool = bb8::TracedPool::build(builder, server.client())
        .await
        .unwrap();
    let mut leases = Vec::new();
    for _ in 0..5 {
        leases.push(pool.get().await.unwrap());
    }
    let _: () = leases[0].set("pooled", "1").await.unwrap();
    leases.truncate(3); // two go back: 3 used, 2 idle
    let pool_name = name(&server);
    let count = |metric, state| value(&capture, metric, &pool_name, state);
    assert_eq!(count("db.client.connection.count", Some("used")), Some(3));
    assert_eq!(count("db.client.connection.count", Some("idle")), Some(2));
    assert_eq!(count("db.client.connection.max", None), Some(6));
    assert_eq!(count("db.client.connection.idle.min", None), Some(0));
    assert_eq!(
        count("db.client.connection.pending_requests", None),
        Some(0)
    );
    assert_eq!(count("db.client.connection.wait_time", None), Some(5));
    assert_eq!(count("db.client.connection.create_time", None), Some(5));
    assert_eq!(count("db.client.connection.use_time", None), Some(2));
    // Five connection set-up spans, and the command's span on a lent connection.
    let connect = format!("connect 127.0.0.1:{}", server.port());
    let spans = capture.spans();
    assert_eq!(spans.iter().filter(|s| s.name == connect).count(), 5);
    let set = capture.span(&format!("SET 127.0.0.1:{}", server.port()));
    assert_eq!(
        attributes(&set)["db.query.text"],
        Value::from("SET pooled ?".to_owned())
    );
    // The pool's health check is not an operation.
    let operations = capture.metric_points("db.client.operation.duration");
    let names: Vec<&Value> = operations
        .iter()
        .map(|p| &p.attributes["db.operation.name"])
        .collect();
    assert_eq!(names, [&Value::from("SET".to_owned())]);
}

#[tokio::test]
async fn bb8_records_a_waiter_and_a_timeout() {
    let capture = capture();
    let server = RedisServer::start();
    let builder = ::bb8::Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(300));
    let pool = bb8::TracedPool::build(builder, server.client())
        .await
        .unwrap()
        .with_name("sessions");
    let held = pool.get().await.unwrap();
    let waiter = pool.get();
    let release = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            value(
                &capture,
                "db.client.connection.pending_requests",
                "sessions",
                None
            ),
            Some(1)
        );
        drop(held);
    };
    let (waited, ()) = tokio::join!(waiter, release);
    let waited = waited.unwrap();
    assert_eq!(
        value(&capture, "db.client.connection.wait_time", "sessions", None),
        Some(2)
    );
    // Exhausted: the only connection is out, a get times out.
    let timed_out = pool.get().await;
    assert!(
        matches!(timed_out, Err(::bb8::RunError::TimedOut)),
        "{:?}",
        timed_out.err()
    );
    assert_eq!(
        value(&capture, "db.client.connection.timeouts", "sessions", None),
        Some(1)
    );
    // A wait cancelled by the caller is no longer pending.
    let cancelled = tokio::time::timeout(Duration::from_millis(20), pool.get()).await;
    assert!(cancelled.is_err());
    assert_eq!(
        value(
            &capture,
            "db.client.connection.pending_requests",
            "sessions",
            None
        ),
        Some(0)
    );
    assert_eq!(
        value(&capture, "db.client.connection.wait_time", "sessions", None),
        Some(2),
        "a timed-out wait obtained nothing"
    );
    drop(waited);
}

#[tokio::test]
async fn deadpool_reports_connections_by_state_a_waiter_and_a_timeout() {
    let capture = capture();
    let server = RedisServer::start();
    let mut config = deadpool_redis::Config::from_url(server.url(0));
    config.pool = Some(deadpool_redis::PoolConfig {
        max_size: 5,
        timeouts: deadpool_redis::Timeouts {
            wait: Some(Duration::from_millis(300)),
            ..Default::default()
        },
        ..Default::default()
    });
    let inner = config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let pool = deadpool::TracedPool::new(inner, server.client());
    let mut leases = Vec::new();
    for _ in 0..5 {
        leases.push(pool.get().await.unwrap());
    }
    let _: () = leases[0].set("pooled", "1").await.unwrap();
    leases.truncate(3);
    let pool_name = name(&server);
    let count = |metric, state| value(&capture, metric, &pool_name, state);
    assert_eq!(count("db.client.connection.count", Some("used")), Some(3));
    assert_eq!(count("db.client.connection.count", Some("idle")), Some(2));
    assert_eq!(count("db.client.connection.max", None), Some(5));
    assert_eq!(count("db.client.connection.wait_time", None), Some(5));
    assert_eq!(count("db.client.connection.use_time", None), Some(2));
    capture.span(&format!("SET 127.0.0.1:{}", server.port()));

    // Exhausted: a waiter gets a returned connection, then a get times out.
    leases.extend([pool.get().await.unwrap(), pool.get().await.unwrap()]);
    let waiter = pool.get();
    let release = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            count("db.client.connection.pending_requests", None),
            Some(1)
        );
        leases.pop();
    };
    let (waited, ()) = tokio::join!(waiter, release);
    leases.push(waited.unwrap());
    assert_eq!(count("db.client.connection.wait_time", None), Some(8));
    let timed_out = pool.get().await;
    assert!(matches!(
        timed_out,
        Err(deadpool_redis::PoolError::Timeout(_))
    ));
    assert_eq!(count("db.client.connection.timeouts", None), Some(1));
}

#[test]
fn r2d2_reports_connections_by_state_and_a_timeout() {
    let capture = capture();
    let server = RedisServer::start();
    let builder = ::r2d2::Pool::builder()
        .max_size(5)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_millis(300));
    let pool = r2d2::TracedPool::build(builder, server.client()).unwrap();
    let mut leases: Vec<_> = (0..5).map(|_| pool.get().unwrap()).collect();
    redis::cmd("SET")
        .arg("pooled")
        .arg("1")
        .exec(&mut *leases[0])
        .unwrap();
    leases.truncate(3);
    let pool_name = name(&server);
    let count = |metric, state| value(&capture, metric, &pool_name, state);
    assert_eq!(count("db.client.connection.count", Some("used")), Some(3));
    assert_eq!(count("db.client.connection.count", Some("idle")), Some(2));
    assert_eq!(count("db.client.connection.max", None), Some(5));
    assert_eq!(count("db.client.connection.create_time", None), Some(5));
    assert_eq!(count("db.client.connection.wait_time", None), Some(5));
    capture.span(&format!("SET 127.0.0.1:{}", server.port()));
    leases.extend([pool.get().unwrap(), pool.get().unwrap()]);
    assert!(pool.get().is_err(), "exhausted");
    assert_eq!(count("db.client.connection.timeouts", None), Some(1));
}

#[tokio::test]
async fn a_wrong_password_fails_the_connect_span_and_no_password_is_exported() {
    let capture = capture();
    let server = RedisServer::start_with(&["--requirepass", "right-s3cret"]);
    let url = format!("redis://:wrong-s3cret@127.0.0.1:{}/0", server.port());
    let client = redis::Client::open(url).unwrap();
    let error = TracedConnection::connect(&client).await.unwrap_err();
    let span = capture.span(&format!("connect 127.0.0.1:{}", server.port()));
    let recorded = attributes(&span);
    // redis-rs turns the server's WRONGPASS into its AuthenticationFailed kind and drops the
    // reply's code, so the span says what redis-rs says.
    assert_eq!(
        recorded["error.type"],
        Value::from("authentication_failed".to_owned()),
        "{error:?}"
    );
    assert!(!recorded.contains_key("db.response.status_code"));
    assert_eq!(recorded["server.port"], Value::I64(server.port().into()));
    assert_eq!(
        span.status,
        opentelemetry::trace::Status::error(
            "Password authentication failed - AuthenticationFailed"
        )
    );

    // Without a password redis-rs sends no AUTH: the connection opens, and the first command
    // is refused with NOAUTH, which its span carries.
    let mut anonymous = TracedConnection::connect(&server.client()).await.unwrap();
    let refused: redis::RedisResult<Option<String>> = anonymous.get("k").await;
    assert_eq!(refused.unwrap_err().code(), Some("NOAUTH"));
    let get = capture.span(&format!("GET 127.0.0.1:{}", server.port()));
    assert_eq!(
        attributes(&get)["db.response.status_code"],
        Value::from("NOAUTH".to_owned())
    );

    // No password anywhere: span names, attributes, status, events; metric attributes.
    let right = TracedConnection::connect(
        &redis::Client::open(server.url(0).replace("//", "//:right-s3cret@")).unwrap(),
    )
    .await
    .unwrap();
    drop(right);
    let exported = format!("{:?}", capture.spans());
    let metrics = format!(
        "{:?}",
        capture.metric_points("db.client.operation.duration")
    );
    for text in [exported, metrics] {
        assert!(!text.contains("s3cret"), "a password was exported: {text}");
    }
}

#[tokio::test]
async fn a_pool_recovers_when_the_server_comes_back() {
    let capture = capture();
    let mut server = RedisServer::start();
    let builder = ::bb8::Pool::builder()
        .max_size(2)
        .connection_timeout(Duration::from_millis(500));
    let pool = bb8::TracedPool::build(builder, server.client())
        .await
        .unwrap();
    let mut lease = pool.get().await.unwrap();
    let _: () = lease.set("k", "before").await.unwrap();

    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(200)))
        .set_number_of_retries(1);
    let manager = redis::aio::ConnectionManager::new_with_config(server.client(), config)
        .await
        .unwrap();
    let mut manager = TracedConnection::new(manager)
        .with_endpoint(server.client())
        .with_reconnects();
    let _: () = manager.set("m", "before").await.unwrap();

    server.stop();
    let failed: redis::RedisResult<()> = lease.set("k", "during").await;
    assert!(failed.is_err());
    drop(lease);
    assert!(pool.get().await.is_err(), "no server: the get fails");
    let failed: redis::RedisResult<()> = manager.set("m", "during").await;
    assert!(failed.is_err());

    server.restart();
    let mut lease = pool.get().await.unwrap();
    let _: () = lease.set("k", "after").await.unwrap();
    // The manager reconnects by itself; a command may fail until it has.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while manager.set::<_, _, ()>("m", "after").await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the manager did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let manager_spans: Vec<_> = (capture.spans().into_iter())
        .filter(|span| span.name == format!("SET 127.0.0.1:{}", server.port()))
        .filter(|span| attributes(span)["db.query.text"] == Value::from("SET m ?".to_owned()))
        .collect();
    let reconnected = |span: &opentelemetry_sdk::trace::SpanData| {
        span.events
            .iter()
            .any(|event| event.name == "redis_trace.reconnected")
    };
    let last = manager_spans.last().unwrap();
    assert!(reconnected(last), "the first success after the outage");
    assert_eq!(manager_spans.iter().filter(|s| reconnected(s)).count(), 1);
    assert!(!attributes(last).contains_key("error.type"));
    let reconnects = capture.metric_points("redis_trace.connection.reconnects");
    assert_eq!(reconnects.iter().map(|p| p.value).sum::<u64>(), 1);

    let port = server.port();
    let spans = capture.spans();
    let sets: Vec<_> = (spans.iter())
        .filter(|s| s.name == format!("SET 127.0.0.1:{port}"))
        .filter(|s| attributes(s)["db.query.text"] == Value::from("SET k ?".to_owned()))
        .map(|s| attributes(s).get("error.type").cloned())
        .collect();
    let (first, last) = (sets.first().unwrap(), sets.last().unwrap());
    assert_eq!(*first, None, "before");
    assert!(sets.iter().any(Option::is_some), "during: {sets:?}");
    assert_eq!(*last, None, "after");
    let connects: Vec<_> = (spans.iter())
        .filter(|s| s.name == format!("connect 127.0.0.1:{port}"))
        .map(|s| attributes(s).get("error.type").cloned())
        .collect();
    assert!(
        connects.iter().any(Option::is_some),
        "refused connects: {connects:?}"
    );
    assert_eq!(connects.last(), Some(&None), "the reconnect succeeded");
    assert_eq!(
        value(
            &capture,
            "db.client.connection.timeouts",
            &name(&server),
            None
        ),
        Some(1)
    );
}
