//! The producers of the stream entries a traced connection read last, by entry id
//! (`TracedConnection::producer_of`).

use std::collections::VecDeque;
use std::sync::{Arc, LockResult, Mutex, MutexGuard, OnceLock, PoisonError};

use opentelemetry::trace::SpanContext;

type Queue = Mutex<VecDeque<(String, SpanContext)>>;

/// The remembered producers, shared by a connection and its clones, allocated when first
/// used: a connection that never reads a stream (one lent by a pool for a few commands, say)
/// allocates nothing for them.
#[derive(Default)]
pub(crate) struct Producers(OnceLock<Arc<Queue>>);

impl Producers {
    /// The queue, locked (created if it was not yet).
    pub(crate) fn lock(&self) -> LockResult<MutexGuard<'_, VecDeque<(String, SpanContext)>>> {
        self.shared().lock()
    }

    /// The producer of the entry `id`, if it is remembered.
    pub(crate) fn find(&self, id: &str) -> Option<SpanContext> {
        let queue = self.0.get()?.lock().unwrap_or_else(PoisonError::into_inner);
        (queue.iter().rev())
            .find(|(entry, _)| entry == id)
            .map(|(_, producer)| producer.clone())
    }

    fn shared(&self) -> &Arc<Queue> {
        self.0.get_or_init(Arc::default)
    }
}

/// A clone shares the queue (created now if it was not yet), as a shared `Arc` would.
impl Clone for Producers {
    fn clone(&self) -> Self {
        Self(OnceLock::from(Arc::clone(self.shared())))
    }
}

impl std::fmt::Debug for Producers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get() {
            Some(queue) => queue.fmt(f),
            None => f.write_str("[]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    fn producer(span: u64) -> SpanContext {
        SpanContext::new(
            TraceId::from(7),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        )
    }

    #[test]
    fn clones_share_what_either_remembers() {
        let producers = Producers::default();
        assert!(producers.0.get().is_none(), "nothing allocated before use");
        assert_eq!(producers.find("1-0"), None);
        let clone = producers.clone();
        clone
            .lock()
            .unwrap()
            .push_back(("1-0".to_owned(), producer(1)));
        producers
            .lock()
            .unwrap()
            .push_back(("2-0".to_owned(), producer(2)));
        for either in [&producers, &clone] {
            assert_eq!(either.find("1-0"), Some(producer(1)));
            assert_eq!(either.find("2-0"), Some(producer(2)));
            assert_eq!(either.find("3-0"), None);
        }
    }
}
