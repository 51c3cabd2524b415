//! `#[redis_traced]` against a real redis-server, spans captured with the SDK's in-memory exporter.

use redis_trace_harness as support;

use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, Value};
use redis::AsyncCommands;
use redis_trace::redis_traced;
use support::{assert_exact_attributes, attributes, capture, expected, line_number, RedisServer};

const FILE: &str = "tests/attribute.rs";

struct UserRepo {
    client: redis::Client,
    conn: redis::aio::MultiplexedConnection,
}

impl UserRepo {
    async fn new(server: &RedisServer, db: u8) -> Self {
        let client = server.client_for_db(db);
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        Self { client, conn }
    }

    #[redis_traced(op = "GET", key = id, endpoint = self.client)]
    async fn get_user(&self, id: &str) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}")).await
    }

    #[redis_traced(op = "SET", key = id, endpoint = &self.client, name = "save user")]
    async fn save_user(&mut self, id: &str, name: &str) -> redis::RedisResult<()> {
        self.conn.set(format!("user:{id}"), name).await
    }

    #[redis_traced(op = "DEL", key = id, endpoint = self.client)]
    async fn delete_user(&self, id: &str) -> redis::RedisResult<usize> {
        self.conn.clone().del(format!("user:{id}")).await
    }

    #[redis_traced(op = "HGETALL", key = id, endpoint = self.client)]
    async fn profile(
        &self,
        id: &str,
    ) -> redis::RedisResult<std::collections::HashMap<String, String>> {
        self.conn.clone().hgetall(format!("user:{id}")).await
    }

    #[redis_traced(op = "EXISTS", key = id, endpoint = self.client)]
    async fn user_exists(&self, id: &str) -> redis::RedisResult<bool> {
        self.conn.clone().exists(format!("user:{id}")).await
    }

    /// Consumes the repository: `self` by value.
    #[redis_traced(op = "GET", key = id, name = "get and close")]
    async fn into_user(self, id: &str) -> redis::RedisResult<Option<String>> {
        let mut conn = self.conn;
        conn.get(format!("user:{id}")).await
    }
}

fn base(operation: &str, function: &str, key: &str) -> std::collections::BTreeMap<String, Value> {
    expected([
        ("redis.key", key.to_owned().into()),
        ("db.system.name", "redis".into()),
        ("db.operation.name", operation.to_owned().into()),
        ("code.function.name", qualified(function).into()),
        ("code.file.path", FILE.into()),
    ])
}

/// `UserRepo::get` → `attribute::UserRepo::get`; trait paths are given in full.
fn qualified(function: &str) -> String {
    if function.starts_with('<') {
        function.to_owned()
    } else {
        format!("attribute::{function}")
    }
}

fn with_endpoint(
    mut attributes: std::collections::BTreeMap<String, Value>,
    server: &RedisServer,
    db: &str,
) -> std::collections::BTreeMap<String, Value> {
    attributes.insert("server.address".into(), "127.0.0.1".into());
    attributes.insert("server.port".into(), i64::from(server.port()).into());
    attributes.insert("db.namespace".into(), db.to_owned().into());
    attributes
}

