//! A stream read's reply: the entries it returned with their producers' contexts (the carrier
//! fields removed when propagation is on), and the CLIENT `receive` span linked to them.

use std::time::SystemTime;

use opentelemetry::trace::{Link, SpanContext, SpanKind, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use redis::Value;

use super::{carrier, MessagingSpec};
use crate::endpoint::Endpoint;
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
    let carrier_fields = carrier::field_names();
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
    carrier::extract(carrier.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// The CLIENT `receive` span of a stream read that returned `entries`, linked to each entry's
/// producer, with the read's own times.
pub(crate) fn receive_span(
    spec: &MessagingSpec,
    operation: &str,
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
    let mut attributes = vec![
        KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS),
        KeyValue::new(semconv::DB_OPERATION_NAME, operation.to_owned()),
    ];
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
    let builder = tracer
        .span_builder(format!("{operation} {destination}").trim_end().to_owned())
        .with_kind(SpanKind::Client)
        .with_start_time(started_at)
        .with_attributes(attributes)
        .with_links(links);
    let mut span = tracer.build_with_context(builder, parent);
    opentelemetry::trace::Span::end_with_timestamp(&mut span, ended_at);
}
