//! A throughput run shaped like a service, against a real redis-server: a multi-threaded
//! runtime (2 workers), 64 tasks over 4 multiplexed connections, and a mix of operations per
//! task: 5 in 8 are `GET` lookups (half hits), 2 in 8 a `SET`, 1 in 8 a pipeline (`SET` +
//! `EXPIRE`). Every operation is an annotated function, or its best hand-written equivalent.
//!
//! Reports the CPU time per operation of the whole process (runtime workers and the batch
//! processor's thread, from getrusage), the minimum over interleaved rounds (noise only adds),
//! and each instrumented variant's added CPU against the best hand-written one under the same
//! sampler.
//!
//! `cargo bench --bench service` (100k operations per run, 5 rounds);
//! `SERVICE_OPS=20000 SERVICE_ROUNDS=2` for a quick look.
//!
//! `SERVICE_INSTRUCTIONS=1 cargo bench --bench service` counts instructions instead, with
//! valgrind's callgrind (every thread of the process, not redis-server): each variant runs in
//! its own process with 4,000 and 12,000 operations, and the difference per operation is
//! reported. It does not move with the machine's load, as CPU time does.
//!
//! `SERVICE_MIX=connection` runs the same service through `redis_trace::TracedConnection`
//! wrapping each multiplexed connection (propagation on) instead of annotated functions, with
//! a mix of what goes through a connection, per 16 operations: 6 `GET` lookups (half hits),
//! 2 `SET`, 2 pipelines of 10 `GET`s, 2 `MULTI`/`EXEC` transactions (`SET` + `EXPIRE`), 2
//! `PUBLISH`es carrying the trace context, 2 stream rounds (an `XADD` carrying it, then an
//! `XREADGROUP ... COUNT 1 NOACK` of a consumer group, which returns one entry). Its
//! hand-written equivalent wraps each connection in `bench::connection::HandMixed`,
//! `bench::messaging::HandPublisher` and `HandStreams` (the same spans, links and metrics,
//! everything prepared once). `SERVICE_DUMP=1` prints what one operation of each kind records
//! through `TracedConnection` and by hand, and whether they agree.

use redis::{AsyncCommands, Cmd, Pipeline, RedisFuture, Value};
use redis_trace::{redis_traced, Endpoint, TracedConnection};
use redis_trace_harness::bench::connection::HandMixed;
use redis_trace_harness::bench::hand::{self, Operation};
use redis_trace_harness::bench::messaging::{HandPublisher, HandStreams};
use redis_trace_harness::bench::{callgrind_instructions, cpu_seconds, install, Variant};
use redis_trace_harness::RedisServer;

type Conn = redis::aio::MultiplexedConnection;

const CONNECTIONS: usize = 4;
const TASKS: usize = 64;
/// Set in a callgrind child process: `{variant index} {operations}`.
const CHILD: &str = "REDIS_TRACE_SERVICE_CHILD";

const VARIANTS: [Variant; 6] = [
    Variant::Raw,
    Variant::NoProvider,
    Variant::Full,
    Variant::HandWritten,
    Variant::FullSampled,
    Variant::HandWrittenSampled,
];

// Keys as templates, the documented form: their pattern (`bench:?`) is known at compile time,
// as it is to the hand-written code, which records it as a constant.
#[redis_traced(op = "GET", key = "bench:{id}", name = "get user")]
async fn get_user(mut conn: Conn, id: usize) -> redis::RedisResult<Option<String>> {
    conn.get(format!("bench:{id}")).await
}

#[redis_traced(op = "SET", key = "user:{id}", name = "save user")]
async fn save_user(mut conn: Conn, id: usize) -> redis::RedisResult<()> {
    conn.set(format!("user:{id}"), "value").await
}

#[redis_traced(op = "SET", key = "session:{id}", name = "save session")]
async fn save_session(mut conn: Conn, id: usize) -> redis::RedisResult<()> {
    session_pipeline(&format!("session:{id}"))
        .query_async(&mut conn)
        .await
}

fn session_pipeline(key: &str) -> redis::Pipeline {
    let mut pipeline = redis::pipe();
    pipeline
        .set(key, "token")
        .ignore()
        .expire(key, 600)
        .ignore();
    pipeline
}

