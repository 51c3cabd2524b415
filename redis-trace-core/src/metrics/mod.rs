//! Every instrument and tally redis-trace records into, created once per meter: the operation
//! duration histogram and the cache counter (`cache`), what an annotated function's successful
//! calls record into (`function`), lookup commands' tallies (`command`), the connection-pool
//! instruments and the registry of live pools (`pool`), the messaging instruments
//! (`messaging`), the client-side cache counters and the registry of watched caches
//! (`client_cache`).
//!
//! The instruments in use are held by `globals`. What records (operations, connections, pools,
//! messaging) points here; nothing here knows those modules.

mod cache;
#[cfg(feature = "client-side-caching")]
mod client_cache;
mod command;
mod function;
mod messaging;
mod pool;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider, ObservableCounter};
use opentelemetry::KeyValue;

pub(crate) use self::cache::CacheTally;
use self::cache::Tallies;
#[cfg(feature = "client-side-caching")]
pub(crate) use self::client_cache::{CacheCounts, WatchedCache};
pub(crate) use self::command::{count_command_lookups, PlainRecording};
pub(crate) use self::function::{FunctionMetrics, Success};
pub(crate) use self::messaging::MessagingInstruments;
#[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
pub(crate) use self::pool::PoolSnapshot;
pub(crate) use self::pool::{PoolInstruments, PoolTelemetry};
use crate::config::SemconvMode;
use crate::endpoint::Endpoint;
use crate::semconv::{
    scope, CACHE_REQUESTS, DB_CLIENT_OPERATION_DURATION, QUERY_SUMMARY_OVERFLOWS,
};

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
    summary_overflows: Counter<u64>,
    /// The connection-pool instruments, from the same meter.
    pool: PoolInstruments,
    /// The messaging instruments, from the same meter (boxed: most services never read them,
    /// and the slot holding these instruments stays small).
    messaging: Box<MessagingInstruments>,
    /// Kept with the instruments they belong to; they read the watched client-side caches.
    #[cfg(feature = "client-side-caching")]
    _client_cache: client_cache::ClientCacheInstruments,
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
            summary_overflows: meter
                .u64_counter(QUERY_SUMMARY_OVERFLOWS)
                .with_unit("{command}")
                .with_description("Commands whose query summary fell back to the operation name")
                .build(),
            pool: PoolInstruments::new(meter),
            messaging: Box::new(MessagingInstruments::new(meter)),
            #[cfg(feature = "client-side-caching")]
            _client_cache: client_cache::ClientCacheInstruments::new(meter),
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

    /// Counts a command whose summary fell back to its operation name.
    pub(crate) fn count_summary_overflow(&self) {
        self.summary_overflows.add(1, &[]);
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
        self.tallies.find_or_add(attributes)
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

/// What metric attributes depend on besides the function or command: the instruments (their
/// generation), the semantic-convention mode and the endpoint. A call compares these values.
#[derive(Debug)]
pub(crate) struct RecordedFor {
    generation: u64,
    mode: SemconvMode,
    endpoint: Option<Endpoint>,
}

impl RecordedFor {
    pub(crate) fn new(
        instruments: &Instruments,
        mode: SemconvMode,
        endpoint: Option<&Endpoint>,
    ) -> Self {
        Self {
            generation: instruments.generation(),
            mode,
            endpoint: endpoint.cloned(),
        }
    }

    pub(crate) fn is(
        &self,
        instruments: &Instruments,
        mode: SemconvMode,
        endpoint: Option<&Endpoint>,
    ) -> bool {
        self.generation == instruments.generation()
            && self.mode == mode
            && self.endpoint.as_ref() == endpoint
    }
}
