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

use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace_harness::bench::hand::{self, Operation};
use redis_trace_harness::bench::{cpu_seconds, install, Variant};
use redis_trace_harness::RedisServer;

type Conn = redis::aio::MultiplexedConnection;

const CONNECTIONS: usize = 4;
const TASKS: usize = 64;

const VARIANTS: [Variant; 6] = [
    Variant::Raw,
    Variant::NoProvider,
    Variant::Full,
    Variant::HandWritten,
    Variant::FullSampled,
    Variant::HandWrittenSampled,
];

#[redis_traced(op = "GET", key = key, name = "get user")]
async fn get_user(mut conn: Conn, key: String) -> redis::RedisResult<Option<String>> {
    conn.get(key).await
}

#[redis_traced(op = "SET", key = key, name = "save user")]
async fn save_user(mut conn: Conn, key: String) -> redis::RedisResult<()> {
    conn.set(key, "value").await
}

#[redis_traced(op = "SET", key = key, name = "save session")]
async fn save_session(mut conn: Conn, key: String) -> redis::RedisResult<()> {
    session_pipeline(&key).query_async(&mut conn).await
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
            let key = format!("bench:{}", n % 1000);
            let found = if by_hand {
                hand::traced(conn.get::<_, Option<String>>(key)).await
            } else if instrumented {
                get_user(conn, key).await
            } else {
                conn.get(key).await
            };
            found.expect("GET").is_some()
        }
        5 | 6 => {
            let key = format!("user:{}", n % 1000);
            let saved = if by_hand {
                hand::traced_operation(Operation::SaveUser, conn.set(key, "value"), |_| None).await
            } else if instrumented {
                save_user(conn, key).await
            } else {
                conn.set(key, "value").await
            };
            saved.expect("SET");
            false
        }
        _ => {
            let key = format!("session:{}", n % 1000);
            let saved: redis::RedisResult<()> = if by_hand {
                let pipeline = session_pipeline(&key);
                let call = async move { pipeline.query_async(&mut conn).await };
                hand::traced_operation(Operation::SaveSession, call, |_| None).await
            } else if instrumented {
                save_session(conn, key).await
            } else {
                session_pipeline(&key).query_async(&mut conn).await
            };
            saved.expect("pipeline");
            false
        }
    }
}

/// One run of `ops` operations; CPU seconds.
async fn run(variant: Variant, connections: &[Conn], ops: usize) -> f64 {
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
    let ops = env_or("SERVICE_OPS", 100_000);
    let rounds = env_or("SERVICE_ROUNDS", 5);
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

        println!(
            "{ops} operations per run (5/8 GET, 2/8 SET, 1/8 SET+EXPIRE pipeline), {TASKS} tasks, \
             {CONNECTIONS} connections, 2 runtime workers; minimum of {rounds} interleaved rounds"
        );
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
        for &variant in &VARIANTS {
            let _installed = install(variant);
            run(variant, &connections, ops / 10).await;
        }
        for _ in 0..rounds {
            for (index, &variant) in VARIANTS.iter().enumerate() {
                let installed = install(variant);
                let seconds = run(variant, &connections, ops).await;
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
        let raw = best[0];
        let added =
            |variant: Variant| best[VARIANTS.iter().position(|v| *v == variant).unwrap()] - raw;
        println!(
            "{:<36} {:>12} {:>10} {:>14}",
            "variant", "CPU µs/op", "added µs", "× hand-written"
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
                "{:<36} {:>12.3} {:>10.3} {:>14}",
                variant.label(),
                best[index],
                best[index] - raw,
                ratio
            );
        }
    });
}
