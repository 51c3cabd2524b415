//! `TracedConnection<C>`: one CLIENT span per command, one per pipeline or transaction.
//!
//! Wraps any redis-rs connection and is one itself (`redis::aio::ConnectionLike` for async
//! connections: `MultiplexedConnection`, `ConnectionManager`, cluster-async
//! `ClusterConnection`, pooled connections; `redis::ConnectionLike` for the blocking
//! `redis::Connection`), so only the line that builds the connection changes.

mod cluster;
pub(crate) mod connect;
mod describe;
mod forward;
#[cfg(feature = "client-side-caching")]
mod local_cache;
mod messages;
mod reconnect;
mod resp;
#[cfg(feature = "sentinel")]
mod sentinel;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::SpanContext;

use redis::{Cmd, RedisFuture, RedisResult, Value};

use self::cluster::ClusterNodes;
pub use self::forward::Resp3Subscriber;
#[cfg(feature = "client-side-caching")]
pub use self::local_cache::CacheStatisticsSource;
#[cfg(feature = "client-side-caching")]
use self::local_cache::LocalCache;
use self::reconnect::Reconnects;
#[cfg(feature = "sentinel")]
pub use self::sentinel::TracedSentinelClient;
use redis_trace_commands::MessagingRole;

use crate::args::{cmd_name, common_slot, is_named, Call, CommandArgs};
use crate::command::Replies;
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::operation::Operation;

/// A redis-rs connection that traces every command and pipeline it sends.
///
/// ```no_run
/// # async fn run() -> redis::RedisResult<()> {
/// use redis::AsyncCommands;
/// use redis_trace::TracedConnection;
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
    /// Set by `for_cluster`: the slot map of the cluster.
    cluster: Option<Arc<ClusterNodes>>,
    /// Set by `with_reconnects`: whether the connection was lost.
    reconnects: Option<Arc<Reconnects>>,
    /// The server that serves this connection, when `endpoint` is the configured target of
    /// several nodes (a Sentinel connection): recorded as `network.peer.*`.
    peer: Option<Endpoint>,
    /// Set by `with_propagation`; `None`: the configuration's `propagate_messages`.
    propagation: Option<bool>,
    /// The producers of the stream entries read last, by entry id (`producer_of`).
    producers: crate::messaging::Producers,
    /// Set by `with_client_side_caching`: the connection's client-side cache.
    #[cfg(feature = "client-side-caching")]
    local_cache: Option<Arc<LocalCache>>,
}

/// How many entries' producers `producer_of` remembers.
const REMEMBERED_PRODUCERS: usize = 4096;

impl<C> TracedConnection<C> {
    /// Wraps `inner`. Spans carry the configured default endpoint unless
    /// [`TracedConnection::with_endpoint`] names one.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            endpoint: None,
            cluster: None,
            reconnects: None,
            peer: None,
            propagation: None,
            producers: crate::messaging::Producers::default(),
            #[cfg(feature = "client-side-caching")]
            local_cache: None,
        }
    }

    /// Records `endpoint` as `server.address`, `server.port` and `db.namespace`.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl ToEndpoint) -> Self {
        self.endpoint = Some(endpoint.to_endpoint());
        self
    }

    /// Records `peer` as the server that serves this connection (`network.peer.*`), apart from
    /// the configured target given to [`TracedConnection::with_endpoint`].
    #[cfg(feature = "sentinel")]
    pub(crate) fn with_peer(mut self, peer: Endpoint) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Marks a Redis Cluster connection. Spans carry `redis.cluster.slot`, the hash slot of the
    /// command's keys when they all map to one slot, and on async cluster connections the
    /// master that owns that slot as `network.peer.address` / `network.peer.port`, on spans and
    /// on the duration metric. `server.*` is the configured target: give the seed list with
    /// `.with_endpoint(Endpoint::nodes(&seeds))` (`server.address` = `host:port,host:port`,
    /// no `server.port`, as the conventions ask for a client configured with several nodes).
    ///
    /// redis-rs does not say which node served a command, so redis-trace keeps its own slot map
    /// from `CLUSTER SLOTS`: one read before the first command (concurrent first calls wait for
    /// it), again at once after a reply that says the topology moved (`MOVED`, `ASK`,
    /// `CLUSTERDOWN`, `TRYAGAIN`, a connection error), every 250 ms for 10 s after any sign of
    /// trouble (those replies, a call cancelled before its reply, a non-blocking call slower
    /// than 1 s), and otherwise once the map is 30 s old (see
    /// [`TracedConnection::with_cluster_refresh`]). A span takes its node when the call ends.
    /// Clones share the map. A command whose keys span several slots, or that has no key,
    /// carries no node (redis-rs picks one).
    #[must_use]
    pub fn for_cluster(self) -> Self {
        self.with_cluster_refresh(cluster::DEFAULT_REFRESH)
    }

    /// [`TracedConnection::for_cluster`], reading the slot map again after `interval` (default
    /// 30 s) without a sign of change. A read happens after the command that notices it is due,
    /// once that command's span has ended; it delays that command's return by one round trip
    /// (at most 250 ms: a read that takes longer is abandoned and tried again later).
    #[must_use]
    pub fn with_cluster_refresh(mut self, interval: Duration) -> Self {
        self.cluster = Some(Arc::new(ClusterNodes::new(interval)));
        self
    }

    /// Carries the trace context in the messages this connection sends (`PUBLISH`,
    /// `SPUBLISH`, `XADD`) and removes it from the stream entries it reads, whatever the
    /// configuration says (`ConfigBuilder::with_propagation`, off by default). See
    /// `redis_trace::messaging` for the wire format.
    #[must_use]
    pub fn with_propagation(mut self, enabled: bool) -> Self {
        self.propagation = Some(enabled);
        self
    }

    /// The producer's span context of a stream entry this connection read (among the last
    /// 4096), for `messaging::process_entry`. None while nothing is recorded (no tracer or
    /// meter provider): no producer is read then.
    pub fn producer_of(&self, entry_id: &str) -> Option<SpanContext> {
        self.producers.find(entry_id)
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

    /// Whether a messaging command is rewritten even when nothing is recorded: with
    /// propagation on, a send carries a valid current context (another instrumentation's) and
    /// a stream read has its carrier fields removed.
    fn rewrites(&self, role: MessagingRole) -> bool {
        let propagate = self
            .propagation
            .unwrap_or_else(|| crate::globals::settings().config.propagate_messages());
        propagate
            && match role {
                MessagingRole::Read => true,
                MessagingRole::Publish | MessagingRole::Append => {
                    use opentelemetry::trace::TraceContextExt as _;
                    opentelemetry::Context::current()
                        .span()
                        .span_context()
                        .is_valid()
                }
                MessagingRole::Acknowledge => false,
            }
    }

    /// The hash slot shared by the keys of `commands`, on a cluster connection.
    fn slot_of<'a>(&self, commands: impl IntoIterator<Item = &'a [&'a [u8]]>) -> Option<u16> {
        self.cluster.as_ref().and_then(|_| common_slot(commands))
    }
}

