//! Telemetry that means what it says: `cache.hit` only for lookups, whether a conditional write
//! applied for locks, one hit or miss per key for multi-key lookups, from the attribute and from
//! a traced connection alike. Against a real redis-server, attributes compared exactly.

use std::collections::BTreeMap;

use opentelemetry::Value;
use redis::AsyncCommands;
use redis_trace::{redis_traced, TracedConnection};
use redis_trace_harness::{attributes, capture, expected, normalized, Capture, RedisServer};

type Conn = redis::aio::MultiplexedConnection;

/// The lock the seed documents write: SET NX PX to take it, a Lua compare-and-delete to release.
struct Lock {
    conn: Conn,
    release: redis::Script,
}

/// Deletes `key` if it still holds `token`: `true` when it did.
fn compare_and_delete() -> redis::Script {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
         return redis.call('DEL', KEYS[1]) else return 0 end",
    )
}

/// Runs `script` on `key` with `token` over any async connection, traced or not.
async fn run_on_key(
    script: &redis::Script,
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    key: &str,
    token: &str,
) -> redis::RedisResult<bool> {
    script.key(key).arg(token).invoke_async(conn).await
}

impl Lock {
    fn new(conn: Conn) -> Self {
        Self {
            conn,
            release: compare_and_delete(),
        }
    }

    #[redis_traced(op = "SET", key = key, name = "acquire lock")]
    async fn acquire(&self, key: &str, token: &str) -> redis::RedisResult<bool> {
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(30_000));
        self.conn.clone().set_options(key, token, options).await
    }

    #[redis_traced(op = "EVALSHA", key = key, name = "release lock")]
    async fn release(&self, key: &str, token: &str) -> redis::RedisResult<bool> {
        run_on_key(&self.release, &mut self.conn.clone(), key, token).await
    }

    #[redis_traced(op = "MGET", keys = [first, second, third], name = "load three")]
    async fn load_three(
        &self,
        first: &str,
        second: &str,
        third: &str,
    ) -> redis::RedisResult<Vec<Option<String>>> {
        self.conn.clone().mget(&[first, second, third]).await
    }
}

/// The attributes of every span named `name`, in the order they ended.
fn span_attributes(capture: &Capture, name: &str) -> Vec<BTreeMap<String, Value>> {
    capture
        .spans()
        .iter()
        .filter(|span| span.name == name)
        .map(attributes)
        .collect()
}

/// `(cache.hit, value)` of every cache-request point recorded so far.
fn cache_requests(capture: &Capture) -> Vec<(BTreeMap<String, Value>, u64)> {
    capture
        .metric_points("redis_trace.cache.requests")
        .into_iter()
        .map(|point| (point.attributes, point.value))
        .collect()
}

#[tokio::test]
async fn a_lock_records_whether_it_applied_and_no_cache_hit() {
    let capture = capture();
    let server = RedisServer::start();
    let lock = Lock::new(server.connection(0).await);

    assert!(lock.acquire("lock:report", "task-a").await.unwrap());
    assert!(!lock.acquire("lock:report", "task-b").await.unwrap());
    assert!(!lock.release("lock:report", "task-b").await.unwrap());
    assert!(lock.release("lock:report", "task-a").await.unwrap());

    let acquired: Vec<_> = span_attributes(&capture, "acquire lock")
        .iter()
        .map(|recorded| {
            assert!(!recorded.contains_key("cache.hit"), "{recorded:?}");
            recorded["redis.applied"].clone()
        })
        .collect();
    assert_eq!(acquired, [Value::Bool(true), Value::Bool(false)]);
    for recorded in span_attributes(&capture, "release lock") {
        for absent in ["cache.hit", "redis.applied", "error.type"] {
            assert!(!recorded.contains_key(absent), "{absent}: {recorded:?}");
        }
    }
    assert_eq!(cache_requests(&capture), []);
}

