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

use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace_harness::bench::hand::{self, Operation};
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
            run(variant, &connections, ops).await;
            if let Some(provider) = &installed.tracer_provider {
                let _ = provider.force_flush();
            }
        });
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

        body(connections).await;
    });
}

/// CPU time per operation, the minimum over `rounds` interleaved rounds.
async fn time_rounds(connections: &[Conn], ops: usize, rounds: usize) {
    println!(
        "{ops} operations per run (5/8 GET, 2/8 SET, 1/8 SET+EXPIRE pipeline), {TASKS} tasks, \
         {CONNECTIONS} connections, 2 runtime workers; minimum of {rounds} interleaved rounds"
    );
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
    for &variant in &VARIANTS {
        let _installed = install(variant);
        run(variant, connections, ops / 10).await;
    }
    for _ in 0..rounds {
        for (index, &variant) in VARIANTS.iter().enumerate() {
            let installed = install(variant);
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
            variant.label(),
            figures[index],
            figures[index] - raw,
            ratio
        );
    }
}
