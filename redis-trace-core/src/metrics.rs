//! The duration histogram and the cache counter, created once per meter (the instruments in
//! use are owned by `globals`).
//!
//! The histogram is recorded through the SDK on every call. Cache hits and misses are counted
//! in atomics, one pair per function and attribute set, and reported by an observable counter
//! when metrics are collected: the same cumulative sums a synchronous counter would export, for
//! an atomic increment per call instead of an attribute lookup in the SDK.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::metrics::{Histogram, Meter, MeterProvider, ObservableCounter};
use opentelemetry::KeyValue;

use crate::pooling::PoolInstruments;
use crate::semconv::{self, CACHE_REQUESTS, DB_CLIENT_OPERATION_DURATION};
use crate::tracer::scope;

/// The histogram's bucket boundaries, in seconds: the spec's advice with sub-millisecond
/// buckets in front, because Redis answers in well under a millisecond.
const DURATION_BOUNDARIES: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

pub(crate) struct Instruments {
    duration: Histogram<f64>,
    /// Tells these instruments' tallies from those of instruments created before.
    generation: u64,
    tallies: Arc<Tallies>,
    /// Kept with the instruments it belongs to.
    _cache_requests: ObservableCounter<u64>,
    /// The connection-pool instruments, from the same meter.
    pool: PoolInstruments,
    /// The messaging instruments, from the same meter.
    messaging: MessagingInstruments,
}

/// `messaging.client.sent.messages`, `messaging.client.consumed.messages`,
/// `messaging.process.duration`, `messaging.client.operation.duration`.
pub(crate) struct MessagingInstruments {
    pub(crate) sent: opentelemetry::metrics::Counter<u64>,
    pub(crate) consumed: opentelemetry::metrics::Counter<u64>,
    pub(crate) process: Histogram<f64>,
    pub(crate) operation: Histogram<f64>,
}

impl MessagingInstruments {
    fn new(meter: &Meter) -> Self {
        Self {
            sent: meter
                .u64_counter(semconv::MESSAGING_CLIENT_SENT_MESSAGES)
                .with_unit("{message}")
                .build(),
            consumed: meter
                .u64_counter(semconv::MESSAGING_CLIENT_CONSUMED_MESSAGES)
                .with_unit("{message}")
                .build(),
            process: meter
                .f64_histogram(semconv::MESSAGING_PROCESS_DURATION)
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            operation: meter
                .f64_histogram(semconv::MESSAGING_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
        }
    }
}

/// Every tally of one set of instruments, read by the observable counter's callback.
#[derive(Default)]
struct Tallies(Mutex<Vec<Arc<CacheTally>>>);

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

/// Source of [`Instruments::generation`].
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

impl Instruments {
    fn new(meter: &Meter) -> Self {
        let tallies = Arc::new(Tallies::default());
        let reported = Arc::clone(&tallies);
        Self {
            duration: meter
                .f64_histogram(DB_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_description("Duration of Redis client operations")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            tallies,
            _cache_requests: meter
                .u64_observable_counter(CACHE_REQUESTS)
                .with_unit("{request}")
                .with_description("Redis reads by outcome: cache.hit true or false")
                .with_callback(move |observer| reported.observe(observer))
                .build(),
            pool: PoolInstruments::new(meter),
            messaging: MessagingInstruments::new(meter),
        }
    }

    pub(crate) fn messaging(&self) -> &MessagingInstruments {
        &self.messaging
    }

    pub(crate) fn pool(&self) -> &PoolInstruments {
        &self.pool
    }

    /// Tells these instruments from others: what was found for older ones is found again.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Records `seconds` with `attributes`.
    pub(crate) fn record_duration(&self, seconds: f64, attributes: &[KeyValue]) {
        self.duration.record(seconds, attributes);
    }

    /// The duration histogram bound to `attributes`.
    #[cfg(feature = "bound-metrics")]
    pub(crate) fn bind_duration(
        &self,
        attributes: &[KeyValue],
    ) -> opentelemetry::metrics::BoundHistogram<f64> {
        self.duration.bind(attributes)
    }

    /// The tally of calls with `attributes` (all but `cache.hit`), created on first use.
    pub(crate) fn tally(&self, attributes: &[KeyValue]) -> Arc<CacheTally> {
        let mut tallies = self
            .tallies
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
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
}

impl Tallies {
    fn observe(&self, observer: &dyn opentelemetry::metrics::AsyncInstrument<u64>) {
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

/// The instruments in use, or nothing to record into.
pub(crate) enum MetricsSlot {
    Active(Instruments),
    /// The global meter provider is the no-op one.
    Noop,
}

impl MetricsSlot {
    /// Instruments from the global meter provider, unless it is the no-op one.
    pub(crate) fn from_global() -> Self {
        let provider = opentelemetry::global::meter_provider();
        // The API's no-op provider is the only zero-sized one: any real provider holds its
        // pipeline. Knowing it lets calls skip metrics work entirely when nothing would be kept.
        if std::mem::size_of_val(&*provider) == 0 {
            Self::Noop
        } else {
            Self::from_provider(&*provider)
        }
    }

    /// Instruments from `provider`, always used.
    pub(crate) fn from_provider<P: MeterProvider + ?Sized>(provider: &P) -> Self {
        Self::Active(Instruments::new(&provider.meter_with_scope(scope())))
    }

    /// The instruments, unless nothing records metrics.
    pub(crate) fn instruments(&self) -> Option<&Instruments> {
        match self {
            Self::Active(instruments) => Some(instruments),
            Self::Noop => None,
        }
    }
}
