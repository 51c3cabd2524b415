//! What one `#[redis_traced]` function records its successful calls into, found on its first
//! call and reused: the duration's attributes (with `bound-metrics`, the histogram bound to
//! them) and the cache tally. A call compares three values instead of building its attributes
//! and looking them up.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use opentelemetry::KeyValue;

use super::{CacheTally, Instruments, RecordedFor};
use crate::config::SemconvMode;
use crate::endpoint::Endpoint;
use crate::semconv;

/// The metrics of one function, kept in its static callsite.
#[derive(Debug)]
pub(crate) struct FunctionMetrics(ArcSwapOption<Recorded>);

/// A function's successful calls under one [`RecordedFor`].
#[derive(Debug)]
struct Recorded {
    recorded_for: RecordedFor,
    /// The duration's attributes.
    #[cfg(not(feature = "bound-metrics"))]
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

impl Recorded {
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

impl FunctionMetrics {
    /// Nothing recorded yet.
    pub(crate) const fn new() -> Self {
        Self(ArcSwapOption::const_empty())
    }

    /// Records `call`. `attributes` builds the duration's attributes when nothing kept serves
    /// the call: its first call, another endpoint or mode, or instruments created since.
    pub(crate) fn record_success(
        &self,
        instruments: &Instruments,
        call: &Success<'_>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) {
        let current = self.0.load();
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
        let fresh = Recorded {
            recorded_for: RecordedFor::new(instruments, call.mode, call.endpoint),
            tally: instruments.tally(&tally_attributes),
            #[cfg(feature = "bound-metrics")]
            duration: instruments.bind_duration(&attributes),
            #[cfg(not(feature = "bound-metrics"))]
            attributes,
        };
        fresh.record(instruments, call);
        self.0.store(Some(Arc::new(fresh)));
    }
}
