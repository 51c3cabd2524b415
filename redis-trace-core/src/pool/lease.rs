//! A connection borrowed from a pool: traced, and timed until it goes back.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

use redis::{Cmd, RedisFuture, Value};

use crate::connection::TracedConnection;
use crate::metrics::PoolTelemetry;

/// A pooled connection (`C` is the pool's own handle) lent by one of redis-trace's pool
/// wrappers: its commands are traced like any [`TracedConnection`] (it dereferences to one and
/// is a redis-rs connection itself; the blocking API's through redis-rs's impl for types that
/// dereference to a connection), and returning it to the pool (dropping it) records
/// `db.client.connection.use_time`.
pub struct Lease<C> {
    connection: TracedConnection<C>,
    borrowed_at: Instant,
    pool: Arc<PoolTelemetry>,
}

impl<C> Lease<C> {
    #[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
    pub(crate) fn new(connection: TracedConnection<C>, pool: Arc<PoolTelemetry>) -> Self {
        Self {
            connection,
            borrowed_at: Instant::now(),
            pool,
        }
    }
}

impl<C> Deref for Lease<C> {
    type Target = TracedConnection<C>;

    fn deref(&self) -> &Self::Target {
        &self.connection
    }
}

impl<C> DerefMut for Lease<C> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.connection
    }
}

impl<C> Drop for Lease<C> {
    fn drop(&mut self) {
        let used = self.borrowed_at.elapsed().as_secs_f64();
        super::record(&self.pool, |i, p| i.use_time.record(used, p.attributes()));
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for Lease<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.connection.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.connection.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        redis::aio::ConnectionLike::get_db(&self.connection)
    }
}
