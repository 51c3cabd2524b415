//! The per-call guard: starts the span, makes it current around the body, ends it and records
//! the metrics.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use redis::RedisResult;
use smallvec::SmallVec;

use crate::callsite::{Callsite, CallsiteKeyPolicy};
use crate::config::{self, Config, SemconvMode};
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::fields::FieldValue;
use crate::intern;
use crate::key::{KeyPolicy, RedisKey};
use crate::metrics;
use crate::outcome::Outcome;
use crate::semconv::{self, old};
use crate::tracer::{self, Slot};

/// Extra attributes of one call: `(name, value)` from `fields(...)` and `ttl = ...`.
pub type Fields<'a> = &'a [(&'static str, &'a dyn FieldValue)];

/// Attributes gathered on the stack: a span's extras before they move in, or a metric point's.
type InlineAttributes = SmallVec<[KeyValue; 12]>;

/// Attributes set when a span ends: `cache.hit`, or `error.type` and `db.response.status_code`.
const ENDING_ATTRIBUTES: usize = 2;

/// One call of an annotated function, from start to finish.
///
/// Created by [`Operation::start`]; ended by [`Operation::finish`] with the call's result, or by
/// `Drop` when the call never finishes: a dropped (cancelled) future or a panic. Either way the
/// span ends with `error.type` = `cancelled` or `panic`, and the duration is recorded.
#[must_use = "an operation ends its span when finished or dropped"]
pub struct Operation {
    // Boxed: the guard lives in every traced future's state, so it stays one pointer wide.
    active: Option<Box<Active>>,
}

struct Active {
    target: Target,
    config: Arc<Config>,
    endpoint: Option<Endpoint>,
    /// Wall-clock start, read when the duration is recorded or the span needs it; the end is
    /// read from the same clock, so the span and the histogram agree (two clock reads per
    /// call). A span alone leaves the timestamps to the SDK, which reads no clock for a span its
    /// sampler drops.
    started_at: Option<SystemTime>,
    span: Option<SpanState>,
    metrics: bool,
    panicked: bool,
}

struct SpanState {
    cx: Context,
    /// Whether the sampler kept it: a dropped span only carries the context to the body.
    recording: bool,
}

/// What an operation traces.
enum Target {
    /// A `#[redis_traced]` function.
    Function(&'static Callsite),
    /// A command or pipeline sent through a traced connection.
    Command(CommandSpec),
}

impl Target {
    fn operation(&self) -> &str {
        match self {
            Self::Function(callsite) => callsite.operation(),
            Self::Command(spec) => &spec.operation,
        }
    }

    fn summary(&self) -> Option<&'static str> {
        match self {
            Self::Function(callsite) => callsite.summary(),
            Self::Command(_) => None,
        }
    }

    /// At most how many attributes [`add_command_attributes`] adds.
    fn command_attributes(&self) -> usize {
        match self {
            Self::Function(_) => 0,
            // Statement (stable and old names), batch size, slot.
            Self::Command(_) => 4,
        }
    }
}

/// What a traced connection knows of one command or pipeline.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// `db.operation.name`: `GET`, `PIPELINE`, `PIPELINE GET`, `MULTI`, `MULTI SET`.
    pub operation: Cow<'static, str>,
    /// `db.query.text`, sanitized.
    pub statement: StringValue,
    /// `db.operation.batch.size`, for pipelines of 0 or 2+ commands.
    pub batch_size: Option<usize>,
    /// `redis.cluster.slot`, on cluster connections when every key maps to one slot.
    pub slot: Option<u16>,
    /// Each command of a pipeline (operation, statement), for per-command child spans.
    pub commands: Vec<(Cow<'static, str>, StringValue)>,
}

