//! `TracedConnection<C>`: one CLIENT span per command, one per pipeline or transaction.
//!
//! Wraps any redis-rs connection and is one itself (`redis::aio::ConnectionLike` for async
//! connections: `MultiplexedConnection`, `ConnectionManager`, cluster-async
//! `ClusterConnection`, pooled connections; `redis::ConnectionLike` for the blocking
//! `redis::Connection`), so only the line that builds the connection changes.

mod describe;
mod pooled;
mod resp;

use redis::{Cmd, RedisFuture, RedisResult, Value};

use self::describe::{cmd_args, is_named};
pub use self::pooled::Pooled;
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::operation::Operation;

/// A redis-rs connection that traces every command and pipeline it sends.
///
/// ```no_run
/// # async fn run() -> redis::RedisResult<()> {
/// use redis::AsyncCommands;
/// use redis_trace_core::TracedConnection;
///
/// let client = redis::Client::open("redis://127.0.0.1/")?;
/// let mut conn = TracedConnection::new(client.get_multiplexed_async_connection().await?)
///     .with_endpoint(&client);
/// let _: Option<String> = conn.get("user:1").await?; // span "GET 127.0.0.1:6379"
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TracedConnection<C> {
    inner: C,
    endpoint: Option<Endpoint>,
    cluster: bool,
}

impl<C> TracedConnection<C> {
    /// Wraps `inner`. Spans carry the configured default endpoint unless
    /// [`TracedConnection::with_endpoint`] names one.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            endpoint: None,
            cluster: false,
        }
    }

    /// Records `endpoint` as `server.address`, `server.port` and `db.namespace`.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl ToEndpoint) -> Self {
        self.endpoint = Some(endpoint.to_endpoint());
        self
    }

    /// Marks a Redis Cluster connection: spans carry `redis.cluster.slot`, the hash slot of the
    /// command's keys (when they all map to one slot).
    #[must_use]
    pub fn for_cluster(mut self) -> Self {
        self.cluster = true;
        self
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped connection, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the connection.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let mut operation = Operation::start_command(
            |config| describe::command(&cmd_args(cmd), self.cluster, config),
            self.endpoint.as_ref(),
        );
        let reply = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = operation.instrument(reply).await;
            operation.finish_replies(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let mut operation = Operation::start_command(
            |config| {
                let commands: Vec<Vec<&[u8]>> = pipeline.cmd_iter().map(cmd_args).collect();
                describe::pipeline(&commands, pipeline.is_transaction(), self.cluster, config)
            },
            self.endpoint.as_ref(),
        );
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = operation.instrument(replies).await;
            operation.finish_replies(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

impl<C: redis::ConnectionLike> redis::ConnectionLike for TracedConnection<C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let operation = Operation::start_command(
            |config| match resp::parse_commands(cmd).as_slice() {
                [args] => describe::command(args, self.cluster, config),
                commands => describe::pipeline(commands, false, self.cluster, config),
            },
            self.endpoint.as_ref(),
        );
        let result = self.inner.req_packed_command(cmd);
        operation.finish_replies(&result);
        result
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let operation = Operation::start_command(
            |config| {
                let commands = resp::parse_commands(cmd);
                // A transaction is packed as MULTI, the commands, EXEC.
                match commands.as_slice() {
                    [first, inner @ .., last]
                        if is_named(first, b"MULTI") && is_named(last, b"EXEC") =>
                    {
                        describe::pipeline(inner, true, self.cluster, config)
                    }
                    all => describe::pipeline(all, false, self.cluster, config),
                }
            },
            self.endpoint.as_ref(),
        );
        let result = self.inner.req_packed_commands(cmd, offset, count);
        operation.finish_replies(&result);
        result
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        let operation = Operation::start_command(
            |config| describe::command(&cmd_args(cmd), self.cluster, config),
            self.endpoint.as_ref(),
        );
        let result = self.inner.req_command(cmd);
        operation.finish_replies(&result);
        result
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn supports_pipelining(&self) -> bool {
        self.inner.supports_pipelining()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
