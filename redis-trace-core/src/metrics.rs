//! The duration histogram and the cache counter, created once per process.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::KeyValue;

use crate::tracer::scope;

/// `db.client.operation.duration`: seconds, the stable database metric.
pub const DURATION: &str = "db.client.operation.duration";
/// `redis_trace.cache.requests`: one per call whose result says hit or miss, with `cache.hit`.
pub const CACHE_REQUESTS: &str = "redis_trace.cache.requests";
/// The histogram's bucket boundaries, in seconds: the spec's advice with sub-millisecond
/// buckets in front, because Redis answers in well under a millisecond.
pub const DURATION_BOUNDARIES: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

pub(crate) struct Instruments {
    pub(crate) duration: Histogram<f64>,
    pub(crate) cache_requests: Counter<u64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Self {
            duration: meter
                .f64_histogram(DURATION)
                .with_unit("s")
                .with_description("Duration of Redis client operations")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            cache_requests: meter
                .u64_counter(CACHE_REQUESTS)
                .with_unit("{request}")
                .with_description("Redis reads by outcome: cache.hit true or false")
                .build(),
        }
    }

    pub(crate) fn record_duration(&self, seconds: f64, attributes: &[KeyValue]) {
        self.duration.record(seconds, attributes);
    }

    pub(crate) fn count_cache_request(&self, attributes: &[KeyValue]) {
        self.cache_requests.add(1, attributes);
    }
}

/// The instruments in use, or nothing to record into.
pub(crate) enum MetricsSlot {
    Active(Instruments),
    /// The global meter provider is the no-op one.
    Noop,
}

static CURRENT: ArcSwapOption<MetricsSlot> = ArcSwapOption::const_empty();

/// The instruments, created from the global meter provider on first use.
pub(crate) fn current() -> Arc<MetricsSlot> {
    if let Some(slot) = CURRENT.load_full() {
        return slot;
    }
    let provider = opentelemetry::global::meter_provider();
    // The API's no-op provider is the only zero-sized one: any real provider holds its
    // pipeline. Knowing it lets calls skip metrics work entirely when nothing would be kept.
    // A provider given to `set_meter_provider` is always used.
    let slot = if std::mem::size_of_val(&*provider) == 0 {
        MetricsSlot::Noop
    } else {
        MetricsSlot::Active(Instruments::new(&provider.meter_with_scope(scope())))
    };
    let slot = Arc::new(slot);
    CURRENT.compare_and_swap(&None::<Arc<MetricsSlot>>, Some(slot.clone()));
    crate::fast_path::refresh();
    CURRENT.load_full().unwrap_or(slot)
}

/// Whether calls record metrics into a real meter provider (resolving it on first use).
pub(crate) fn is_active() -> bool {
    match CURRENT.load().as_deref() {
        Some(slot) => matches!(slot, MetricsSlot::Active(_)),
        None => matches!(*current(), MetricsSlot::Active(_)),
    }
}

/// Whether the resolved meter provider is the no-op one.
pub(crate) fn is_noop() -> bool {
    matches!(CURRENT.load().as_deref(), Some(MetricsSlot::Noop))
}

/// Makes redis-trace record its metrics through `provider` instead of the global meter
/// provider (which is otherwise read once, at the first traced call).
pub fn set_meter_provider<P: MeterProvider>(provider: &P) {
    let instruments = Instruments::new(&provider.meter_with_scope(scope()));
    CURRENT.store(Some(Arc::new(MetricsSlot::Active(instruments))));
    crate::fast_path::refresh();
}

/// Forgets the instruments; the next traced call reads the global meter provider again.
pub fn reload_global_meter() {
    CURRENT.store(None);
    crate::fast_path::refresh();
}