#[tokio::test]
async fn get_hit_and_miss_set_del_hgetall_exists() {
    let capture = capture();
    let server = RedisServer::start();
    let mut repo = UserRepo::new(&server, 0).await;
    let target = format!("127.0.0.1:{}", server.port());

    repo.save_user("1", "ada").await.unwrap();
    assert_eq!(repo.get_user("1").await.unwrap().as_deref(), Some("ada"));
    assert!(repo.user_exists("1").await.unwrap());
    assert_eq!(repo.delete_user("1").await.unwrap(), 1);
    assert_eq!(repo.get_user("1").await.unwrap(), None);
    assert!(!repo.user_exists("1").await.unwrap());
    assert!(repo.profile("1").await.unwrap().is_empty());

    let spans = capture.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    let get_name = format!("GET {target}");
    let exists_name = format!("EXISTS {target}");
    let del_name = format!("DEL {target}");
    let hgetall_name = format!("HGETALL {target}");
    assert_eq!(
        names,
        [
            "save user",
            get_name.as_str(),
            exists_name.as_str(),
            del_name.as_str(),
            get_name.as_str(),
            exists_name.as_str(),
            hgetall_name.as_str(),
        ]
    );
    for span in &spans {
        assert_eq!(span.span_kind, SpanKind::Client);
        assert_eq!(span.status, Status::Unset, "{}", span.name);
        assert!(line_number(span).is_some_and(|line| line > 0));
        assert_eq!(span.instrumentation_scope.name(), "redis-trace");
    }

    let mut save = with_endpoint(base("SET", "UserRepo::save_user", "?"), &server, "0");
    save.insert("db.query.summary".into(), "save user".into());
    assert_exact_attributes(&spans[0], save);

    let mut hit = with_endpoint(base("GET", "UserRepo::get_user", "?"), &server, "0");
    hit.insert("cache.hit".into(), true.into());
    assert_exact_attributes(&spans[1], hit);

    let mut found = with_endpoint(base("EXISTS", "UserRepo::user_exists", "?"), &server, "0");
    found.insert("cache.hit".into(), true.into());
    assert_exact_attributes(&spans[2], found);

    let deleted = with_endpoint(base("DEL", "UserRepo::delete_user", "?"), &server, "0");
    assert_exact_attributes(&spans[3], deleted);

    let mut miss = with_endpoint(base("GET", "UserRepo::get_user", "?"), &server, "0");
    miss.insert("cache.hit".into(), false.into());
    assert_exact_attributes(&spans[4], miss);

    let mut absent = with_endpoint(base("EXISTS", "UserRepo::user_exists", "?"), &server, "0");
    absent.insert("cache.hit".into(), false.into());
    assert_exact_attributes(&spans[5], absent);

    let hgetall = with_endpoint(base("HGETALL", "UserRepo::profile", "?"), &server, "0");
    assert_exact_attributes(&spans[6], hgetall);
}

#[redis_traced(op = "HGETALL", key = key)]
async fn hgetall_traced(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<std::collections::HashMap<String, String>> {
    conn.hgetall(key).await
}

#[tokio::test]
async fn wrongtype_error_is_recorded_and_returned_unchanged() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;
    let _: () = conn.set("plain", "string").await.unwrap();

    let traced = hgetall_traced(&mut conn, "plain").await.unwrap_err();
    let untraced = conn
        .hgetall::<_, std::collections::HashMap<String, String>>("plain")
        .await
        .unwrap_err();
    assert_eq!(format!("{traced:?}"), format!("{untraced:?}"));
    assert_eq!(traced.code(), Some("WRONGTYPE"));

    let span = capture.span("HGETALL");
    let mut expected = base("HGETALL", "hgetall_traced", "plain");
    expected.insert("error.type".into(), "WRONGTYPE".into());
    expected.insert("db.response.status_code".into(), "WRONGTYPE".into());
    assert_exact_attributes(&span, expected);
    assert_eq!(
        span.status,
        Status::error("WRONGTYPE: Operation against a key holding the wrong kind of value")
    );
}

#[redis_traced(op = "GET", key = key, endpoint = client)]
async fn get_with_new_connection(
    client: &redis::Client,
    key: &str,
) -> redis::RedisResult<Option<String>> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    conn.get(key).await
}

#[tokio::test]
async fn connection_refused_is_an_io_error() {
    let capture = capture();
    let mut server = RedisServer::start();
    let client = server.client();
    server.stop();

    let error = get_with_new_connection(&client, "k").await.unwrap_err();
    assert!(error.is_connection_refusal(), "{error:?}");

    let span = capture.span(&format!("GET 127.0.0.1:{}", server.port()));
    let mut expected = with_endpoint(base("GET", "get_with_new_connection", "k"), &server, "0");
    expected.insert("error.type".into(), "io".into());
    assert_exact_attributes(&span, expected);
    assert!(matches!(span.status, Status::Error { .. }));
}

#[redis_traced(op = "BLPOP", key = key, name = "wait for job")]
async fn wait_for_job(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<Option<(String, String)>> {
    conn.blpop(key, 5.0).await
}

#[tokio::test]
async fn cancelled_call_ends_its_span_marked_cancelled() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;

    let outcome =
        tokio::time::timeout(Duration::from_millis(200), wait_for_job(&mut conn, "jobs")).await;
    assert!(outcome.is_err(), "BLPOP on an empty list must time out");

    let span = capture.span("wait for job");
    let mut expected = base("BLPOP", "wait_for_job", "jobs");
    expected.insert("db.query.summary".into(), "wait for job".into());
    expected.insert("error.type".into(), "cancelled".into());
    assert_exact_attributes(&span, expected);
    assert!(matches!(span.status, Status::Error { .. }));
    let duration = span.end_time.duration_since(span.start_time).unwrap();
    assert!(duration >= Duration::from_millis(200), "{duration:?}");
}