/// Operation `n` of the mix under `variant`; whether it was a lookup that hit.
async fn one_operation(variant: Variant, mut conn: Conn, n: usize) -> bool {
    let instrumented = !matches!(variant, Variant::Raw);
    let by_hand = matches!(variant, Variant::HandWritten | Variant::HandWrittenSampled);
    match n % 8 {
        0..=4 => {
            // Even keys exist: half the lookups hit.
            let id = n % 1000;
            let found = if by_hand {
                hand::traced(conn.get::<_, Option<String>>(format!("bench:{id}"))).await
            } else if instrumented {
                get_user(conn, id).await
            } else {
                conn.get(format!("bench:{id}")).await
            };
            found.expect("GET").is_some()
        }
        5 | 6 => {
            let id = n % 1000;
            let saved = if by_hand {
                let call = conn.set(format!("user:{id}"), "value");
                hand::traced_operation(Operation::SaveUser, call, |_| None).await
            } else if instrumented {
                save_user(conn, id).await
            } else {
                conn.set(format!("user:{id}"), "value").await
            };
            saved.expect("SET");
            false
        }
        _ => {
            let id = n % 1000;
            let saved: redis::RedisResult<()> = if by_hand {
                let pipeline = session_pipeline(&format!("session:{id}"));
                let call = async move { pipeline.query_async(&mut conn).await };
                hand::traced_operation(Operation::SaveSession, call, |_| None).await
            } else if instrumented {
                save_session(conn, id).await
            } else {
                session_pipeline(&format!("session:{id}"))
                    .query_async(&mut conn)
                    .await
            };
            saved.expect("pipeline");
            false
        }
    }
}

