//! Which master serves a hash slot, so cluster spans name their node.
//!
//! redis-rs routes cluster commands itself and does not say which node answered, so redis-trace
//! keeps its own slot map from `CLUSTER SLOTS` (Redis 3.0+, so 6.2 and 7.x alike), read through
//! the wrapped connection:
//! - once before the first command; the first commands wait for that one read, so none goes
//!   without its node;
//! - at once after a command whose reply or error says the topology moved (`MOVED`, `ASK`,
//!   `CLUSTERDOWN`, `TRYAGAIN`, an I/O error);
//! - while the cluster is *unsettled*, every 250 ms: for 10 s after any sign of trouble a
//!   wrapper can see (those replies, a call cancelled before its reply, a call slower than 1 s
//!   that does not block by design). redis-rs follows a failover silently (its own retries and
//!   redirections), so a promoted replica is found by reading again, not by waiting for a
//!   `MOVED` the caller never sees;
//! - otherwise when the map is older than the refresh interval (30 s by default).
//!
//! A read is sent by one caller at a time, after that caller's span has ended, and is bounded
//! (250 ms): a read cut short, by that bound or by the caller's future being dropped, releases the
//! lock and leaves the map due for the next caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::{Cmd, RedisResult, Value};

use super::describe;
use super::TracedConnection;
use crate::args::{common_slot, Call, CommandArgs};
use crate::command::Replies;
use crate::endpoint::Endpoint;
use crate::operation::Operation;

/// How often the slot map is read again without a sign of change.
pub(super) const DEFAULT_REFRESH: Duration = Duration::from_secs(30);
/// How often the map is read while the cluster is unsettled.
const UNSETTLED_REFRESH: Duration = Duration::from_millis(250);
/// How long the cluster stays unsettled after the last sign of trouble: longer than a failover
/// takes to show once its first calls have failed.
const UNSETTLED_FOR: Duration = Duration::from_secs(10);
/// A call this slow (that does not block by design) is a sign of trouble.
const SLOW_CALL: Duration = Duration::from_secs(1);
/// The longest a caller waits for a read of the map (one cheap command: a read that takes
/// longer went to a node that is gone, and the next one tries another).
const READ_TIMEOUT: Duration = Duration::from_millis(250);

const SLOTS: usize = 16384;
const UNOWNED: u16 = u16::MAX;

/// The slot map of one cluster, shared by the clones of a `TracedConnection`.
#[derive(Debug)]
pub(super) struct ClusterNodes {
    topology: ArcSwapOption<Topology>,
    /// Held by the caller reading the map; dropping its future releases it.
    reading: tokio::sync::Mutex<()>,
    /// Milliseconds from `created` to the last read (or attempt).
    read_at: AtomicU64,
    /// Milliseconds from `created` until which the cluster counts as unsettled.
    unsettled_until: AtomicU64,
    created: Instant,
    interval: Duration,
}

#[derive(Debug)]
struct Topology {
    /// For each slot, the index of its master in `masters`, or `UNOWNED`.
    owners: Box<[u16]>,
    masters: Vec<Endpoint>,
}