thread_local! {
    /// How many `#[redis_traced]` bodies are running on this thread: commands sent from inside
    /// one do not record metrics, so a call is counted once.
    static FUNCTION_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts a running `#[redis_traced]` body for as long as it lives.
struct FunctionScope;

impl FunctionScope {
    fn enter() -> Self {
        FUNCTION_DEPTH.with(|depth| depth.set(depth.get() + 1));
        Self
    }
}

impl Drop for FunctionScope {
    fn drop(&mut self) {
        FUNCTION_DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Where the call ended.
enum Ending<'a> {
    Finished(Outcome<'a>),
    /// An error reply inside an otherwise successful answer (redis-rs returns server errors
    /// as `Value::ServerError`).
    ErrorReply(Failure),
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
        if crate::fast_path::nothing_to_record() {
            return Self { active: None };
        }
        // The generated call carries the attribute's span: this is where the fn is defined.
        let location = std::panic::Location::caller();
        let config = config::current();
        let endpoint = match endpoint {
            Some(endpoint) => Some(endpoint.to_endpoint()),
            None => config.default_endpoint().cloned(),
        };
        // Code location (3), the key or keys (1), the fields.
        let extra_capacity = 3 + usize::from(!keys.is_empty()) + fields.len();
        Self::begin(
            Target::Function(callsite),
            config,
            endpoint,
            true,
            extra_capacity,
            |config, attributes| {
                add_call_attributes(callsite, config, location, keys, fields, attributes);
            },
        )
    }

    /// Starts one command or pipeline sent through a traced connection. Metrics are recorded
    /// unless it runs inside a `#[redis_traced]` function, which already counts the call.
    ///
    /// `describe` builds the command's description from the configuration; it is not called when
    /// nothing is recorded.
    pub fn start_command(
        describe: impl FnOnce(&Config) -> CommandSpec,
        endpoint: Option<&Endpoint>,
    ) -> Self {
        if crate::fast_path::nothing_to_record() {
            return Self { active: None };
        }
        let config = config::current();
        let metrics = config.metrics() && FUNCTION_DEPTH.with(std::cell::Cell::get) == 0;
        if !metrics && matches!(*tracer::current(), Slot::Noop) {
            return Self { active: None };
        }
        let endpoint = endpoint.or_else(|| config.default_endpoint()).cloned();
        let spec = describe(&config);
        Self::begin(
            Target::Command(spec),
            config,
            endpoint,
            metrics,
            0,
            |_, _| {},
        )
    }

    fn begin(
        target: Target,
        config: Arc<Config>,
        endpoint: Option<Endpoint>,
        metrics: bool,
        extra_capacity: usize,
        add_extra_attributes: impl FnOnce(&Config, &mut InlineAttributes),
    ) -> Self {
        let metrics = metrics && config.metrics() && metrics::is_active();
        let slot = tracer::current();
        let tracer = match &*slot {
            Slot::Tracer { tracer, .. } => Some(tracer),
            Slot::Noop => None,
        };
        if tracer.is_none() && !metrics {
            return Self { active: None };
        }
        // Pipelines always: their per-command child spans share the pipeline's timestamps.
        let started_at = (metrics || matches!(target, Target::Command(_))).then(SystemTime::now);
        let span = tracer
            .filter(|_| !config.is_denied(target.operation()))
            .and_then(|tracer| {
                let parent = parent_context();
                if config.require_parent() && !parent.has_active_span() {
                    return None;
                }
                // The SDK keeps this Vec as the span's: sized for every attribute added later
                // too, it is allocated once, small enough for the allocator's thread cache.
                let mut attributes = Vec::with_capacity(
                    creation_attribute_count(&target, config.semconv(), endpoint.as_ref())
                        + target.command_attributes()
                        + extra_capacity
                        + ENDING_ATTRIBUTES,
                );
                let capacity = attributes.capacity();
                creation_attributes(&target, &config, endpoint.as_ref(), &mut attributes);
                if let Target::Command(spec) = &target {
                    add_command_attributes(spec, &config, &mut attributes);
                }
                debug_assert!(attributes.len() + extra_capacity + ENDING_ATTRIBUTES <= capacity);
                let mut builder = SpanBuilder::from_name(span_name(&target, endpoint.as_ref()))
                    .with_kind(SpanKind::Client)
                    .with_attributes(attributes);
                builder.start_time = started_at;
                let mut span = tracer.build_with_context(builder, &parent);
                tracer::observe_first_span(
                    &slot,
                    parent.span().span_context(),
                    opentelemetry::trace::Span::span_context(&span),
                    parent.is_telemetry_suppressed(),
                );
                // Keys, code location and fields matter to no sampler: render them only for
                // spans that are kept.
                let recording = opentelemetry::trace::Span::is_recording(&span);
                if recording {
                    let mut extra = InlineAttributes::new();
                    add_extra_attributes(&config, &mut extra);
                    opentelemetry::trace::Span::set_attributes(&mut span, extra);
                }
                Some(SpanState {
                    cx: parent.with_span(span),
                    recording,
                })
            });
        if span.is_none() && !metrics {
            return Self { active: None };
        }
        Self {
            active: Some(Box::new(Active {
                target,
                config,
                endpoint,
                started_at,
                span,
                metrics,
                panicked: false,
            })),
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
        let _entered = self.enter();
        body()
    }

    /// Puts in effect what a traced body runs under, until the returned value is dropped.
    fn enter(&mut self) -> Entered<'_> {
        let Some(active) = self.active.as_deref_mut() else {
            return Entered::default();
        };
        Entered {
            _function: matches!(active.target, Target::Function(_)).then(FunctionScope::enter),
            _current: active.span.as_ref().map(|span| span.cx.clone().attach()),
            _panic: Some(PanicFlag(&mut active.panicked)),
        }
    }

    /// Ends the call with its outcome.
    pub fn finish(mut self, outcome: Outcome<'_>) {
        if let Some(active) = self.active.take() {
            active.end(Ending::Finished(outcome));
        }
    }

    /// Ends a command or pipeline with the replies a connection returned: an error reply
    /// (anywhere in a pipeline's or transaction's replies) is a failure.
    pub fn finish_replies(mut self, result: &RedisResult<impl Replies>) {
        let Some(active) = self.active.take() else {
            return;
        };
        let error_reply = result.as_ref().ok().and_then(Replies::error_reply);
        match error_reply {
            Some(error) => active.end(Ending::ErrorReply(Failure {
                error_type: error.code().to_owned().into(),
                status_code: Some(error.code().to_owned()),
                message: crate::outcome::sanitize_message(&match error.details() {
                    Some(details) => format!("{}: {details}", error.code()),
                    None => error.code().to_owned(),
                })
                .into(),
            })),
            None => active.end(Ending::Finished(crate::__outcome!(result))),
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
        // (start, end); a wall clock stepping back gives a zero, never a negative, duration.
        let timing = self.started_at.map(|started_at| {
            let elapsed = SystemTime::now()
                .duration_since(started_at)
                .unwrap_or_default();
            (started_at, started_at + elapsed)
        });
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
            Ending::ErrorReply(error) => (None, Some(error)),
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

        if let Some(span) = self.span.as_ref().filter(|span| !span.recording) {
            span.cx.span().end();
        }
        if let Some(span) = self.span.as_ref().filter(|span| span.recording) {
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
            match timing {
                Some((_, ended_at)) => handle.end_with_timestamp(ended_at),
                None => handle.end(),
            }
            if let (Target::Command(spec), Some((started_at, ended_at))) = (&self.target, timing) {
                if self.config.pipeline_command_spans() {
                    command_child_spans(span, spec, started_at, ended_at);
                }
            }
        }
        if let (true, Some((started_at, ended_at))) = (self.metrics, timing) {
            let elapsed = ended_at.duration_since(started_at).unwrap_or_default();
            self.record_metrics(elapsed.as_secs_f64(), hit, error.as_ref());
        }
    }

    fn record_metrics(&self, seconds: f64, hit: Option<bool>, error: Option<&Failure>) {
        let slot = metrics::current();
        let metrics::MetricsSlot::Active(instruments) = &*slot else {
            return;
        };
        // Inline storage: recording metrics allocates nothing.
        let mut attributes = InlineAttributes::new();
        creation_attributes(
            &self.target,
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
        if let (Some(hit), Target::Function(callsite)) = (hit, &self.target) {
            attributes.truncate(common);
            attributes.push(KeyValue::new(
                semconv::CODE_FUNCTION_NAME,
                callsite.function(),
            ));
            metrics::count_cache_request(callsite.cache_tally(), instruments, &attributes, hit);
        }
    }
}

/// The replies of a command (`Value`) or pipeline (`Vec<Value>`).
pub trait Replies {
    /// The first error reply among them.
    fn error_reply(&self) -> Option<&redis::ServerError>;
}

impl Replies for redis::Value {
    fn error_reply(&self) -> Option<&redis::ServerError> {
        first_error_reply(self)
    }
}

impl Replies for Vec<redis::Value> {
    fn error_reply(&self) -> Option<&redis::ServerError> {
        self.iter().find_map(first_error_reply)
    }
}

/// The first error reply in `value`, looking into arrays (a transaction's EXEC reply).
fn first_error_reply(value: &redis::Value) -> Option<&redis::ServerError> {
    match value {
        redis::Value::ServerError(error) => Some(error),
        redis::Value::Array(values) => values.iter().find_map(first_error_reply),
        _ => None,
    }
}

struct Failure {
    error_type: StringValue,
    status_code: Option<String>,
    message: Cow<'static, str>,
}

/// In effect while a traced body runs: for a function, the marker that keeps the commands it
/// sends from counting again; the span as the current context; the panic flag.
#[derive(Default)]
struct Entered<'a> {
    _function: Option<FunctionScope>,
    _current: Option<opentelemetry::ContextGuard>,
    _panic: Option<PanicFlag<'a>>,
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
        let _entered = this.operation.enter();
        this.inner.poll(task)
    }
}

/// `{summary}` if given, else `{operation} {address}:{port}`, else `{operation}`; never the key.
fn span_name(target: &Target, endpoint: Option<&Endpoint>) -> Cow<'static, str> {
    if let Some(summary) = target.summary() {
        return Cow::Borrowed(summary);
    }
    let operation = target.operation();
    match endpoint.and_then(|e| e.address().map(|address| (address, e.port()))) {
        Some((address, Some(port))) => format!("{operation} {address}:{port}").into(),
        Some((address, None)) => format!("{operation} {address}").into(),
        None => match target {
            Target::Function(callsite) => Cow::Borrowed(callsite.operation()),
            Target::Command(spec) => spec.operation.clone(),
        },
    }
}

/// How many attributes [`creation_attributes`] adds: the span's `Vec` is sized exactly, as
/// the smaller a span's heap block, the cheaper it is to free on the exporter's thread.
fn creation_attribute_count(
    target: &Target,
    mode: SemconvMode,
    endpoint: Option<&Endpoint>,
) -> usize {
    let names_per_value = if mode == SemconvMode::Both { 2 } else { 1 };
    let address = endpoint.is_some_and(|endpoint| endpoint.address().is_some());
    let port = endpoint.is_some_and(|endpoint| endpoint.port().is_some());
    // System, operation, address, port: under the old and/or the stable name.
    let mut count = names_per_value * (2 + usize::from(address) + usize::from(port));
    if mode.stable() {
        count += usize::from(target.summary().is_some());
        count += usize::from(endpoint.is_some_and(|endpoint| endpoint.namespace().is_some()));
    }
    if mode.old() {
        count += usize::from(endpoint.is_some_and(|endpoint| endpoint.database().is_some()));
    }
    count
}

/// Where attributes are gathered: the span's `Vec`, or the metrics' inline storage.
trait Attributes {
    fn push(&mut self, attribute: KeyValue);
}

impl Attributes for Vec<KeyValue> {
    fn push(&mut self, attribute: KeyValue) {
        Vec::push(self, attribute);
    }
}

impl Attributes for InlineAttributes {
    fn push(&mut self, attribute: KeyValue) {
        SmallVec::push(self, attribute);
    }
}

/// The attributes shared by the span and the metrics: system, operation, summary, endpoint, in
/// the configured semantic-convention mode.
fn creation_attributes(
    target: &Target,
    config: &Config,
    endpoint: Option<&Endpoint>,
    attributes: &mut impl Attributes,
) {
    let mode = config.semconv();
    let mut add = |stable: &'static str, old: Option<&'static str>, value: Value| {
        if let (SemconvMode::Old | SemconvMode::Both, Some(old)) = (mode, old) {
            attributes.push(KeyValue::new(old, value.clone()));
        }
        if mode.stable() || old.is_none() {
            attributes.push(KeyValue::new(stable, value));
        }
    };
    add(
        semconv::DB_SYSTEM_NAME,
        Some(old::DB_SYSTEM),
        Value::from(semconv::REDIS),
    );
    let operation = match target {
        Target::Function(callsite) => Value::from(callsite.operation()),
        Target::Command(spec) => Value::from(spec.operation.clone()),
    };
    add(
        semconv::DB_OPERATION_NAME,
        Some(old::DB_OPERATION),
        operation,
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
    if let (Some(summary), true) = (target.summary(), mode.stable()) {
        attributes.push(KeyValue::new(semconv::DB_QUERY_SUMMARY, summary));
    }
    if let Some(endpoint) = endpoint {
        if let (Some(namespace), true) = (endpoint.namespace_value(), mode.stable()) {
            attributes.push(KeyValue::new(
                semconv::DB_NAMESPACE,
                Value::String(namespace),
            ));
        }
        if let (Some(index), true) = (endpoint.database(), mode.old()) {
            attributes.push(KeyValue::new(old::DB_REDIS_DATABASE_INDEX, index));
        }
    }
}

/// Span-only attributes of a command: its statement, batch size and cluster slot.
fn add_command_attributes(spec: &CommandSpec, config: &Config, attributes: &mut Vec<KeyValue>) {
    let mode = config.semconv();
    if mode.stable() {
        attributes.push(KeyValue::new(
            semconv::DB_QUERY_TEXT,
            spec.statement.clone(),
        ));
    }
    if mode.old() {
        attributes.push(KeyValue::new(old::DB_STATEMENT, spec.statement.clone()));
    }
    if let Some(size) = spec.batch_size {
        attributes.push(KeyValue::new(
            semconv::DB_OPERATION_BATCH_SIZE,
            i64::try_from(size).unwrap_or(i64::MAX),
        ));
    }
    if let Some(slot) = spec.slot {
        attributes.push(KeyValue::new(semconv::REDIS_CLUSTER_SLOT, i64::from(slot)));
    }
}

/// One child span per command of a pipeline (opt-in), spanning the pipeline's time: Redis
/// answers a pipeline as a whole, so per-command timing does not exist.
fn command_child_spans(
    pipeline: &SpanState,
    spec: &CommandSpec,
    started_at: SystemTime,
    ended_at: SystemTime,
) {
    let slot = tracer::current();
    let Slot::Tracer { tracer, .. } = &*slot else {
        return;
    };
    for (operation, statement) in &spec.commands {
        let builder = SpanBuilder::from_name(operation.clone())
            .with_kind(SpanKind::Client)
            .with_start_time(started_at)
            .with_attributes([
                KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS),
                KeyValue::new(semconv::DB_OPERATION_NAME, operation.clone()),
                KeyValue::new(semconv::DB_QUERY_TEXT, statement.clone()),
            ]);
        let mut span = tracer.build_with_context(builder, &pipeline.cx);
        opentelemetry::trace::Span::end_with_timestamp(&mut span, ended_at);
    }
}

/// Span-only attributes: where the fn is, its keys and extra fields.
fn add_call_attributes(
    callsite: &Callsite,
    config: &Config,
    location: &'static std::panic::Location<'static>,
    keys: &[&dyn RedisKey],
    fields: Fields<'_>,
    attributes: &mut InlineAttributes,
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
    let mut rendered: SmallVec<[StringValue; 2]> = SmallVec::new();
    for key in keys {
        key.visit_args(&mut |arg| {
            rendered.extend(intern::render_key(policy, arg, config.max_key_length()));
        });
    }
    match (keys.len(), rendered.len()) {
        (_, 0) => {}
        (1, 1) => attributes.extend(
            rendered
                .pop()
                .map(|key| KeyValue::new(semconv::REDIS_KEY, key)),
        ),
        _ => attributes.push(KeyValue::new(
            semconv::REDIS_KEYS,
            Value::Array(rendered.into_vec().into()),
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
