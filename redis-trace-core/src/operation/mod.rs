//! The per-call guard: starts the span, makes it current around the body (`scope`), ends it
//! and records the metrics. What the span carries is built in `attributes`.

mod annotate;
mod attributes;
mod clock;
mod plan;
mod scope;
mod spare;

use std::future::Future;
use std::time::SystemTime;

use opentelemetry::trace::{SpanBuilder, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use redis::RedisResult;

pub use self::attributes::Fields;
use self::attributes::{
    add_call_attributes, call_attribute_bound, creation_attributes, creation_capacity, span_name,
};
use self::clock::{Timing, WallTime};
pub use self::scope::Instrumented;
use crate::callsite::Callsite;
use crate::command::{CommandSpec, Plan, Replies};
use crate::config::{Config, SemconvMode};
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::failure::ErrorAttributes;
use crate::globals::{self, Snapshot};
use crate::key::RedisKey;
use crate::metrics::{self, Success};
use crate::outcome::{Meaning, Outcome};
use crate::semconv;
use crate::sink::{AttributeSink, InlineAttributes};
use crate::tracer::AnySpan;

/// The reply to an `EVALSHA` of a script the server does not hold.
const NOSCRIPT: &str = "NOSCRIPT";

/// Attributes set when a span ends: `cache.hit`, or `error.type` and `db.response.status_code`.
const ENDING_ATTRIBUTES: usize = 2;

/// One call of an annotated function, or one command sent through a traced connection, from
/// start to finish.
///
/// Created by [`Operation::start`]; ended by [`Operation::finish`] with the call's result, or by
/// `Drop` when the call never finishes: a dropped (cancelled) future or a panic. Either way the
/// span ends with `error.type` = `cancelled` or `panic`, and the duration is recorded.
#[must_use = "an operation ends its span when finished or dropped"]
pub struct Operation {
    // Inline, not boxed: a heap block per call costs more than the future's extra bytes.
    // Compact (56 bytes on 64-bit targets, a test holds it there): it lives in every traced
    // future, which the runtime moves, and a move of up to 128 bytes is a few register copies
    // rather than a call to `memcpy`.
    active: Option<Active>,
}

struct Active {
    target: Target,
    /// An annotated function's wall-clock start, read when the duration is recorded; the end
    /// is read from the same clock, so the span and the histogram agree (two clock reads per
    /// call). A span alone leaves the timestamps to the SDK, which reads no clock for a span its
    /// sampler drops. (A command's start is in its description.)
    started_at: Option<WallTime>,
    /// The context holding the span, recorded or not.
    span: Option<Context>,
    /// Whether the sampler kept the span: a dropped span only carries the context to the body.
    recording: bool,
    /// What ending the call needs from the settings, copied when it starts: the settings
    /// themselves are not held while it runs.
    mode: SemconvMode,
    pipeline_command_spans: bool,
    metrics: bool,
    panicked: bool,
}

/// A recorded span: its context and whether the sampler kept it.
struct SpanState<'a> {
    cx: &'a Context,
    recording: bool,
}

/// What an operation traces.
enum Target {
    /// A `#[redis_traced]` function, and the server it talks to.
    Function(&'static Callsite, Option<Endpoint>),
    /// A command or pipeline sent through a traced connection (boxed: the function path, the
    /// one measured hardest, keeps a small guard).
    Command(Box<CommandSpec>),
}

/// Where the call ended.
enum Ending<'a> {
    Finished(Outcome<'a>),
    /// An error reply inside an otherwise successful answer (redis-rs returns server errors
    /// as `Value::ServerError`).
    ErrorReply(ErrorAttributes),
    /// `NOSCRIPT` to an `EVALSHA`: the first step of the client's load-and-retry, not a failure
    /// of the user's call (its status code is kept).
    ScriptNotCached,
    Dropped,
}

impl Operation {
    /// An operation that records nothing: what the generated code starts, without evaluating
    /// the keys, when no provider is installed.
    #[inline]
    pub fn idle() -> Self {
        Self { active: None }
    }

