//! The one tracer every operation uses, resolved once instead of per call (`any`: the SDK's
//! own tracer when the provider is the SDK's, else a boxed one).
//!
//! `opentelemetry::global::tracer()` takes a lock and allocates a boxed tracer on every call, so
//! the tracer is looked up on first use and cached (the cache is owned by `globals`). With no
//! tracer provider installed the first span shows it (the no-op tracer hands out no new span
//! ids), and from then on operations skip span creation entirely: the disabled path allocates
//! nothing.

mod any;

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanContext, TracerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

pub(crate) use self::any::{AnySpan, AnyTracer};
use crate::semconv::scope;

/// The tracer in use, or the knowledge that nothing records spans.
pub(crate) enum TracerSlot {
    /// A tracer; `probed` turns true once a span showed whether it is the no-op tracer.
    Tracer {
        tracer: AnyTracer,
        probed: AtomicBool,
    },
    /// The no-op tracer: nothing is recorded, no span is built.
    Noop,
}

impl TracerSlot {
    /// The global tracer provider's tracer, not yet probed.
    pub(crate) fn from_global() -> Self {
        let tracer = opentelemetry::global::tracer_provider().tracer_with_scope(scope());
        Self::probing(AnyTracer::Boxed(tracer))
    }

    /// `provider`'s tracer, used as it is: the SDK's own when it is an `SdkTracerProvider`.
    pub(crate) fn from_provider<P>(provider: &P) -> Self
    where
        P: TracerProvider + 'static,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        let sdk = (provider as &dyn std::any::Any).downcast_ref::<SdkTracerProvider>();
        let tracer = match sdk {
            Some(sdk) => AnyTracer::Sdk(sdk.tracer_with_scope(scope())),
            None => AnyTracer::Boxed(BoxedTracer::new(Box::new(
                provider.tracer_with_scope(scope()),
            ))),
        };
        Self::probing(tracer)
    }

    fn probing(tracer: AnyTracer) -> Self {
        Self::Tracer {
            tracer,
            probed: AtomicBool::new(false),
        }
    }

    /// The tracer, unless nothing records spans.
    pub(crate) fn tracer(&self) -> Option<&AnyTracer> {
        match self {
            Self::Tracer { tracer, .. } => Some(tracer),
            Self::Noop => None,
        }
    }

    /// Whether the first span this tracer built (`span`, under `parent`) shows it is the
    /// no-op tracer; `false` for every later span.
    ///
    /// A no-op tracer returns the parent's span context (or an invalid one at the root) instead of a
    /// new span; every SDK tracer gives a new span id even when its sampler drops the span.
    #[inline]
    pub(crate) fn first_span_shows_noop(
        &self,
        parent: &SpanContext,
        span: &SpanContext,
        telemetry_suppressed: bool,
    ) -> bool {
        let Self::Tracer { probed, .. } = self else {
            return false;
        };
        // A plain load first: after the first span, no call writes to the shared flag.
        if telemetry_suppressed
            || probed.load(Ordering::Relaxed)
            || probed.swap(true, Ordering::Relaxed)
        {
            return false;
        }
        !span.is_valid() || span.span_id() == parent.span_id()
    }
}