#[redis_traced(op = "GET", key = key, name = "panicking get")]
async fn panicking_get(
    mut conn: redis::aio::MultiplexedConnection,
    key: String,
) -> redis::RedisResult<Option<String>> {
    let value: Option<String> = conn.get(&key).await?;
    panic!("invariant broken for {}", value.is_some());
}

#[tokio::test]
async fn panicking_body_ends_span_with_error_and_panic_propagates() {
    let capture = capture();
    let server = RedisServer::start();
    let conn = server.connection(0).await;

    let joined = tokio::spawn(panicking_get(conn, "k".into())).await;
    let payload = joined.unwrap_err().into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("invariant broken for false")
    );

    let span = capture.span("panicking get");
    let mut expected = base("GET", "panicking_get", "k");
    expected.insert("db.query.summary".into(), "panicking get".into());
    expected.insert("error.type".into(), "panic".into());
    assert_exact_attributes(&span, expected);
    assert!(matches!(span.status, Status::Error { .. }));
}

#[redis_traced(op = "GET", key = key, name = "sync panicking get")]
fn sync_panicking_get(
    conn: &mut redis::Connection,
    key: &str,
) -> redis::RedisResult<Option<String>> {
    let _: Option<String> = redis::Commands::get(conn, key)?;
    panic!("sync invariant broken");
}

#[test]
fn panicking_sync_body_ends_span_and_panic_propagates() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.client().get_connection().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sync_panicking_get(&mut conn, "k")
    }));
    let payload = caught.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"sync invariant broken")
    );
    let span = capture.span("sync panicking get");
    let error_type = attributes(&span)
        .get("error.type")
        .map(|v| v.as_str().into_owned());
    assert_eq!(error_type.as_deref(), Some("panic"));
}

struct Profiles {
    conn: redis::aio::MultiplexedConnection,
}

impl Profiles {
    async fn connect(server: &RedisServer) -> Self {
        Self {
            conn: server.connection(0).await,
        }
    }

    #[redis_traced(op = "GET", key = id, name = "load name")]
    async fn name(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("name:{id}")).await
    }

    #[redis_traced(op = "GET", key = id, name = "load email")]
    async fn email(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("email:{id}")).await
    }

    #[redis_traced(op = "MGET", key = id, name = "load profile")]
    async fn profile(&self, id: u64) -> redis::RedisResult<(Option<String>, Option<String>)> {
        let name = self.name(id).await?;
        let email = self.email(id).await?;
        Ok((name, email))
    }
}

fn assert_parent_of(
    parent: &opentelemetry_sdk::trace::SpanData,
    child: &opentelemetry_sdk::trace::SpanData,
) {
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id(),
        "{} under {}",
        child.name,
        parent.name
    );
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id()
    );
}

#[tokio::test]
async fn nested_calls_form_parent_and_children() {
    let capture = capture();
    let server = RedisServer::start();
    let profiles = Profiles::connect(&server).await;

    profiles.profile(7).await.unwrap();
    let parent = capture.span("load profile");
    assert_eq!(parent.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_parent_of(&parent, &capture.span("load name"));
    assert_parent_of(&parent, &capture.span("load email"));

    // Under an outer span started by the test.
    let tracer = capture.tracer_provider().tracer("test");
    let outer = Context::current_with_span(tracer.start("request"));
    opentelemetry::context::FutureExt::with_context(profiles.profile(8), outer.clone())
        .await
        .unwrap();
    drop(outer);
    let spans = capture.spans();
    let request = spans.iter().find(|s| s.name == "request").unwrap();
    let second = spans
        .iter()
        .filter(|s| s.name == "load profile")
        .nth(1)
        .unwrap();
    assert_parent_of(request, second);
    let second_children: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "load name" || s.name == "load email")
        .skip(2)
        .collect();
    assert_eq!(second_children.len(), 2);
    for child in second_children {
        assert_parent_of(second, child);
    }
}

