//! What a traced connection's commands record, found in per-thread lists: the cache tallies
//! of lookup commands, and the duration attributes of plain commands.

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::KeyValue;

use super::{CacheTally, Instruments, RecordedFor};
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

/// A plain command's duration attributes (and its tally, once it has counted a lookup), as
/// one thread built them.
struct CommandRecording {
    recorded_for: RecordedFor,
    operation: &'static str,
    summary: Option<Box<str>>,
    peer: Option<Endpoint>,
    attributes: Vec<KeyValue>,
    tally: Option<Arc<CacheTally>>,
    /// The duration histogram bound to `attributes`: no attribute lookup per call.
    #[cfg(feature = "bound-metrics")]
    duration: opentelemetry::metrics::BoundHistogram<f64>,
}

/// Recordings kept per thread; past this many, the list starts over.
const COMMAND_RECORDINGS_KEPT: usize = 64;

thread_local! {
    static COMMAND_RECORDINGS: RefCell<Vec<CommandRecording>> = const { RefCell::new(Vec::new()) };
}

/// What a plain command that succeeded is: a table command's `operation` (a `'static` name),
/// its summary, where it went. Its attributes follow from these, so they are built once per
/// thread and reused: recording costs what a hand-written prebuilt list costs.
pub(crate) struct PlainCommand<'a> {
    pub(crate) mode: SemconvMode,
    pub(crate) endpoint: Option<&'a Endpoint>,
    pub(crate) peer: Option<&'a Endpoint>,
    pub(crate) operation: &'static str,
    pub(crate) summary: Option<&'a str>,
}

/// Records `seconds` and counts `(hits, misses)` for `command`, with the attributes `build`
/// makes the first time this thread sees it. `false` when nothing was recorded (during thread
/// exit, or re-entered): the caller records as for any other command.
pub(crate) fn record_plain_command(
    instruments: &Instruments,
    command: &PlainCommand<'_>,
    seconds: f64,
    (hits, misses): (u64, u64),
    build: impl FnOnce() -> Vec<KeyValue>,
) -> bool {
    let recorded = COMMAND_RECORDINGS.try_with(|kept| {
        let Ok(mut kept) = kept.try_borrow_mut() else {
            return false;
        };
        let found = kept.iter().position(|known| {
            std::ptr::eq(known.operation, command.operation)
                && known.summary.as_deref() == command.summary
                && known.peer.as_ref() == command.peer
                && known
                    .recorded_for
                    .is(instruments, command.mode, command.endpoint)
        });
        let position = found.unwrap_or_else(|| {
            if kept.len() >= COMMAND_RECORDINGS_KEPT {
                kept.clear();
            }
            let attributes = build();
            kept.push(CommandRecording {
                recorded_for: RecordedFor::new(instruments, command.mode, command.endpoint),
                operation: command.operation,
                summary: command.summary.map(Box::from),
                peer: command.peer.cloned(),
                #[cfg(feature = "bound-metrics")]
                duration: instruments.bind_duration(&attributes),
                attributes,
                tally: None,
            });
            kept.len() - 1
        });
        let recording = &mut kept[position];
        #[cfg(feature = "bound-metrics")]
        recording.duration.record(seconds);
        #[cfg(not(feature = "bound-metrics"))]
        instruments.record_duration(seconds, &recording.attributes);
        if hits + misses > 0 {
            let attributes = &recording.attributes;
            let tally = (recording.tally).get_or_insert_with(|| instruments.tally(attributes));
            tally.add(hits, misses);
        }
        true
    });
    recorded.unwrap_or(false)
}