impl ClusterNodes {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            topology: ArcSwapOption::const_empty(),
            reading: tokio::sync::Mutex::new(()),
            read_at: AtomicU64::new(0),
            unsettled_until: AtomicU64::new(0),
            created: Instant::now(),
            interval,
        }
    }

    /// The master that owns `slot`, as far as the map knows.
    pub(super) fn owner(&self, slot: Option<u16>) -> Option<Endpoint> {
        let topology = self.topology.load();
        let topology = topology.as_ref()?;
        let index = *topology.owners.get(usize::from(slot?))?;
        topology.masters.get(usize::from(index)).cloned()
    }

    fn now(&self) -> u64 {
        u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Reads the map when it was never read. Concurrent first callers wait for one read; after
    /// a failed read, callers go on without a node until the next attempt is due.
    pub(super) async fn discover<C: redis::aio::ConnectionLike>(&self, conn: &mut C) {
        if self.topology.load().is_some() {
            return;
        }
        let _reading = self.reading.lock().await;
        let attempted = self.read_at.load(Ordering::Relaxed);
        let retry = u64::try_from(UNSETTLED_REFRESH.as_millis()).unwrap_or(u64::MAX);
        if self.topology.load().is_none() && (attempted == 0 || self.now() >= attempted + retry) {
            self.read(conn).await;
        }
    }

    /// A sign that the topology may be changing: the map is read often for a while.
    pub(super) fn unsettle(&self) {
        let until = u64::try_from(UNSETTLED_FOR.as_millis()).unwrap_or(u64::MAX);
        self.unsettled_until
            .fetch_max(self.now().saturating_add(until), Ordering::Relaxed);
    }

    /// After a call that took `elapsed`: reads the map again when the call or the map's age
    /// says it may be stale.
    pub(super) async fn after_call<C, R>(
        &self,
        conn: &mut C,
        result: &RedisResult<R>,
        elapsed: Duration,
        blocks: bool,
    ) where
        C: redis::aio::ConnectionLike,
        R: Replies,
    {
        let moved = match result {
            Ok(replies) => replies.error_reply().is_some_and(|e| moved(e.code())),
            Err(error) => error.code().is_some_and(moved) || error.is_io_error(),
        };
        if moved || (elapsed >= SLOW_CALL && !blocks) {
            self.unsettle();
        }
        let now = self.now();
        let unsettled = now < self.unsettled_until.load(Ordering::Relaxed);
        let every = if unsettled {
            UNSETTLED_REFRESH
        } else {
            self.interval
        };
        let age = now.saturating_sub(self.read_at.load(Ordering::Relaxed));
        if moved || u128::from(age) >= every.as_millis() {
            self.refresh(conn).await;
        }
    }

    /// Reads the map unless another caller is reading it.
    async fn refresh<C: redis::aio::ConnectionLike>(&self, conn: &mut C) {
        if let Ok(_reading) = self.reading.try_lock() {
            self.read(conn).await;
        }
    }

    /// One bounded read; a failed one keeps the old map. The caller holds `reading`.
    async fn read<C: redis::aio::ConnectionLike>(&self, conn: &mut C) {
        // Stamped first: a read cut short leaves the map due again one interval later, not
        // retried by every caller.
        self.read_at.store(self.now().max(1), Ordering::Relaxed);
        let command = redis::cmd("CLUSTER").arg("SLOTS").clone();
        // A read cut short (its caller's future dropped) or failed is itself a sign of trouble.
        let unanswered = Unanswered(Some(self));
        let reply = tokio::time::timeout(READ_TIMEOUT, conn.req_packed_command(&command)).await;
        unanswered.answered();
        match reply.ok().and_then(Result::ok) {
            Some(reply) => match Topology::from_cluster_slots(&reply) {
                Some(topology) => self.topology.store(Some(Arc::new(topology))),
                None => self.unsettle(),
            },
            None => self.unsettle(),
        }
    }
}

/// Unsettles the cluster if the call it watches is dropped before its reply.
struct Unanswered<'a>(Option<&'a ClusterNodes>);

impl Unanswered<'_> {
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(nodes) = self.0 {
            nodes.unsettle();
        }
    }
}

/// Whether the command may wait by design (`BLPOP`, `XREAD BLOCK`, `WAIT`): its slowness says
/// nothing about the cluster.
fn blocks(args: &[&[u8]]) -> bool {
    redis_trace_commands::lookup_args(args).is_some_and(|command| command.has_flag("blocking"))
}

/// Error codes that mean the slot map moved on.
fn moved(code: &str) -> bool {
    matches!(code, "MOVED" | "ASK" | "CLUSTERDOWN" | "TRYAGAIN")
}

impl Topology {
    /// `CLUSTER SLOTS`: `[[start, end, [host, port, id, ..], replicas..], ..]`. Masters whose
    /// host is unknown (`""` or `"?"`) own their slots without an endpoint.
    fn from_cluster_slots(reply: &Value) -> Option<Self> {
        let Value::Array(ranges) = reply else {
            return None;
        };
        let mut owners = vec![UNOWNED; SLOTS].into_boxed_slice();
        let mut masters: Vec<Endpoint> = Vec::new();
        for range in ranges {
            let Value::Array(fields) = range else {
                continue;
            };
            let (Some(start), Some(end), Some(Value::Array(master))) =
                (int(fields.first()), int(fields.get(1)), fields.get(2))
            else {
                continue;
            };
            let (Some(host), Some(port)) = (text(master.first()), int(master.get(1))) else {
                continue;
            };
            if host.is_empty() || host == "?" {
                continue;
            }
            let (Ok(port), Ok(start), Ok(end)) = (
                u16::try_from(port),
                usize::try_from(start),
                usize::try_from(end),
            ) else {
                continue;
            };
            let endpoint = Endpoint::tcp(host, port);
            let index = match masters.iter().position(|known| *known == endpoint) {
                Some(index) => index,
                None => {
                    masters.push(endpoint);
                    masters.len() - 1
                }
            };
            let index = u16::try_from(index).ok()?;
            for owner in owners.get_mut(start..=end.min(SLOTS - 1))? {
                *owner = index;
            }
        }
        Some(Self { owners, masters })
    }
}

fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Int(number) => Some(*number),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

