//! Which master serves a hash slot, so cluster spans name their node.
//!
//! redis-rs routes cluster commands itself and does not say which node answered, so redis-trace
//! keeps its own slot map from `CLUSTER SLOTS` (Redis 3.0+, so 6.2 and 7.x alike): read once
//! before the first command, then again after a command when the map is older than the refresh
//! interval, or when a reply says the topology moved (`MOVED`, `ASK`, `CLUSTERDOWN`,
//! `TRYAGAIN`, a connection error). A refresh is one round trip through the wrapped
//! connection, sent by at most one caller at a time, after that caller's span has ended.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::{Cmd, RedisResult, Value};

use super::describe;
use super::TracedConnection;
use crate::args::{cmd_args, common_slot};
use crate::command::Replies;
use crate::endpoint::Endpoint;
use crate::operation::Operation;

/// How often the slot map is read again without a sign of change.
pub(super) const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

const SLOTS: usize = 16384;
const UNOWNED: u16 = u16::MAX;

/// The slot map of one cluster, shared by the clones of a `TracedConnection`.
#[derive(Debug)]
pub(super) struct ClusterNodes {
    topology: ArcSwapOption<Topology>,
    refreshing: AtomicBool,
    /// Milliseconds from `created` to the last refresh.
    refreshed_at: AtomicU64,
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
            refreshing: AtomicBool::new(false),
            refreshed_at: AtomicU64::new(0),
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

    /// Reads the map when it was never read.
    pub(super) async fn discover<C: redis::aio::ConnectionLike>(&self, conn: &mut C) {
        if self.topology.load().is_none() {
            self.refresh(conn).await;
        }
    }

    /// Reads the map again when `result` or its age says it may be stale.
    pub(super) async fn refresh_if_stale<C, R>(&self, conn: &mut C, result: &RedisResult<R>)
    where
        C: redis::aio::ConnectionLike,
        R: Replies,
    {
        let moved = match result {
            Ok(replies) => replies.error_reply().is_some_and(|e| moved(e.code())),
            Err(error) => error.code().is_some_and(moved) || error.is_io_error(),
        };
        let age = self.created.elapsed().saturating_sub(Duration::from_millis(
            self.refreshed_at.load(Ordering::Relaxed),
        ));
        if moved || age >= self.interval {
            self.refresh(conn).await;
        }
    }

    async fn refresh<C: redis::aio::ConnectionLike>(&self, conn: &mut C) {
        if self.refreshing.swap(true, Ordering::Acquire) {
            return; // another caller is reading it
        }
        let reply = conn
            .req_packed_command(redis::cmd("CLUSTER").arg("SLOTS"))
            .await;
        // A failed read keeps the old map and is retried after the interval.
        if let Ok(reply) = reply {
            if let Some(topology) = Topology::from_cluster_slots(&reply) {
                self.topology.store(Some(Arc::new(topology)));
            }
        }
        let now = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.refreshed_at.store(now, Ordering::Relaxed);
        self.refreshing.store(false, Ordering::Release);
    }
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
        let args = cmd_args(cmd);
        let slot = common_slot([args.as_slice()]);
        // The configured target (the seed list) and the slot's master, apart.
        let peer = nodes.owner(slot);
        let mut operation = Operation::start_command(
            |config| describe::command(&args, slot, config),
            self.endpoint.as_ref(),
            peer.as_ref(),
        );
        #[cfg(feature = "client-side-caching")]
        let lookup = self
            .local_cache
            .as_deref()
            .and_then(|cache| cache.begin(cmd));
        let result = operation
            .instrument(self.inner.req_packed_command(cmd))
            .await;
        #[cfg(feature = "client-side-caching")]
        if let Some(result) = lookup.and_then(super::local_cache::Lookup::result) {
            operation.set_cache_result(result);
        }
        operation.finish_replies(&result);
        nodes.refresh_if_stale(&mut self.inner, &result).await;
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
        let commands: Vec<Vec<&[u8]>> = pipeline.cmd_iter().map(cmd_args).collect();
        let slot = common_slot(commands.iter().map(Vec::as_slice));
        let peer = nodes.owner(slot);
        let mut operation = Operation::start_command(
            |config| describe::pipeline(&commands, pipeline.is_transaction(), slot, config),
            self.endpoint.as_ref(),
            peer.as_ref(),
        );
        let result = operation
            .instrument(self.inner.req_packed_commands(pipeline, offset, count))
            .await;
        operation.finish_replies(&result);
        nodes.refresh_if_stale(&mut self.inner, &result).await;
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
