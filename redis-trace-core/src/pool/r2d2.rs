//! r2d2 (feature `r2d2`), for redis-rs's blocking API: a manager that opens traced
//! connections, and a pool whose `get()` is timed.
//!
//! ```no_run
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use redis::Commands;
//! use redis_trace::pool::r2d2::TracedPool;
//!
//! let client = redis::Client::open("redis://127.0.0.1:6379/0")?;
//! let pool = TracedPool::build(r2d2::Pool::builder().max_size(8), client)?;
//! let mut conn = pool.get()?; // wait_time; a traced connection
//! let _: Option<String> = conn.get("user:42")?; // a GET span
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Instant;

use redis::{RedisError, RedisResult};

use super::registration::{Registration, TelemetryCell};
use super::{default_name, Lease};
use crate::connection::connect;
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::metrics::{PoolSnapshot, PoolTelemetry};

/// An r2d2 connection manager for a `redis::Client`: each new connection is opened under a
/// `connect` span and timed into `db.client.connection.create_time`. Its health check (`PING`)
/// is not traced and not in the operation histogram.
#[derive(Debug, Clone)]
pub struct Manager {
    client: redis::Client,
    endpoint: Endpoint,
    /// The pool's telemetry, once the pool registers (for `create_time`).
    pool: TelemetryCell,
}

impl Manager {
    /// A manager opening blocking connections to `client`'s server.
    pub fn new(client: redis::Client) -> Self {
        Self {
            endpoint: client.to_endpoint(),
            client,
            pool: TelemetryCell::default(),
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = redis::Connection;
    type Error = RedisError;

    fn connect(&self) -> RedisResult<redis::Connection> {
        let pool = self.pool.get();
        connect::traced_blocking(Some(&self.endpoint), pool.as_deref(), || {
            self.client.get_connection()
        })
    }

    fn is_valid(&self, conn: &mut redis::Connection) -> RedisResult<()> {
        redis::cmd("PING").query::<()>(conn)
    }

    fn has_broken(&self, conn: &mut redis::Connection) -> bool {
        !redis::ConnectionLike::is_open(conn)
    }
}

/// An r2d2 pool of traced blocking connections that reports the `db.client.connection.*`
/// metrics.
#[derive(Clone)]
pub struct TracedPool {
    pool: r2d2::Pool<Manager>,
    registration: Registration<r2d2::Pool<Manager>>,
    telemetry: Arc<PoolTelemetry>,
    endpoint: Endpoint,
}

impl TracedPool {
    /// Builds the pool `builder` describes over `client`, named `address:port/db`.
    pub fn build(
        builder: r2d2::Builder<Manager>,
        client: redis::Client,
    ) -> Result<Self, r2d2::Error> {
        let manager = Manager::new(client);
        let endpoint = manager.endpoint.clone();
        // Registered before the pool exists, so the connections r2d2 opens while building it
        // are timed too.
        let registration = Registration::new(&manager.pool, read);
        let telemetry = registration.register(default_name(&endpoint));
        let pool = builder.build(manager)?;
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
    /// wait that times out (r2d2's `connection_timeout`) in `db.client.connection.timeouts`.
    pub fn get(&self) -> Result<Lease<r2d2::PooledConnection<Manager>>, r2d2::Error> {
        let started = Instant::now();
        let waiting = self.registration.waiting();
        let result = self.pool.get();
        drop(waiting);
        // r2d2 reports a timed-out wait as an error without a kind; it is the only error `get`
        // returns.
        super::lend(&self.telemetry, &self.endpoint, started, result, |_| true)
    }

    /// The r2d2 pool.
    pub fn inner(&self) -> &r2d2::Pool<Manager> {
        &self.pool
    }
}

/// What the pool says about itself (the registration counts the callers waiting).
fn read(pool: &r2d2::Pool<Manager>) -> PoolSnapshot {
    let state = pool.state();
    PoolSnapshot {
        used: u64::from(state.connections.saturating_sub(state.idle_connections)),
        idle: u64::from(state.idle_connections),
        max: Some(u64::from(pool.max_size())),
        idle_max: None,
        idle_min: pool.min_idle().map(u64::from),
        pending: 0,
    }
}
