//! A stream read's reply: the entries it returned with their producers' contexts (the carrier
//! fields removed when propagation is on), and the CLIENT `receive` span linked to them.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Link, SpanContext, SpanKind, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use redis::Value;

use super::carrier::{self, Carrier};
use super::MessagingSpec;
use crate::endpoint::Endpoint;
use crate::span_names::operation_span_name;
use crate::{globals, semconv};

/// One entry a stream read returned.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) id: String,
    pub(crate) producer: Option<SpanContext>,
}

/// The entries of an `XREAD` / `XREADGROUP` reply (RESP2 arrays or RESP3 maps), with their
/// producers' contexts; with `strip`, their carrier fields are removed from `reply`.
pub(crate) fn received(reply: &mut Value, strip: bool) -> Vec<Received> {
    let mut found = Vec::new();
    // One read of the propagator for the whole reply: its field names and its extraction.
    carrier::with_propagator(|propagator| {
        let is_carrier = |name: &[u8]| carrier::is_field(propagator, name);
        for_each_entry(reply, |id, fields| {
            let producer = fields.and_then(|fields| {
                let producer = Carrier::of(carrier_pairs(fields, is_carrier))
                    .and_then(|carrier| carrier.extract(propagator));
                if strip {
                    remove_carrier_pairs(fields, is_carrier);
                }
                producer
            });
            found.push(Received {
                id: id.to_owned(),
                producer,
            });
        });
    });
    found
}

/// What a reader gets when nothing is recorded: `reply` with the carrier fields removed from
/// its entries, as [`received`] with `strip` leaves it; no context is read.
pub(crate) fn strip_carriers(reply: &mut Value) {
    carrier::with_propagator(|propagator| {
        let is_carrier = |name: &[u8]| carrier::is_field(propagator, name);
        for_each_entry(reply, |_, fields| {
            if let Some(fields) = fields {
                remove_carrier_pairs(fields, is_carrier);
            }
        });
    });
}

/// Calls `visit` with the id and fields (`[name, value, name, value, ...]`, if an array) of
/// each entry of a stream read's reply: RESP2 `[[stream, entries], ...]` or RESP3
/// `{stream: entries}`, each entry `[id, fields]`. An entry without a text id is skipped.
fn for_each_entry(reply: &mut Value, mut visit: impl FnMut(&str, Option<&mut Vec<Value>>)) {
    let mut stream = |entries: &mut Value| {
        let Value::Array(entries) = entries else {
            return;
        };
        for entry in entries {
            let Value::Array(parts) = entry else {
                continue;
            };
            let Some((id, rest)) = parts.split_first_mut() else {
                continue;
            };
            let id = match id {
                Value::BulkString(id) => String::from_utf8_lossy(id),
                Value::SimpleString(id) => std::borrow::Cow::Borrowed(id.as_str()),
                _ => continue,
            };
            let fields = match rest.first_mut() {
                Some(Value::Array(fields)) => Some(fields),
                _ => None,
            };
            visit(&id, fields);
        }
    };
    match reply {
        Value::Array(streams) => {
            for pair in streams {
                match pair {
                    Value::Array(pair) if pair.len() == 2 => stream(&mut pair[1]),
                    _ => {}
                }
            }
        }
        Value::Map(pairs) => {
            for (_, entries) in pairs {
                stream(entries);
            }
        }
        _ => {}
    }
}

/// The carrier pairs among an entry's fields, as text (a pair that is not text is no carrier:
/// the propagator reads printable ASCII only).
fn carrier_pairs(
    fields: &[Value],
    is_carrier: impl Fn(&[u8]) -> bool,
) -> impl Iterator<Item = (&str, &str)> {
    fields.chunks_exact(2).filter_map(move |pair| match pair {
        [Value::BulkString(name), Value::BulkString(value)] if is_carrier(name) => Some((
            std::str::from_utf8(name).ok()?,
            std::str::from_utf8(value).ok()?,
        )),
        _ => None,
    })
}

/// Removes the carrier pairs from an entry's fields in place, keeping the order of the rest.
fn remove_carrier_pairs(fields: &mut Vec<Value>, is_carrier: impl Fn(&[u8]) -> bool) {
    let mut kept = 0;
    let mut read = 0;
    while read + 1 < fields.len() {
        let carrier = matches!(
            (&fields[read], &fields[read + 1]),
            (Value::BulkString(name), Value::BulkString(_)) if is_carrier(name)
        );
        if !carrier {
            if kept != read {
                fields.swap(kept, read);
                fields.swap(kept + 1, read + 1);
            }
            kept += 2;
        }
        read += 2;
    }
    // A field without a value (not sent by Redis) stays.
    if read < fields.len() {
        fields.swap(kept, read);
        kept += 1;
    }
    fields.truncate(kept);
}