impl TracedConnection<redis::aio::MultiplexedConnection> {
    /// Opens a multiplexed connection to `client`'s server under a CLIENT span named
    /// `connect {address}:{port}`, covering connect and handshake (`HELLO`, `AUTH`, `SELECT`);
    /// on failure it carries `error.type` (`io`, `timeout`, `authentication_failed` for a
    /// refused password: redis-rs drops the server's `WRONGPASS` code) and
    /// `db.response.status_code` when a server's error code reached redis-trace. The URL and
    /// credentials are never recorded. The connection's spans carry `client`'s endpoint.
    pub async fn connect(client: &redis::Client) -> RedisResult<Self> {
        let endpoint = client.to_endpoint();
        let opening = client.get_multiplexed_async_connection();
        let connection = connect::traced(Some(&endpoint), None, opening).await?;
        Ok(Self::new(connection).with_endpoint(endpoint))
    }
}

#[cfg(feature = "connection-manager")]
impl TracedConnection<redis::aio::ConnectionManager> {
    /// Makes the manager's reconnects visible. redis-rs reconnects a `ConnectionManager` by
    /// itself after a command fails because the connection dropped, and tells only a RESP3 push
    /// sender; redis-trace reads it from the commands instead: the first command that succeeds
    /// after such a failure gets the span event `redis_trace.reconnected`, and the counter
    /// `redis_trace.connection.reconnects` counts one. The failed commands' spans carry
    /// `error.type` (`io`, ...) as always.
    #[must_use]
    pub fn with_reconnects(mut self) -> Self {
        self.reconnects = Some(Arc::default());
        self
    }
}

