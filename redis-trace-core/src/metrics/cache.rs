//! Cache hits and misses, counted in atomics per function (or lookup command) and attribute set,
//! and reported by the observable counter `redis_trace.cache.requests` when metrics are
//! collected: the same cumulative sums a synchronous counter would export, for an atomic
//! increment per call instead of an attribute lookup in the SDK.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::metrics::AsyncInstrument;
use opentelemetry::KeyValue;

use crate::semconv;

/// Every tally of one set of instruments, read by the observable counter's callback.
#[derive(Default)]
pub(super) struct Tallies(Mutex<Vec<Arc<CacheTally>>>);

/// Hits and misses of one function with one attribute set (endpoint, semantic-convention
/// mode), counted since its instruments were created.
#[derive(Debug)]
pub(crate) struct CacheTally {
    /// The counter's attributes but `cache.hit`: the common ones, then `code.function.name`.
    attributes: Vec<KeyValue>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheTally {
    pub(crate) fn add(&self, hits: u64, misses: u64) {
        for (count, added) in [(&self.hits, hits), (&self.misses, misses)] {
            if added > 0 {
                count.fetch_add(added, Ordering::Relaxed);
            }
        }
    }
}

impl Tallies {
    /// The tally of calls with `attributes` (all but `cache.hit`), created on first use.
    pub(super) fn find_or_add(&self, attributes: &[KeyValue]) -> Arc<CacheTally> {
        let mut tallies = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tally) = tallies.iter().find(|tally| tally.attributes == attributes) {
            return Arc::clone(tally);
        }
        let tally = Arc::new(CacheTally {
            attributes: attributes.to_vec(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        });
        tallies.push(Arc::clone(&tally));
        tally
    }

    /// Reports every tally's counts, `cache.hit` true and false.
    pub(super) fn observe(&self, observer: &dyn AsyncInstrument<u64>) {
        let tallies = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for tally in tallies.iter() {
            let mut attributes = tally.attributes.clone();
            for (hit, count) in [(true, &tally.hits), (false, &tally.misses)] {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    attributes.push(KeyValue::new(semconv::CACHE_HIT, hit));
                    observer.observe(count, &attributes);
                    attributes.pop();
                }
            }
        }
    }
}
