//! What one `#[redis_traced]` function records its successful calls into, found on its first
//! call and reused: the duration's attributes (with `bound-metrics`, the histogram bound to
//! them) and the cache tally. A call compares three values instead of building its attributes
//! and looking them up. Lookup commands of a traced connection find their tally the same way,
//! in a per-thread list.

use std::cell::RefCell;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use opentelemetry::KeyValue;

use crate::config::SemconvMode;
use crate::endpoint::Endpoint;
use crate::metrics::{CacheTally, Instruments};
use crate::semconv;

/// Where a function keeps its [`CallsiteMetrics`].
pub(crate) type CallsiteMetricsSlot = ArcSwapOption<CallsiteMetrics>;

/// What metric attributes depend on besides the function or command: the instruments (their
/// generation), the semantic-convention mode and the endpoint. A call compares these values.
#[derive(Debug)]
struct RecordedFor {
    generation: u64,
    mode: SemconvMode,
    endpoint: Option<Endpoint>,
}

impl RecordedFor {
    fn new(instruments: &Instruments, mode: SemconvMode, endpoint: Option<&Endpoint>) -> Self {
        Self {
            generation: instruments.generation(),
            mode,
            endpoint: endpoint.cloned(),
        }
    }

    fn is(
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

/// A function's successful calls under one [`RecordedFor`].
#[derive(Debug)]
pub(crate) struct CallsiteMetrics {
    recorded_for: RecordedFor,
    /// The duration's attributes.
    #[cfg_attr(feature = "bound-metrics", allow(dead_code))]
    attributes: Vec<KeyValue>,
    tally: Arc<CacheTally>,
    /// The duration histogram bound to `attributes`: no attribute lookup per call.
    #[cfg(feature = "bound-metrics")]
    duration: opentelemetry::metrics::BoundHistogram<f64>,
}

/// One successful call of a function, to record.
pub(crate) struct Success<'a> {
    pub(crate) function: &'static str,
    pub(crate) mode: SemconvMode,
    pub(crate) endpoint: Option<&'a Endpoint>,
    pub(crate) seconds: f64,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

impl CallsiteMetrics {
    fn serves(&self, instruments: &Instruments, call: &Success<'_>) -> bool {
        self.recorded_for.is(instruments, call.mode, call.endpoint)
    }

    fn record(&self, instruments: &Instruments, call: &Success<'_>) {
        #[cfg(feature = "bound-metrics")]
        {
            let _ = instruments;
            self.duration.record(call.seconds);
        }
        #[cfg(not(feature = "bound-metrics"))]
        instruments.record_duration(call.seconds, &self.attributes);
        self.tally.add(call.hits, call.misses);
    }
}

/// Records `call` through the function's `slot`. `attributes` builds the duration's attributes
/// when the slot holds nothing that serves the call: its first call, another endpoint or mode,
/// or instruments created since.
pub(crate) fn record_success(
    slot: &CallsiteMetricsSlot,
    instruments: &Instruments,
    call: &Success<'_>,
    attributes: impl FnOnce() -> Vec<KeyValue>,
) {
    let current = slot.load();
    if let Some(known) = current
        .as_deref()
        .filter(|known| known.serves(instruments, call))
    {
        known.record(instruments, call);
        return;
    }
    let attributes = attributes();
    let mut tally_attributes = attributes.clone();
    tally_attributes.push(KeyValue::new(semconv::CODE_FUNCTION_NAME, call.function));
    let fresh = CallsiteMetrics {
        recorded_for: RecordedFor::new(instruments, call.mode, call.endpoint),
        tally: instruments.tally(&tally_attributes),
        #[cfg(feature = "bound-metrics")]
        duration: instruments.bind_duration(&attributes),
        attributes,
    };
    fresh.record(instruments, call);
    slot.store(Some(Arc::new(fresh)));
}

/// A lookup command's tally, as one thread found it.
struct CommandTally {
    recorded_for: RecordedFor,
    operation: Box<str>,
    tally: Arc<CacheTally>,
}

/// Tallies kept per thread; past this many, the list starts over (a service has a handful of
/// lookup commands per endpoint).
const COMMAND_TALLIES_KEPT: usize = 64;

thread_local! {
    static COMMAND_TALLIES: RefCell<Vec<CommandTally>> = const { RefCell::new(Vec::new()) };
}

/// Counts the hits and misses of a lookup command of a traced connection, with `attributes`
/// (the counter's, but `cache.hit`). The tally is found in this thread's list by comparing a
/// few values; it is looked up under the instruments' lock (comparing attribute lists) only
/// the first time.
pub(crate) fn count_command_lookups(
    instruments: &Instruments,
    mode: SemconvMode,
    endpoint: Option<&Endpoint>,
    operation: &str,
    (hits, misses): (u64, u64),
    attributes: &[KeyValue],
) {
    let found = COMMAND_TALLIES.try_with(|kept| {
        let mut kept = kept.try_borrow_mut().ok()?;
        let known = kept.iter().find(|known| {
            &*known.operation == operation && known.recorded_for.is(instruments, mode, endpoint)
        });
        if let Some(known) = known {
            return Some(Arc::clone(&known.tally));
        }
        if kept.len() >= COMMAND_TALLIES_KEPT {
            kept.clear();
        }
        let tally = instruments.tally(attributes);
        kept.push(CommandTally {
            recorded_for: RecordedFor::new(instruments, mode, endpoint),
            operation: operation.into(),
            tally: Arc::clone(&tally),
        });
        Some(tally)
    });
    match found {
        Ok(Some(tally)) => tally.add(hits, misses),
        // During thread exit, or re-entered: the lookup under the lock.
        _ => instruments.tally(attributes).add(hits, misses),
    }
}
