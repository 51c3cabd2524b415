//! A deadpool-redis pool under load, with redis-trace's pool metrics: 64 tasks share a pool of
//! 8 connections, so most of them wait; the standard `db.client.connection.*` metrics say how
//! many waited and how long each connection was held, and every command is a span, printed as
//! one trace under the load's span, then a row per pattern.
//!
//! ```text
//! cargo run --example pool      # REDIS_URL, else 127.0.0.1:6379, else a private redis-server
//! ```
//!
//! To run it in your own project, copy it with `examples/support/mod.rs` (std and redis only);
//! redis-trace features: `deadpool` and `testing`.
//!
//! Keys are prefixed `redis-trace-pool:` and deleted at the end.

use std::time::Duration;

use opentelemetry::context::FutureExt;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use redis::AsyncCommands;
use redis_trace::pool::deadpool::TracedPool;
use redis_trace::testing::Telemetry;

mod support;

const TASKS: usize = 64;
const POOL_SIZE: usize = 8;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In-memory telemetry, printed at the end; use your exporter (OTLP, ...) in a service.
    let telemetry = Telemetry::install();
    let redis = support::redis()?;

    // Your deadpool-redis pool as usual, then wrapped once.
    let info = redis.client.get_connection_info().clone();
    let mut config = deadpool_redis::Config::from_connection_info(info);
    config.pool = Some(deadpool_redis::PoolConfig {
        max_size: POOL_SIZE,
        timeouts: deadpool_redis::Timeouts {
            wait: Some(Duration::from_secs(5)),
            ..Default::default()
        },
        ..Default::default()
    });
    let pool = config.create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let pool = TracedPool::new(pool, &redis.client).with_name("example-pool");

    // One trace: a spawned task does not inherit the context, so each is given it.
    let load = telemetry
        .tracer_provider()
        .tracer("pool")
        .start("pool load");
    let cx = opentelemetry::Context::current_with_span(load);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let pool = pool.clone();
            let work = async move {
                let mut conn = pool.get().await?; // wait_time
                let key = format!("redis-trace-pool:{task}");
                let _: () = conn.set_ex(&key, task, 60).await?; // a SETEX span
                tokio::time::sleep(Duration::from_millis(5)).await; // held: use_time
                let _: usize = conn.del(&key).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            };
            tokio::spawn(work.with_context(cx.clone()))
        })
        .collect();
    for task in tasks {
        task.await?.map_err(|error| error.to_string())?;
    }
    cx.span().end();

    println!("{TASKS} tasks on a pool of {POOL_SIZE} connections:");
    for metric in [
        "db.client.connection.count",
        "db.client.connection.max",
        "db.client.connection.pending_requests",
        "db.client.connection.wait_time",
        "db.client.connection.use_time",
        "db.client.connection.timeouts",
    ] {
        for point in telemetry.metric_points(metric) {
            let state = match point.attributes.get("db.client.connection.state") {
                Some(state) => format!("{{state={state}}}"),
                None => String::new(),
            };
            if point.bounds.is_empty() {
                println!("  {metric}{state} = {}", point.value);
            } else {
                let mean = point.sum / point.value as f64 * 1e3;
                println!(
                    "  {metric}: {} measurements, mean {mean:.3} ms",
                    point.value
                );
            }
        }
    }
    let patterns = telemetry.patterns();
    let commands: u64 = patterns.rows.iter().map(|row| row.calls).sum();
    println!("{commands} command spans (SETEX and DEL of each task)");

    println!();
    telemetry.view().print();
    // Per key pattern: calls, errors, p50, p99, cache hit ratio.
    println!();
    print!("{patterns}");
    Ok(())
}
