//! The one tracer every operation uses, resolved once instead of per call.
//!
//! `opentelemetry::global::tracer()` takes a lock and allocates a boxed tracer on every call, so
//! the tracer is looked up on first use and cached. With no tracer provider installed the first
//! span shows it (the no-op tracer hands out no new span ids), and from then on operations skip
//! span creation entirely: the disabled path allocates nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanContext, TracerProvider};
use opentelemetry::InstrumentationScope;

/// The instrumentation scope name of every span redis-trace creates.
pub const SCOPE_NAME: &str = "redis-trace";

pub(crate) enum Slot {
    /// A tracer; `probed` turns true once a span showed it is not the no-op tracer.
    Tracer {
        tracer: BoxedTracer,
        probed: AtomicBool,
    },
    /// The no-op tracer: nothing is recorded, no span is built.
    Noop,
}

static CURRENT: ArcSwapOption<Slot> = ArcSwapOption::const_empty();

/// The instrumentation scope of redis-trace's tracer and meter.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn tracer_slot(tracer: BoxedTracer) -> Arc<Slot> {
    Arc::new(Slot::Tracer {
        tracer,
        probed: AtomicBool::new(false),
    })
}

/// The tracer to use, resolved from the global provider on first use.
pub(crate) fn current() -> Arc<Slot> {
    if let Some(slot) = CURRENT.load_full() {
        return slot;
    }
    let slot = tracer_slot(opentelemetry::global::tracer_provider().tracer_with_scope(scope()));
    // Another thread may have resolved it meanwhile; either answer is the same provider.
    CURRENT.compare_and_swap(&None::<Arc<Slot>>, Some(slot.clone()));
    CURRENT.load_full().unwrap_or(slot)
}

/// Records what the first span built by `slot` showed about its tracer.
///
/// A no-op tracer returns the parent's span context (or an invalid one at the root) instead of a
/// new span; every SDK tracer gives a new span id even when its sampler drops the span.
pub(crate) fn observe_first_span(
    slot: &Arc<Slot>,
    parent: &SpanContext,
    span: &SpanContext,
    telemetry_suppressed: bool,
) {
    let Slot::Tracer { probed, .. } = &**slot else {
        return;
    };
    // A plain load first: after the first span, no call writes to the shared flag.
    if telemetry_suppressed
        || probed.load(Ordering::Relaxed)
        || probed.swap(true, Ordering::Relaxed)
    {
        return;
    }
    if !span.is_valid() || span.span_id() == parent.span_id() {
        CURRENT.compare_and_swap(slot, Some(Arc::new(Slot::Noop)));
        crate::fast_path::refresh();
    }
}

/// Makes redis-trace use `provider` instead of the global tracer provider.
///
/// Without it, the global provider (`opentelemetry::global::set_tracer_provider`) is read once,
/// at the first traced call: install it before that call, or call [`reload_global_tracer`]
/// after changing it.
pub fn set_tracer_provider<P>(provider: &P)
where
    P: TracerProvider,
    P::Tracer: Send + Sync + 'static,
    <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
{
    let tracer = BoxedTracer::new(Box::new(provider.tracer_with_scope(scope())));
    CURRENT.store(Some(tracer_slot(tracer)));
    crate::fast_path::refresh();
}

/// Forgets the cached tracer; the next traced call reads the global tracer provider again.
pub fn reload_global_tracer() {
    CURRENT.store(None);
    crate::fast_path::refresh();
}

/// Whether the resolved tracer is the no-op one.
pub(crate) fn is_noop() -> bool {
    matches!(CURRENT.load().as_deref(), Some(Slot::Noop))
}
