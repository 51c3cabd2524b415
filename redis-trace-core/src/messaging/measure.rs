//! The messaging metrics of a traced connection's sends, reads and settles:
//! `messaging.client.operation.duration` and the sent and consumed message counts.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::{KeyValue, StringValue};

use redis_trace_commands::MessagingRole;

use super::MessagingSpec;
use crate::endpoint::Endpoint;
use crate::globals::{self, Settings};
use crate::metrics::MessagingInstruments;
use crate::semconv;

/// The messaging metrics of one command, their attributes built once per thread for each
/// destination (and only when a meter records them).
pub(crate) struct MessageMetrics<'a> {
    spec: &'a MessagingSpec,
    attributes: Option<Arc<[KeyValue]>>,
}

impl<'a> MessageMetrics<'a> {
    pub(crate) fn new(
        spec: &'a MessagingSpec,
        #[allow(clippy::ptr_arg)] // A `Cow`: a table name stays borrowed in the attribute.
        operation: &Cow<'static, str>,
        endpoint: Option<&Endpoint>,
    ) -> Self {
        let mut attributes = None;
        with_instruments(|_| {
            attributes = Some(kept_attributes(spec, operation, endpoint));
        });
        Self { spec, attributes }
    }

    /// `messaging.client.operation.duration` of a send, receive or settle, with `error.type`
    /// when it failed.
    pub(crate) fn record_duration(&self, seconds: f64, error: Option<String>) {
        let Some(attributes) = &self.attributes else {
            return;
        };
        match error {
            Some(error) => {
                let mut attributes = attributes.to_vec();
                attributes.push(KeyValue::new(semconv::ERROR_TYPE, error));
                with_instruments(|instruments| instruments.operation.record(seconds, &attributes));
            }
            None => {
                with_instruments(|instruments| instruments.operation.record(seconds, attributes));
            }
        }
    }

    /// `redis.client.stream.lag` of each entry a stream read returned (`lags`, in seconds),
    /// with the stream, the group and the endpoint.
    pub(crate) fn record_lags(&self, lags: &[f64]) {
        let Some(attributes) = self.attributes.as_ref().filter(|_| !lags.is_empty()) else {
            return;
        };
        with_instruments(|instruments| {
            for lag in lags {
                instruments.stream_lag.record(*lag, attributes);
            }
        });
    }

    /// `messaging.client.sent.messages` (or `consumed`), with the destination and endpoint.
    pub(crate) fn count(&self, n: u64) {
        let Some(attributes) = self.attributes.as_ref().filter(|_| n > 0) else {
            return;
        };
        let sends = self.spec.sends();
        with_instruments(|instruments| {
            let counter = if sends {
                &instruments.sent
            } else {
                &instruments.consumed
            };
            counter.add(n, attributes);
        });
    }
}

fn with_instruments(record: impl FnOnce(&MessagingInstruments)) {
    with_settings_and_instruments(|_, instruments| record(instruments));
}

/// [`globals::with_settings_and_instruments`] with the messaging instruments.
pub(super) fn with_settings_and_instruments(record: impl FnOnce(&Settings, &MessagingInstruments)) {
    globals::with_settings_and_instruments(|settings, instruments| {
        record(settings, instruments.messaging());
    });
}

/// What a metric's messaging attributes are built from: a command's role, or none for a
/// delivery's process and consume metrics.
struct Source<'a> {
    role: Option<MessagingRole>,
    operation: &'a Cow<'static, str>,
    destination: Option<&'a StringValue>,
    group: Option<&'a StringValue>,
    endpoint: Option<&'a Endpoint>,
}

/// The metric attributes of a destination, as this thread built them last.
struct Kept {
    role: Option<MessagingRole>,
    operation: Cow<'static, str>,
    /// Held: while kept, their texts' addresses name them (destinations and groups are
    /// shared renderings, the same `Arc` for a repeat).
    destination: Option<StringValue>,
    group: Option<StringValue>,
    endpoint: Option<Endpoint>,
    attributes: Arc<[KeyValue]>,
}

impl Kept {
    fn is_for(&self, source: &Source<'_>) -> bool {
        let same_text =
            |kept: &Option<StringValue>, other: Option<&StringValue>| match (kept, other) {
                (Some(kept), Some(other)) => std::ptr::eq(kept.as_str(), other.as_str()),
                (None, None) => true,
                _ => false,
            };
        self.role == source.role
            && self.operation == *source.operation
            && same_text(&self.destination, source.destination)
            && same_text(&self.group, source.group)
            && Endpoint::are_same(self.endpoint.as_ref(), source.endpoint)
    }
}

/// Destinations whose attributes each thread keeps.
const KEPT: usize = 8;

thread_local! {
    static KEPT_ATTRIBUTES: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
}

/// The metric attributes of `source`: this thread's when it built them last, else `build`'s
/// (kept, replacing the oldest past [`KEPT`]).
fn kept(source: &Source<'_>, build: impl FnOnce() -> Vec<KeyValue>) -> Arc<[KeyValue]> {
    let mut build = Some(build);
    let found = KEPT_ATTRIBUTES.try_with(|kept| {
        let mut kept = kept.try_borrow_mut().ok()?;
        if let Some(entry) = kept.iter().find(|entry| entry.is_for(source)) {
            return Some(Arc::clone(&entry.attributes));
        }
        let attributes: Arc<[KeyValue]> = build.take()?().into();
        if kept.len() == KEPT {
            kept.remove(0);
        }
        kept.push(Kept {
            role: source.role,
            operation: source.operation.clone(),
            destination: source.destination.cloned(),
            group: source.group.cloned(),
            endpoint: source.endpoint.cloned(),
            attributes: Arc::clone(&attributes),
        });
        Some(attributes)
    });
    match (found, build) {
        (Ok(Some(attributes)), _) => attributes,
        (_, Some(build)) => build().into(),
        (_, None) => Arc::new([]),
    }
}

