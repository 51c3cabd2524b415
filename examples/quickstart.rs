//! A small user repository traced with `#[redis_traced]`, printing its spans as a tree.
//!
//! ```text
//! cargo run --example quickstart            # REDIS_URL, else 127.0.0.1:6379, else a private redis-server
//! REDIS_URL=redis://host:6380/2 cargo run --example quickstart
//! ```
//!
//! To run it in your own project, copy it with `examples/support/mod.rs` (std and redis only);
//! redis-trace features: `testing`.
//!
//! Keys are prefixed `redis-trace-quickstart:` and deleted at the end.

use std::collections::HashMap;

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace::testing::Telemetry;

mod support;

const PREFIX: &str = "redis-trace-quickstart";

struct UserRepo {
    conn: redis::aio::MultiplexedConnection,
}

impl UserRepo {
    #[redis_traced(
        op = "HSET",
        key = "redis-trace-quickstart:user:{id}",
        name = "save user"
    )]
    async fn save(&self, id: u64, name: &str, email: &str) -> redis::RedisResult<()> {
        let key = format!("{PREFIX}:user:{id}");
        self.conn
            .clone()
            .hset_multiple(key, &[("name", name), ("email", email)])
            .await
    }

    #[redis_traced(
        op = "HGETALL",
        key = "redis-trace-quickstart:user:{id}",
        name = "load user"
    )]
    async fn load(&self, id: u64) -> redis::RedisResult<HashMap<String, String>> {
        self.conn
            .clone()
            .hgetall(format!("{PREFIX}:user:{id}"))
            .await
    }

    #[redis_traced(op = "SET", key = "redis-trace-quickstart:name:{id}")]
    async fn cache_name(&self, id: u64, name: &str) -> redis::RedisResult<()> {
        self.conn
            .clone()
            .set_ex(format!("{PREFIX}:name:{id}"), name, 60)
            .await
    }

    #[redis_traced(op = "GET", key = "redis-trace-quickstart:name:{id}")]
    async fn cached_name(&self, id: u64) -> redis::RedisResult<Option<String>> {
        self.conn.clone().get(format!("{PREFIX}:name:{id}")).await
    }

    #[redis_traced(op = "DEL", keys = ["redis-trace-quickstart:user:{id}", "redis-trace-quickstart:name:{id}"])]
    async fn delete(&self, id: u64) -> redis::RedisResult<usize> {
        let keys = [format!("{PREFIX}:user:{id}"), format!("{PREFIX}:name:{id}")];
        self.conn.clone().del(&keys).await
    }

    #[redis_traced(
        op = "HGETALL",
        key = "redis-trace-quickstart:name:{id}",
        name = "wrong type"
    )]
    async fn load_as_hash_from_string(
        &self,
        id: u64,
    ) -> redis::RedisResult<HashMap<String, String>> {
        self.conn
            .clone()
            .hgetall(format!("{PREFIX}:name:{id}"))
            .await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In-memory telemetry, printed at the end; use your exporter (OTLP, ...) in a service.
    let telemetry = Telemetry::install();
    let redis = support::redis()?;
    let client = &redis.client;
    redis_trace::set_default_endpoint(client);
    let repo = UserRepo {
        conn: client.get_multiplexed_async_connection().await?,
    };

    let request = telemetry
        .tracer_provider()
        .tracer("quickstart")
        .start("handle request");
    let cx = opentelemetry::Context::current_with_span(request);
    let work = async {
        repo.save(1, "Ada Lovelace", "ada@example.com").await?;
        let user = repo.load(1).await?;
        println!("loaded user 1: {user:?}");
        println!("cached name before: {:?}", repo.cached_name(1).await?);
        repo.cache_name(1, "Ada").await?;
        println!("cached name after:  {:?}", repo.cached_name(1).await?);
        let error = repo.load_as_hash_from_string(1).await.unwrap_err();
        println!("expected error: {error}");
        println!("deleted {} keys", repo.delete(1).await?);
        Ok::<_, redis::RedisError>(())
    };
    opentelemetry::context::FutureExt::with_context(work, cx.clone()).await?;
    cx.span().end();

    println!();
    telemetry.view().print();
    // Per key pattern: calls, errors, p50, p99, cache hit ratio.
    println!();
    print!("{}", telemetry.patterns());
    Ok(())
}
