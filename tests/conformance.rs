//! Conformance judged by OpenTelemetry's Weaver: every path that emits telemetry (a cluster and
//! a Sentinel included) exports over
//! OTLP gRPC to `weaver registry live-check` (OpenTelemetry's registry plus ours in `semconv/`),
//! and the run fails on any violation; the counts by advice level and the advice by message are
//! printed. Needs Weaver and the pinned OpenTelemetry registry (`../shared`, or
//! `REDIS_TRACE_SHARED`): run by CI with `cargo test --test conformance -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::AsyncCommands;
use redis_trace::messaging::{self, TracedPubSub};
use redis_trace::pool::deadpool::TracedPool;
use redis_trace::{redis_traced, Endpoint, TracedConnection, TracedSentinelClient};
use redis_trace_harness::{RedisCluster, RedisSentinel, RedisServer, MASTER_NAME};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The directory holding `tools/weaver` and `semconv/model`.
fn shared() -> PathBuf {
    let candidates = [
        std::env::var("REDIS_TRACE_SHARED").ok().map(PathBuf::from),
        Some(Path::new(ROOT).join("../shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("tools/weaver").exists() && dir.join("semconv/model").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "Weaver not found: set REDIS_TRACE_SHARED to the directory holding tools/weaver \
                 and semconv/model"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `weaver registry live-check` on our registry, its dependency pointed at `shared`.
struct LiveCheck {
    child: Child,
    dir: PathBuf,
    grpc_port: u16,
    admin_port: u16,
}

impl LiveCheck {
    fn start(shared: &Path) -> Self {
        let dir =
            std::env::temp_dir().join(format!("redis-trace-live-check-{}", std::process::id()));
        let registry = dir.join("registry");
        std::fs::create_dir_all(&registry).unwrap();
        // Our registry as it is, but its dependency's path made absolute for this run.
        for file in [
            "attributes.yaml",
            "metrics.yaml",
            "events.yaml",
            "manifest.yaml",
        ] {
            let text = std::fs::read_to_string(Path::new(ROOT).join("semconv").join(file)).unwrap();
            let model = shared.join("semconv/model");
            let text = text.replace("../shared/semconv/model", &model.display().to_string());
            std::fs::write(registry.join(file), text).unwrap();
        }
        let (grpc_port, admin_port) = (free_port(), free_port());
        let child = Command::new(shared.join("tools/weaver"))
            .args(["registry", "live-check", "--include-unreferenced", "-r"])
            .arg(&registry)
            .args(["--otlp-grpc-address", "127.0.0.1"])
            .args(["--otlp-grpc-port", &grpc_port.to_string()])
            .args(["--admin-port", &admin_port.to_string()])
            .args([
                "--inactivity-timeout",
                "120",
                "--format",
                "json",
                "--output",
            ])
            .arg(dir.join("out"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run weaver");
        let live = Self {
            child,
            dir,
            grpc_port,
            admin_port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", grpc_port)).is_err() {
            assert!(Instant::now() < deadline, "weaver did not listen in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        live
    }

    /// Stops the live check and returns its report (`live_check.json`).
    fn finish(mut self) -> serde_json::Value {
        let mut admin = std::net::TcpStream::connect(("127.0.0.1", self.admin_port)).unwrap();
        use std::io::Write as _;
        write!(
            admin,
            "POST /stop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        use std::io::Read as _;
        let _ = self
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr);
        let report = self.dir.join("out/live_check.json");
        let text = std::fs::read_to_string(&report)
            .unwrap_or_else(|e| panic!("{}: {e} (weaver {status}: {stderr})", report.display()));
        let _ = std::fs::remove_dir_all(&self.dir);
        serde_json::from_str(&text).unwrap()
    }
}

struct Store {
    conn: redis::aio::MultiplexedConnection,
}

impl Store {
    #[redis_traced(op = "GET", key = "user:{id}")]
    async fn user(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("user:{id}")).await
    }

    #[redis_traced(op = "MGET", keys = ["user:{a}", "user:{b}"], name = "two users")]
    async fn two(&self, a: u64, b: u64) -> redis::RedisResult<Vec<Option<String>>> {
        self.conn
            .clone()
            .mget(&[format!("user:{a}"), format!("user:{b}")])
            .await
    }

    #[redis_traced(op = "SET", key = "lock:{name}", ttl = 30)]
    async fn lock(&self, name: &str) -> redis::RedisResult<bool> {
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::EX(30));
        self.conn
            .clone()
            .set_options(format!("lock:{name}"), "me", options)
            .await
    }

    #[redis_traced(op = "BLPOP", key = "queue:{name}")]
    async fn wait(&self, name: &str) -> redis::RedisResult<Option<(String, String)>> {
        self.conn.clone().blpop(format!("queue:{name}"), 5.0).await
    }

    #[redis_traced(op = "PUBLISH", name = "publish news")]
    async fn publish(&self, topic: &str) -> redis::RedisResult<i64> {
        self.conn
            .clone()
            .publish(format!("news:{topic}"), "hi")
            .await
    }

    /// Fails with an I/O error: nothing listens where `client` points.
    #[redis_traced(op = "GET", key = "user:{id}")]
    async fn unreachable(client: &redis::Client, id: u64) -> redis::RedisResult<Option<String>> {
        let mut conn = client.get_multiplexed_async_connection().await?;
        conn.get(format!("user:{id}")).await
    }

    #[redis_traced(op = "GET", key = "user:{id}")]
    async fn panics(&self, id: u64) -> redis::RedisResult<Option<String>> {
        let _ = id;
        panic!("a panic inside a traced call")
    }
}

/// Every path that emits telemetry, against `server`.
async fn workload(server: &RedisServer) {
    let client = server.client();
    redis_trace::set_default_endpoint(&client);
    let mut plain = server.connection(0).await;
    let _: () = plain.set("user:1", "ada").await.unwrap();
    let _: () = plain.rpush("user:3", "x").await.unwrap();
    let store = Store {
        conn: server.connection(0).await,
    };
    let tracer = opentelemetry::global::tracer_provider().tracer("conformance");
    let cx = opentelemetry::Context::current_with_span(tracer.start("request"));
    let annotated = async {
        store.user(1).await.unwrap(); // hit
        store.user(2).await.unwrap(); // miss
        store.user(3).await.unwrap_err(); // WRONGTYPE
        store.two(1, 2).await.unwrap(); // per-key counts
        assert!(store.lock("report").await.unwrap()); // applied
        assert!(!store.lock("report").await.unwrap()); // not applied
        store.publish("sports").await.unwrap(); // a producer
        let cancelled = tokio::time::timeout(Duration::from_millis(50), store.wait("empty"));
        assert!(cancelled.await.is_err(), "cancelled");
    };
    opentelemetry::context::FutureExt::with_context(annotated, cx.clone()).await;
    let panicked = tokio::spawn(async move { store.panics(1).await });
    assert!(panicked.await.is_err(), "a panic");
    // An I/O error, in an annotated function and in a connect span (nothing listens on the
    // port), then a connection.
    let closed = redis::Client::open(format!("redis://127.0.0.1:{}", free_port())).unwrap();
    assert!(
        Store::unreachable(&closed, 1).await.is_err(),
        "an I/O error"
    );
    assert!(TracedConnection::connect(&closed).await.is_err(), "refused");

    // A traced connection: commands, a pipeline, a transaction, scripts and functions.
    let mut conn = TracedConnection::connect(&client).await.unwrap();
    let _: Option<String> = conn.get("user:1").await.unwrap();
    let _: () = conn.set("user:4", "grace").await.unwrap();
    let _: (Option<String>, Option<String>) = redis::pipe()
        .get("user:1")
        .get("user:2")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: (i64,) = redis::pipe()
        .atomic()
        .incr("counter", 1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let script = redis::Script::new("return redis.call('GET', KEYS[1])");
    let _: Option<String> = script.key("user:1").invoke_async(&mut conn).await.unwrap();
    if server.at_least(7, 0, "FCALL in the conformance run") {
        let library = "#!lua name=conformance\n\
            redis.register_function('peek', function(keys) return redis.call('GET', keys[1]) end)";
        let _: String = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(library)
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: Option<String> = redis::cmd("FCALL")
            .arg("peek")
            .arg(1)
            .arg("user:1")
            .query_async(&mut conn)
            .await
            .unwrap();
    }

    // Client-side caching (RESP3): a miss, then a hit, and the csc counters.
    let caching = redis::Client::open(format!("{}?protocol=resp3", server.url(0))).unwrap();
    let cache = redis::caching::CacheConfig::new();
    let config = redis::AsyncConnectionConfig::new().set_cache_config(cache);
    let cached = caching
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap();
    let mut cached = TracedConnection::new(cached)
        .with_endpoint(&caching)
        .with_client_side_caching();
    for _ in 0..2 {
        let _: Option<String> = cached.get("user:1").await.unwrap();
    }

    // Pub/sub and streams with propagation: producer, receive, process, settle.
    let mut pubsub =
        TracedPubSub::new(client.get_async_pubsub().await.unwrap()).with_endpoint(&client);
    pubsub.subscribe("orders").await.unwrap();
    let mut messages = pubsub.into_messages();
    let mut producer = TracedConnection::new(server.connection(0).await)
        .with_endpoint(&client)
        .with_propagation(true);
    redis_trace_harness::create_stream_group(&mut producer, "invoices", "billing").await;
    let sending = async {
        let _: i64 = producer.publish("orders", "order 42").await.unwrap();
        let _: String = producer
            .xadd("invoices", "*", &[("order", "42")])
            .await
            .unwrap();
    };
    opentelemetry::context::FutureExt::with_context(sending, cx.clone()).await;
    let message = messages.next().await.unwrap();
    message.process(async {}).await;
    let options = redis::streams::StreamReadOptions::default()
        .group("billing", "worker-1")
        .count(10);
    let read: redis::streams::StreamReadReply = producer
        .xread_options(&["invoices"], &[">"], &options)
        .await
        .unwrap();
    for entry in read.keys.iter().flat_map(|key| &key.ids) {
        let from = producer.producer_of(&entry.id);
        messaging::process_entry("invoices", &entry.id, from, async {}).await;
        let _: i64 = producer
            .xack("invoices", "billing", &[&entry.id])
            .await
            .unwrap();
    }
    // A pattern subscription (messaging.destination.template) and a plain XREAD.
    let mut patterns =
        TracedPubSub::new(client.get_async_pubsub().await.unwrap()).with_endpoint(&client);
    patterns.psubscribe("order*").await.unwrap();
    let mut matched = patterns.into_messages();
    let _: i64 = producer.publish("orders", "order 43").await.unwrap();
    let message = matched.next().await.unwrap();
    message.process(async {}).await;
    let _: redis::streams::StreamReadReply = producer.xread(&["invoices"], &["0"]).await.unwrap();
    cx.span().end();

    // The blocking paths: a command and a pub/sub message.
    let url = server.url(0);
    let mut publisher = producer.clone();
    let subscribed = tokio::sync::oneshot::channel();
    let blocking = tokio::task::spawn_blocking(move || {
        let client = redis::Client::open(url).unwrap();
        let mut conn = TracedConnection::connect_blocking(&client).unwrap();
        let _: Option<String> = redis::Commands::get(&mut conn, "user:1").unwrap();
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe("alerts").unwrap();
        subscribed.0.send(()).unwrap();
        let message = pubsub.get_message().unwrap();
        message.process_blocking(|| ());
    });
    subscribed.1.await.unwrap();
    let _: i64 = publisher.publish("alerts", "disk full").await.unwrap();
    blocking.await.unwrap();

    // Query summaries past their limit: the overflow counter and the limit event.
    redis_trace::Config::builder()
        .with_query_summaries(true)
        .with_query_summary_limit(1)
        .install();
    let mut summarized = TracedConnection::new(server.connection(0).await).with_endpoint(&client);
    for key in ["user:1", "session:1", "cart:1"] {
        let _: Option<String> = summarized.get(key).await.unwrap();
    }
    redis_trace::Config::builder().install();

    // A pool: connections opened by redis-trace (connect spans), a wait, a timeout.
    let mut config = deadpool_redis::Config::from_url(server.url(0));
    config.pool = Some(deadpool_redis::PoolConfig {
        max_size: 1,
        timeouts: deadpool_redis::Timeouts {
            wait: Some(Duration::from_millis(100)),
            ..Default::default()
        },
        ..Default::default()
    });
    let pool = TracedPool::new(
        config
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .unwrap(),
        &client,
    );
    let mut lease = pool.get().await.unwrap();
    let _: Option<String> = lease.get("user:1").await.unwrap();
    assert!(pool.get().await.is_err());
    drop(lease);
    // bb8 and r2d2, which open their connections through redis-trace (connect spans).
    let builder = ::bb8::Pool::builder().max_size(2);
    let pool = redis_trace::pool::bb8::TracedPool::build(builder, server.client())
        .await
        .unwrap();
    let _: Option<String> = pool.get().await.unwrap().get("user:1").await.unwrap();
    let url = server.url(0);
    tokio::task::spawn_blocking(move || {
        let builder = ::r2d2::Pool::builder().max_size(1);
        let client = redis::Client::open(url).unwrap();
        let pool = redis_trace::pool::r2d2::TracedPool::build(builder, client).unwrap();
        redis::cmd("GET")
            .arg("user:1")
            .exec(&mut *pool.get().unwrap())
            .unwrap();
    })
    .await
    .unwrap();
}

/// A real 3-master cluster (the seed list as the target, the slot's master as the peer), a
/// Sentinel (the Sentinels and master name as the target, the master as the peer), and a
/// ConnectionManager that reconnects.
async fn topologies() {
    let cluster = RedisCluster::start(3);
    let seeds: Vec<redis::ConnectionInfo> = (cluster.urls().iter())
        .map(|url| url.parse().unwrap())
        .collect();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut conn = TracedConnection::new(client.get_async_connection().await.unwrap())
        .with_endpoint(Endpoint::nodes(&seeds))
        .for_cluster();
    for key in ["user:1", "user:2", "user:3"] {
        let _: () = conn.set(key, "v").await.unwrap();
        let _: Option<String> = conn.get(key).await.unwrap();
    }

    let set_up = RedisSentinel::start();
    let client = SentinelClient::build(
        vec![set_up.sentinel_url()],
        MASTER_NAME.to_owned(),
        None,
        SentinelServerType::Master,
    )
    .unwrap();
    let sentinels: Vec<redis::ConnectionInfo> = vec![set_up.sentinel_url().parse().unwrap()];
    let mut sentinel = TracedSentinelClient::new(client)
        .with_endpoint(Endpoint::sentinels(&sentinels, MASTER_NAME));
    let mut conn = sentinel.get_async_connection().await.unwrap();
    let _: () = conn.set("order:1", "new").await.unwrap();
    let _: Option<String> = conn.get("order:1").await.unwrap();

    // A ConnectionManager whose connection is killed: a failed command, then the reconnect
    // (its event and its counter).
    let server = RedisServer::start();
    let manager = redis::aio::ConnectionManager::new(server.client())
        .await
        .unwrap();
    let mut manager = TracedConnection::new(manager)
        .with_endpoint(server.client())
        .with_reconnects();
    let _: () = manager.set("m", "before").await.unwrap();
    let mut admin = server.client().get_connection().unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut admin)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while manager.set::<_, _, ()>("m", "after").await.is_err() {
        assert!(Instant::now() < deadline, "the manager did not reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
#[ignore = "needs Weaver (../shared); CI runs it"]
fn weaver_live_check_finds_no_violation() {
    let shared = shared();
    let live = LiveCheck::start(&shared);
    let server = RedisServer::start();
    let endpoint = format!("http://127.0.0.1:{}", live.grpc_port);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (spans, metrics) = {
        let _entered = runtime.enter();
        (
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(&endpoint)
                .build()
                .unwrap(),
            MetricExporter::builder()
                .with_tonic()
                .with_endpoint(&endpoint)
                .build()
                .unwrap(),
        )
    };
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics).build())
        .build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    redis_trace::use_tracer_provider(&tracer_provider);
    redis_trace::use_meter_provider(&meter_provider);

    runtime.block_on(async {
        workload(&server).await;
        topologies().await;
    });
    tracer_provider.force_flush().unwrap();
    meter_provider.force_flush().unwrap();
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
    let report = live.finish();

    let statistics = &report["statistics"];
    let levels: BTreeMap<String, u64> = (statistics["advice_level_counts"].as_object())
        .into_iter()
        .flatten()
        .map(|(level, count)| (level.clone(), count.as_u64().unwrap_or(0)))
        .collect();
    let entities = &statistics["total_entities_by_type"];
    println!("conformance: entities {entities}");
    println!("conformance: advice by level {levels:?}");
    if let Some(messages) = statistics["advice_message_counts"].as_object() {
        for (message, count) in messages {
            println!("conformance: {count:>4} × {message}");
        }
    }
    assert!(
        entities["span"].as_u64().unwrap_or(0) >= 20
            && entities["metric"].as_u64().unwrap_or(0) >= 5,
        "the run reached weaver: {entities}"
    );
    assert_eq!(
        levels.get("violation").copied().unwrap_or(0),
        0,
        "violations"
    );
}