    /// Starts one call of `callsite`: its span (unless the tracer is a no-op, the command is
    /// denied or a required parent is missing) and its clock for the metrics. The generated
    /// code calls it only when `nothing_to_record()` is false, and [`Operation::idle`] otherwise.
    ///
    /// `endpoint` overrides the configured default endpoint; `keys` are rendered by the key
    /// policy.
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
        let now = globals::snapshot();
        let endpoint = match endpoint {
            Some(endpoint) => Some(endpoint.to_endpoint()),
            None => now.settings.default_endpoint.clone(),
        };
        Self::begin(
            &now,
            Target::Function(callsite, endpoint),
            true,
            call_attribute_bound(&now.settings.config, keys, fields),
            |config, span| {
                add_call_attributes(callsite, config, location, keys, fields, span);
            },
        )
    }

    /// Starts one command or pipeline sent through a traced connection. Metrics are recorded
    /// unless it runs inside a `#[redis_traced]` function, which already counts the call.
    ///
    /// `describe` writes the command's description, from the configuration, into a blank one;
    /// it is not called when nothing is recorded. `statement` renders its `db.query.text`, only
    /// for a span the sampler kept: the sanitized statement costs more than the rest of the
    /// span, and no sampler of the SDK reads it (the conventions list it among the attributes to
    /// give at creation, "if provided at all"; the name, operation, summary and server are given
    /// there).
    ///
    /// `prepare` reads the command once for both (its arguments, say), when something is
    /// recorded.
    pub(crate) fn start_command<T>(
        prepare: impl FnOnce() -> T,
        describe: impl FnOnce(&T, &Config, &mut CommandSpec),
        statement: impl FnOnce(&T, &Config) -> opentelemetry::StringValue,
        endpoint: Option<&Endpoint>,
        peer: Option<&Endpoint>,
    ) -> Self {
        if globals::nothing_to_record() {
            return Self { active: None };
        }
        let now = globals::snapshot();
        let metrics = now.settings.config.records_metrics() && !scope::in_traced_function();
        if !metrics && now.tracer.tracer().is_none() {
            return Self { active: None };
        }
        let prepared = prepare();
        let mut spec = spare::blank();
        describe(&prepared, &now.settings.config, &mut spec);
        spec.endpoint = endpoint.or(now.settings.default_endpoint.as_ref()).cloned();
        spec.peer = peer.cloned();
        let overflowed = spec.summary_overflowed;
        let mode = now.settings.config.semconv();
        let statement_slots = usize::from(mode.stable()) + usize::from(mode.old());
        Self::begin(
            &now,
            Target::Command(spec),
            metrics,
            statement_slots,
            |config, span| {
                let statement = statement(&prepared, config);
                crate::command::statement_attributes(mode, statement, span);
                // Reported once, by the first kept span whose summary fell back.
                if overflowed && config.claim_summary_report() {
                    let limit = i64::try_from(config.query_summary_limit()).unwrap_or(i64::MAX);
                    let limit = KeyValue::new(semconv::QUERY_SUMMARY_LIMIT, limit);
                    opentelemetry::trace::Span::add_event(
                        span,
                        semconv::QUERY_SUMMARY_LIMIT_REACHED,
                        vec![limit],
                    );
                }
            },
        )
    }

