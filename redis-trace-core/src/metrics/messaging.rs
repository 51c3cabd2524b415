//! The messaging instruments: what pub/sub and streams record (`messaging/` and the traced
//! connection's messaging commands).

use opentelemetry::metrics::{Counter, Histogram, Meter};

use super::DURATION_BOUNDARIES;

/// A stream consumer lags by milliseconds when it keeps up, by minutes or hours when not.
const LAG_BOUNDARIES: [f64; 13] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0, 3600.0,
];
use crate::semconv;

/// `messaging.client.sent.messages`, `messaging.client.consumed.messages`,
/// `messaging.process.duration`, `messaging.client.operation.duration`.
pub(crate) struct MessagingInstruments {
    pub(crate) sent: Counter<u64>,
    pub(crate) consumed: Counter<u64>,
    pub(crate) process: Histogram<f64>,
    pub(crate) operation: Histogram<f64>,
    /// `redis.client.stream.lag`: each received stream entry's age, from its id.
    pub(crate) stream_lag: Histogram<f64>,
}

impl MessagingInstruments {
    pub(super) fn new(meter: &Meter) -> Self {
        Self {
            sent: meter
                .u64_counter(semconv::MESSAGING_CLIENT_SENT_MESSAGES)
                .with_unit("{message}")
                .build(),
            consumed: meter
                .u64_counter(semconv::MESSAGING_CLIENT_CONSUMED_MESSAGES)
                .with_unit("{message}")
                .build(),
            process: meter
                .f64_histogram(semconv::MESSAGING_PROCESS_DURATION)
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            stream_lag: meter
                .f64_histogram(semconv::REDIS_CLIENT_STREAM_LAG)
                .with_unit("s")
                .with_description("Time between a stream entry's creation and its receipt")
                .with_boundaries(LAG_BOUNDARIES.to_vec())
                .build(),
            operation: meter
                .f64_histogram(semconv::MESSAGING_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
        }
    }
}