#[tokio::test]
async fn a_multi_key_lookup_counts_each_key() {
    let capture = capture();
    let server = RedisServer::start();
    let lock = Lock::new(server.connection(0).await);
    let mut conn = server.connection(0).await;
    let _: () = conn.set("user:1", "ada").await.unwrap();
    let _: () = conn.set("user:3", "grace").await.unwrap();

    let values = lock.load_three("user:1", "user:2", "user:3").await.unwrap();
    assert_eq!(values.iter().flatten().count(), 2);

    let [recorded] = span_attributes(&capture, "load three").try_into().unwrap();
    assert_eq!(recorded["cache.hit_count"], Value::I64(2));
    assert_eq!(recorded["cache.miss_count"], Value::I64(1));
    assert!(!recorded.contains_key("cache.hit"));
    let point = |hit: bool| {
        normalized(expected([
            ("db.system.name", "redis".into()),
            ("db.operation.name", "MGET".into()),
            ("db.query.summary", "load three".into()),
            ("code.function.name", "meaning::Lock::load_three".into()),
            ("cache.hit", hit.into()),
        ]))
    };
    let mut requests = cache_requests(&capture);
    requests.sort_by_key(|(attributes, _)| format!("{attributes:?}"));
    assert_eq!(requests, [(point(false), 1), (point(true), 2)]);
}

#[tokio::test]
async fn a_traced_connection_counts_lookups_and_nothing_else() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);

    let _: () = conn.set("user:1", "ada").await.unwrap();
    let _: Option<String> = conn.get("user:1").await.unwrap();
    let _: Option<String> = conn.get("user:2").await.unwrap();
    let _: Vec<Option<String>> = conn.mget(&["user:1", "user:2", "user:1"]).await.unwrap();
    let _: bool = conn.exists("user:2").await.unwrap();

    let point = |operation: &str, hit: bool| {
        normalized(expected([
            ("db.system.name", "redis".into()),
            ("db.operation.name", operation.to_owned().into()),
            ("server.address", "127.0.0.1".into()),
            ("server.port", i64::from(server.port()).into()),
            ("db.namespace", "0".into()),
            ("cache.hit", hit.into()),
        ]))
    };
    let mut expected_requests = vec![
        (point("GET", true), 1),
        (point("GET", false), 1),
        (point("MGET", true), 2),
        (point("MGET", false), 1),
        (point("EXISTS", false), 1),
    ];
    expected_requests.sort_by_key(|(attributes, _)| format!("{attributes:?}"));
    let mut requests = cache_requests(&capture);
    requests.sort_by_key(|(attributes, _)| format!("{attributes:?}"));
    assert_eq!(requests, expected_requests);
}

#[tokio::test]
async fn a_traced_connection_counts_each_endpoint_and_mode_apart() {
    let capture = capture();
    let server = RedisServer::start();
    let conn = server.connection(0).await;
    let on = |database: i64| {
        TracedConnection::new(conn.clone()).with_endpoint(
            redis_trace::Endpoint::tcp("127.0.0.1", server.port()).with_database(database),
        )
    };
    let (mut first, mut second) = (on(0), on(5));
    // Calls alternating between two endpoints on one thread: two tallies, each exact.
    for _ in 0..3 {
        let _: Option<String> = first.get("absent").await.unwrap();
        let _: Option<String> = second.get("absent").await.unwrap();
    }
    let by_namespace = |capture: &Capture, name: &str| -> Vec<(Value, u64)> {
        cache_requests(capture)
            .into_iter()
            .filter_map(|(attributes, value)| Some((attributes.get(name)?.clone(), value)))
            .collect()
    };
    assert_eq!(
        by_namespace(&capture, "db.namespace"),
        [(Value::from("0"), 3), (Value::from("5"), 3)]
    );
    // Another mode, other attributes: counted apart, though the thread counted GETs before.
    redis_trace::Config::builder()
        .with_semconv(redis_trace::SemconvMode::Old)
        .install();
    let _: Option<String> = first.get("absent").await.unwrap();
    assert_eq!(
        by_namespace(&capture, "db.redis.database_index"),
        [(Value::I64(0), 1)]
    );
    // A meter provider installed later: counted there, from zero.
    let later = redis_trace_harness::LaterMeterProvider::new();
    redis_trace::use_meter_provider(&later.provider);
    let _: Option<String> = first.get("absent").await.unwrap();
    assert_eq!(later.sums("redis_trace.cache.requests"), [1]);
    redis_trace::reload_global_meter();
}

struct TracedLock {
    conn: TracedConnection<Conn>,
    release: redis::Script,
}

impl TracedLock {
    #[redis_traced(op = "EVALSHA", key = key, name = "release traced lock")]
    async fn release(&self, key: &str, token: &str) -> redis::RedisResult<bool> {
        run_on_key(&self.release, &mut self.conn.clone(), key, token).await
    }
}

