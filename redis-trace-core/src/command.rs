//! A command or pipeline sent through a traced connection, as its span describes it: what the
//! connection hands to the operation (built in `connection::describe`), and the replies it
//! hands back.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanBuilder, SpanKind, Tracer};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use redis_trace_commands::{Answer, Command};

use crate::config::SemconvMode;
use crate::messaging::MessagingSpec;
use crate::metrics::PlainRecording;
use crate::outcome::Outcome;
use crate::semconv::{self, old};
use crate::sink::AttributeSink;

/// What a traced connection knows of one command or pipeline.
#[derive(Debug, Clone)]
pub(crate) struct CommandSpec {
    /// `db.operation.name`: `GET`, `PIPELINE`, `PIPELINE GET`, `MULTI`, `MULTI SET`.
    pub(crate) operation: Cow<'static, str>,
    /// `db.query.summary` and the span name, when summaries are on (`Config::query_summaries`).
    pub(crate) summary: Option<StringValue>,
    /// Whether its summary fell back because the limit was reached: the first such span that
    /// is kept gets the event `redis_trace.query_summary.limit_reached`.
    pub(crate) summary_overflowed: bool,
    /// The server it was sent to (`server.*`): the connection's, else the configured default.
    pub(crate) endpoint: Option<crate::endpoint::Endpoint>,
    /// The node that served it (`network.peer.*`) when it is not the configured target: a
    /// cluster's master for the slot, the server a Sentinel named.
    pub(crate) peer: Option<crate::endpoint::Endpoint>,
    /// The node of a cluster command, recorded when it ends rather than when it starts: a call
    /// that outlives a failover was served by the slot's owner at its end.
    pub(crate) late_peer: Option<crate::endpoint::Endpoint>,
    /// `db.operation.batch.size`, for pipelines of 0 or 2+ commands.
    pub(crate) batch_size: Option<usize>,
    /// `redis.cluster.slot`, on cluster connections when every key maps to one slot.
    pub(crate) slot: Option<u16>,
    /// Each command of a pipeline (operation, statement), for per-command child spans.
    pub(crate) commands: Vec<(Cow<'static, str>, StringValue)>,
    /// What a single command's reply says about its keys (`Other` for pipelines).
    pub(crate) answer: Answer,
    /// Whether the reply holds one answer per key or field (`MGET`, `HMGET`, `SMISMEMBER`).
    pub(crate) per_key: bool,
    /// `db.stored_procedure.name`: the SHA of `EVALSHA`, the function of `FCALL`.
    pub(crate) procedure: Option<StringValue>,
    /// For the commands that send, read or settle messages: what the messaging conventions add.
    pub(crate) messaging: Option<MessagingSpec>,
    /// Whether the client-side cache answered it, when known (set after the reply).
    pub(crate) cache_result: Option<CacheResult>,
    /// What it records, prepared, when it is a plain command (set when it starts).
    pub(crate) plan: Option<Arc<Plan>>,
    /// When it started (set when something records it): its span's start, the start of its
    /// duration and of a pipeline's child spans.
    pub(crate) started_at: Option<SystemTime>,
}

/// What a plain command records, prepared once for one server and node under one generation
/// of the settings (`operation::plan` keeps them per thread): its span name and its metric
/// attributes.
pub(crate) struct Plan {
    name: Cow<'static, str>,
    /// `None` when no metrics are recorded into (no meter provider, or metrics off).
    recording: Option<PlainRecording>,
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan").field("name", &self.name).finish()
    }
}

impl Plan {
    pub(crate) fn new(name: Cow<'static, str>, recording: Option<PlainRecording>) -> Self {
        Self { name, recording }
    }

    /// The span name.
    #[inline]
    pub(crate) fn name(&self) -> Cow<'static, str> {
        match &self.name {
            // Almost always: a kept name, copied without a call.
            Cow::Borrowed(name) => Cow::Borrowed(name),
            Cow::Owned(name) => Cow::Owned(name.clone()),
        }
    }

    /// Records the command's duration and lookups; `false` when the plan records no metrics.
    pub(crate) fn record(&self, seconds: f64, lookups: (u64, u64)) -> bool {
        let Some(recording) = &self.recording else {
            return false;
        };
        recording.record(seconds, lookups);
        true
    }
}

/// Whether redis-rs's client-side cache answered a read (`redis.client.csc.result`). Without
/// the `client-side-caching` feature it has no value: nothing can mark a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheResult {
    /// Every key was answered from the process's memory: Redis was not reached.
    #[cfg(feature = "client-side-caching")]
    Hit,
    /// At least one key was sent to Redis.
    #[cfg(feature = "client-side-caching")]
    Miss,
}

impl CacheResult {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            #[cfg(feature = "client-side-caching")]
            Self::Hit => "hit",
            #[cfg(feature = "client-side-caching")]
            Self::Miss => "miss",
        }
    }
}