/// A command's metric attributes (see [`metric_attributes`]), kept per thread.
fn kept_attributes(
    spec: &MessagingSpec,
    #[allow(clippy::ptr_arg)] // A `Cow`: a table name stays borrowed in the attribute.
    operation: &Cow<'static, str>,
    endpoint: Option<&Endpoint>,
) -> Arc<[KeyValue]> {
    let source = Source {
        role: Some(spec.role),
        operation,
        destination: spec.destination.as_ref(),
        group: spec.group.as_ref(),
        endpoint,
    };
    kept(&source, || metric_attributes(spec, operation, endpoint))
}

/// The metric attributes of a delivery's `operation` (`process`, `receive`): the system, the
/// destination, the server and `messaging.operation.name`, kept per thread.
pub(super) fn delivery_attributes(
    operation: &'static str,
    destination: &StringValue,
    endpoint: Option<&Endpoint>,
) -> Arc<[KeyValue]> {
    let source = Source {
        role: None,
        operation: &Cow::Borrowed(operation),
        destination: Some(destination),
        group: None,
        endpoint,
    };
    kept(&source, || {
        let mut attributes = delivery_base(destination, endpoint);
        attributes.push(KeyValue::new(semconv::MESSAGING_OPERATION_NAME, operation));
        attributes
    })
}

/// `messaging.system`, the destination and the server: what a delivery's spans and metrics
/// share.
pub(super) fn delivery_base(
    destination: &StringValue,
    endpoint: Option<&Endpoint>,
) -> Vec<KeyValue> {
    // Room for the server's two, and what the span or metric adds (at most five).
    let mut attributes = Vec::with_capacity(9);
    attributes.push(KeyValue::new(semconv::MESSAGING_SYSTEM, semconv::REDIS));
    attributes.push(KeyValue::new(
        semconv::MESSAGING_DESTINATION_NAME,
        destination.clone(),
    ));
    if let Some(endpoint) = endpoint {
        endpoint.push_server_attributes(&mut attributes);
    }
    attributes
}

/// The messaging attributes of a metric: no body size (per message, not per destination).
fn metric_attributes(
    spec: &MessagingSpec,
    #[allow(clippy::ptr_arg)] // A `Cow`: a table name stays borrowed in the attribute.
    operation: &Cow<'static, str>,
    endpoint: Option<&Endpoint>,
) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(8);
    spec.add_metric_attributes(operation, &mut attributes);
    if let Some(endpoint) = endpoint {
        endpoint.push_server_attributes(&mut attributes);
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish_to(destination: &str) -> MessagingSpec {
        MessagingSpec {
            role: MessagingRole::Publish,
            destination: Some(crate::intern::share(destination)),
            group: None,
            body_size: Some(3),
        }
    }

    fn value_of(attributes: &[KeyValue], key: &str) -> String {
        let found = attributes.iter().find(|kv| kv.key.as_str() == key);
        found.map_or_else(String::new, |kv| kv.value.as_str().into_owned())
    }

    #[test]
    fn a_destination_keeps_its_metric_attributes_per_thread() {
        let operation = Cow::Borrowed("PUBLISH");
        let server = Endpoint::tcp("cache", 6379);
        let first = kept_attributes(&publish_to("orders"), &operation, Some(&server));
        let again = kept_attributes(&publish_to("orders"), &operation, Some(&server));
        assert!(Arc::ptr_eq(&first, &again), "a repeat shares the list");
        assert_eq!(
            value_of(&first, semconv::MESSAGING_DESTINATION_NAME),
            "orders"
        );
        assert_eq!(value_of(&first, semconv::SERVER_PORT), "6379");
        let other_server = Endpoint::tcp("cache", 6380);
        let elsewhere = kept_attributes(&publish_to("orders"), &operation, Some(&other_server));
        assert_eq!(value_of(&elsewhere, semconv::SERVER_PORT), "6380");
        // More destinations than are kept: each gets its own, the oldest are built again.
        for round in 0..2 {
            for index in 0..2 * KEPT {
                let name = format!("queue-{index}");
                let attributes = kept_attributes(&publish_to(&name), &operation, Some(&server));
                assert_eq!(
                    value_of(&attributes, semconv::MESSAGING_DESTINATION_NAME),
                    name,
                    "round {round}"
                );
            }
        }
        // A delivery's metrics from the same destination: lists of their own.
        let orders = crate::intern::share("orders");
        let processed = delivery_attributes("process", &orders, Some(&server));
        let consumed = delivery_attributes("receive", &orders, Some(&server));
        assert!(Arc::ptr_eq(
            &processed,
            &delivery_attributes("process", &orders, Some(&server))
        ));
        let sent = kept_attributes(&publish_to("orders"), &operation, Some(&server));
        let expected = [
            (&processed, semconv::MESSAGING_OPERATION_NAME, "process"),
            (&consumed, semconv::MESSAGING_OPERATION_NAME, "receive"),
            (&consumed, semconv::MESSAGING_DESTINATION_NAME, "orders"),
            (&sent, semconv::MESSAGING_OPERATION_NAME, "PUBLISH"),
            (&sent, semconv::MESSAGING_DESTINATION_NAME, "orders"),
        ];
        for (attributes, key, value) in expected {
            assert_eq!(value_of(attributes, key), value, "{key}");
        }
    }
}
