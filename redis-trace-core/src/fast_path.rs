//! One flag that lets a traced call return at once when nothing would be recorded.
//!
//! With no tracer provider and no meter provider (or metrics off), a call would build nothing
//! and record nothing; checking three slots to learn that costs more than the call itself. The
//! flag is recomputed whenever a slot or the configuration changes.

use std::sync::atomic::{AtomicBool, Ordering};

static NOTHING_TO_RECORD: AtomicBool = AtomicBool::new(false);

/// Whether calls can skip all telemetry work.
#[inline]
pub(crate) fn nothing_to_record() -> bool {
    NOTHING_TO_RECORD.load(Ordering::Relaxed)
}

/// Recomputes the flag from the tracer, the meter and the configuration.
pub(crate) fn refresh() {
    let nothing = crate::tracer::is_noop()
        && (crate::metrics::is_noop() || !crate::config::current().metrics());
    NOTHING_TO_RECORD.store(nothing, Ordering::Relaxed);
}