#[tokio::test]
async fn a_script_not_loaded_yet_shows_the_load_and_the_call_succeeds() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut plain = server.connection(0).await;
    let _: () = plain.set("lock:job", "task-a").await.unwrap();
    let lock = TracedLock {
        conn: TracedConnection::new(server.connection(0).await).with_endpoint(&client),
        release: compare_and_delete(),
    };

    assert!(lock.release("lock:job", "task-a").await.unwrap());

    let spans = capture.spans();
    let function = spans
        .iter()
        .find(|span| span.name == "release traced lock")
        .unwrap();
    assert_eq!(function.status, opentelemetry::trace::Status::Unset);
    assert!(!attributes(function).contains_key("error.type"));
    let children: Vec<_> = spans
        .iter()
        .filter(|span| span.parent_span_id == function.span_context.span_id())
        .map(attributes)
        .collect();
    let operations: Vec<_> = children
        .iter()
        .map(|recorded| recorded["db.operation.name"].as_str().into_owned())
        .collect();
    assert_eq!(operations, ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]);
    let sha = Value::from(lock.release.get_hash().to_owned());
    assert_eq!(children[0]["db.stored_procedure.name"], sha);
    // The first step of the load-and-retry: not a failure of the call.
    assert!(!children[0].contains_key("error.type"));
    assert_eq!(
        children[0]["db.response.status_code"],
        Value::from("NOSCRIPT")
    );
    assert_eq!(children[2]["db.stored_procedure.name"], sha);
    assert!(!children[2].contains_key("error.type"));
    assert!(!children[1].contains_key("db.stored_procedure.name"));
}

/// `Script::invoke` on a cold script cache through a traced connection: the `NOSCRIPT`
/// attempt is a span without error (its status code kept, an event saying why), and the
/// duration metric holds one `EVALSHA` point, without `error.type`, and the load's.
#[tokio::test]
async fn a_cold_script_cache_is_no_error_in_spans_or_metrics() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
    let script = redis::Script::new("return 7");
    let seven: i64 = script.invoke_async(&mut conn).await.unwrap();
    assert_eq!(seven, 7);

    let spans = capture.spans();
    let names: Vec<_> = spans.iter().map(|span| span.name.as_ref()).collect();
    let sha = script.get_hash().to_owned();
    assert_eq!(
        names,
        [
            format!("EVALSHA {sha}"),
            format!("SCRIPT LOAD 127.0.0.1:{}", server.port()),
            format!("EVALSHA {sha}")
        ]
    );
    let attempt = &spans[0];
    assert_eq!(attempt.status, opentelemetry::trace::Status::Unset);
    redis_trace_harness::assert_exact_attributes(
        attempt,
        expected([
            ("db.system.name", "redis".into()),
            ("db.operation.name", "EVALSHA".into()),
            ("db.stored_procedure.name", sha.clone().into()),
            ("db.query.text", "EVALSHA ? ?".into()),
            ("db.response.status_code", "NOSCRIPT".into()),
            ("server.address", "127.0.0.1".into()),
            ("server.port", i64::from(server.port()).into()),
            ("db.namespace", "0".into()),
        ]),
    );
    let events: Vec<_> = attempt
        .events
        .iter()
        .map(|event| event.name.as_ref())
        .collect();
    assert_eq!(events, ["redis_trace.script_not_cached"]);
    assert_eq!(spans[2].status, opentelemetry::trace::Status::Unset);
    assert!(!attributes(&spans[2]).contains_key("db.response.status_code"));

    let points = capture.metric_points("db.client.operation.duration");
    let evalsha: Vec<_> = (points.iter())
        .filter(|point| point.attributes["db.operation.name"] == Value::from("EVALSHA"))
        .collect();
    assert_eq!(evalsha.len(), 1, "{points:?}");
    assert_eq!(evalsha[0].value, 1, "one EVALSHA measured: the call");
    assert_eq!(
        evalsha[0].attributes["db.stored_procedure.name"],
        Value::from(sha.clone()),
        "the metric names the script too"
    );
    assert!(points
        .iter()
        .all(|point| !point.attributes.contains_key("error.type")));
    assert!(points
        .iter()
        .any(|point| point.attributes["db.operation.name"] == Value::from("SCRIPT LOAD")));
}