impl<C: redis::aio::ConnectionLike + Send> TracedConnection<C> {
    /// A command on a cluster connection: its span carries the configured target in
    /// `server.*` and the slot's master in `network.peer.*`.
    pub(super) async fn cluster_command(
        &mut self,
        nodes: Arc<ClusterNodes>,
        cmd: &Cmd,
    ) -> RedisResult<Value> {
        nodes.discover(&mut self.inner).await;
        let call = Call::of(cmd);
        let args = call.args();
        let slot = common_slot([args]);
        // The configured target (the seed list) on the span from its start; the slot's master
        // when it ends (a call that outlives a failover was served by the new one).
        let mut operation = Operation::start_command(
            || (),
            // Messaging commands took their own path before this one.
            |(), config, spec| describe::plain_command(&call, slot, config, spec),
            |(), config| describe::command_statement(&call, config),
            self.endpoint.as_ref(),
            None,
        );
        operation.set_late_peer(nodes.owner(slot));
        let blocks = blocks(args);
        #[cfg(feature = "client-side-caching")]
        let lookup = self
            .local_cache
            .as_deref()
            .and_then(|cache| cache.begin(cmd));
        let started = Instant::now();
        let unanswered = Unanswered(Some(&nodes));
        let result = operation
            .instrument(self.inner.req_packed_command(cmd))
            .await;
        unanswered.answered();
        operation.set_late_peer(nodes.owner(slot));
        let elapsed = started.elapsed();
        #[cfg(feature = "client-side-caching")]
        if let Some(result) = lookup.and_then(super::local_cache::Lookup::result) {
            operation.set_cache_result(result);
        }
        operation.finish_replies(&result);
        nodes
            .after_call(&mut self.inner, &result, elapsed, blocks)
            .await;
        result
    }

    /// A pipeline on a cluster connection: its span names the master in `network.peer.*` when
    /// all its keys share a slot.
    pub(super) async fn cluster_pipeline(
        &mut self,
        nodes: Arc<ClusterNodes>,
        pipeline: &redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        nodes.discover(&mut self.inner).await;
        let commands = Call::all_of(pipeline);
        let slot = common_slot(commands.iter().map(CommandArgs::args));
        let blocks = commands.iter().any(|call| blocks(call.args()));
        let mut operation = Operation::start_command(
            || (),
            |(), config, spec| {
                describe::pipeline(&commands, pipeline.is_transaction(), slot, config, spec);
            },
            |(), config| describe::pipeline_statement(&commands, config),
            self.endpoint.as_ref(),
            None,
        );
        operation.set_late_peer(nodes.owner(slot));
        let started = Instant::now();
        let unanswered = Unanswered(Some(&nodes));
        let result = operation
            .instrument(self.inner.req_packed_commands(pipeline, offset, count))
            .await;
        unanswered.answered();
        operation.set_late_peer(nodes.owner(slot));
        operation.finish_replies(&result);
        let elapsed = started.elapsed();
        nodes
            .after_call(&mut self.inner, &result, elapsed, blocks)
            .await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::BulkString(host.as_bytes().to_vec()),
            Value::Int(port),
            Value::BulkString(b"id".to_vec()),
        ])
    }

    fn range(start: i64, end: i64, master: Value) -> Value {
        Value::Array(vec![Value::Int(start), Value::Int(end), master])
    }

    #[test]
    fn slots_map_to_their_master() {
        let reply = Value::Array(vec![
            range(0, 5460, node("127.0.0.1", 7000)),
            range(5461, 10922, node("127.0.0.1", 7001)),
            range(10923, 16383, node("?", 7002)),
        ]);
        let nodes = ClusterNodes::new(DEFAULT_REFRESH);
        let topology = Topology::from_cluster_slots(&reply).unwrap();
        nodes.topology.store(Some(Arc::new(topology)));
        assert_eq!(nodes.owner(Some(0)), Some(Endpoint::tcp("127.0.0.1", 7000)));
        assert_eq!(
            nodes.owner(Some(5461)),
            Some(Endpoint::tcp("127.0.0.1", 7001))
        );
        assert_eq!(nodes.owner(Some(16383)), None, "unknown host");
        assert_eq!(nodes.owner(None), None, "no single slot");
    }

    #[test]
    fn malformed_replies_give_no_owner_and_no_panic() {
        for reply in [
            Value::Nil,
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![range(0, 99_999, node("h", 1))]),
            Value::Array(vec![range(-1, 3, node("h", 1))]),
            Value::Array(vec![range(0, 3, node("h", 70_000))]),
        ] {
            let owners = Topology::from_cluster_slots(&reply).map(|t| t.masters.len());
            assert!(owners.unwrap_or(0) <= 1, "{reply:?}");
        }
    }
}
