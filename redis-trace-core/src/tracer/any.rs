//! The tracer redis-trace builds spans with: the OpenTelemetry SDK's own tracer when the
//! provider handed to `use_tracer_provider` is an `SdkTracerProvider`, else the boxed tracer
//! every provider gives.
//!
//! A boxed tracer returns a boxed span, which `Context::with_span` boxes once more; the SDK's
//! span is boxed only there: one allocation less per call, recorded or sampled out.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::global::{BoxedSpan, BoxedTracer};
use opentelemetry::trace::{Span, SpanBuilder, SpanContext, Status, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;

/// A boxed tracer, or the SDK's.
pub(crate) enum AnyTracer {
    Boxed(BoxedTracer),
    Sdk(SdkTracer),
}

/// A span of an [`AnyTracer`].
// Boxing the SDK's span is the allocation this type exists to avoid: it lives on the stack
// until `Context::with_span` boxes it, once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum AnySpan {
    Boxed(BoxedSpan),
    Sdk(opentelemetry_sdk::trace::Span),
}

impl Tracer for AnyTracer {
    type Span = AnySpan;

    fn build_with_context(&self, builder: SpanBuilder, parent: &Context) -> AnySpan {
        match self {
            Self::Boxed(tracer) => AnySpan::Boxed(tracer.build_with_context(builder, parent)),
            Self::Sdk(tracer) => AnySpan::Sdk(tracer.build_with_context(builder, parent)),
        }
    }
}

/// Calls `$method` on whichever span it is.
macro_rules! forward {
    ($span:expr, $inner:ident => $call:expr) => {
        match $span {
            AnySpan::Boxed($inner) => $call,
            AnySpan::Sdk($inner) => $call,
        }
    };
}

impl Span for AnySpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        forward!(self, span => span.add_event_with_timestamp(name, timestamp, attributes))
    }

    fn span_context(&self) -> &SpanContext {
        forward!(self, span => span.span_context())
    }

    fn is_recording(&self) -> bool {
        forward!(self, span => span.is_recording())
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        forward!(self, span => span.set_attribute(attribute))
    }

    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        forward!(self, span => span.set_attributes(attributes))
    }

    fn set_status(&mut self, status: Status) {
        forward!(self, span => span.set_status(status))
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        forward!(self, span => span.update_name(new_name))
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        forward!(self, span => span.add_link(span_context, attributes))
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        forward!(self, span => span.end_with_timestamp(timestamp))
    }
}