#[tokio::test]
async fn tracing_span_is_the_parent_with_the_tracing_feature() {
    use tracing_subscriber::layer::SubscriberExt;

    let capture = capture();
    let server = RedisServer::start();
    let profiles = Profiles::connect(&server).await;
    for activation in [true, false] {
        capture.clear();
        let layer = tracing_opentelemetry::layer()
            .with_tracer(capture.tracer_provider().tracer("tracing"))
            .with_context_activation(activation);
        let subscriber = tracing_subscriber::registry().with(layer);
        let _default = tracing::subscriber::set_default(subscriber);
        {
            let handler = tracing::info_span!("handler");
            tracing::Instrument::instrument(profiles.profile(9), handler)
                .await
                .unwrap();
        }
        let handler = capture.span("handler");
        let profile = capture.span("load profile");
        assert_parent_of(&handler, &profile);
        assert_parent_of(&profile, &capture.span("load name"));
    }
}

#[tokio::test]
async fn endpoint_from_client_with_database_three() {
    let capture = capture();
    let server = RedisServer::start();
    let mut repo = UserRepo::new(&server, 3).await;
    repo.save_user("3", "grace").await.unwrap();
    assert_eq!(repo.get_user("3").await.unwrap().as_deref(), Some("grace"));
    // The value really is in database 3.
    let mut db3 = server.connection(3).await;
    assert_eq!(
        db3.get::<_, Option<String>>("user:3")
            .await
            .unwrap()
            .as_deref(),
        Some("grace")
    );

    let span = capture.span(&format!("GET 127.0.0.1:{}", server.port()));
    let mut expected = with_endpoint(base("GET", "UserRepo::get_user", "?"), &server, "3");
    expected.insert("cache.hit".into(), true.into());
    assert_exact_attributes(&span, expected);
}

#[redis_traced(op = "GET", key = key)]
async fn get_default_endpoint(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<Option<String>> {
    conn.get(key).await
}

#[tokio::test]
async fn default_endpoint_is_used_and_nothing_is_invented_without_one() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;

    get_default_endpoint(&mut conn, "k").await.unwrap();
    let mut miss = base("GET", "get_default_endpoint", "k");
    miss.insert("cache.hit".into(), false.into());
    assert_exact_attributes(&capture.span("GET"), miss.clone());

    redis_trace::set_default_endpoint(server.client_for_db(5));
    get_default_endpoint(&mut conn, "k").await.unwrap();
    let span = capture.span(&format!("GET 127.0.0.1:{}", server.port()));
    assert_exact_attributes(&span, with_endpoint(miss, &server, "5"));
}

/// Regression: installing a configuration used to drop the endpoint set before it.
#[tokio::test]
async fn installing_a_configuration_keeps_the_default_endpoint() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;
    let mut miss = base("GET", "get_default_endpoint", "k");
    miss.insert("cache.hit".into(), false.into());
    let span_name = format!("GET 127.0.0.1:{}", server.port());

    redis_trace::set_default_endpoint(server.client_for_db(3));
    redis_trace::Config::builder()
        .with_require_parent(false)
        .install();
    get_default_endpoint(&mut conn, "k").await.unwrap();
    assert_exact_attributes(
        &capture.span(&span_name),
        with_endpoint(miss.clone(), &server, "3"),
    );

    // A builder that names an endpoint replaces it; clearing forgets it.
    capture.clear();
    redis_trace::Config::builder()
        .with_default_endpoint(server.client_for_db(4))
        .install();
    get_default_endpoint(&mut conn, "k").await.unwrap();
    assert_exact_attributes(
        &capture.span(&span_name),
        with_endpoint(miss.clone(), &server, "4"),
    );
    assert_eq!(
        redis_trace::default_endpoint().and_then(|e| e.namespace().map(str::to_owned)),
        Some("4".to_owned())
    );

    capture.clear();
    redis_trace::clear_default_endpoint();
    get_default_endpoint(&mut conn, "k").await.unwrap();
    assert_exact_attributes(&capture.span("GET"), miss);
}

#[tokio::test]
async fn receivers_self_by_value_and_mut() {
    let capture = capture();
    let server = RedisServer::start();
    let mut repo = UserRepo::new(&server, 0).await;
    repo.save_user("9", "linus").await.unwrap(); // &mut self
    assert_eq!(repo.into_user("9").await.unwrap().as_deref(), Some("linus")); // self
    let span = capture.span("get and close");
    let mut expected = base("GET", "UserRepo::into_user", "?");
    expected.insert("db.query.summary".into(), "get and close".into());
    expected.insert("cache.hit".into(), true.into());
    assert_exact_attributes(&span, expected);
}