    fn begin(
        now: &Snapshot,
        mut target: Target,
        metrics: bool,
        extra_capacity: usize,
        add_extra_attributes: impl FnOnce(&Config, &mut AnySpan),
    ) -> Self {
        let config = &now.settings.config;
        let metrics = metrics && config.records_metrics() && now.metrics.instruments().is_some();
        let tracer = now.tracer.tracer();
        if tracer.is_none() && !metrics {
            return Self { active: None };
        }
        plan::prepare(&mut target, now);
        // Commands always: a pipeline's per-command child spans share its timestamps.
        let started = (metrics || matches!(target, Target::Command(_))).then(SystemTime::now);
        let started_at = match &mut target {
            Target::Command(spec) => {
                spec.started_at = started;
                None
            }
            Target::Function(..) => started.map(WallTime::of),
        };
        let endpoint = target.endpoint();
        let span = tracer
            .filter(|_| !config.is_denied(target.operation()) && !target.defers_span())
            .and_then(|tracer| {
                let parent = scope::parent_context();
                if config.require_parent() && !parent.has_active_span() {
                    return None;
                }
                let mode = config.semconv();
                // The SDK keeps this Vec as the span's: sized for a plain command's or a
                // function's attributes, including those added later, it is allocated once
                // (a span with more grows it once), small enough for the allocator's thread
                // cache.
                let mut attributes = Vec::with_capacity(
                    creation_capacity(mode) + extra_capacity + ENDING_ATTRIBUTES,
                );
                creation_attributes(&target, mode, endpoint, &mut attributes);
                if let Target::Command(spec) = &target {
                    spec.add_attributes(&mut attributes);
                }
                // Fields set in place: the builder's methods move it (hundreds of bytes) at
                // each step, and `with_attributes` collects the list again.
                let name = target
                    .plan()
                    .map_or_else(|| span_name(&target, endpoint), Plan::name);
                let mut builder = SpanBuilder::from_name(name);
                builder.span_kind = Some(target.kind());
                builder.attributes = Some(attributes);
                builder.start_time = started;
                let mut span = tracer.build_with_context(builder, &parent);
                globals::observe_span(
                    &now.tracer,
                    parent.span().span_context(),
                    opentelemetry::trace::Span::span_context(&span),
                    parent.is_telemetry_suppressed(),
                );
                // Keys, code location and fields matter to no sampler: render them only for
                // spans that are kept.
                let recording = opentelemetry::trace::Span::is_recording(&span);
                if recording {
                    add_extra_attributes(config, &mut span);
                    Some((parent.with_span(span), true))
                } else {
                    // A dropped span only carries its context to the body, and ending it does
                    // nothing: the context alone, without boxing the span behind a lock.
                    let context = opentelemetry::trace::Span::span_context(&span).clone();
                    Some((parent.with_remote_span_context(context), false))
                }
            });
        if span.is_none() && !metrics {
            return Self { active: None };
        }
        let (span, recording) = span.map_or((None, false), |(cx, recording)| (Some(cx), recording));
        Self {
            active: Some(Active {
                target,
                started_at,
                span,
                recording,
                mode: config.semconv(),
                pipeline_command_spans: config.pipeline_command_spans(),
                metrics,
                panicked: false,
            }),
        }
    }

    /// Whether this operation records nothing (no span, no metrics): the caller may then skip
    /// wrapping the call at all.
    pub(crate) fn records_nothing(&self) -> bool {
        self.active.is_none()
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

    /// The description of the command under way, when it records something.
    fn command_mut(&mut self) -> Option<&mut CommandSpec> {
        match &mut self.active {
            Some(Active {
                target: Target::Command(spec),
                ..
            }) => Some(spec),
            _ => None,
        }
    }

    /// Records whether the client-side cache answered the command.
    #[cfg(feature = "client-side-caching")]
    pub(crate) fn set_cache_result(&mut self, result: crate::command::CacheResult) {
        if let Some(spec) = self.command_mut() {
            spec.cache_result = Some(result);
        }
    }

    /// The node serving a cluster command as far as known now: recorded as its
    /// `network.peer.*` when it ends (the last one given, also when it is dropped).
    pub(crate) fn set_late_peer(&mut self, peer: Option<Endpoint>) {
        if let (Some(spec), Some(peer)) = (self.command_mut(), peer) {
            spec.late_peer = Some(peer);
        }
    }

    /// Ends the call with its outcome.
    #[inline]
    pub fn finish(self, outcome: Outcome<'_>) {
        // Not dropped: its `active` is taken here, and the drop glue of the empty field would
        // still be an out-of-line call.
        let mut this = std::mem::ManuallyDrop::new(self);
        if let Some(active) = this.active.take() {
            active.end(Ending::Finished(outcome));
        }
    }

    /// Ends a command or pipeline with the replies a connection returned: an error reply
    /// (anywhere in a pipeline's or transaction's replies) is a failure; a lookup's reply says
    /// hit or miss, a conditional write's whether it applied.
    pub(crate) fn finish_replies(mut self, result: &RedisResult<impl Replies>) {
        let Some(active) = self.active.take() else {
            return;
        };
        let not_cached = |code: Option<&str>| {
            matches!(&active.target, Target::Command(spec) if spec.runs_script_by_sha())
                && code == Some(NOSCRIPT)
        };
        // The replies are scanned for an error reply once (a pipeline's, all of them).
        let ending = match result {
            Ok(replies) => match (replies.error_reply(), &active.target) {
                (None, Target::Command(spec)) => Ending::Finished(replies.outcome(spec)),
                (None, Target::Function(..)) => Ending::Finished(Outcome::Ok),
                (Some(error), _) if not_cached(Some(error.code())) => Ending::ScriptNotCached,
                (Some(error), _) => Ending::ErrorReply(ErrorAttributes::server_error(error)),
            },
            Err(error) if not_cached(error.code()) => Ending::ScriptNotCached,
            Err(_) => Ending::Finished(crate::outcome::outcome_of!(result)),
        };
        active.end(ending);
    }
}

impl Drop for Operation {
    #[inline]
    fn drop(&mut self) {
        if let Some(active) = self.active.take() {
            active.end(Ending::Dropped);
        }
    }
}

impl Active {
    // Out of line: the inlined `finish` and `drop` stay a branch when nothing is recorded.
    #[inline(never)]
    fn end(mut self, ending: Ending<'_>) {
        self.record_end(ending);
        if let Target::Command(spec) = self.target {
            spare::keep(spec);
        }
    }

