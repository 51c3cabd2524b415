//! The per-call guard: starts the span, makes it current around the body, ends it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

use crate::callsite::Callsite;
use crate::endpoint::{default_endpoint, Endpoint, ToEndpoint};
use crate::key::RedisKey;
use crate::outcome::Outcome;
use crate::semconv;
use crate::tracer::{self, Slot};

/// One call of an annotated function, from start to finish.
///
/// Created by [`Operation::start`]; ended by [`Operation::finish`] with the call's result, or by
/// `Drop` when the call never finishes: a dropped (cancelled) future or a panic. Either way the
/// span ends and carries `error.type` = `cancelled` or `panic`.
#[must_use = "an operation ends its span when finished or dropped"]
pub struct Operation {
    recording: Option<Recording>,
}

struct Recording {
    cx: Context,
    started_at: SystemTime,
    started: Instant,
    panicked: bool,
}

impl Operation {
    /// Starts the span of one call of `callsite`.
    ///
    /// `endpoint` overrides the process-wide default endpoint. `keys` are the attribute's
    /// `key = ...` / `keys = [...]`; no key attribute is recorded yet (see the README's key
    /// policy).
    #[track_caller]
    pub fn start(
        callsite: &'static Callsite,
        endpoint: Option<&dyn ToEndpoint>,
        keys: &[&dyn RedisKey],
    ) -> Self {
        let _ = keys;
        // The generated call carries the attribute's span: this is where the fn is defined.
        let location = std::panic::Location::caller();
        let slot = tracer::current();
        let Slot::Tracer { tracer, .. } = &*slot else {
            return Self { recording: None };
        };

        let endpoint = endpoint.map_or_else(default_endpoint, |e| Some(e.to_endpoint()));
        let started_at = SystemTime::now();
        let builder = SpanBuilder::from_name(span_name(callsite, endpoint.as_ref()))
            .with_kind(SpanKind::Client)
            .with_start_time(started_at)
            .with_attributes(creation_attributes(callsite, location, endpoint.as_ref()));

        let parent = parent_context();
        let span = tracer.build_with_context(builder, &parent);
        tracer::observe_first_span(
            &slot,
            parent.span().span_context(),
            opentelemetry::trace::Span::span_context(&span),
            parent.is_telemetry_suppressed(),
        );
        Self {
            recording: Some(Recording {
                cx: parent.with_span(span),
                started_at,
                started: Instant::now(),
                panicked: false,
            }),
        }
    }

    /// Runs `future` with this operation's span as the current OpenTelemetry context.
    pub fn instrument<F: Future>(&mut self, future: F) -> Instrumented<'_, F> {
        Instrumented {
            operation: self,
            inner: future,
        }
    }

    /// Runs `body` with this operation's span as the current OpenTelemetry context.
    pub fn in_scope<R>(&mut self, body: impl FnOnce() -> R) -> R {
        match &mut self.recording {
            None => body(),
            Some(recording) => {
                let _current = recording.cx.clone().attach();
                let _panic = PanicFlag(&mut recording.panicked);
                body()
            }
        }
    }

    /// Ends the span with the call's outcome.
    pub fn finish(mut self, outcome: Outcome<'_>) {
        let Some(recording) = self.recording.take() else {
            return;
        };
        let span = recording.cx.span();
        match outcome {
            Outcome::Ok => {}
            Outcome::Hit => span.set_attribute(KeyValue::new(semconv::CACHE_HIT, true)),
            Outcome::Miss => span.set_attribute(KeyValue::new(semconv::CACHE_HIT, false)),
            Outcome::Failed(failure) => {
                let error = failure.attributes();
                if let Some(code) = error.status_code {
                    span.set_attribute(KeyValue::new(semconv::DB_RESPONSE_STATUS_CODE, code));
                }
                span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error.error_type));
                span.set_status(Status::error(error.message));
            }
        }
        recording.end();
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        let Some(recording) = self.recording.take() else {
            return;
        };
        let span = recording.cx.span();
        let (error_type, message) = if recording.panicked || std::thread::panicking() {
            (semconv::PANIC, "the traced function panicked")
        } else {
            (
                semconv::CANCELLED,
                "the traced call was cancelled before it completed",
            )
        };
        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type));
        span.set_status(Status::error(message));
        recording.end();
    }
}

impl Recording {
    /// Ends the span at start + elapsed, so its duration is measured on a monotonic clock.
    fn end(self) {
        let ended_at = self.started_at + self.started.elapsed();
        self.cx.span().end_with_timestamp(ended_at);
    }
}

/// Marks the operation as panicked when dropped during unwinding: the runtime may drop the
/// future later, outside the panic, when `std::thread::panicking()` is false again.
struct PanicFlag<'a>(&'a mut bool);

impl Drop for PanicFlag<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            *self.0 = true;
        }
    }
}

pin_project_lite::pin_project! {
    /// A future run with an [`Operation`]'s span as the current context; see
    /// [`Operation::instrument`].
    pub struct Instrumented<'a, F> {
        operation: &'a mut Operation,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Instrumented<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        match &mut this.operation.recording {
            None => this.inner.poll(task),
            Some(recording) => {
                let _current = recording.cx.clone().attach();
                let _panic = PanicFlag(&mut recording.panicked);
                this.inner.poll(task)
            }
        }
    }
}

/// `{summary}` if given, else `{operation} {address}:{port}`, else `{operation}`; never the key.
fn span_name(callsite: &Callsite, endpoint: Option<&Endpoint>) -> Cow<'static, str> {
    if let Some(summary) = callsite.summary() {
        return Cow::Borrowed(summary);
    }
    match endpoint.and_then(|e| e.address().map(|address| (address, e.port()))) {
        Some((address, Some(port))) => format!("{} {address}:{port}", callsite.operation()).into(),
        Some((address, None)) => format!("{} {address}", callsite.operation()).into(),
        None => Cow::Borrowed(callsite.operation()),
    }
}

fn creation_attributes(
    callsite: &Callsite,
    location: &'static std::panic::Location<'static>,
    endpoint: Option<&Endpoint>,
) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(9);
    attributes.push(KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS));
    attributes.push(KeyValue::new(
        semconv::DB_OPERATION_NAME,
        callsite.operation(),
    ));
    if let Some(summary) = callsite.summary() {
        attributes.push(KeyValue::new(semconv::DB_QUERY_SUMMARY, summary));
    }
    if let Some(endpoint) = endpoint {
        if let Some(namespace) = endpoint.namespace() {
            attributes.push(KeyValue::new(semconv::DB_NAMESPACE, namespace.to_owned()));
        }
        if let Some(address) = endpoint.address() {
            attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, address.to_owned()));
        }
        if let Some(port) = endpoint.port() {
            attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
    }
    attributes.push(KeyValue::new(
        semconv::CODE_FUNCTION_NAME,
        callsite.function(),
    ));
    attributes.push(KeyValue::new(semconv::CODE_FILE_PATH, location.file()));
    attributes.push(KeyValue::new(
        semconv::CODE_LINE_NUMBER,
        i64::from(location.line()),
    ));
    attributes
}

/// The current OpenTelemetry context; with the `tracing` feature, the current `tracing` span's
/// context when no OpenTelemetry span is current (tracing-opentelemetry without context
/// activation).
fn parent_context() -> Context {
    let current = Context::current();
    #[cfg(feature = "tracing")]
    if !current.has_active_span() {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let span = tracing::Span::current();
        if !span.is_none() {
            let from_tracing = span.context();
            if from_tracing.span().span_context().is_valid() {
                return from_tracing;
            }
        }
    }
    current
}