#[redis_traced(op = "SET", key = key, name = "generic set")]
async fn generic_set<C, V>(conn: &mut C, key: &str, value: V) -> redis::RedisResult<()>
where
    C: redis::aio::ConnectionLike + Send,
    V: redis::ToRedisArgs + Send + Sync,
{
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(conn)
        .await
}

#[tokio::test]
async fn generic_fn() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;
    generic_set(&mut conn, "n", 42_u32).await.unwrap();
    let mut expected = base("SET", "generic_set", "n");
    expected.insert("db.query.summary".into(), "generic set".into());
    assert_exact_attributes(&capture.span("generic set"), expected);
    assert_eq!(conn.get::<_, u32>("n").await.unwrap(), 42);
}

struct SyncRepo {
    conn: redis::Connection,
    client: redis::Client,
}

impl SyncRepo {
    #[redis_traced(op = "GET", key = id, endpoint = self.client, name = "sync get")]
    fn get(&mut self, id: &str) -> redis::RedisResult<Option<String>> {
        if id.is_empty() {
            return Ok(None);
        }
        let value: Option<String> = redis::Commands::get(&mut self.conn, id)?;
        Ok(value)
    }
}

#[test]
fn sync_fn_with_the_blocking_api() {
    let capture = capture();
    let server = RedisServer::start();
    let client = server.client();
    let mut repo = SyncRepo {
        conn: client.get_connection().unwrap(),
        client,
    };
    let _: () = redis::Commands::set(&mut repo.conn, "s", "v").unwrap();
    assert_eq!(repo.get("s").unwrap().as_deref(), Some("v"));
    assert_eq!(repo.get("").unwrap(), None);

    let spans = capture.spans();
    assert_eq!(spans.len(), 2);
    let mut hit = with_endpoint(base("GET", "SyncRepo::get", "s"), &server, "0");
    hit.insert("db.query.summary".into(), "sync get".into());
    let mut miss = hit.clone();
    hit.insert("cache.hit".into(), true.into());
    miss.insert("cache.hit".into(), false.into());
    miss.insert("redis.key".into(), "".into());
    assert_exact_attributes(&spans[0], hit);
    assert_exact_attributes(&spans[1], miss);
}

#[redis_traced(op = "GET", key = key, name = "slow get")]
async fn slow_get(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<Option<String>> {
    tokio::time::sleep(Duration::from_millis(120)).await;
    conn.get(key).await
}

#[tokio::test]
async fn span_duration_covers_the_whole_call() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;
    slow_get(&mut conn, "k").await.unwrap();
    let span = capture.span("slow get");
    let duration = span.end_time.duration_since(span.start_time).unwrap();
    assert!(duration >= Duration::from_millis(120), "{duration:?}");
}

#[async_trait::async_trait]
trait Cache {
    async fn cached(&self, key: &str) -> redis::RedisResult<Option<String>>;
}

#[async_trait::async_trait]
impl Cache for Profiles {
    #[redis_traced(op = "GET", key = key, name = "async-trait get")]
    async fn cached(&self, key: &str) -> redis::RedisResult<Option<String>> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.conn.clone().get(key).await
    }
}

#[tokio::test]
async fn async_trait_methods_are_traced_over_their_execution() {
    let capture = capture();
    let server = RedisServer::start();
    let profiles = Profiles::connect(&server).await;
    let future = profiles.cached("k");
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(
        capture.spans().is_empty(),
        "the span must not end before the future runs"
    );
    assert_eq!(future.await.unwrap(), None);
    let span = capture.span("async-trait get");
    let mut expected = base(
        "GET",
        "<attribute::Profiles as attribute::Cache>::cached",
        "k",
    );
    expected.insert("db.query.summary".into(), "async-trait get".into());
    expected.insert("cache.hit".into(), false.into());
    assert_exact_attributes(&span, expected);
    let duration = span.end_time.duration_since(span.start_time).unwrap();
    assert!(duration >= Duration::from_millis(50), "{duration:?}");
}

/// An app error converted into by `?` from a parse error and from a Redis error.
#[derive(Debug)]
enum DisplayNameError {
    Redis(redis::RedisError),
    BadId(std::num::ParseIntError),
}

impl std::fmt::Display for DisplayNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis(_) => f.write_str("display name lookup failed"),
            Self::BadId(error) => write!(f, "bad id: {error}"),
        }
    }
}

impl std::error::Error for DisplayNameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Redis(error) => Some(error),
            Self::BadId(error) => Some(error),
        }
    }
}