    fn record_end(&mut self, ending: Ending<'_>) {
        // A node known only now joins the metric attributes, and the span's below.
        let late_peer = match &mut self.target {
            Target::Command(spec) if spec.peer.is_none() => {
                spec.peer = spec.late_peer.take();
                spec.peer.is_some()
            }
            _ => false,
        };
        if late_peer && self.metrics {
            // Its metrics are the node's.
            plan::prepare(&mut self.target, &globals::snapshot());
        }
        let timing = match &self.target {
            Target::Command(spec) => spec.started_at.map(Timing::since),
            Target::Function(..) => self.started_at.map(Timing::ending_now),
        };
        let answer = match &self.target {
            Target::Function(callsite, _) => callsite.answer(),
            Target::Command(spec) => spec.answer,
        };
        let (meaning, error) = match ending {
            Ending::Finished(Outcome::Failed(failure)) => {
                (Meaning::Nothing, Some(failure.attributes()))
            }
            Ending::Finished(outcome) => (outcome.meaning(answer), None),
            Ending::ErrorReply(error) => (Meaning::Nothing, Some(error)),
            Ending::ScriptNotCached => {
                // The span says what happened; the logical call is measured by the retry.
                if let Some(span) = self.span.as_ref().filter(|_| self.recording) {
                    let handle = span.span();
                    if self.mode.stable() {
                        handle.set_attribute(KeyValue::new(
                            semconv::DB_RESPONSE_STATUS_CODE,
                            NOSCRIPT,
                        ));
                    }
                    handle.add_event(semconv::SCRIPT_NOT_CACHED, Vec::new());
                }
                if let Some(span) = self.span_state() {
                    self.end_span(&span, Meaning::Nothing, None, timing, late_peer);
                }
                return;
            }
            Ending::Dropped => (
                Meaning::Nothing,
                Some(ErrorAttributes::dropped(
                    self.panicked || std::thread::panicking(),
                )),
            ),
        };

        if let Some(span) = self.span_state() {
            self.end_span(&span, meaning, error.as_ref(), timing, late_peer);
        }
        if let (true, Some(timing)) = (self.metrics, timing) {
            self.record_metrics(timing.seconds(), meaning, error.as_ref());
        }
    }

    fn span_state(&self) -> Option<SpanState<'_>> {
        self.span.as_ref().map(|cx| SpanState {
            cx,
            recording: self.recording,
        })
    }