/// The CLIENT `receive` span of a stream read that returned `entries`, linked to each entry's
/// producer, with the read's own times.
pub(crate) fn receive_span(
    spec: &MessagingSpec,
    #[allow(clippy::ptr_arg)] // A `Cow`: a table name stays borrowed in the attribute.
    operation: &Cow<'static, str>,
    (endpoint, peer): (Option<&Endpoint>, Option<&Endpoint>),
    parent: &Context,
    (started_at, ended_at): (SystemTime, SystemTime),
    entries: &[Received],
    max_lag: Option<f64>,
) {
    let slot = globals::tracer();
    let Some(tracer) = slot.tracer() else {
        return;
    };
    // db.system.name, db.operation.name, 6 messaging.*, the batch count, db.namespace, 2
    // server.*, 2 network.peer.*, the lag.
    let mut attributes = Vec::with_capacity(16);
    attributes.push(KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS));
    attributes.push(KeyValue::new(semconv::DB_OPERATION_NAME, operation.clone()));
    spec.add_attributes(operation, &mut attributes);
    let count = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    attributes.push(KeyValue::new(semconv::MESSAGING_BATCH_MESSAGE_COUNT, count));
    if let Some(endpoint) = endpoint {
        endpoint.push_database_attributes(&mut attributes);
    }
    if let Some(peer) = peer {
        peer.push_peer_attributes(&mut attributes);
    }
    if let Some(lag) = max_lag {
        attributes.push(KeyValue::new(semconv::REDIS_STREAM_MAX_LAG, lag));
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
    // `{operation} {destination}` (the operation alone without one), kept for table commands.
    let name = match operation {
        Cow::Borrowed(operation) => operation_span_name(operation, destination.trim_end()),
        Cow::Owned(operation) => {
            let name = format!("{operation} {destination}");
            Cow::Owned(name.trim_end().to_owned())
        }
    };
    // Fields set in place: the builder's methods move it at each step.
    let mut builder = tracer.span_builder(name);
    builder.span_kind = Some(SpanKind::Client);
    builder.start_time = Some(started_at);
    builder.attributes = Some(attributes);
    builder.links = Some(links);
    let mut span = tracer.build_with_context(builder, parent);
    opentelemetry::trace::Span::end_with_timestamp(&mut span, ended_at);
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[&str]) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(fields.iter().map(|field| bulk(field)).collect()),
        ])
    }

    /// An `XREADGROUP` reply in RESP2 (`[[stream, entries]]`) and RESP3 (`{stream: entries}`).
    fn replies(entries: Vec<Value>) -> [Value; 2] {
        [
            Value::Array(vec![Value::Array(vec![
                bulk("orders"),
                Value::Array(entries.clone()),
            ])]),
            Value::Map(vec![(bulk("orders"), Value::Array(entries))]),
        ]
    }

    fn written() -> Vec<Value> {
        vec![
            entry(
                "1-0",
                &[
                    "sku",
                    "42",
                    "traceparent",
                    PARENT,
                    "qty",
                    "1",
                    "tracestate",
                    "k=v",
                ],
            ),
            entry("2-0", &["TraceParent", PARENT, "sku", "43"]),
            entry("3-0", &["sku", "44"]),
        ]
    }

    fn as_read() -> Vec<Value> {
        vec![
            entry("1-0", &["sku", "42", "qty", "1"]),
            entry("2-0", &["sku", "43"]),
            entry("3-0", &["sku", "44"]),
        ]
    }

    #[test]
    fn stripping_leaves_the_entries_as_written_by_the_user() {
        for (mut reply, expected) in replies(written()).into_iter().zip(replies(as_read())) {
            strip_carriers(&mut reply);
            assert_eq!(reply, expected);
        }
    }

    #[test]
    fn received_strips_the_same_fields_and_reads_the_producers() {
        for (mut reply, expected) in replies(written()).into_iter().zip(replies(as_read())) {
            let entries = received(&mut reply, true);
            assert_eq!(reply, expected);
            let ids: Vec<&str> = entries.iter().map(|entry| entry.id.as_str()).collect();
            assert_eq!(ids, ["1-0", "2-0", "3-0"]);
            let spans: Vec<Option<String>> = (entries.iter())
                .map(|entry| entry.producer.as_ref().map(|p| p.span_id().to_string()))
                .collect();
            let parent = Some("00f067aa0ba902b7".to_owned());
            assert_eq!(spans, [parent.clone(), parent, None]);
            assert_eq!(
                entries[0].producer.as_ref().unwrap().trace_state().header(),
                "k=v"
            );
        }
    }

    #[test]
    fn without_strip_the_reply_is_untouched() {
        for (mut reply, expected) in replies(written()).into_iter().zip(replies(written())) {
            let entries = received(&mut reply, false);
            assert_eq!(reply, expected);
            assert!(entries[0].producer.is_some());
        }
    }

    #[test]
    fn odd_fields_and_odd_shapes_are_kept() {
        let mut reply = Value::Array(vec![Value::Array(vec![
            bulk("orders"),
            Value::Array(vec![
                entry("1-0", &["sku", "42", "traceparent", PARENT, "dangling"]),
                Value::Array(vec![Value::Int(7), Value::Array(vec![bulk("traceparent")])]),
                Value::Nil,
            ]),
        ])]);
        let expected = Value::Array(vec![Value::Array(vec![
            bulk("orders"),
            Value::Array(vec![
                entry("1-0", &["sku", "42", "dangling"]),
                Value::Array(vec![Value::Int(7), Value::Array(vec![bulk("traceparent")])]),
                Value::Nil,
            ]),
        ])]);
        strip_carriers(&mut reply);
        assert_eq!(reply, expected);
    }
}