#[tokio::test]
async fn fcall_names_its_function() {
    let capture = capture();
    let server = RedisServer::start();
    if !server.at_least(7, 0, "FUNCTION LOAD and FCALL") {
        return;
    }
    let client = server.client();
    let mut conn = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
    let library = "#!lua name=locks\n\
        redis.register_function('peek', function(keys) return redis.call('GET', keys[1]) end)";
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(library)
        .query_async(&mut conn)
        .await
        .unwrap();
    let peeked: Option<String> = redis::cmd("FCALL")
        .arg("peek")
        .arg(1)
        .arg("lock:42")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(peeked, None);

    // Named by the conventions' target: the stored procedure before the server.
    let call = capture.span("FCALL peek");
    let recorded = attributes(&call);
    assert_eq!(recorded["db.stored_procedure.name"], Value::from("peek"));
    assert_eq!(recorded["db.query.text"], Value::from("FCALL ? ? lock:?"));
    assert!(!recorded.contains_key("cache.hit"), "{recorded:?}");
    // The duration metric carries the function's name too.
    let durations = capture.metric_points("db.client.operation.duration");
    let fcall = (durations.iter())
        .find(|p| p.attributes["db.operation.name"] == Value::from("FCALL"))
        .expect("an FCALL point");
    assert_eq!(
        fcall.attributes["db.stored_procedure.name"],
        Value::from("peek")
    );
}

struct Profiles {
    conn: Conn,
    peek: redis::Script,
}

impl Profiles {
    #[redis_traced(op = "GET", key = "user:{id}:profile")]
    async fn profile(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}:profile")).await
    }

    #[redis_traced(op = "GET", key = "user:{id}:profile", key_policy = "raw")]
    async fn profile_raw(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}:profile")).await
    }

    /// A Lua lookup: `cache = true` makes it count as one, `procedure` names the script.
    #[redis_traced(
        op = "EVALSHA",
        key = "user:{id}:profile",
        cache = true,
        procedure = self.peek.get_hash()
    )]
    async fn peek(&self, id: u64) -> redis::RedisResult<Option<String>> {
        let mut conn = self.conn.clone();
        let key = format!("user:{id}:profile");
        self.peek.key(key).invoke_async(&mut conn).await
    }
}

#[tokio::test]
async fn templates_cache_and_procedure_on_the_attribute() {
    let capture = capture();
    let server = RedisServer::start();
    let profiles = Profiles {
        conn: server.connection(0).await,
        peek: redis::Script::new("return redis.call('GET', KEYS[1])"),
    };
    let _: () = profiles
        .conn
        .clone()
        .set("user:7:profile", "ada")
        .await
        .unwrap();

    assert_eq!(profiles.profile(7).await.unwrap().as_deref(), Some("ada"));
    assert_eq!(
        profiles.profile_raw(7).await.unwrap().as_deref(),
        Some("ada")
    );
    assert_eq!(profiles.peek(7).await.unwrap().as_deref(), Some("ada"));
    assert_eq!(profiles.peek(8).await.unwrap(), None);

    let spans: Vec<_> = capture.spans().iter().map(attributes).collect();
    assert_eq!(spans.len(), 4);
    assert_eq!(spans[0]["redis.key"], Value::from("user:?:profile"));
    assert_eq!(spans[0]["cache.hit"], Value::Bool(true));
    assert_eq!(spans[1]["redis.key"], Value::from("user:7:profile"));
    let sha = Value::from(profiles.peek.get_hash().to_owned());
    for (recorded, hit) in spans[2..].iter().zip([true, false]) {
        assert_eq!(recorded["redis.key"], Value::from("user:?:profile"));
        assert_eq!(recorded["db.stored_procedure.name"], sha);
        assert_eq!(recorded["cache.hit"], Value::Bool(hit), "{recorded:?}");
    }
    let peeks: Vec<_> = cache_requests(&capture)
        .into_iter()
        .filter(|(attributes, _)| attributes["db.operation.name"] == Value::from("EVALSHA"))
        .map(|(attributes, count)| (attributes["cache.hit"].clone(), count))
        .collect();
    assert_eq!(peeks.len(), 2, "{peeks:?}");
    assert!(peeks.contains(&(Value::Bool(true), 1)) && peeks.contains(&(Value::Bool(false), 1)));
}
