//! Command-level tracing with `TracedConnection`: single commands, a pipeline, a transaction,
//! and (when `REDIS_CLUSTER_URLS` is set) a Redis Cluster, printed as a span tree.
//!
//! ```text
//! cargo run --example pipeline_and_cluster                       # REDIS_URL, else 127.0.0.1:6379, else a private redis-server
//! REDIS_CLUSTER_URLS=redis://127.0.0.1:7000,redis://127.0.0.1:7001 cargo run --example pipeline_and_cluster
//! ```
//!
//! To run it in your own project, copy it with `examples/support/mod.rs` (std and redis only);
//! redis-trace features: `testing`.
//!
//! Keys are prefixed `redis-trace-example:` and deleted at the end.

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use redis::AsyncCommands;
use redis_trace::testing::Telemetry;
use redis_trace::{redis_traced, TracedConnection};

mod support;

const PREFIX: &str = "redis-trace-example";

/// A repository whose commands are traced one by one under the function's span.
struct Inventory {
    conn: TracedConnection<redis::aio::MultiplexedConnection>,
}

impl Inventory {
    #[redis_traced(op = "MSET", name = "restock")]
    async fn restock(&self, items: &[(&str, u32)]) -> redis::RedisResult<()> {
        let mut pipeline = redis::pipe();
        for (item, count) in items {
            pipeline
                .set(format!("{PREFIX}:stock:{item}"), count)
                .ignore();
        }
        pipeline.query_async(&mut self.conn.clone()).await
    }

    #[redis_traced(op = "DECRBY", key = item, name = "take one")]
    async fn take(&self, item: &str) -> redis::RedisResult<i64> {
        let key = format!("{PREFIX}:stock:{item}");
        let (left,): (i64,) = redis::pipe()
            .atomic()
            .decr(&key, 1)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(left)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In-memory telemetry, printed at the end; use your exporter (OTLP, ...) in a service.
    let telemetry = Telemetry::install();
    let redis = support::redis()?;
    let client = &redis.client;
    let conn = TracedConnection::new(client.get_multiplexed_async_connection().await?)
        .with_endpoint(client);
    let inventory = Inventory { conn: conn.clone() };

    let request = telemetry
        .tracer_provider()
        .tracer("example")
        .start("handle order");
    let cx = opentelemetry::Context::current_with_span(request);
    let work = async {
        inventory.restock(&[("apple", 3), ("pear", 5)]).await?;
        println!("apples left: {}", inventory.take("apple").await?);
        let mut conn = conn.clone();
        let pears: Option<u32> = conn.get(format!("{PREFIX}:stock:pear")).await?;
        println!("pears: {pears:?}");
        let deleted: usize = conn
            .del(&[
                format!("{PREFIX}:stock:apple"),
                format!("{PREFIX}:stock:pear"),
            ])
            .await?;
        println!("deleted {deleted} keys");
        Ok::<_, redis::RedisError>(())
    };
    opentelemetry::context::FutureExt::with_context(work, cx.clone()).await?;
    cx.span().end();

    if let Ok(urls) = std::env::var("REDIS_CLUSTER_URLS") {
        let nodes: Vec<&str> = urls.split(',').collect();
        let cluster = redis::cluster::ClusterClient::new(nodes)?;
        let mut conn = TracedConnection::new(cluster.get_async_connection().await?).for_cluster();
        for user in 0..3 {
            let _: () = conn.set(format!("{PREFIX}:user:{user}"), "v").await?;
            let _: () = conn.del(format!("{PREFIX}:user:{user}")).await?;
        }
    }

    println!();
    telemetry.view().print();
    // Per key pattern: calls, errors, p50, p99, cache hit ratio.
    println!();
    print!("{}", telemetry.patterns());
    Ok(())
}
