//! What one `#[redis_traced]` function records its successful calls into, found on its first
//! call and reused: the duration's attributes (with `bound-metrics`, the histogram bound to
//! them) and the cache tally. A call compares three values instead of building its attributes
//! and looking them up.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use opentelemetry::KeyValue;

use crate::config::SemconvMode;
use crate::endpoint::Endpoint;
use crate::metrics::{CacheTally, Instruments};
use crate::semconv;

/// Where a function keeps its [`CallsiteMetrics`].
pub(crate) type CallsiteMetricsSlot = ArcSwapOption<CallsiteMetrics>;

/// A function's successful calls under one set of instruments, one semantic-convention mode
/// and one endpoint: what their metric attributes depend on besides the function.
#[derive(Debug)]
pub(crate) struct CallsiteMetrics {
    generation: u64,
    mode: SemconvMode,
    endpoint: Option<Endpoint>,
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
        self.generation == instruments.generation()
            && self.mode == call.mode
            && self.endpoint.as_ref() == call.endpoint
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
        generation: instruments.generation(),
        mode: call.mode,
        endpoint: call.endpoint.cloned(),
        tally: instruments.tally(&tally_attributes),
        #[cfg(feature = "bound-metrics")]
        duration: instruments.bind_duration(&attributes),
        attributes,
    };
    fresh.record(instruments, call);
    slot.store(Some(Arc::new(fresh)));
}