/// `db.query.text` (and the old `db.statement`) for `statement`, as `mode` writes them.
pub(crate) fn statement_attributes(
    mode: SemconvMode,
    statement: StringValue,
    sink: &mut impl AttributeSink,
) {
    // Moved, not cloned, under one name: a shared statement's clone and drop are two atomic
    // reference-count writes.
    match mode {
        SemconvMode::Stable => sink.add(semconv::DB_QUERY_TEXT, || statement.into()),
        SemconvMode::Old => sink.add(old::DB_STATEMENT, || statement.into()),
        SemconvMode::Both => {
            sink.add(semconv::DB_QUERY_TEXT, || statement.clone().into());
            sink.add(old::DB_STATEMENT, || statement.into());
        }
    }
}

impl CommandSpec {
    /// A command of which nothing is known yet: what a description starts from.
    pub(crate) const fn blank() -> Self {
        Self {
            operation: Cow::Borrowed(""),
            summary: None,
            summary_overflowed: false,
            endpoint: None,
            peer: None,
            late_peer: None,
            batch_size: None,
            slot: None,
            commands: Vec::new(),
            answer: Answer::Other,
            per_key: false,
            procedure: None,
            messaging: None,
            cache_result: None,
            plan: None,
            started_at: None,
        }
    }

    /// A command named `operation` and nothing more known of it.
    #[cfg(test)]
    pub(crate) fn named(operation: &'static str) -> Self {
        Self {
            operation: Cow::Borrowed(operation),
            ..Self::blank()
        }
    }

    /// Whether it runs a script by its SHA (`EVALSHA`, `EVALSHA_RO`), which the server answers
    /// `NOSCRIPT` when it does not hold the script.
    pub(crate) fn runs_script_by_sha(&self) -> bool {
        // Only a stored-procedure call (rare) pays for the table lookup.
        self.procedure.is_some()
            && redis_trace_commands::lookup(&self.operation)
                .is_some_and(Command::runs_script_by_sha)
    }

    /// Span-only attributes of a command: its batch size, cluster slot and messaging
    /// attributes (its stored procedure is a creation attribute, shared with the metrics; its
    /// statement is added once the span is known to be kept: `statement_attributes`).
    pub(crate) fn add_attributes(&self, sink: &mut impl AttributeSink) {
        if let Some(size) = self.batch_size {
            sink.add(semconv::DB_OPERATION_BATCH_SIZE, || {
                Value::I64(i64::try_from(size).unwrap_or(i64::MAX))
            });
        }
        if let Some(slot) = self.slot {
            sink.add(semconv::REDIS_CLUSTER_SLOT, || Value::I64(i64::from(slot)));
        }
        if let Some(messaging) = &self.messaging {
            messaging.add_attributes(&self.operation, sink);
        }
    }

    /// One child span per command of a pipeline (opt-in), spanning the pipeline's time: Redis
    /// answers a pipeline as a whole, so per-command timing does not exist.
    pub(crate) fn child_spans(
        &self,
        tracer: &crate::tracer::AnyTracer,
        pipeline: &Context,
        started_at: SystemTime,
        ended_at: SystemTime,
    ) {
        for (operation, statement) in &self.commands {
            let builder = SpanBuilder::from_name(operation.clone())
                .with_kind(SpanKind::Client)
                .with_start_time(started_at)
                .with_attributes([
                    KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS),
                    KeyValue::new(semconv::DB_OPERATION_NAME, operation.clone()),
                    KeyValue::new(semconv::DB_QUERY_TEXT, statement.clone()),
                ]);
            let mut span = tracer.build_with_context(builder, pipeline);
            opentelemetry::trace::Span::end_with_timestamp(&mut span, ended_at);
        }
    }
}

/// The replies of a command (`Value`) or pipeline (`Vec<Value>`).
pub(crate) trait Replies {
    /// The first error reply among them.
    fn error_reply(&self) -> Option<&redis::ServerError>;

    /// What the replies say, read as the answer of `spec`.
    fn outcome(&self, spec: &CommandSpec) -> Outcome<'static>;
}

impl Replies for redis::Value {
    fn error_reply(&self) -> Option<&redis::ServerError> {
        first_error_reply(self)
    }

    fn outcome(&self, spec: &CommandSpec) -> Outcome<'static> {
        use redis::Value as V;
        // Nil, empty and zero are what Redis answers for a key that is not there (-2 for the
        // TTL family); a conditional write answers 1 or OK when it applied, 0 or nil when not.
        let found = |reply: &V| match reply {
            V::Nil => false,
            V::Int(count) => !matches!(count, 0 | -2),
            V::Array(items) | V::Set(items) => !items.is_empty(),
            V::Map(pairs) => !pairs.is_empty(),
            _ => true,
        };
        match (spec.answer, self) {
            (Answer::Lookup, V::Array(items)) if spec.per_key => {
                let hits = items.iter().filter(|item| found(item)).count() as u64;
                Outcome::Counts {
                    found: hits,
                    missing: items.len() as u64 - hits,
                }
            }
            (Answer::Lookup, reply) => Outcome::Found(found(reply)),
            (Answer::Applied, reply @ (V::Nil | V::Int(_) | V::Okay)) => {
                Outcome::Flag(found(reply))
            }
            _ => Outcome::Ok,
        }
    }
}

impl Replies for Vec<redis::Value> {
    fn error_reply(&self) -> Option<&redis::ServerError> {
        self.iter().find_map(first_error_reply)
    }

    fn outcome(&self, _spec: &CommandSpec) -> Outcome<'static> {
        Outcome::Ok
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
