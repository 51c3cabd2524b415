//! The messaging metrics of a traced connection's sends, reads and settles:
//! `messaging.client.operation.duration` and the sent and consumed message counts.

use std::borrow::Cow;

use opentelemetry::KeyValue;

use super::MessagingSpec;
use crate::endpoint::Endpoint;
use crate::globals::{self, Settings};
use crate::metrics::MessagingInstruments;
use crate::semconv;

/// The messaging metrics of one command, their attributes built once (and only when a meter
/// records them).
pub(crate) struct MessageMetrics<'a> {
    spec: &'a MessagingSpec,
    attributes: Option<Vec<KeyValue>>,
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
            attributes = Some(metric_attributes(spec, operation, endpoint));
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
                let mut attributes = attributes.clone();
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