/// One run of `ops` operations; CPU seconds.
async fn run(variant: Variant, connections: &[Conn], ops: usize) -> f64 {
    if let Some(port) = connection_mix() {
        return run_mix(variant, connections, ops, port).await;
    }
    let per_task = ops / TASKS;
    let cpu = cpu_seconds();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let conn = connections[task % CONNECTIONS].clone();
            tokio::spawn(async move {
                let mut hits = 0;
                for i in 0..per_task {
                    hits +=
                        usize::from(one_operation(variant, conn.clone(), task + i * TASKS).await);
                }
                hits
            })
        })
        .collect();
    let mut hits = 0;
    for task in tasks {
        hits += task.await.expect("task");
    }
    assert!(hits > 0, "some lookups hit");
    cpu_seconds() - cpu
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` lists benchmarks; there are none to list here.
    }
    if let Ok(child) = std::env::var(CHILD) {
        let (index, ops) = child.split_once(' ').expect("`{variant} {ops}`");
        let variant = VARIANTS[index.parse::<usize>().expect("variant index")];
        let ops = ops.parse().expect("operations");
        with_connections(|connections| async move {
            let installed = install(variant);
            if let Some(port) = connection_mix() {
                install_mix(variant, &installed, port);
            }
            run(variant, &connections, ops).await;
            if let Some(provider) = &installed.tracer_provider {
                let _ = provider.force_flush();
            }
        });
        return;
    }
    if std::env::var_os("SERVICE_DUMP").is_some() {
        with_connections(|connections| async move { dump(&connections).await });
        return;
    }
    if std::env::var_os("SERVICE_INSTRUCTIONS").is_some() {
        count_instructions();
        return;
    }
    let ops = env_or("SERVICE_OPS", 100_000);
    let rounds = env_or("SERVICE_ROUNDS", 5);
    with_connections(|connections| async move {
        time_rounds(&connections, ops, rounds).await;
    });
}

/// Instructions per operation of each variant, from two callgrind runs.
fn count_instructions() {
    const SHORT: usize = 4_000;
    const LONG: usize = 12_000;
    println!("instructions per operation, callgrind, every thread ({SHORT} vs {LONG} operations)");
    let per_op: Vec<f64> = (0..VARIANTS.len())
        .map(|index| {
            let short = callgrind_instructions(CHILD, &format!("{index} {SHORT}"));
            let long = callgrind_instructions(CHILD, &format!("{index} {LONG}"));
            (long as f64 - short as f64) / (LONG - SHORT) as f64
        })
        .collect();
    print_table("instructions", &per_op, 0);
}

/// Starts a private redis-server, a 2-worker runtime and the connections, with half of the
/// looked-up keys present, and runs `body` on them.
fn with_connections<F: std::future::Future<Output = ()>>(body: impl FnOnce(Vec<Conn>) -> F) {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut connections = Vec::new();
        for _ in 0..CONNECTIONS {
            connections.push(
                server
                    .client()
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap(),
            );
        }
        let mut pipeline = redis::pipe();
        for i in (0..1000).step_by(2) {
            pipeline.set(format!("bench:{i}"), "value").ignore();
        }
        let _: () = pipeline
            .query_async(&mut connections[0].clone())
            .await
            .unwrap();
        redis_trace_harness::create_stream_group(&mut connections[0].clone(), STREAM, GROUP).await;
        MIX_PORT.store(server.port(), std::sync::atomic::Ordering::Relaxed);

        body(connections).await;
    });
}

/// CPU time per operation, the minimum over `rounds` interleaved rounds.
async fn time_rounds(connections: &[Conn], ops: usize, rounds: usize) {
    if connection_mix().is_some() {
        println!(
            "{ops} operations per run through TracedConnection (per 16: 6 GET, 2 SET, 2 pipelines \
             of 10 GETs, 2 MULTI SET+EXPIRE, 2 PUBLISH with context, 2 XADD+XREADGROUP), \
             {TASKS} tasks, {CONNECTIONS} connections, 2 runtime workers; minimum of {rounds} \
             interleaved rounds"
        );
    } else {
        println!(
            "{ops} operations per run (5/8 GET, 2/8 SET, 1/8 SET+EXPIRE pipeline), {TASKS} tasks, \
             {CONNECTIONS} connections, 2 runtime workers; minimum of {rounds} interleaved rounds"
        );
    }
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
    for &variant in &VARIANTS {
        let installed = install(variant);
        if let Some(port) = connection_mix() {
            install_mix(variant, &installed, port);
        }
        run(variant, connections, ops / 10).await;
    }
    for _ in 0..rounds {
        for (index, &variant) in VARIANTS.iter().enumerate() {
            let installed = install(variant);
            if let Some(port) = connection_mix() {
                install_mix(variant, &installed, port);
            }
            let seconds = run(variant, connections, ops).await;
            if let Some(provider) = &installed.tracer_provider {
                let _ = provider.force_flush();
            }
            cpu[index].push(seconds / ops as f64 * 1e6);
        }
    }
    let best: Vec<f64> = cpu
        .iter()
        .map(|runs| runs.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    print_table("CPU µs/op", &best, 3);
}

/// `variant`'s label, `redis_traced` read as `TracedConnection` in the connection mix.
fn label(variant: Variant) -> String {
    match connection_mix() {
        Some(_) => variant.label().replace("redis_traced", "TracedConnection"),
        None => variant.label().to_owned(),
    }
}

/// One line per variant: its figure, what it adds over raw, and that against the best
/// hand-written under the same sampler.
fn print_table(unit: &str, figures: &[f64], decimals: usize) {
    let raw = figures[0];
    let added =
        |variant: Variant| figures[VARIANTS.iter().position(|v| *v == variant).unwrap()] - raw;
    println!(
        "{:<36} {:>14} {:>12} {:>14}",
        "variant", unit, "added", "× hand-written"
    );
    for (index, &variant) in VARIANTS.iter().enumerate() {
        let reference = match variant {
            Variant::Full => Some(Variant::HandWritten),
            Variant::FullSampled => Some(Variant::HandWrittenSampled),
            _ => None,
        };
        let ratio = reference.map_or(String::new(), |reference| {
            format!("{:.2}", added(variant) / added(reference))
        });
        println!(
            "{:<36} {:>14.decimals$} {:>12.decimals$} {:>14}",
            label(variant),
            figures[index],
            figures[index] - raw,
            ratio
        );
    }
}

// The `TracedConnection` mix (`SERVICE_MIX=connection`).

const STREAM: &str = "orders";
const GROUP: &str = "billing";

/// The private server's port, for the endpoint the traced and hand-written connections name.
static MIX_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// The server's port when the `TracedConnection` mix runs.
fn connection_mix() -> Option<u16> {
    (std::env::var("SERVICE_MIX").as_deref() == Ok("connection"))
        .then(|| MIX_PORT.load(std::sync::atomic::Ordering::Relaxed))
}

/// A task's connection in the mix.
enum MixConn {
    Raw(Conn),
    Traced(TracedConnection<Conn>),
    Hand(HandMix),
}

/// The hand-written equivalent of a traced connection for the mix: each command to the
/// wrapper that handles it.
struct HandMix {
    commands: HandMixed<Conn>,
    publisher: HandPublisher<Conn>,
    streams: HandStreams<Conn>,
}

impl redis::aio::ConnectionLike for HandMix {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match cmd.args_iter().next() {
            Some(redis::Arg::Simple(b"PUBLISH")) => self.publisher.req_packed_command(cmd),
            Some(redis::Arg::Simple(b"XADD" | b"XREADGROUP")) => {
                self.streams.req_packed_command(cmd)
            }
            _ => self.commands.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.commands.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.commands.get_db()
    }
}

fn mix_connection(variant: Variant, conn: &Conn, port: u16) -> MixConn {
    match variant {
        Variant::Raw => MixConn::Raw(conn.clone()),
        Variant::HandWritten | Variant::HandWrittenSampled => MixConn::Hand(HandMix {
            commands: HandMixed::new(conn.clone()),
            publisher: HandPublisher::new(conn.clone()),
            streams: HandStreams::new(conn.clone()),
        }),
        _ => MixConn::Traced(
            TracedConnection::new(conn.clone())
                .with_endpoint(Endpoint::tcp("127.0.0.1", port).with_database(0))
                .with_propagation(true),
        ),
    }
}

/// Prepares the hand-written instrumentation of the mix for `variant` (after `install`).
fn install_mix(variant: Variant, installed: &redis_trace_harness::bench::Installed, port: u16) {
    if let (Variant::HandWritten | Variant::HandWrittenSampled, Some(tracer), Some(meter)) = (
        variant,
        &installed.tracer_provider,
        &installed.meter_provider,
    ) {
        redis_trace_harness::bench::connection::install_at(tracer, meter, port);
        redis_trace_harness::bench::messaging::install_at(tracer, meter, port);
    }
}

/// Operation `n` of the mix on `conn`; whether it was a lookup that hit.
async fn mix_operation(conn: &mut MixConn, n: usize) -> bool {
    match conn {
        MixConn::Raw(conn) => mix_on(conn, n).await,
        MixConn::Traced(conn) => mix_on(conn, n).await,
        MixConn::Hand(conn) => mix_on(conn, n).await,
    }
}

async fn mix_on(conn: &mut (impl redis::aio::ConnectionLike + Send), n: usize) -> bool {
    let id = n % 1000;
    match n % 16 {
        0..=5 => {
            let found: Option<String> = redis::cmd("GET")
                .arg(format!("bench:{id}"))
                .query_async(conn)
                .await
                .expect("GET");
            return found.is_some();
        }
        6 | 7 => redis::cmd("SET")
            .arg(format!("user:{id}"))
            .arg("value")
            .exec_async(conn)
            .await
            .expect("SET"),
        8 | 9 => {
            let mut pipeline = redis::pipe();
            for k in 0..10 {
                pipeline
                    .cmd("GET")
                    .arg(format!("bench:{}", (id + k) % 1000));
            }
            let _: Vec<Option<String>> = pipeline.query_async(conn).await.expect("pipeline");
        }
        10 | 11 => {
            let key = format!("session:{id}");
            let mut transaction = redis::pipe();
            transaction
                .atomic()
                .cmd("SET")
                .arg(&key)
                .arg("token")
                .ignore()
                .cmd("EXPIRE")
                .arg(&key)
                .arg(600)
                .ignore();
            transaction.exec_async(conn).await.expect("MULTI");
        }
        12 | 13 => {
            let _: i64 = redis::cmd("PUBLISH")
                .arg("orders")
                .arg(format!("order {id}"))
                .query_async(conn)
                .await
                .expect("PUBLISH");
        }
        _ => {
            let _: String = redis::cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg("item")
                .arg("apple")
                .arg("qty")
                .arg("3")
                .query_async(conn)
                .await
                .expect("XADD");
            let read: Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg("worker-1")
                .arg("COUNT")
                .arg(1)
                .arg("NOACK")
                .arg("STREAMS")
                .arg(STREAM)
                .arg(">")
                .query_async(conn)
                .await
                .expect("XREADGROUP");
            assert!(!matches!(read, Value::Nil), "the round read an entry");
        }
    }
    false
}

/// One run of the mix: `ops` operations; CPU seconds.
async fn run_mix(variant: Variant, connections: &[Conn], ops: usize, port: u16) -> f64 {
    let per_task = ops / TASKS;
    let cpu = cpu_seconds();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let mut conn = mix_connection(variant, &connections[task % CONNECTIONS], port);
            tokio::spawn(async move {
                let mut hits = 0;
                for i in 0..per_task {
                    hits += usize::from(mix_operation(&mut conn, task + i * TASKS).await);
                }
                hits
            })
        })
        .collect();
    let mut hits = 0;
    for task in tasks {
        hits += task.await.expect("task");
    }
    assert!(hits > 0, "some lookups hit");
    cpu_seconds() - cpu
}

/// `SERVICE_DUMP`: what one operation of each kind of the mix records, through
/// `TracedConnection` and by hand, compared.
async fn dump(connections: &[Conn]) {
    const METRICS: [&str; 7] = [
        "db.client.operation.duration",
        "redis_trace.cache.requests",
        "messaging.client.operation.duration",
        "messaging.client.sent.messages",
        "messaging.client.consumed.messages",
        "redis.client.stream.lag",
        "messaging.process.duration",
    ];
    let port = MIX_PORT.load(std::sync::atomic::Ordering::Relaxed);
    let telemetry = redis_trace::testing::Telemetry::install();
    for (n, kind) in [
        (0, "GET (hit)"),
        (1, "GET (miss)"),
        (6, "SET"),
        (8, "pipeline of 10"),
        (10, "MULTI SET+EXPIRE"),
        (12, "PUBLISH"),
        (14, "XADD+XREADGROUP"),
    ] {
        let mut sides = Vec::new();
        for variant in [Variant::Full, Variant::HandWritten] {
            if variant == Variant::HandWritten {
                let (tracer, meter) = (telemetry.tracer_provider(), telemetry.meter_provider());
                redis_trace_harness::bench::connection::install_at(tracer, meter, port);
                redis_trace_harness::bench::messaging::install_at(tracer, meter, port);
            }
            let mut conn = mix_connection(variant, &connections[0], port);
            telemetry.clear();
            mix_operation(&mut conn, n).await;
            telemetry.tracer_provider().force_flush().ok();
            let mut lines = Vec::new();
            for span in telemetry.spans() {
                let mut attributes = redis_trace::testing::attributes(&span);
                for varying in ["redis.stream.max_lag", "messaging.message.id"] {
                    if let Some(value) = attributes.get_mut(varying) {
                        *value = opentelemetry::Value::from("(varies)");
                    }
                }
                lines.push(format!(
                    "span {:?} {:?} status={:?} links={}\n    {:?}",
                    span.name,
                    span.span_kind,
                    span.status,
                    span.links.len(),
                    attributes
                ));
            }
            for metric in METRICS {
                for point in telemetry.metric_points(metric) {
                    lines.push(format!(
                        "metric {metric} [{}] count={}\n    {:?}",
                        point.unit, point.value, point.attributes
                    ));
                }
            }
            lines.sort();
            println!("== {kind}: {}", variant.label());
            for line in &lines {
                println!("  {line}");
            }
            sides.push(lines);
        }
        let verdict = if sides[0] == sides[1] {
            "the same"
        } else {
            "DIFFERENT"
        };
        println!("== {kind}: {verdict}\n");
    }
}
