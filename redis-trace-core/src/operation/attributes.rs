//! What an operation's span and metrics carry: the attributes set at creation (shared with the
//! metrics), the span-only ones of a function call, and the span name.

use std::borrow::Cow;
use std::panic::Location;

use opentelemetry::trace::{Span, SpanKind};
use opentelemetry::{KeyValue, StringValue, Value};
use smallvec::SmallVec;

use super::Target;
use crate::callsite::Callsite;
use crate::config::{Config, SemconvMode};
use crate::endpoint::Endpoint;
use crate::fields::FieldValue;
use crate::intern;
use crate::key::{KeyPolicy, RedisKey};
use crate::semconv::{self, old};
use crate::sink::AttributeSink;
use crate::span_names::{self, server_span_name};
use crate::text::truncate_on_char_boundary;

/// Extra attributes of one call: `(name, value)` from `fields(...)` and `ttl = ...`.
pub type Fields<'a> = &'a [(&'static str, &'a dyn FieldValue)];

/// What a plain command or a function gives at creation (system, operation, server address
/// and port, namespace, summary, batch size, slot), under each name of the mode: the first
/// capacity of a span's attribute list. A span with more (a peer, messaging attributes, a
/// stored procedure) grows its list once; sizing it exactly took a counting pass over
/// [`creation_attributes`], about 120 instructions a call.
pub(super) fn creation_capacity(mode: SemconvMode) -> usize {
    const PLAIN: usize = 8;
    PLAIN * (usize::from(mode.stable()) + usize::from(mode.old()))
}

/// The attributes shared by the span and the metrics: system, operation, summary, endpoint, in
/// the semantic-convention mode `mode`.
pub(super) fn creation_attributes(
    target: &Target,
    mode: SemconvMode,
    endpoint: Option<&Endpoint>,
    sink: &mut impl AttributeSink,
) {
    // One value under the stable and/or the old name (generic, not `dyn`: inlined per call).
    fn add<S: AttributeSink>(
        sink: &mut S,
        mode: SemconvMode,
        stable: &'static str,
        old: &'static str,
        value: impl Fn() -> Value,
    ) {
        if mode.old() {
            sink.add(old, &value);
        }
        if mode.stable() {
            sink.add(stable, value);
        }
    }
    add(sink, mode, semconv::DB_SYSTEM_NAME, old::DB_SYSTEM, || {
        Value::from(semconv::REDIS)
    });
    add(
        sink,
        mode,
        semconv::DB_OPERATION_NAME,
        old::DB_OPERATION,
        || match target {
            Target::Function(callsite, _) => Value::from(callsite.operation()),
            // The table's name almost always: a static value, made without a call.
            Target::Command(spec) => match &spec.operation {
                Cow::Borrowed(operation) => Value::from(*operation),
                Cow::Owned(operation) => Value::from(operation.clone()),
            },
        },
    );
    if let Some(address) = endpoint.and_then(Endpoint::address_value) {
        add(
            sink,
            mode,
            semconv::SERVER_ADDRESS,
            old::NET_PEER_NAME,
            || Value::String(address.clone()),
        );
    }
    if let Some(port) = endpoint.and_then(Endpoint::port) {
        add(sink, mode, semconv::SERVER_PORT, old::NET_PEER_PORT, || {
            Value::I64(i64::from(port))
        });
    }
    if mode.stable() {
        match target {
            Target::Function(callsite, _) => {
                if let Some(summary) = callsite.summary() {
                    sink.add(semconv::DB_QUERY_SUMMARY, || Value::from(summary));
                }
            }
            Target::Command(spec) => {
                if let Some(summary) = &spec.summary {
                    sink.add(semconv::DB_QUERY_SUMMARY, || Value::String(summary.clone()));
                }
            }
        }
    }
    if let (Some(namespace), true) = (endpoint.and_then(Endpoint::namespace_value), mode.stable()) {
        sink.add(semconv::DB_NAMESPACE, || Value::String(namespace));
    }
    // An annotated function that sends a message is a producer (its destination is its key).
    if let Target::Function(callsite, _) = target {
        if callsite.sends() {
            sink.add(semconv::MESSAGING_SYSTEM, || Value::from(semconv::REDIS));
            sink.add(semconv::MESSAGING_OPERATION_TYPE, || Value::from("send"));
            sink.add(semconv::MESSAGING_OPERATION_NAME, || {
                Value::from(callsite.operation())
            });
        }
    }
    // The node that served the command, where the target is several nodes.
    // In every mode: the old names have no equivalent of the node apart from the target.
    if let Target::Command(spec) = target {
        if let Some(peer) = &spec.peer {
            if let Some(address) = peer.address_value() {
                sink.add(semconv::NETWORK_PEER_ADDRESS, || Value::String(address));
            }
            if let Some(port) = peer.port() {
                sink.add(semconv::NETWORK_PEER_PORT, || Value::I64(i64::from(port)));
            }
        }
    }
    // A script's or function's name: recommended on the duration metric too (bounded: one per
    // stored script or function).
    if let Target::Command(spec) = target {
        if let Some(procedure) = &spec.procedure {
            sink.add(semconv::DB_STORED_PROCEDURE_NAME, || {
                Value::String(procedure.clone())
            });
        }
    }
    if let (Some(index), true) = (endpoint.and_then(Endpoint::database), mode.old()) {
        sink.add(old::DB_REDIS_DATABASE_INDEX, || Value::I64(index));
    }
}

