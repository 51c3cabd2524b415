//! The messaging commands of a traced connection: what their spans say (`send` for `PUBLISH`,
//! `SPUBLISH`, `XADD`; `receive` for `XREAD`, `XREADGROUP`; `settle` for `XACK`), the trace
//! context they carry when propagation is on, and the receive span, built once the reply shows
//! whether the read returned anything.

use std::sync::PoisonError;
use std::time::SystemTime;

use opentelemetry::trace::{Link, SpanContext, SpanKind, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use redis::{Arg, Cmd, RedisResult, Value};

use super::describe::{self, cmd_args, is_named};
use super::{TracedConnection, REMEMBERED_PRODUCERS};
use crate::command::MessagingSpec;
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::messaging::{carrier_field_names, envelope, extract_context, inject_context};
use crate::operation::Operation;
use crate::{globals, intern, semconv};

/// What a messaging command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Publish,
    Append,
    Read,
    Acknowledge,
}

impl Kind {
    /// The kind of the command named `name`, if it is a messaging command.
    pub(super) fn of(name: &[u8]) -> Option<Self> {
        let is = |command: &[u8]| name.eq_ignore_ascii_case(command);
        Some(match () {
            () if is(b"PUBLISH") || is(b"SPUBLISH") => Self::Publish,
            () if is(b"XADD") => Self::Append,
            () if is(b"XREAD") || is(b"XREADGROUP") => Self::Read,
            () if is(b"XACK") => Self::Acknowledge,
            () => return None,
        })
    }

    /// The kind of a redis-rs command.
    pub(super) fn of_cmd(cmd: &Cmd) -> Option<Self> {
        match cmd.args_iter().next()? {
            Arg::Simple(name) => Self::of(name),
            _ => None,
        }
    }
}

/// The messaging attributes of the command `args`, if it is one.
pub(super) fn spec(args: &[&[u8]], config: &Config) -> Option<MessagingSpec> {
    let render = |arg: Option<&&[u8]>| -> Option<StringValue> {
        let rendered = config.key_policy().render(arg?, config.max_key_length())?;
        Some(intern::share(&rendered))
    };
    let spec = |operation_type, destination, group, body_size| MessagingSpec {
        operation_type,
        destination,
        group,
        body_size,
    };
    Some(match Kind::of(args.first()?)? {
        Kind::Publish => spec(
            "send",
            render(args.get(1)),
            None,
            args.get(2).map(|p| p.len()),
        ),
        Kind::Append => spec("send", render(args.get(1)), None, None),
        Kind::Acknowledge => spec("settle", render(args.get(1)), text(args.get(2)), None),
        Kind::Read => {
            // XREADGROUP GROUP <group> <consumer> ... STREAMS <key>... <id>...
            let group = is_named(args, b"XREADGROUP")
                .then(|| text(args.get(2)))
                .flatten();
            let streams = args
                .iter()
                .position(|arg| arg.eq_ignore_ascii_case(b"STREAMS"));
            let first = streams.and_then(|at| args.get(at + 1));
            spec("receive", render(first), group, None)
        }
    })
}

fn text(arg: Option<&&[u8]>) -> Option<StringValue> {
    let text = String::from_utf8_lossy(arg?);
    Some(intern::share(crate::text::truncate_on_char_boundary(
        &text, 128,
    )))
}

