//! The messaging metrics of a traced connection's sends, reads and settles:
//! `messaging.client.operation.duration` and the sent and consumed message counts.

use opentelemetry::KeyValue;

use super::MessagingSpec;
use crate::endpoint::Endpoint;
use crate::metrics::MessagingInstruments;
use crate::{globals, semconv};

/// `messaging.client.operation.duration` of a send, receive or settle, with `error.type` when
/// it failed.
pub(crate) fn record_duration(
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

/// `redis.client.stream.lag` of each entry a stream read returned (`lags`, in seconds), with
/// the stream, the group and the endpoint.
pub(crate) fn record_lags(
    spec: &MessagingSpec,
    operation: &str,
    endpoint: Option<&Endpoint>,
    lags: &[f64],
) {
    if lags.is_empty() {
        return;
    }
    let attributes = metric_attributes(spec, operation, endpoint);
    with_instruments(|instruments| {
        for lag in lags {
            instruments.stream_lag.record(*lag, &attributes);
        }
    });
}

fn with_instruments(record: impl FnOnce(&MessagingInstruments)) {
    globals::with_instruments(|instruments| record(instruments.messaging()));
}

/// `messaging.client.sent.messages` (or `consumed`), with the destination and endpoint.
pub(crate) fn count(spec: &MessagingSpec, operation: &str, endpoint: Option<&Endpoint>, n: u64) {
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
