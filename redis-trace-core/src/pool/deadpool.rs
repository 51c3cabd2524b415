//! deadpool-redis (feature `deadpool`): your `deadpool_redis::Pool`, its `get()` timed and its
//! connections traced.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use redis::AsyncCommands;
//! use redis_trace::pool::deadpool::TracedPool;
//!
//! let url = "redis://127.0.0.1:6379/0";
//! let pool = deadpool_redis::Config::from_url(url).create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
//! let pool = TracedPool::new(pool, &redis::Client::open(url)?);
//! let mut conn = pool.get().await?; // wait_time; a traced connection
//! let _: Option<String> = conn.get("user:42").await?; // a GET span
//! # Ok(()) }
//! ```
//!
//! deadpool-redis opens connections inside its own manager, so `create_time` and connection
//! set-up spans are not recorded for it (the bb8 and r2d2 managers record them). Its recycle
//! check (a `PING` on the raw connection when a connection is reused) is not traced and not in
//! the operation histogram.

use std::sync::Arc;
use std::time::Instant;

use super::{default_name, Lease};
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::metrics::{PoolSnapshot, PoolTelemetry};

/// A deadpool-redis pool that reports the `db.client.connection.*` metrics and lends traced
/// connections. Clones share the pool and its telemetry.
#[derive(Clone)]
pub struct TracedPool {
    pool: deadpool_redis::Pool,
    telemetry: Arc<PoolTelemetry>,
    endpoint: Endpoint,
}

impl TracedPool {
    /// Wraps `pool`, whose connections go to `endpoint` (a `redis::Client`, a
    /// `redis::ConnectionInfo`, an [`Endpoint`]); named `address:port/db`.
    pub fn new(pool: deadpool_redis::Pool, endpoint: impl ToEndpoint) -> Self {
        let endpoint = endpoint.to_endpoint();
        let telemetry = register(default_name(&endpoint), &pool);
        Self {
            pool,
            telemetry,
            endpoint,
        }
    }

    /// Reports under `name` (`db.client.connection.pool.name`) instead of `address:port/db`.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.telemetry = register(name.into(), &self.pool);
        self
    }

    /// A connection from the pool: the wait is recorded in `db.client.connection.wait_time`, a
    /// wait that times out in `db.client.connection.timeouts`.
    pub async fn get(
        &self,
    ) -> Result<Lease<deadpool_redis::Connection>, deadpool_redis::PoolError> {
        let started = Instant::now();
        let result = self.pool.get().await;
        super::lend(&self.telemetry, &self.endpoint, started, result, |error| {
            matches!(error, deadpool_redis::PoolError::Timeout(_))
        })
    }

    /// The deadpool-redis pool.
    pub fn inner(&self) -> &deadpool_redis::Pool {
        &self.pool
    }
}

fn register(name: String, pool: &deadpool_redis::Pool) -> Arc<PoolTelemetry> {
    let pool = pool.clone();
    PoolTelemetry::register(name, move || {
        let status = pool.status();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        PoolSnapshot {
            used: count(status.size.saturating_sub(status.available)),
            idle: count(status.available),
            max: Some(count(status.max_size)),
            idle_max: None,
            idle_min: None,
            pending: count(status.waiting),
        }
    })
}
