//! The cache tallies of a traced connection's lookup commands, found in a per-thread list.

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
