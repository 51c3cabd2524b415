//! Client-side caching (redis-rs `cache-aio`, RESP3): which reads the process's own memory
//! answered, told from redis-rs's cache statistics.
//!
//! redis-rs counts hits, misses and invalidations per connection (its clones share the cache)
//! and says nothing per command. A read is marked from how the counts moved while it ran, and
//! only when that reading is exact: when no other possible lookup on the same traced connection
//! (or its clones) overlapped it. A read that overlapped another stays unmarked; the counters
//! stay exact whatever overlaps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry::KeyValue;
use redis::caching::CacheStatistics;

use crate::args::cmd_name;
use crate::command::CacheResult;
use crate::endpoint::Endpoint;
use crate::metrics::{CacheCounts, WatchedCache};
use crate::semconv;

use super::TracedConnection;

/// The redis-rs connections that keep a client-side cache and say how it fares.
///
/// Implemented for `MultiplexedConnection`, `ConnectionManager` (feature `connection-manager`)
/// and the async cluster `ClusterConnection`; not for users to implement.
pub trait CacheStatisticsSource: Clone + Send + Sync + 'static {
    /// redis-rs's statistics of the connection's cache, if it has one.
    #[doc(hidden)]
    fn cache_statistics(&self) -> Option<CacheStatistics>;
}

impl CacheStatisticsSource for redis::aio::MultiplexedConnection {
    fn cache_statistics(&self) -> Option<CacheStatistics> {
        self.get_cache_statistics()
    }
}

#[cfg(feature = "connection-manager")]
impl CacheStatisticsSource for redis::aio::ConnectionManager {
    fn cache_statistics(&self) -> Option<CacheStatistics> {
        self.get_cache_statistics()
    }
}

impl CacheStatisticsSource for redis::cluster_async::ClusterConnection {
    fn cache_statistics(&self) -> Option<CacheStatistics> {
        self.get_cache_statistics()
    }
}

impl<C: CacheStatisticsSource> TracedConnection<C> {
    /// Makes redis-rs's client-side cache visible (feature `client-side-caching`; the
    /// connection opened with a `redis::caching::CacheConfig` over RESP3). Call it after
    /// [`TracedConnection::with_endpoint`]: the counters carry the endpoint.
    ///
    /// - A read answered from the process's memory carries `redis.client.csc.result` = `hit`
    ///   on its span and on `db.client.operation.duration`: it still is a `GET` (same name,
    ///   same `db.*` and `server.*`, the configured target), and its duration is that of the
    ///   local lookup, so a dashboard can split hits from the reads that reached Redis (`miss`).
    ///   `cache.hit` keeps saying whether the key had a value.
    /// - The marking is exact or absent: redis-rs counts hits and misses per connection, not per
    ///   command, so a read is marked when no other read on this connection (or its clones)
    ///   overlapped it, and left unmarked otherwise. Wrap the connection once and clone the
    ///   wrapper: wrappers around separate clones of one connection cannot see each other.
    /// - `redis.client.csc.requests` (by `redis.client.csc.result`) and
    ///   `redis.client.csc.evictions` (entries dropped on the server's invalidation or to make
    ///   room) read redis-rs's statistics when metrics are collected: exact, whatever overlaps.
    ///
    /// ```no_run
    /// # async fn run() -> redis::RedisResult<()> {
    /// use redis::caching::CacheConfig;
    /// use redis::AsyncConnectionConfig;
    /// use redis_trace::TracedConnection;
    ///
    /// let client = redis::Client::open("redis://127.0.0.1/?protocol=resp3")?;
    /// let config = AsyncConnectionConfig::new().set_cache_config(CacheConfig::new());
    /// let conn = client.get_multiplexed_async_connection_with_config(&config).await?;
    /// let conn = TracedConnection::new(conn)
    ///     .with_endpoint(&client)
    ///     .with_client_side_caching();
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_client_side_caching(mut self) -> Self {
        let cache = LocalCache::watch(self.inner.clone(), self.endpoint.as_ref());
        self.local_cache = Some(Arc::new(cache));
        self
    }
}

/// One started lookup in [`LocalCache::lookups`]; the low 32 bits count those under way.
const STARTED: u64 = 1 << 32;
const UNDER_WAY: u64 = (1 << 32) - 1;

/// One traced connection's view of its cache, shared by its clones.
#[derive(Debug)]
pub(super) struct LocalCache {
    watched: Arc<WatchedCache>,
    /// Possible lookups ever started (high 32 bits) and under way (low 32 bits), in one word so
    /// that starting one reads both at once: a lookup that started with none under way and
    /// saw none start after it ran alone.
    lookups: AtomicU64,
}

impl LocalCache {
    /// Watches `connection`'s cache; the counters carry `endpoint`.
    pub(super) fn watch<C: CacheStatisticsSource>(
        connection: C,
        endpoint: Option<&Endpoint>,
    ) -> Self {
        let mut attributes = vec![KeyValue::new(semconv::DB_SYSTEM_NAME, "redis")];
        if let Some(endpoint) = endpoint {
            endpoint.push_server_attributes(&mut attributes);
        }
        let watched = WatchedCache::register(attributes, move || {
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            connection
                .cache_statistics()
                .map(|statistics| CacheCounts {
                    hits: count(statistics.hit),
                    misses: count(statistics.miss),
                    evictions: count(statistics.invalidate),
                })
                .unwrap_or_default()
        });
        Self {
            watched,
            lookups: AtomicU64::new(0),
        }
    }

    /// Starts watching `cmd`, if the cache might answer it.
    pub(super) fn begin(&self, cmd: &redis::Cmd) -> Option<Lookup<'_>> {
        let might_be_cached = cmd_name(cmd).is_none_or(|name| {
            redis_trace_commands::lookup_args(&[name])
                .is_none_or(redis_trace_commands::Command::may_be_cached_locally)
        });
        if !might_be_cached {
            return None;
        }
        let before = self.lookups.fetch_add(STARTED + 1, Ordering::SeqCst);
        let (others, ticket) = (before & UNDER_WAY, before >> 32);
        Some(Lookup {
            cache: self,
            alone: others == 0,
            ticket,
            before: self.watched.counts(),
        })
    }
}

/// A possible lookup under way; ends (also when cancelled) when dropped.
pub(super) struct Lookup<'a> {
    cache: &'a LocalCache,
    alone: bool,
    /// How many lookups had started before this one (wrapping at 32 bits).
    ticket: u64,
    before: CacheCounts,
}

impl Lookup<'_> {
    /// Whether the cache answered the read, when that can be told exactly.
    pub(super) fn result(self) -> Option<CacheResult> {
        let after = self.cache.watched.counts();
        let started_since =
            (self.cache.lookups.load(Ordering::SeqCst) >> 32).wrapping_sub(self.ticket) & UNDER_WAY;
        let alone = self.alone && started_since == 1;
        if !alone {
            return None;
        }
        let hits = after.hits.saturating_sub(self.before.hits);
        let misses = after.misses.saturating_sub(self.before.misses);
        match (hits, misses) {
            (0, 0) => None, // not looked up (a read redis-rs does not cache, or opted out)
            (_, 0) => Some(CacheResult::Hit),
            _ => Some(CacheResult::Miss),
        }
    }
}

impl Drop for Lookup<'_> {
    fn drop(&mut self) {
        self.cache.lookups.fetch_sub(1, Ordering::SeqCst);
    }
}
