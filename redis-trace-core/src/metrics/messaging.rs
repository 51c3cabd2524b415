//! The messaging instruments: what pub/sub and streams record (`messaging/` and the traced
//! connection's messaging commands).

use opentelemetry::metrics::{Counter, Histogram, Meter};

use super::DURATION_BOUNDARIES;
use crate::semconv;

/// `messaging.client.sent.messages`, `messaging.client.consumed.messages`,
/// `messaging.process.duration`, `messaging.client.operation.duration`.
pub(crate) struct MessagingInstruments {
    pub(crate) sent: Counter<u64>,
    pub(crate) consumed: Counter<u64>,
    pub(crate) process: Histogram<f64>,
    pub(crate) operation: Histogram<f64>,
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
            operation: meter
                .f64_histogram(semconv::MESSAGING_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
        }
    }
}
