//! bb8 (feature `bb8`): a manager that opens traced connections, and a pool whose `get()` is
//! timed.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use redis::AsyncCommands;
//! use redis_trace::pool::bb8::TracedPool;
//!
//! let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
//! let pool = TracedPool::build(bb8::Pool::builder().max_size(8), client).await?;
//! let mut conn = pool.get().await?; // wait_time; a traced connection
//! let _: Option<String> = conn.get("user:42").await?; // a GET span
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Instant;

use redis::aio::MultiplexedConnection;
use redis::{RedisError, RedisResult};

use super::registration::{Registration, TelemetryCell};
use super::{default_name, Lease, Pooled};
use crate::connection::connect;
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::metrics::{PoolSnapshot, PoolTelemetry};

/// A bb8 connection manager for a `redis::Client`: each new connection is opened under a
/// `connect` span and timed into `db.client.connection.create_time`. Its health check (`PING`
/// on check-out, when the pool tests connections) is not traced and not in the operation
/// histogram.
#[derive(Debug, Clone)]
pub struct Manager {
    client: redis::Client,
    endpoint: Endpoint,
    /// The pool's telemetry, once the pool registers (for `create_time`).
    pool: TelemetryCell,
}

impl Manager {
    /// A manager opening multiplexed connections to `client`'s server.
    pub fn new(client: redis::Client) -> Self {
        Self {
            endpoint: client.to_endpoint(),
            client,
            pool: TelemetryCell::default(),
        }
    }
}

impl bb8::ManageConnection for Manager {
    type Connection = MultiplexedConnection;
    type Error = RedisError;

    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let pool = self.pool.get();
        let opening = self.client.get_multiplexed_async_connection();
        connect::traced(Some(&self.endpoint), pool.as_deref(), opening).await
    }

    async fn is_valid(&self, conn: &mut MultiplexedConnection) -> RedisResult<()> {
        redis::cmd("PING").query_async::<()>(conn).await
    }

    fn has_broken(&self, _: &mut MultiplexedConnection) -> bool {
        false
    }
}

/// A bb8 pool of traced connections that reports the `db.client.connection.*` metrics.
#[derive(Clone)]
pub struct TracedPool {
    pool: bb8::Pool<Manager>,
    registration: Registration<bb8::Pool<Manager>>,
    telemetry: Arc<PoolTelemetry>,
    endpoint: Endpoint,
}

impl TracedPool {
    /// Builds the pool `builder` describes over `client`, named `address:port/db`.
    pub async fn build(builder: bb8::Builder<Manager>, client: redis::Client) -> RedisResult<Self> {
        let manager = Manager::new(client);
        let endpoint = manager.endpoint.clone();
        // Registered before the pool exists, so the connections bb8 opens while building it
        // are timed too.
        let registration = Registration::new(&manager.pool, read);
        let telemetry = registration.register(default_name(&endpoint));
        let pool = builder.build(manager).await?;
        registration.built(pool.clone());
        Ok(Self {
            pool,
            registration,
            telemetry,
            endpoint,
        })
    }

    /// Reports under `name` (`db.client.connection.pool.name`) instead of `address:port/db`.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.telemetry = self.registration.register(name.into());
        self
    }

    /// A connection from the pool: the wait is recorded in `db.client.connection.wait_time`, a
    /// wait that times out in `db.client.connection.timeouts`.
    pub async fn get(
        &self,
    ) -> Result<Lease<Pooled<bb8::PooledConnection<'_, Manager>>>, bb8::RunError<RedisError>> {
        let started = Instant::now();
        let waiting = self.registration.waiting();
        let result = self.pool.get().await.map(Pooled);
        drop(waiting);
        super::lend(&self.telemetry, &self.endpoint, started, result, |error| {
            matches!(error, bb8::RunError::TimedOut)
        })
    }

    /// The bb8 pool.
    pub fn inner(&self) -> &bb8::Pool<Manager> {
        &self.pool
    }
}

/// What the pool says about itself (the registration counts the callers waiting).
fn read(pool: &bb8::Pool<Manager>) -> PoolSnapshot {
    let state = pool.state();
    let config = pool.config();
    PoolSnapshot {
        used: u64::from(state.connections.saturating_sub(state.idle_connections)),
        idle: u64::from(state.idle_connections),
        max: Some(u64::from(config.max_size)),
        idle_max: None,
        idle_min: config.min_idle.map(u64::from),
        pending: 0,
    }
}
