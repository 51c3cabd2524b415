//! A service instrumented with `tracing`: request handlers with `#[tracing::instrument]`,
//! exported through tracing-opentelemetry, calling an annotated repository. One trace per
//! request: the handler's span, the Redis spans under it, and the `tracing` spans the
//! repository opens inside an annotated function under the Redis span.
//!
//! ```text
//! cargo run --example tracing_service      # REDIS_URL, else 127.0.0.1:6379, else a private redis-server
//! ```
//!
//! To run it in your own project, copy it with `examples/support/mod.rs` (std and redis only);
//! redis-trace features: `tracing` and `testing`.
//!
//! Keeping the tree nested needs tracing-opentelemetry's context activation (its default):
//! a `tracing` span opened inside the annotated function then takes the Redis span, which is
//! the current OpenTelemetry context there, as its parent. Events (`tracing::info!`) attach to
//! the innermost `tracing` span, here the handler's.
//!
//! Keys are prefixed `redis-trace-service:` and deleted at the end.

use opentelemetry::trace::TracerProvider as _;
use redis::AsyncCommands;
use redis_trace::redis_traced;
use redis_trace::testing::Telemetry;
use tracing_subscriber::layer::SubscriberExt;

mod support;

struct Sessions {
    conn: redis::aio::MultiplexedConnection,
}

impl Sessions {
    #[redis_traced(
        op = "SET",
        key = "redis-trace-service:session:{token}",
        name = "store session"
    )]
    async fn store(&self, token: &str, user: &str) -> redis::RedisResult<()> {
        let key = format!("redis-trace-service:session:{token}");
        self.conn.clone().set_ex(key, user, 60).await
    }

    #[redis_traced(
        op = "GET",
        key = "redis-trace-service:session:{token}",
        name = "load session"
    )]
    async fn load(&self, token: &str) -> redis::RedisResult<Option<String>> {
        let key = format!("redis-trace-service:session:{token}");
        let user: Option<String> = self.conn.clone().get(key).await?;
        // A `tracing` span inside the annotated function: a child of the Redis span.
        let user = tracing::info_span!("check session").in_scope(|| user.filter(|u| !u.is_empty()));
        Ok(user)
    }

    #[redis_traced(
        op = "DEL",
        key = "redis-trace-service:session:{token}",
        name = "end session"
    )]
    async fn end(&self, token: &str) -> redis::RedisResult<usize> {
        let key = format!("redis-trace-service:session:{token}");
        self.conn.clone().del(key).await
    }
}

#[tracing::instrument(skip(sessions))]
async fn login(sessions: &Sessions, user: &str) -> redis::RedisResult<String> {
    let token = format!("token-of-{user}");
    sessions.store(&token, user).await?;
    tracing::info!("logged in");
    Ok(token)
}

#[tracing::instrument(skip(sessions, token))]
async fn profile(sessions: &Sessions, token: &str) -> redis::RedisResult<Option<String>> {
    sessions.load(token).await
}

#[tracing::instrument(skip(sessions, token))]
async fn logout(sessions: &Sessions, token: &str) -> redis::RedisResult<()> {
    sessions.end(token).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In-memory telemetry printed at the end; a service would build its layer from an OTLP
    // tracer provider instead.
    let telemetry = Telemetry::install();
    let tracer = telemetry.tracer_provider().tracer("tracing_service");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::subscriber::set_global_default(subscriber)?;

    let redis = support::redis()?;
    redis_trace::set_default_endpoint(&redis.client);
    let sessions = Sessions {
        conn: redis.client.get_multiplexed_async_connection().await?,
    };

    let token = login(&sessions, "ada").await?;
    println!("profile: {:?}", profile(&sessions, &token).await?);
    logout(&sessions, &token).await?;
    println!("after logout: {:?}", profile(&sessions, &token).await?);

    println!();
    telemetry.view().print();
    // Per key pattern: calls, errors, p50, p99, cache hit ratio.
    println!();
    print!("{}", telemetry.patterns());
    Ok(())
}
