//! The per-call guard: starts the span, makes it current around the body, ends it and records
//! the metrics.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use smallvec::SmallVec;

use crate::callsite::{Callsite, CallsiteKeyPolicy};
use crate::config::{self, Config, SemconvMode};
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::fields::FieldValue;
use crate::key::{KeyPolicy, RedisKey};
use crate::metrics;
use crate::outcome::Outcome;
use crate::semconv::{self, old};
use crate::tracer::{self, Slot};

/// Extra attributes of one call: `(name, value)` from `fields(...)` and `ttl = ...`.
pub type Fields<'a> = &'a [(&'static str, &'a dyn FieldValue)];

/// One call of an annotated function, from start to finish.
///
/// Created by [`Operation::start`]; ended by [`Operation::finish`] with the call's result, or by
/// `Drop` when the call never finishes: a dropped (cancelled) future or a panic. Either way the
/// span ends with `error.type` = `cancelled` or `panic`, and the duration is recorded.
#[must_use = "an operation ends its span when finished or dropped"]
pub struct Operation {
    active: Option<Active>,
}

struct Active {
    callsite: &'static Callsite,
    config: Arc<Config>,
    endpoint: Option<Endpoint>,
    started: Instant,
    span: Option<SpanState>,
    panicked: bool,
}

struct SpanState {
    cx: Context,
    started_at: SystemTime,
}

/// Where the call ended.
enum Ending<'a> {
    Finished(Outcome<'a>),
    Dropped,
}

impl Operation {
    /// Starts one call of `callsite`: its span (unless the tracer is a no-op, the command is
    /// denied or a required parent is missing) and its clock for the metrics.
    ///
    /// `endpoint` overrides the configured default endpoint; `keys` are rendered by the key
    /// policy; `fields` become extra attributes.
    #[track_caller]
    pub fn start(
        callsite: &'static Callsite,
        endpoint: Option<&dyn ToEndpoint>,
        keys: &[&dyn RedisKey],
    ) -> Self {
        Self::start_with_fields(callsite, endpoint, keys, &[])
    }

