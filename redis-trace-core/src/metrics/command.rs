//! What a traced connection's commands record: the cache tallies of lookup commands, found in
//! a per-thread list, and the prepared duration attributes of plain commands.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;

use super::{CacheTally, Instruments, MetricsSlot, RecordedFor};
use crate::config::SemconvMode;
use crate::endpoint::Endpoint;

/// A lookup command's tally, as one thread found it.
struct CommandTally {
    recorded_for: RecordedFor,
    /// Its summary, else its operation: what its attributes differ by.
    grouping: Box<str>,
    /// The node that served it (`network.peer.*`), part of its attributes too.
    peer: Option<Endpoint>,
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
    (endpoint, peer): (Option<&Endpoint>, Option<&Endpoint>),
    grouping: &str,
    (hits, misses): (u64, u64),
    attributes: &[KeyValue],
) {
    let found = COMMAND_TALLIES.try_with(|kept| {
        let mut kept = kept.try_borrow_mut().ok()?;
        let known = kept.iter().find(|known| {
            &*known.grouping == grouping
                && known.peer.as_ref() == peer
                && known.recorded_for.is(instruments, mode, endpoint)
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
            grouping: grouping.into(),
            peer: peer.cloned(),
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

/// A plain command's duration attributes and where they go (the instruments they were made
/// for, the histogram bound to them once it records), and its tally once it has counted a
/// lookup: made once for a command at a server (`operation::plan`), so that recording costs
/// what a hand-written prebuilt list costs.
pub(crate) struct PlainRecording {
    /// Held: the instruments in use when the attributes were made.
    metrics: Arc<MetricsSlot>,
    attributes: Vec<KeyValue>,
    tally: OnceLock<Arc<CacheTally>>,
    /// The duration histogram bound to `attributes` when it first records: no attribute lookup
    /// per call. (Not before: a bound histogram exports its point, empty or not, and a command
    /// inside an annotated function records nothing of its own.)
    #[cfg(feature = "bound-metrics")]
    duration: OnceLock<opentelemetry::metrics::BoundHistogram<f64>>,
}

impl PlainRecording {
    /// Records with `attributes` into the instruments of `metrics`; `None` when it has none
    /// (no meter provider).
    pub(crate) fn new(metrics: &Arc<MetricsSlot>, attributes: Vec<KeyValue>) -> Option<Self> {
        metrics.instruments()?;
        Some(Self {
            metrics: Arc::clone(metrics),
            attributes,
            tally: OnceLock::new(),
            #[cfg(feature = "bound-metrics")]
            duration: OnceLock::new(),
        })
    }

    /// Records `seconds` and counts `(hits, misses)`.
    pub(crate) fn record(&self, seconds: f64, (hits, misses): (u64, u64)) {
        let Some(instruments) = self.metrics.instruments() else {
            return;
        };
        #[cfg(feature = "bound-metrics")]
        (self.duration)
            .get_or_init(|| instruments.bind_duration(&self.attributes))
            .record(seconds);
        #[cfg(not(feature = "bound-metrics"))]
        instruments.record_duration(seconds, &self.attributes);
        if hits + misses > 0 {
            let tally = (self.tally).get_or_init(|| instruments.tally(&self.attributes));
            tally.add(hits, misses);
        }
    }
}
