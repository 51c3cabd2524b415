//! What client-side caches report (redis-rs `cache-aio`): the registry of watched caches (their
//! attributes and a way to read their counts) and the observable instruments that read them,
//! `redis.client.csc.requests` and `redis.client.csc.evictions`, named as Redis Inc's clients
//! name them. redis-rs keeps the counts; a cache that goes away leaves its last counts behind,
//! so the counters never step back. The registry is process-wide (a static here), whatever
//! instruments are installed.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use opentelemetry::metrics::{Meter, ObservableCounter};
use opentelemetry::KeyValue;

use crate::semconv::{
    REDIS_CLIENT_CSC_EVICTIONS, REDIS_CLIENT_CSC_REQUESTS, REDIS_CLIENT_CSC_RESULT,
};

/// A cache's counts since it was created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheCounts {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    /// Entries dropped on the server's invalidation or to make room.
    pub(crate) evictions: u64,
}

impl CacheCounts {
    fn add(&mut self, other: Self) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.evictions += other.evictions;
    }
}

/// One connection's cache, registered for the metric callbacks until dropped.
pub(crate) struct WatchedCache {
    attributes: Vec<KeyValue>,
    read: Box<dyn Fn() -> CacheCounts + Send + Sync>,
}

impl std::fmt::Debug for WatchedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedCache")
            .field("attributes", &self.attributes)
            .field("counts", &self.counts())
            .finish()
    }
}

#[derive(Default)]
struct Registry {
    live: Vec<Weak<WatchedCache>>,
    /// The last counts of caches that went away, by attributes.
    retired: Vec<(Vec<KeyValue>, CacheCounts)>,
}

static CACHES: Mutex<Registry> = Mutex::new(Registry {
    live: Vec::new(),
    retired: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    CACHES.lock().unwrap_or_else(PoisonError::into_inner)
}

impl WatchedCache {
    /// Registers a cache whose counts `read` returns, reported with `attributes`.
    pub(crate) fn register(
        attributes: Vec<KeyValue>,
        read: impl Fn() -> CacheCounts + Send + Sync + 'static,
    ) -> Arc<Self> {
        let cache = Arc::new(Self {
            attributes,
            read: Box::new(read),
        });
        let mut registry = registry();
        registry.live.retain(|cache| cache.strong_count() > 0);
        registry.live.push(Arc::downgrade(&cache));
        cache
    }

    /// The cache's counts now.
    pub(crate) fn counts(&self) -> CacheCounts {
        (self.read)()
    }
}

impl Drop for WatchedCache {
    fn drop(&mut self) {
        let last = self.counts();
        let mut registry = registry();
        let attributes = std::mem::take(&mut self.attributes);
        match registry.retired.iter_mut().find(|(a, _)| *a == attributes) {
            Some((_, counts)) => counts.add(last),
            None => registry.retired.push((attributes, last)),
        }
    }
}

/// Every cache's counts, live and retired, summed by attributes.
fn totals() -> Vec<(Vec<KeyValue>, CacheCounts)> {
    let (live, mut totals) = {
        let registry = registry();
        let live: Vec<Arc<WatchedCache>> = registry.live.iter().filter_map(Weak::upgrade).collect();
        (live, registry.retired.clone())
    };
    // Read outside the lock: the last `Arc` of a cache may drop here, and its `Drop` locks.
    for cache in live {
        let counts = cache.counts();
        match totals.iter_mut().find(|(a, _)| *a == cache.attributes) {
            Some((_, total)) => total.add(counts),
            None => totals.push((cache.attributes.clone(), counts)),
        }
    }
    totals
}

/// `redis.client.csc.requests` (by `redis.client.csc.result`) and `redis.client.csc.evictions`.
pub(crate) struct ClientCacheInstruments {
    _observed: [ObservableCounter<u64>; 2],
}

impl ClientCacheInstruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        let requests = meter
            .u64_observable_counter(REDIS_CLIENT_CSC_REQUESTS)
            .with_unit("{request}")
            .with_description(
                "Client-side cache lookups by result: hit (Redis not reached) or miss",
            )
            .with_callback(|observer| {
                for (attributes, counts) in totals() {
                    for (result, value) in [("hit", counts.hits), ("miss", counts.misses)] {
                        let mut attributes = attributes.clone();
                        attributes.push(KeyValue::new(REDIS_CLIENT_CSC_RESULT, result));
                        observer.observe(value, &attributes);
                    }
                }
            })
            .build();
        let evictions = meter
            .u64_observable_counter(REDIS_CLIENT_CSC_EVICTIONS)
            .with_unit("{entry}")
            .with_description("Client-side cache entries dropped on invalidation or to make room")
            .with_callback(|observer| {
                for (attributes, counts) in totals() {
                    observer.observe(counts.evictions, &attributes);
                }
            })
            .build();
        Self {
            _observed: [requests, evictions],
        }
    }
}