    /// [`Operation::start`] with extra attributes (`fields(...)`, `ttl = ...`).
    #[track_caller]
    pub fn start_with_fields(
        callsite: &'static Callsite,
        endpoint: Option<&dyn ToEndpoint>,
        keys: &[&dyn RedisKey],
        fields: Fields<'_>,
    ) -> Self {
        // The generated call carries the attribute's span: this is where the fn is defined.
        let location = std::panic::Location::caller();
        let slot = tracer::current();
        let config = config::current();
        let tracer = match &*slot {
            Slot::Tracer { tracer, .. } => Some(tracer),
            Slot::Noop => None,
        };
        if tracer.is_none() && !config.metrics() {
            return Self { active: None };
        }
        let endpoint = match endpoint {
            Some(endpoint) => Some(endpoint.to_endpoint()),
            None => config.default_endpoint().cloned(),
        };
        let span = tracer
            .filter(|_| !config.is_denied(callsite.operation()))
            .and_then(|tracer| {
                let parent = parent_context();
                if config.require_parent() && !parent.has_active_span() {
                    return None;
                }
                let started_at = SystemTime::now();
                let mut attributes = Vec::with_capacity(16);
                creation_attributes(callsite, &config, endpoint.as_ref(), &mut attributes);
                add_call_attributes(callsite, &config, location, keys, fields, &mut attributes);
                let builder = SpanBuilder::from_name(span_name(callsite, endpoint.as_ref()))
                    .with_kind(SpanKind::Client)
                    .with_start_time(started_at)
                    .with_attributes(attributes);
                let span = tracer.build_with_context(builder, &parent);
                tracer::observe_first_span(
                    &slot,
                    parent.span().span_context(),
                    opentelemetry::trace::Span::span_context(&span),
                    parent.is_telemetry_suppressed(),
                );
                Some(SpanState {
                    cx: parent.with_span(span),
                    started_at,
                })
            });
        if span.is_none() && !config.metrics() {
            return Self { active: None };
        }
        Self {
            active: Some(Active {
                callsite,
                config,
                endpoint,
                started: Instant::now(),
                span,
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
        match &mut self.active {
            Some(Active {
                span: Some(span),
                panicked,
                ..
            }) => {
                let _current = span.cx.clone().attach();
                let _panic = PanicFlag(panicked);
                body()
            }
            _ => body(),
        }
    }

    /// Ends the call with its outcome.
    pub fn finish(mut self, outcome: Outcome<'_>) {
        if let Some(active) = self.active.take() {
            active.end(Ending::Finished(outcome));
        }
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        if let Some(active) = self.active.take() {
            active.end(Ending::Dropped);
        }
    }
}

impl Active {
    fn end(self, ending: Ending<'_>) {
        let elapsed = self.started.elapsed();
        let (hit, error) = match ending {
            Ending::Finished(Outcome::Ok) => (None, None),
            Ending::Finished(Outcome::Hit) => (Some(true), None),
            Ending::Finished(Outcome::Miss) => (Some(false), None),
            Ending::Finished(Outcome::Failed(failure)) => {
                let attributes = failure.attributes();
                let error = Failure {
                    error_type: attributes.error_type.into(),
                    status_code: attributes.status_code,
                    message: attributes.message.into(),
                };
                (None, Some(error))
            }
            Ending::Dropped => {
                let panicked = self.panicked || std::thread::panicking();
                let (error_type, message) = if panicked {
                    (semconv::PANIC, "the traced function panicked")
                } else {
                    (
                        semconv::CANCELLED,
                        "the traced call was cancelled before it completed",
                    )
                };
                let error = Failure {
                    error_type: error_type.into(),
                    status_code: None,
                    message: message.into(),
                };
                (None, Some(error))
            }
        };

        if let Some(span) = &self.span {
            let handle = span.cx.span();
            if let Some(hit) = hit {
                handle.set_attribute(KeyValue::new(semconv::CACHE_HIT, hit));
            }
            if let Some(error) = &error {
                if let (Some(code), true) = (&error.status_code, self.config.semconv().stable()) {
                    handle.set_attribute(KeyValue::new(
                        semconv::DB_RESPONSE_STATUS_CODE,
                        code.clone(),
                    ));
                }
                handle.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error.error_type.clone()));
                handle.set_status(Status::error(error.message.clone()));
            }
            // Start + monotonic elapsed: the span and the histogram measure the same duration.
            handle.end_with_timestamp(span.started_at + elapsed);
        }

        if self.config.metrics() {
            self.record_metrics(elapsed.as_secs_f64(), hit, error.as_ref());
        }
    }

    fn record_metrics(&self, seconds: f64, hit: Option<bool>, error: Option<&Failure>) {
        let instruments = metrics::current();
        // Inline storage: recording metrics allocates nothing.
        let mut attributes: SmallVec<[KeyValue; 12]> = SmallVec::new();
        creation_attributes(
            self.callsite,
            &self.config,
            self.endpoint.as_ref(),
            &mut attributes,
        );
        let common = attributes.len();
        if let Some(error) = error {
            attributes.push(KeyValue::new(semconv::ERROR_TYPE, error.error_type.clone()));
            if let (Some(code), true) = (&error.status_code, self.config.semconv().stable()) {
                attributes.push(KeyValue::new(
                    semconv::DB_RESPONSE_STATUS_CODE,
                    code.clone(),
                ));
            }
        }
        instruments.record_duration(seconds, &attributes);
        if let Some(hit) = hit {
            attributes.truncate(common);
            attributes.push(KeyValue::new(
                semconv::CODE_FUNCTION_NAME,
                self.callsite.function(),
            ));
            attributes.push(KeyValue::new(semconv::CACHE_HIT, hit));
            instruments.count_cache_request(&attributes);
        }
    }
}

struct Failure {
    error_type: StringValue,
    status_code: Option<String>,
    message: Cow<'static, str>,
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
        match &mut this.operation.active {
            Some(Active {
                span: Some(span),
                panicked,
                ..
            }) => {
                let _current = span.cx.clone().attach();
                let _panic = PanicFlag(panicked);
                this.inner.poll(task)
            }
            _ => this.inner.poll(task),
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

/// The attributes shared by the span and the metrics: system, operation, summary, endpoint, in
/// the configured semantic-convention mode.
fn creation_attributes(
    callsite: &Callsite,
    config: &Config,
    endpoint: Option<&Endpoint>,
    attributes: &mut impl Extend<KeyValue>,
) {
    let mode = config.semconv();
    let mut add = |stable: &'static str, old: Option<&'static str>, value: Value| {
        if let (SemconvMode::Old | SemconvMode::Both, Some(old)) = (mode, old) {
            attributes.extend([KeyValue::new(old, value.clone())]);
        }
        if mode.stable() || old.is_none() {
            attributes.extend([KeyValue::new(stable, value)]);
        }
    };
    add(
        semconv::DB_SYSTEM_NAME,
        Some(old::DB_SYSTEM),
        Value::from(semconv::REDIS),
    );
    add(
        semconv::DB_OPERATION_NAME,
        Some(old::DB_OPERATION),
        Value::from(callsite.operation()),
    );
    if let Some(endpoint) = endpoint {
        if let Some(address) = endpoint.address_value() {
            add(
                semconv::SERVER_ADDRESS,
                Some(old::NET_PEER_NAME),
                Value::String(address),
            );
        }
        if let Some(port) = endpoint.port() {
            add(
                semconv::SERVER_PORT,
                Some(old::NET_PEER_PORT),
                Value::I64(i64::from(port)),
            );
        }
    }
    if let (Some(summary), true) = (callsite.summary(), mode.stable()) {
        attributes.extend([KeyValue::new(semconv::DB_QUERY_SUMMARY, summary)]);
    }
    if let Some(endpoint) = endpoint {
        if let (Some(namespace), true) = (endpoint.namespace_value(), mode.stable()) {
            attributes.extend([KeyValue::new(
                semconv::DB_NAMESPACE,
                Value::String(namespace),
            )]);
        }
        if let (Some(index), true) = (endpoint.database(), mode.old()) {
            attributes.extend([KeyValue::new(old::DB_REDIS_DATABASE_INDEX, index)]);
        }
    }
}

/// Span-only attributes: where the fn is, its keys and extra fields.
fn add_call_attributes(
    callsite: &Callsite,
    config: &Config,
    location: &'static std::panic::Location<'static>,
    keys: &[&dyn RedisKey],
    fields: Fields<'_>,
    attributes: &mut Vec<KeyValue>,
) {
    attributes.extend([
        KeyValue::new(semconv::CODE_FUNCTION_NAME, callsite.function()),
        KeyValue::new(semconv::CODE_FILE_PATH, location.file()),
        KeyValue::new(semconv::CODE_LINE_NUMBER, i64::from(location.line())),
    ]);
    let custom;
    let policy = match callsite.key_policy() {
        None => config.key_policy(),
        Some(CallsiteKeyPolicy::Pattern) => &KeyPolicy::Pattern,
        Some(CallsiteKeyPolicy::Raw) => &KeyPolicy::Raw,
        Some(CallsiteKeyPolicy::Omit) => &KeyPolicy::Omit,
        Some(CallsiteKeyPolicy::Hash) => config.hash_policy(),
        Some(CallsiteKeyPolicy::Custom(render)) => {
            custom = KeyPolicy::custom(render);
            &custom
        }
    };
    let mut rendered: Vec<StringValue> = keys
        .iter()
        .flat_map(|key| key.key_args())
        .filter_map(|key| policy.render(&key, config.max_key_length()))
        .map(StringValue::from)
        .collect();
    match (keys.len(), rendered.len()) {
        (_, 0) => {}
        (1, 1) => attributes.push(KeyValue::new(semconv::REDIS_KEY, rendered.remove(0))),
        _ => attributes.push(KeyValue::new(
            semconv::REDIS_KEYS,
            Value::Array(rendered.into()),
        )),
    }
    for (name, value) in fields {
        attributes.push(KeyValue::new(*name, value.to_value()));
    }
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