impl From<redis::RedisError> for DisplayNameError {
    fn from(error: redis::RedisError) -> Self {
        Self::Redis(error)
    }
}

impl From<std::num::ParseIntError> for DisplayNameError {
    fn from(error: std::num::ParseIntError) -> Self {
        Self::BadId(error)
    }
}

#[redis_traced(op = "GET", key = id, name = "display name")]
async fn display_name(
    conn: &mut redis::aio::MultiplexedConnection,
    id: &str,
) -> Result<impl std::fmt::Display, DisplayNameError> {
    let number: u64 = id.parse()?;
    let name: Option<String> = conn.get(format!("user:{number}")).await?;
    Ok(name.unwrap_or_else(|| "anonymous".to_owned()))
}

#[redis_traced(op = "GET", key = key, name = "display length")]
async fn display_length(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<impl std::fmt::Display> {
    let value: Option<String> = conn.get(key).await?;
    Ok(value.map_or(0, |value| value.len()))
}

/// `Result<impl Trait, E>` with `?`: the fake return edge erases `impl Trait` to `_` and keeps
/// `E`, so `?` converts into it and each span is classified by the real result.
#[tokio::test]
async fn impl_trait_results_with_question_mark() {
    let capture = capture();
    let server = RedisServer::start();
    let mut conn = server.connection(0).await;
    let _: () = conn.set("user:1", "ada").await.unwrap();
    let _: () = conn.hset("user:2", "name", "bob").await.unwrap();

    let name = display_name(&mut conn, "1").await;
    assert_eq!(
        name.ok().map(|name| name.to_string()).as_deref(),
        Some("ada")
    );
    let Err(DisplayNameError::BadId(_)) = display_name(&mut conn, "x").await else {
        panic!("a bad id must fail through `?` on the ParseIntError");
    };
    let Err(DisplayNameError::Redis(wrong_type)) = display_name(&mut conn, "2").await else {
        panic!("a hash under the key must fail through `?` on the RedisError");
    };
    assert_eq!(wrong_type.code(), Some("WRONGTYPE"));
    let length = display_length(&mut conn, "user:1").await;
    assert_eq!(
        length.ok().map(|length| length.to_string()).as_deref(),
        Some("3")
    );
    let Err(error) = display_length(&mut conn, "user:2").await else {
        panic!("GET on a hash must fail through `?`");
    };
    assert_eq!(error.code(), Some("WRONGTYPE"));

    let spans = capture.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "display name",
            "display name",
            "display name",
            "display length",
            "display length"
        ]
    );
    let traced = |function: &str, key: &str, summary: &str| {
        let mut attributes = base("GET", function, key);
        attributes.insert("db.query.summary".into(), summary.to_owned().into());
        attributes
    };

    // Ok: no `cache.hit`, the value is not an `Option`.
    assert_exact_attributes(&spans[0], traced("display_name", "?", "display name"));
    assert_eq!(spans[0].status, Status::Unset);

    // `?` on a `ParseIntError`, converted by `From`: the app error's type.
    let mut bad_id = traced("display_name", "x", "display name");
    bad_id.insert("error.type".into(), "attribute::DisplayNameError".into());
    assert_exact_attributes(&spans[1], bad_id);
    assert_eq!(
        spans[1].status,
        Status::error("bad id: invalid digit found in string")
    );

    // `?` on a `RedisError`, converted by `From`: the Redis code, found through `source()`.
    let mut wrapped = traced("display_name", "?", "display name");
    wrapped.insert("error.type".into(), "WRONGTYPE".into());
    wrapped.insert("db.response.status_code".into(), "WRONGTYPE".into());
    assert_exact_attributes(&spans[2], wrapped);
    // The app error's own message: its Redis error is a source, not the error itself.
    assert_eq!(spans[2].status, Status::error("display name lookup failed"));

    assert_exact_attributes(
        &spans[3],
        traced("display_length", "user:?", "display length"),
    );
    assert_eq!(spans[3].status, Status::Unset);

    let mut redis_error = traced("display_length", "user:?", "display length");
    redis_error.insert("error.type".into(), "WRONGTYPE".into());
    redis_error.insert("db.response.status_code".into(), "WRONGTYPE".into());
    assert_exact_attributes(&spans[4], redis_error);
    assert_eq!(
        spans[4].status,
        Status::error("WRONGTYPE: Operation against a key holding the wrong kind of value")
    );
}