/// Span-only attributes of a function call, set on its kept `span`: where the fn is, its keys
/// and extra fields. Set one by one: the span's list was sized for them.
pub(super) fn add_call_attributes(
    callsite: &Callsite,
    config: &Config,
    location: &'static Location<'static>,
    keys: &[&dyn RedisKey],
    fields: Fields<'_>,
    span: &mut impl Span,
) {
    if config.code_attributes() {
        span.set_attribute(KeyValue::new(
            semconv::CODE_FUNCTION_NAME,
            callsite.function(),
        ));
        span.set_attribute(KeyValue::new(semconv::CODE_FILE_PATH, location.file()));
        span.set_attribute(KeyValue::new(
            semconv::CODE_LINE_NUMBER,
            i64::from(location.line()),
        ));
    }
    let policy = callsite.key_policy(config);
    let max_len = config.max_key_length();
    let mut rendered: SmallVec<[StringValue; 2]> = SmallVec::new();
    for key in keys {
        if let (KeyPolicy::Pattern, Some(pattern)) = (&*policy, key.pattern()) {
            // A template's pattern, computed at compile time: no work per call.
            rendered.push(truncate_on_char_boundary(pattern, max_len).into());
            continue;
        }
        key.visit_args(&mut |arg| {
            rendered.extend(intern::render_key(&policy, arg, max_len));
        });
    }
    match (keys.len(), rendered.len()) {
        (_, 0) => {}
        (1, 1) => {
            let key = rendered.swap_remove(0);
            span.set_attribute(KeyValue::new(semconv::REDIS_KEY, key));
        }
        _ => span.set_attribute(KeyValue::new(
            semconv::REDIS_KEYS,
            Value::Array(rendered.into_vec().into()),
        )),
    }
    for (name, value) in fields {
        span.set_attribute(KeyValue::new(*name, value.to_value()));
    }
}

/// At most how many attributes [`add_call_attributes`] adds: code location (3, unless turned
/// off), the key or keys (1), the fields.
pub(super) fn call_attribute_bound(
    config: &Config,
    keys: &[&dyn RedisKey],
    fields: Fields<'_>,
) -> usize {
    3 * usize::from(config.code_attributes()) + usize::from(!keys.is_empty()) + fields.len()
}

/// The summary if there is one, else `{operation} {address}:{port}`, else `{operation}`; never
/// a rendered key (a connection's summary holds key patterns). A messaging command is named
/// after its destination, as the messaging conventions ask.
pub(super) fn span_name(target: &Target, endpoint: Option<&Endpoint>) -> Cow<'static, str> {
    let operation = target.operation();
    match target {
        Target::Function(callsite, _) => {
            if let Some(summary) = callsite.summary() {
                return Cow::Borrowed(summary);
            }
        }
        Target::Command(spec) => {
            if let Some(destination) = spec.messaging.as_ref().and_then(|m| m.destination.as_ref())
            {
                return operation_and(target, destination.as_str());
            }
            if let Some(summary) = &spec.summary {
                return summary.as_str().to_owned().into();
            }
            // The conventions' target: the stored procedure before the server.
            if let Some(procedure) = &spec.procedure {
                return operation_and(target, procedure.as_str());
            }
        }
    }
    match endpoint.and_then(|e| e.address().map(|address| (address, e.port()))) {
        // Built by hand, not by `format!`, and kept: every span of a traced connection is named so.
        Some((address, port)) => match static_operation(target) {
            Some(operation) => server_span_name(operation, address, port),
            None => span_names::render(operation, address, port).into(),
        },
        None => match target {
            Target::Function(callsite, _) => Cow::Borrowed(callsite.operation()),
            Target::Command(spec) => spec.operation.clone(),
        },
    }
}

/// `{operation} {target}` (`PUBLISH orders`, `FCALL release`): kept like the server names,
/// which have the same form without a port; the operation alone for an empty target (an empty
/// channel's name), as a delivery's spans are named.
fn operation_and(target: &Target, text: &str) -> Cow<'static, str> {
    match static_operation(target) {
        Some(operation) => span_names::operation_span_name(operation, text),
        None if text.is_empty() => target.operation().to_owned().into(),
        None => span_names::render(target.operation(), text, None).into(),
    }
}

/// The operation's name when it is `'static` (the command table's): its span names are kept.
fn static_operation(target: &Target) -> Option<&'static str> {
    match target {
        Target::Function(callsite, _) => Some(callsite.operation()),
        Target::Command(spec) => match spec.operation {
            Cow::Borrowed(operation) => Some(operation),
            Cow::Owned(_) => None,
        },
    }
}

