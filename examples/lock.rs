//! A distributed lock traced with `#[redis_traced]`: acquire with `SET NX PX`, extend and release
//! with Lua compare-and-set scripts, two tasks contending. The printed spans say whether each
//! write applied (`redis.applied`) and carry no cache attributes: a lock is not a cache.
//!
//! ```text
//! cargo run --example lock                  # REDIS_URL, else 127.0.0.1:6379, else a private redis-server
//! REDIS_URL=redis://host:6380/2 cargo run --example lock
//! ```
//!
//! To run it in your own project, copy it with `examples/support/mod.rs` (std and redis only);
//! redis-trace features: `testing`.
//!
//! The lock key is `redis-trace-lock:report`, deleted when released.

use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace::testing::Telemetry;

mod support;

const LOCK: &str = "redis-trace-lock:report";
const LEASE: Duration = Duration::from_millis(2_000);

struct Lock {
    conn: redis::aio::MultiplexedConnection,
    extend: redis::Script,
    release: redis::Script,
}

impl Lock {
    fn new(conn: redis::aio::MultiplexedConnection) -> Self {
        Self {
            conn,
            extend: redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
            ),
            release: redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 return redis.call('DEL', KEYS[1]) else return 0 end",
            ),
        }
    }

    /// `true` when this owner took the lock.
    #[redis_traced(op = "SET", key = key, key_policy = "raw", name = "acquire lock")]
    async fn acquire(&self, key: &str, owner: &str) -> redis::RedisResult<bool> {
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(LEASE.as_millis() as u64));
        self.conn.clone().set_options(key, owner, options).await
    }

    /// `true` when this owner still held the lock and its lease was renewed.
    #[redis_traced(op = "EVALSHA", key = key, key_policy = "raw", name = "extend lock")]
    async fn extend(&self, key: &str, owner: &str) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        let lease = LEASE.as_millis() as u64;
        self.extend
            .key(key)
            .arg(owner)
            .arg(lease)
            .invoke_async(&mut conn)
            .await
    }

    /// `true` when this owner held the lock and released it.
    #[redis_traced(op = "EVALSHA", key = key, key_policy = "raw", name = "release lock")]
    async fn release(&self, key: &str, owner: &str) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        self.release
            .key(key)
            .arg(owner)
            .invoke_async(&mut conn)
            .await
    }
}

/// One task: try the lock, work while holding it, release it.
async fn task(lock: &Lock, owner: &str) -> redis::RedisResult<()> {
    if !lock.acquire(LOCK, owner).await? {
        println!("{owner}: the lock is taken, skipping");
        return Ok(());
    }
    println!("{owner}: took the lock");
    tokio::time::sleep(Duration::from_millis(20)).await;
    println!("{owner}: extended: {}", lock.extend(LOCK, owner).await?);
    println!("{owner}: released: {}", lock.release(LOCK, owner).await?);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In-memory telemetry, printed at the end; use your exporter (OTLP, ...) in a service.
    let telemetry = Telemetry::install();
    let redis = support::redis()?;
    let client = &redis.client;
    redis_trace::set_default_endpoint(client);
    let lock = Lock::new(client.get_multiplexed_async_connection().await?);
    let _: () = lock.conn.clone().del(LOCK).await?;

    let job = telemetry
        .tracer_provider()
        .tracer("lock")
        .start("nightly report");
    let cx = opentelemetry::Context::current_with_span(job);
    let contend = async {
        let (first, second) = tokio::join!(task(&lock, "worker-a"), task(&lock, "worker-b"));
        first.and(second)
    };
    opentelemetry::context::FutureExt::with_context(contend, cx.clone()).await?;
    cx.span().end();

    println!();
    telemetry.view().print();
    // Per key pattern: calls, errors, p50, p99, cache hit ratio.
    println!();
    print!("{}", telemetry.patterns());
    Ok(())
}
