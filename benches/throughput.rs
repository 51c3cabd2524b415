//! Throughput harness against a real redis-server (the test harness's spawner): GETs, half
//! hits, at concurrency 1 and 64 on one multiplexed connection, for every variant, in one run,
//! repeated, the minimum over interleaved rounds (noise only adds). Reports CPU time per
//! operation (getrusage) and throughput, as ratios to the uninstrumented run.
//!
//! `cargo bench --bench throughput` (200k GETs per run, 3 rounds);
//! `THROUGHPUT_OPS=20000 THROUGHPUT_ROUNDS=1 cargo bench --bench throughput` for a quick look;
//! `THROUGHPUT_CONCURRENCY=64` for one concurrency only; `THROUGHPUT_VARIANTS=floor,span` for
//! the variants whose label contains one of the words (raw and seed always run: the ratios).

use std::time::Instant;

use opentelemetry::trace::{Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace_harness::bench::{cpu_seconds, install, sdk_floor_span, Variant};
use redis_trace_harness::RedisServer;

type Conn = redis::aio::MultiplexedConnection;

async fn raw(mut conn: Conn, key: String) -> redis::RedisResult<Option<String>> {
    conn.get(key).await
}

// A key template, the documented form: its pattern (`bench:?`) is known at compile time, as it
// is to the hand-written code, which records it as a constant.
#[redis_traced(op = "GET", key = "bench:{id}", name = "get user")]
async fn traced(mut conn: Conn, id: usize) -> redis::RedisResult<Option<String>> {
    conn.get(format!("bench:{id}")).await
}

async fn seed(mut conn: Conn, key: String) -> redis::RedisResult<Option<String>> {
    let tracer = opentelemetry::global::tracer("redis");
    let span = tracer.start("redis.get");
    let cx = Context::current_with_span(span);
    let statement = format!("GET {key}");
    let result: redis::RedisResult<Option<String>> =
        opentelemetry::context::FutureExt::with_context(conn.get(key), cx.clone()).await;
    let span = cx.span();
    span.set_attributes(vec![
        KeyValue::new("db.system", "redis"),
        KeyValue::new("db.operation", "GET"),
        KeyValue::new("db.statement", statement),
    ]);
    match &result {
        Ok(value) => span.set_attribute(KeyValue::new("cache.hit", value.is_some())),
        Err(error) => span.set_status(Status::error(error.to_string())),
    }
    span.end();
    result
}

#[tracing::instrument(skip(conn), fields(otel.kind = "client", db.system.name = "redis", db.operation.name = "GET"))]
async fn instrumented(mut conn: Conn, key: String) -> redis::RedisResult<Option<String>> {
    conn.get(key).await
}

async fn one_get(variant: Variant, conn: Conn, id: usize) -> redis::RedisResult<Option<String>> {
    let key = || format!("bench:{id}");
    match variant {
        Variant::Raw => raw(conn, key()).await,
        Variant::NoProvider
        | Variant::AlwaysOff
        | Variant::Full
        | Variant::SpanOnly
        | Variant::FullSampled => traced(conn, id).await,
        Variant::HandWritten | Variant::HandWrittenSampled => {
            let mut conn = conn;
            redis_trace_harness::bench::hand::traced(conn.get(key())).await
        }
        Variant::Seed => seed(conn, key()).await,
        Variant::TracingInstrument => instrumented(conn, key()).await,
        Variant::SdkFloorDropped => {
            let cx = redis_trace_harness::bench::sdk_floor_dropped_context();
            let result =
                opentelemetry::context::FutureExt::with_context(raw(conn, key()), cx.clone()).await;
            cx.span().end();
            result
        }
        Variant::SdkFloor => {
            let result = raw(conn, key()).await;
            sdk_floor_span();
            result
        }
    }
}

/// One run: `ops` GETs from `concurrency` tasks; (CPU seconds, wall seconds).
async fn run(variant: Variant, conn: &Conn, ops: usize, concurrency: usize) -> (f64, f64) {
    let per_task = ops / concurrency;
    let cpu = cpu_seconds();
    let wall = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let conn = conn.clone();
            tokio::spawn(async move {
                let mut hits = 0_usize;
                for i in 0..per_task {
                    // Keys 0..ops: even ones exist, so half the GETs hit.
                    let id = (task * per_task + i) % ops;
                    hits += usize::from(
                        one_get(variant, conn.clone(), id)
                            .await
                            .expect("GET")
                            .is_some(),
                    );
                }
                hits
            })
        })
        .collect();
    let mut hits = 0;
    for task in tasks {
        hits += task.await.expect("task");
    }
    assert_eq!(hits, per_task * concurrency / 2, "half of the GETs hit");
    (cpu_seconds() - cpu, wall.elapsed().as_secs_f64())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` lists benchmarks; there are none to list here.
    }
    let ops = env_or("THROUGHPUT_OPS", 200_000);
    let rounds = env_or("THROUGHPUT_ROUNDS", 3);
    let server = RedisServer::start();
    // One thread: the `tracing` subscriber is thread-local, and redis-server has the other core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = server
            .client()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let mut pipeline = redis::pipe();
        for i in (0..ops).step_by(2) {
            pipeline.set(format!("bench:{i}"), "value").ignore();
        }
        let _: () = pipeline.query_async(&mut conn.clone()).await.unwrap();

        println!(
            "{ops} GETs per run, half hits, {rounds} rounds, minimum CPU; one multiplexed connection"
        );
        let variants: Vec<Variant> = match std::env::var("THROUGHPUT_VARIANTS") {
            Ok(words) => Variant::ALL
                .into_iter()
                .filter(|variant| {
                    matches!(variant, Variant::Raw | Variant::Seed)
                        || words
                            .split(',')
                            .any(|word| variant.label().contains(word.trim()))
                })
                .collect(),
            Err(_) => Variant::ALL.to_vec(),
        };
        let concurrencies: Vec<usize> = match std::env::var("THROUGHPUT_CONCURRENCY") {
            Ok(value) => vec![value.parse().expect("THROUGHPUT_CONCURRENCY is a number")],
            Err(_) => vec![1, 64],
        };
        for concurrency in concurrencies {
            let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            let mut wall: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            // Warm-up, then rounds with the variants interleaved, so drift hits all alike.
            for &variant in &variants {
                let _installed = install(variant);
                run(variant, &conn, ops / 10, concurrency).await;
            }
            for _ in 0..rounds {
                for (index, &variant) in variants.iter().enumerate() {
                    let installed = install(variant);
                    let (cpu_s, wall_s) = run(variant, &conn, ops, concurrency).await;
                    if let Some(provider) = &installed.tracer_provider {
                        let _ = provider.force_flush();
                    }
                    cpu[index].push(cpu_s / ops as f64 * 1e6);
                    wall[index].push(ops as f64 / wall_s);
                }
            }
            // CPU: the least; throughput: the most (noise only adds time).
            let least = |runs: &[f64]| runs.iter().copied().fold(f64::INFINITY, f64::min);
            let most = |runs: &[f64]| runs.iter().copied().fold(0.0, f64::max);
            let raw_cpu = least(&cpu[0]);
            let raw_throughput = most(&wall[0]);
            let seed = variants.iter().position(|v| *v == Variant::Seed).unwrap();
            let seed_added = least(&cpu[seed]) - raw_cpu;
            println!("\nconcurrency {concurrency}");
            println!(
                "{:<36} {:>12} {:>10} {:>12} {:>10} {:>12}",
                "variant", "CPU µs/op", "added µs", "ops/s", "× raw", "% of seed"
            );
            for (index, &variant) in variants.iter().enumerate() {
                let cpu_per_op = least(&cpu[index]);
                let throughput = most(&wall[index]);
                let added = cpu_per_op - raw_cpu;
                println!(
                    "{:<36} {:>12.3} {:>10.3} {:>12.0} {:>10.3} {:>11.0}%",
                    variant.label(),
                    cpu_per_op,
                    added,
                    throughput,
                    throughput / raw_throughput,
                    added / seed_added * 100.0
                );
            }
        }
    });
}