impl Target {
    /// PRODUCER for the commands that send a message, CLIENT for everything else.
    pub(super) fn kind(&self) -> SpanKind {
        match self {
            Self::Function(callsite, _) if callsite.sends() => SpanKind::Producer,
            Self::Command(spec) if spec.messaging.as_ref().is_some_and(|m| m.sends()) => {
                SpanKind::Producer
            }
            _ => SpanKind::Client,
        }
    }

    /// Whether the span is built after the reply instead (a stream read, to skip empty polls).
    pub(super) fn defers_span(&self) -> bool {
        matches!(self, Self::Command(spec) if spec.messaging.as_ref().is_some_and(|m| m.receives()))
    }

    pub(super) fn operation(&self) -> &str {
        match self {
            Self::Function(callsite, _) => callsite.operation(),
            Self::Command(spec) => &spec.operation,
        }
    }

    /// The node that served a command, when it is not the configured target.
    pub(super) fn peer(&self) -> Option<&Endpoint> {
        match self {
            Self::Function(..) => None,
            Self::Command(spec) => spec.peer.as_ref(),
        }
    }

    /// The server it talks to (`server.*`), if known.
    pub(super) fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Self::Function(_, endpoint) => endpoint.as_ref(),
            Self::Command(spec) => spec.endpoint.as_ref(),
        }
    }

    /// What a plain command records, prepared.
    pub(super) fn plan(&self) -> Option<&crate::command::Plan> {
        match self {
            Self::Function(..) => None,
            Self::Command(spec) => spec.plan.as_deref(),
        }
    }

    /// Whether the client-side cache answered it, when known.
    pub(super) fn cache_result(&self) -> Option<crate::command::CacheResult> {
        match self {
            Self::Function(..) => None,
            Self::Command(spec) => spec.cache_result,
        }
    }

    /// What its metrics are grouped by besides the attributes: the summary, else the operation.
    pub(super) fn grouping(&self) -> &str {
        match self {
            Self::Function(callsite, _) => callsite.summary().unwrap_or(callsite.operation()),
            Self::Command(spec) => spec
                .summary
                .as_ref()
                .map_or(&spec.operation, |s| s.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandSpec;

    fn traced_fn() {}
    static CALLSITE: Callsite = Callsite::new("GET", Some("get user"), traced_fn);

    /// A messaging command is named after its destination, a script call after its
    /// procedure; an empty one leaves the operation alone, without a trailing blank.
    #[test]
    fn commands_are_named_after_their_target_unless_it_is_empty() {
        let name_with = |operation: &'static str, destination: Option<&str>, procedure: &str| {
            let mut spec = CommandSpec::named(operation);
            spec.messaging = destination.map(|destination| crate::messaging::MessagingSpec {
                role: redis_trace_commands::MessagingRole::Publish,
                destination: Some(destination.to_owned().into()),
                group: None,
                body_size: None,
            });
            spec.procedure = Some(procedure.to_owned().into()).filter(|_| destination.is_none());
            span_name(&Target::Command(Box::new(spec)), None).into_owned()
        };
        assert_eq!(name_with("PUBLISH", Some("orders"), ""), "PUBLISH orders");
        assert_eq!(name_with("PUBLISH", Some(""), ""), "PUBLISH");
        assert_eq!(name_with("FCALL", None, "release"), "FCALL release");
        assert_eq!(name_with("FCALL", None, ""), "FCALL");
    }

    #[test]
    fn plain_commands_and_functions_fit_the_first_capacity() {
        let command = CommandSpec {
            operation: "SET".into(),
            summary: Some("SET k:?".into()),
            summary_overflowed: false,
            endpoint: None,
            peer: None,
            late_peer: None,
            batch_size: Some(3),
            slot: Some(7),
            commands: Vec::new(),
            answer: redis_trace_commands::Answer::Other,
            per_key: false,
            procedure: None,
            messaging: None,
            cache_result: None,
            plan: None,
            started_at: None,
        };
        let targets = [
            Target::Function(&CALLSITE, None),
            Target::Command(Box::new(command)),
        ];
        let endpoints = [
            None,
            Some(Endpoint::tcp("cache", 6380).with_database(2)),
            Some(Endpoint::unix("/run/redis.sock")),
        ];
        for mode in [SemconvMode::Stable, SemconvMode::Old, SemconvMode::Both] {
            for target in &targets {
                for endpoint in &endpoints {
                    let mut pushed = Vec::new();
                    creation_attributes(target, mode, endpoint.as_ref(), &mut pushed);
                    if let Target::Command(spec) = target {
                        spec.add_attributes(&mut pushed);
                    }
                    assert!(
                        pushed.len() <= creation_capacity(mode),
                        "{mode:?} {endpoint:?}: {} attributes",
                        pushed.len()
                    );
                    assert!(pushed.len() >= 2, "system and operation at least");
                }
            }
        }
    }
}
