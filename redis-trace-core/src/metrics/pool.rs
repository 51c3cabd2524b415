//! What connection pools report, apart from the pools themselves: the registry of live pools
//! (a name and a view of the pool's state each), and the `db.client.connection.*` instruments,
//! created with the operation instruments from the same meter. The observable ones read the
//! live pools when metrics are collected; `pool/` and `connection/connect.rs` record the rest.
//! The registry is process-wide (a static here): pools register and unregister themselves,
//! whatever instruments are installed.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use opentelemetry::metrics::{Counter, Histogram, Meter, ObservableUpDownCounter};
use opentelemetry::KeyValue;

use crate::semconv::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_CREATE_TIME, DB_CLIENT_CONNECTION_IDLE_MAX,
    DB_CLIENT_CONNECTION_IDLE_MIN, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_STATE, DB_CLIENT_CONNECTION_USE_TIME, REDIS_TRACE_CONNECTION_RECONNECTS,
};

/// What a pool says about itself when metrics are collected.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolSnapshot {
    pub(crate) used: u64,
    pub(crate) idle: u64,
    pub(crate) max: Option<u64>,
    pub(crate) idle_max: Option<u64>,
    pub(crate) idle_min: Option<u64>,
    pub(crate) pending: u64,
}

/// One pool's name and state, registered for the metric callbacks.
pub(crate) struct PoolTelemetry {
    attributes: [KeyValue; 1],
    snapshot: Box<dyn Fn() -> PoolSnapshot + Send + Sync>,
}

impl std::fmt::Debug for PoolTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolTelemetry")
            .field("name", &self.attributes[0].value)
            .finish_non_exhaustive()
    }
}

/// Every live pool, read by the observable instruments' callbacks.
static POOLS: Mutex<Vec<Weak<PoolTelemetry>>> = Mutex::new(Vec::new());

impl PoolTelemetry {
    /// Registers a pool named `name` whose state `snapshot` reads; it reports until dropped.
    // Only the pool integrations register pools, each behind its feature.
    #[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
    pub(crate) fn register(
        name: String,
        snapshot: impl Fn() -> PoolSnapshot + Send + Sync + 'static,
    ) -> Arc<Self> {
        let telemetry = Arc::new(Self {
            attributes: [KeyValue::new(
                crate::semconv::DB_CLIENT_CONNECTION_POOL_NAME,
                name,
            )],
            snapshot: Box::new(snapshot),
        });
        let mut pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|pool| pool.strong_count() > 0);
        pools.push(Arc::downgrade(&telemetry));
        telemetry
    }

    /// `pool.name` as a metric attribute.
    pub(crate) fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

/// The live pools, for the callbacks.
pub(crate) fn live_pools() -> Vec<Arc<PoolTelemetry>> {
    let pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    pools.iter().filter_map(Weak::upgrade).collect()
}

/// Seconds, from 10 µs: getting an idle connection takes microseconds, opening one a
/// millisecond, a starved pool seconds.
const TIME_BOUNDARIES: [f64; 14] = [
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0,
];

/// What one observable instrument reads from a pool: values, each with its
/// `db.client.connection.state` if it has one.
type Reading = fn(&PoolSnapshot) -> Vec<(i64, Option<&'static str>)>;

pub(crate) struct PoolInstruments {
    #[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
    pub(crate) timeouts: Counter<u64>,
    /// Connections a `ConnectionManager` replaced (`connection/reconnect.rs`).
    pub(crate) reconnects: Counter<u64>,
    #[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
    pub(crate) wait_time: Histogram<f64>,
    pub(crate) create_time: Histogram<f64>,
    pub(crate) use_time: Histogram<f64>,
    /// Kept with the instruments they belong to; their callbacks read the live pools.
    _observed: [ObservableUpDownCounter<i64>; 5],
}

impl PoolInstruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        let histogram = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(TIME_BOUNDARIES.to_vec())
                .build()
        };
        let observed = |name: &'static str, unit: &'static str, read: Reading| {
            meter
                .i64_observable_up_down_counter(name)
                .with_unit(unit)
                .with_callback(move |observer| {
                    for pool in live_pools() {
                        let snapshot = (pool.snapshot)();
                        for (value, state) in read(&snapshot) {
                            match state {
                                Some(state) => {
                                    let mut attributes = pool.attributes().to_vec();
                                    attributes
                                        .push(KeyValue::new(DB_CLIENT_CONNECTION_STATE, state));
                                    observer.observe(value, &attributes);
                                }
                                None => observer.observe(value, pool.attributes()),
                            }
                        }
                    }
                })
                .build()
        };
        Self {
            #[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
            timeouts: meter
                .u64_counter(crate::semconv::DB_CLIENT_CONNECTION_TIMEOUTS)
                .with_unit("{timeout}")
                .build(),
            reconnects: meter
                .u64_counter(REDIS_TRACE_CONNECTION_RECONNECTS)
                .with_unit("{reconnect}")
                .with_description("Connections a ConnectionManager lost and replaced")
                .build(),
            #[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
            wait_time: histogram(
                crate::semconv::DB_CLIENT_CONNECTION_WAIT_TIME,
                "Time to obtain a connection from the pool",
            ),
            create_time: histogram(
                DB_CLIENT_CONNECTION_CREATE_TIME,
                "Time to open a new connection",
            ),
            use_time: histogram(
                DB_CLIENT_CONNECTION_USE_TIME,
                "Time between borrowing a connection and returning it",
            ),
            _observed: [
                observed(DB_CLIENT_CONNECTION_COUNT, "{connection}", |s| {
                    vec![(count(s.used), Some("used")), (count(s.idle), Some("idle"))]
                }),
                observed(DB_CLIENT_CONNECTION_MAX, "{connection}", |s| {
                    s.max.map(|max| (count(max), None)).into_iter().collect()
                }),
                observed(DB_CLIENT_CONNECTION_IDLE_MAX, "{connection}", |s| {
                    s.idle_max
                        .map(|max| (count(max), None))
                        .into_iter()
                        .collect()
                }),
                observed(DB_CLIENT_CONNECTION_IDLE_MIN, "{connection}", |s| {
                    s.idle_min
                        .map(|min| (count(min), None))
                        .into_iter()
                        .collect()
                }),
                observed(DB_CLIENT_CONNECTION_PENDING_REQUESTS, "{request}", |s| {
                    vec![(count(s.pending), None)]
                }),
            ],
        }
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