/// `cmd` carrying the trace context of `cx`: the payload of a `PUBLISH` in an envelope, the
/// carrier fields appended to an `XADD`. `None` when there is nothing to carry.
pub(super) fn with_context(cmd: &Cmd, kind: Kind, cx: &Context) -> Option<Cmd> {
    let fields = inject_context(cx);
    if fields.is_empty() {
        return None;
    }
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .map(|arg| match arg {
            Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let mut carrying = redis::Cmd::new();
    match kind {
        Kind::Publish => {
            let [name, channel, payload] = args.as_slice() else {
                return None;
            };
            carrying
                .arg(*name)
                .arg(*channel)
                .arg(envelope::wrap(&fields, payload)?);
        }
        Kind::Append => {
            for arg in &args {
                carrying.arg(*arg);
            }
            for (name, value) in &fields {
                carrying.arg(name.as_str()).arg(value.as_str());
            }
        }
        Kind::Read | Kind::Acknowledge => return None,
    }
    Some(carrying)
}

/// One entry a stream read returned.
#[derive(Debug)]
pub(super) struct Received {
    pub(super) id: String,
    pub(super) producer: Option<SpanContext>,
}

/// The entries of an `XREAD` / `XREADGROUP` reply (RESP2 arrays or RESP3 maps), with their
/// producers' contexts; with `strip`, their carrier fields are removed from `reply`.
pub(super) fn received(reply: &mut Value, strip: bool) -> Vec<Received> {
    let mut found = Vec::new();
    let carrier_fields = carrier_field_names();
    let streams: Vec<&mut Value> = match reply {
        Value::Array(streams) => streams
            .iter_mut()
            .filter_map(|stream| match stream {
                Value::Array(pair) if pair.len() == 2 => pair.get_mut(1),
                _ => None,
            })
            .collect(),
        Value::Map(pairs) => pairs.iter_mut().map(|(_, entries)| entries).collect(),
        _ => Vec::new(),
    };
    for entries in streams {
        let Value::Array(entries) = entries else {
            continue;
        };
        for entry in entries {
            let Value::Array(parts) = entry else {
                continue;
            };
            let id = match parts.first() {
                Some(Value::BulkString(id)) => String::from_utf8_lossy(id).into_owned(),
                Some(Value::SimpleString(id)) => id.clone(),
                _ => continue,
            };
            let producer = match parts.get_mut(1) {
                Some(Value::Array(fields)) => carrier_of(fields, &carrier_fields, strip),
                _ => None,
            };
            found.push(Received { id, producer });
        }
    }
    found
}

/// The context in an entry's fields (`[name, value, name, value, ...]`), removed with `strip`.
fn carrier_of(fields: &mut Vec<Value>, names: &[String], strip: bool) -> Option<SpanContext> {
    let is_carrier = |name: &[u8]| {
        names
            .iter()
            .any(|known| known.as_bytes().eq_ignore_ascii_case(name))
    };
    let mut carrier = Vec::new();
    let mut kept = Vec::with_capacity(fields.len());
    let mut pairs = std::mem::take(fields).into_iter();
    while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
        match (&name, &value) {
            (Value::BulkString(n), Value::BulkString(v)) if is_carrier(n) => {
                let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
                carrier.push((text(n), text(v)));
                if !strip {
                    kept.extend([name, value]);
                }
            }
            _ => kept.extend([name, value]),
        }
    }
    *fields = kept;
    extract_context(carrier.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// The CLIENT `receive` span of a stream read that returned `entries`, linked to each entry's
/// producer, with the read's own times.
pub(super) fn receive_span(
    spec: &MessagingSpec,
    operation: &str,
    endpoint: Option<&Endpoint>,
    parent: &Context,
    (started_at, ended_at): (SystemTime, SystemTime),
    entries: &[Received],
) {
    let slot = globals::tracer();
    let Some(tracer) = slot.tracer() else {
        return;
    };
    let mut attributes = vec![
        KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS),
        KeyValue::new(semconv::DB_OPERATION_NAME, operation.to_owned()),
    ];
    spec.add_attributes(operation, &mut attributes);
    let count = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    attributes.push(KeyValue::new(semconv::MESSAGING_BATCH_MESSAGE_COUNT, count));
    if let Some(endpoint) = endpoint {
        endpoint.push_server_attributes(&mut attributes);
    }
    let links = entries
        .iter()
        .filter_map(|entry| {
            let producer = entry.producer.clone()?;
            let id = KeyValue::new(semconv::MESSAGING_MESSAGE_ID, entry.id.clone());
            Some(Link::new(producer, vec![id], 0))
        })
        .collect();
    let destination = spec.destination.as_ref().map_or("", StringValue::as_str);
    let builder = tracer
        .span_builder(format!("{operation} {destination}").trim_end().to_owned())
        .with_kind(SpanKind::Client)
        .with_start_time(started_at)
        .with_attributes(attributes)
        .with_links(links);
    let mut span = tracer.build_with_context(builder, parent);
    opentelemetry::trace::Span::end_with_timestamp(&mut span, ended_at);
}

/// `messaging.client.operation.duration` of a send, receive or settle, with `error.type` when
/// it failed.
pub(super) fn record_duration(
    spec: &MessagingSpec,
    operation: &str,
    endpoint: Option<&Endpoint>,
    seconds: f64,
    error: Option<String>,
) {
    let mut attributes = metric_attributes(spec, operation, endpoint);
    if let Some(error) = error {
        attributes.push(KeyValue::new(semconv::ERROR_TYPE, error));
    }
    with_instruments(|instruments| instruments.operation.record(seconds, &attributes));
}

fn with_instruments(record: impl FnOnce(&crate::metrics::MessagingInstruments)) {
    globals::with_instruments(|instruments| record(instruments.messaging()));
}

/// `messaging.client.sent.messages` (or `consumed`), with the destination and endpoint.
pub(super) fn count(spec: &MessagingSpec, operation: &str, endpoint: Option<&Endpoint>, n: u64) {
    if n == 0 {
        return;
    }
    let attributes = metric_attributes(spec, operation, endpoint);
    with_instruments(|instruments| {
        let counter = if spec.sends() {
            &instruments.sent
        } else {
            &instruments.consumed
        };
        counter.add(n, &attributes);
    });
}

/// The messaging attributes of a metric: no body size (per message, not per destination).
fn metric_attributes(
    spec: &MessagingSpec,
    operation: &str,
    endpoint: Option<&Endpoint>,
) -> Vec<KeyValue> {
    let mut attributes = Vec::new();
    spec.add_attributes(operation, &mut attributes);
    attributes.retain(|kv| kv.key.as_str() != semconv::MESSAGING_MESSAGE_BODY_SIZE);
    if let Some(endpoint) = endpoint {
        endpoint.push_server_attributes(&mut attributes);
    }
    attributes
}

/// `XADD`'s reply: the id of the entry it added.
pub(super) fn message_id(reply: &Value) -> Option<String> {
    match reply {
        Value::BulkString(id) => Some(String::from_utf8_lossy(id).into_owned()),
        Value::SimpleString(id) => Some(id.clone()),
        _ => None,
    }
}

/// The trace context a send carries: its span's, else the current one.
pub(super) fn sending_context(span: Option<&Context>) -> Context {
    span.cloned().unwrap_or_else(Context::current)
}

impl<C: redis::aio::ConnectionLike + Send> TracedConnection<C> {
    /// A messaging command: a PRODUCER span for a send (carrying the trace context when
    /// propagation is on, recording the id `XADD` returns), a `receive` span built after a
    /// stream read that returned entries (linked to their producers), a `settle` span for
    /// `XACK`.
    pub(super) async fn message_command(&mut self, kind: Kind, cmd: &Cmd) -> RedisResult<Value> {
        let args = cmd_args(cmd);
        let parent = Context::current();
        let started_at = SystemTime::now();
        let settings = crate::globals::settings();
        let config = &settings.config;
        let propagate = self
            .propagation
            .unwrap_or_else(|| config.propagate_messages());
        // On a cluster, the span names the master of the channel's or stream's slot.
        let (slot, node) = match self.cluster.clone() {
            Some(nodes) => {
                nodes.discover(&mut self.inner).await;
                let slot = describe::common_slot([args.as_slice()]);
                (slot, nodes.owner(slot))
            }
            None => (None, None),
        };
        let endpoint = node.or_else(|| self.endpoint.clone());
        let mut operation = Operation::start_command(
            |config| describe::command(&args, slot, config),
            endpoint.as_ref(),
        );
        let carrying = (propagate && matches!(kind, Kind::Publish | Kind::Append))
            .then(|| {
                let cx = sending_context(operation.span_context());
                with_context(cmd, kind, &cx)
            })
            .flatten();
        let sent = carrying.as_ref().unwrap_or(cmd);
        let mut result = operation
            .instrument(self.inner.req_packed_command(sent))
            .await;
        let ended_at = SystemTime::now();
        let endpoint = endpoint.or_else(|| settings.default_endpoint.clone());
        let name = describe::command_name(&args);
        let messaging = spec(&args, config);
        if let Some(spec) = &messaging {
            let seconds = ended_at
                .duration_since(started_at)
                .unwrap_or_default()
                .as_secs_f64();
            let error = match &result {
                Ok(Value::ServerError(error)) => Some(error.code().to_owned()),
                Ok(_) => None,
                Err(error) => Some(
                    crate::failure::Failure::error::<redis::RedisError>(error)
                        .attributes()
                        .error_type
                        .to_string(),
                ),
            };
            record_duration(spec, &name, endpoint.as_ref(), seconds, error);
        }
        if let (Some(spec), Ok(reply)) = (messaging, result.as_mut()) {
            let failed = matches!(reply, Value::ServerError(_));
            match kind {
                Kind::Publish | Kind::Append if !failed => {
                    if let Some(id) = message_id(reply).filter(|_| kind == Kind::Append) {
                        operation
                            .set_attribute(KeyValue::new(crate::semconv::MESSAGING_MESSAGE_ID, id));
                    }
                    count(&spec, &name, endpoint.as_ref(), 1);
                }
                Kind::Read if !failed => {
                    let entries = received(reply, propagate);
                    if !entries.is_empty() || config.trace_empty_polls() {
                        let times = (started_at, ended_at);
                        receive_span(&spec, &name, endpoint.as_ref(), &parent, times, &entries);
                    }
                    let entries_read = u64::try_from(entries.len()).unwrap_or(u64::MAX);
                    count(&spec, &name, endpoint.as_ref(), entries_read);
                    self.remember(entries);
                }
                _ => {}
            }
        }
        operation.finish_replies(&result);
        result
    }

    fn remember(&self, entries: Vec<Received>) {
        let mut producers = self
            .producers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for entry in entries {
            if let Some(producer) = entry.producer {
                if producers.len() == REMEMBERED_PRODUCERS {
                    producers.pop_front();
                }
                producers.push_back((entry.id, producer));
            }
        }
    }
}