    fn end_span(
        &self,
        span: &SpanState<'_>,
        meaning: Meaning,
        error: Option<&ErrorAttributes>,
        timing: Option<Timing>,
        late_peer: bool,
    ) {
        let handle = span.cx.span();
        if !span.recording {
            // Nothing would keep the attributes.
            handle.end();
            return;
        }
        if let (Some(peer), true) = (self.target.peer(), late_peer) {
            let mut attributes = Vec::with_capacity(2);
            peer.push_peer_attributes(&mut attributes);
            handle.set_attributes(attributes);
        }
        match meaning {
            Meaning::Nothing => {}
            Meaning::Hit(hit) => handle.set_attribute(KeyValue::new(semconv::CACHE_HIT, hit)),
            Meaning::Hits { hits, misses } => {
                let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                handle.set_attribute(KeyValue::new(semconv::CACHE_HIT_COUNT, count(hits)));
                handle.set_attribute(KeyValue::new(semconv::CACHE_MISS_COUNT, count(misses)));
            }
            Meaning::Applied(applied) => {
                handle.set_attribute(KeyValue::new(semconv::REDIS_APPLIED, applied));
            }
        }
        if let Some(result) = self.target.cache_result() {
            handle.set_attribute(KeyValue::new(
                semconv::REDIS_CLIENT_CSC_RESULT,
                result.as_str(),
            ));
        }
        if let Some(error) = error {
            if let (Some(code), true) = (&error.status_code, self.mode.stable()) {
                handle.set_attribute(KeyValue::new(
                    semconv::DB_RESPONSE_STATUS_CODE,
                    code.clone(),
                ));
            }
            handle.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error.error_type.clone()));
            handle.set_status(Status::error(error.message.clone()));
        }
        match timing {
            Some(timing) => handle.end_with_timestamp(timing.ended_at()),
            None => handle.end(),
        }
        // Opt-in: the tracer is looked up only when child spans are wanted.
        if let (Target::Command(spec), Some(timing), true) =
            (&self.target, timing, self.pipeline_command_spans)
        {
            if let (Some(tracer), Some(started_at)) =
                (globals::snapshot().tracer.tracer(), spec.started_at)
            {
                spec.child_spans(tracer, span.cx, started_at, timing.ended_at());
            }
        }
    }

    fn record_metrics(&self, seconds: f64, meaning: Meaning, error: Option<&ErrorAttributes>) {
        let (hits, misses) = match meaning {
            Meaning::Hit(hit) => (u64::from(hit), u64::from(!hit)),
            Meaning::Hits { hits, misses } => (hits, misses),
            Meaning::Nothing | Meaning::Applied(_) => (0, 0),
        };
        // A plain command that succeeded: its prepared list.
        if let (Some(plan), None, None) = (self.target.plan(), error, self.target.cache_result()) {
            if plan.record(seconds, (hits, misses)) {
                return;
            }
        }
        let now = globals::snapshot();
        let Some(instruments) = now.metrics.instruments() else {
            return;
        };
        let mode = self.mode;
        let endpoint = self.target.endpoint();
        if let (Target::Function(callsite, _), None) = (&self.target, error) {
            let call = Success {
                function: callsite.function(),
                mode,
                endpoint,
                seconds,
                hits,
                misses,
            };
            callsite.metrics().record_success(instruments, &call, || {
                let mut attributes = Vec::new();
                creation_attributes(&self.target, mode, endpoint, &mut attributes);
                attributes
            });
            return;
        }
        // Failures, and the other commands of a traced connection. Inline storage: no
        // allocation.
        let mut attributes = InlineAttributes::new();
        creation_attributes(&self.target, mode, endpoint, &mut attributes);
        let common = attributes.len();
        if let Some(result) = self.target.cache_result() {
            attributes.add(semconv::REDIS_CLIENT_CSC_RESULT, || result.as_str().into());
        }
        if let Some(error) = error {
            attributes.add(semconv::ERROR_TYPE, || error.error_type.clone().into());
            if let (Some(code), true) = (&error.status_code, mode.stable()) {
                attributes.add(semconv::DB_RESPONSE_STATUS_CODE, || code.clone().into());
            }
        }
        instruments.record_duration(seconds, &attributes);
        if hits + misses > 0 {
            attributes.truncate(common);
            metrics::count_command_lookups(
                instruments,
                mode,
                (endpoint, self.target.peer()),
                self.target.grouping(),
                (hits, misses),
                &attributes,
            );
        }
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod size {
    /// The guard's size, which every traced future carries (see `Operation`).
    #[test]
    fn an_operation_is_56_bytes() {
        assert_eq!(std::mem::size_of::<super::Operation>(), 56);
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    /// The guard is inline in every traced future's state (a heap block per call cost more):
    /// it must stay small.
    #[test]
    fn the_guard_stays_small() {
        assert!(std::mem::size_of::<super::Operation>() <= 80);
    }
}