impl TracedConnection<redis::Connection> {
    /// The blocking form of [`TracedConnection::connect`].
    pub fn connect_blocking(client: &redis::Client) -> RedisResult<Self> {
        let endpoint = client.to_endpoint();
        let connection =
            connect::traced_blocking(Some(&endpoint), None, || client.get_connection())?;
        Ok(Self::new(connection).with_endpoint(endpoint))
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let role = cmd_name(cmd).and_then(MessagingRole::of);
        #[cfg(feature = "client-side-caching")]
        let watched = self.local_cache.is_some();
        #[cfg(not(feature = "client-side-caching"))]
        let watched = false;
        if crate::globals::nothing_to_record() {
            match role {
                Some(role) if self.rewrites(role) => {
                    // Context carried or carrier fields removed; no span, metric or producer.
                    return Box::pin(crate::messaging::unrecorded(&mut self.inner, role, cmd));
                }
                Some(_) => return self.inner.req_packed_command(cmd),
                // Nothing to record and nothing to watch: the inner connection's own call,
                // with only the command's name looked at (for the messaging commands above).
                None if self.cluster.is_none() && self.reconnects.is_none() && !watched => {
                    return self.inner.req_packed_command(cmd);
                }
                None => {}
            }
        }
        if let Some(role) = role {
            return Box::pin(self.message_command(role, cmd));
        }
        if let Some(nodes) = self.cluster.clone() {
            return Box::pin(self.cluster_command(nodes, cmd));
        }
        let operation = Operation::start_command(
            || Call::of(cmd),
            |call, config, spec| describe::plain_command(call, None, config, spec),
            describe::command_statement,
            self.endpoint.as_ref(),
            self.peer.as_ref(),
        );
        let reconnects = self.reconnects.clone();
        if operation.records_nothing() && reconnects.is_none() && !watched {
            // Nothing to record: the inner connection's own future, not one more box around it.
            return self.inner.req_packed_command(cmd);
        }
        let endpoint = self.endpoint.as_ref();
        #[cfg(feature = "client-side-caching")]
        let lookup = self
            .local_cache
            .as_deref()
            .and_then(|cache| cache.begin(cmd));
        let reply = self.inner.req_packed_command(cmd);
        #[cfg(feature = "client-side-caching")]
        if let Some(lookup) = lookup {
            return Box::pin(traced_replies(
                operation, reply, reconnects, endpoint, lookup,
            ));
        }
        Box::pin(traced_replies(operation, reply, reconnects, endpoint, ()))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        if let Some(nodes) = self.cluster.clone() {
            return Box::pin(self.cluster_pipeline(nodes, pipeline, offset, count));
        }
        if crate::globals::nothing_to_record() && self.reconnects.is_none() {
            return self.inner.req_packed_commands(pipeline, offset, count);
        }
        let operation = Operation::start_command(
            || Call::all_of(pipeline),
            |commands, config, spec| {
                describe::pipeline(commands, pipeline.is_transaction(), None, config, spec);
            },
            |commands, config| describe::pipeline_statement(commands, config),
            self.endpoint.as_ref(),
            self.peer.as_ref(),
        );
        let reconnects = self.reconnects.clone();
        if operation.records_nothing() && reconnects.is_none() {
            return self.inner.req_packed_commands(pipeline, offset, count);
        }
        let endpoint = self.endpoint.as_ref();
        let replies = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(traced_replies(operation, replies, reconnects, endpoint, ()))
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// What a command learns once its reply is in besides the reply itself: with a watched
/// client-side cache, whether the cache answered (a separate type, so that a command without
/// one carries nothing for it in its future).
trait AfterReply {
    fn mark(self, operation: &mut Operation);
}

impl AfterReply for () {
    fn mark(self, _: &mut Operation) {}
}

#[cfg(feature = "client-side-caching")]
impl AfterReply for local_cache::Lookup<'_> {
    fn mark(self, operation: &mut Operation) {
        if let Some(result) = self.result() {
            operation.set_cache_result(result);
        }
    }
}

/// A command's or pipeline's replies, under its operation, then its end.
// An `async` block, not an `async fn`: the fn's future holds its arguments twice (192 bytes
// against 120 for a command), and a future over 128 bytes is moved into its box by a call to
// `memcpy`.
#[allow(clippy::manual_async_fn)]
fn traced_replies<'a, R: Replies + Send + 'a>(
    mut operation: Operation,
    replies: RedisFuture<'a, R>,
    reconnects: Option<Arc<Reconnects>>,
    endpoint: Option<&'a Endpoint>,
    after: impl AfterReply + Send + 'a,
) -> impl std::future::Future<Output = RedisResult<R>> + Send + 'a {
    async move {
        let result = operation.instrument(replies).await;
        after.mark(&mut operation);
        if let Some(reconnects) = reconnects {
            reconnects.observe(&result, &operation, endpoint);
        }
        operation.finish_replies(&result);
        result
    }
}

impl<C: redis::ConnectionLike> redis::ConnectionLike for TracedConnection<C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        let operation = Operation::start_command(
            || resp::parse_commands(cmd),
            |commands, config, spec| match commands.as_slice() {
                [args] => describe::command(args, self.slot_of([args.as_slice()]), config, spec),
                commands => describe::pipeline(
                    commands,
                    false,
                    self.slot_of(commands.iter().map(Vec::as_slice)),
                    config,
                    spec,
                ),
            },
            |commands, config| describe::packed_statement(commands, config),
            self.endpoint.as_ref(),
            self.peer.as_ref(),
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
            || resp::parse_commands(cmd),
            |commands, config, spec| {
                // A transaction is packed as MULTI, the commands, EXEC.
                match commands.as_slice() {
                    [first, inner @ .., last]
                        if is_named(first, b"MULTI") && is_named(last, b"EXEC") =>
                    {
                        let slot = self.slot_of(inner.iter().map(Vec::as_slice));
                        describe::pipeline(inner, true, slot, config, spec);
                    }
                    all => {
                        let slot = self.slot_of(all.iter().map(Vec::as_slice));
                        describe::pipeline(all, false, slot, config, spec);
                    }
                }
            },
            |commands, config| describe::packed_statement(commands, config),
            self.endpoint.as_ref(),
            self.peer.as_ref(),
        );
        let result = self.inner.req_packed_commands(cmd, offset, count);
        operation.finish_replies(&result);
        result
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        let operation = Operation::start_command(
            || Call::of(cmd),
            |call, config, spec| {
                describe::command(call, self.slot_of([call.args()]), config, spec);
            },
            describe::command_statement,
            self.endpoint.as_ref(),
            self.peer.as_ref(),
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
