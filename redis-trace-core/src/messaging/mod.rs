//! Pub/sub and streams traced end to end: producer spans, trace context carried from producer
//! to consumer, consumer spans linked to (and by default parented by) the producer's.
//!
//! - **Producer**: through a [`TracedConnection`](crate::TracedConnection), `PUBLISH`,
//!   `SPUBLISH` and `XADD` are PRODUCER spans (`messaging.operation.type = send`) with the
//!   destination and, for `XADD`, the entry id Redis returned; `XACK` is a `settle` span.
//! - **Carrying the context** is an explicit choice, because it changes what other consumers
//!   see: `TracedConnection::with_propagation(true)`, or `ConfigBuilder::with_propagation(true)` /
//!   `REDIS_TRACE_PROPAGATE_MESSAGES=true` for every traced connection; off by default. Pub/sub
//!   payloads travel in the envelope of [`envelope`] (stable format, documented there); stream
//!   entries get the propagator's fields (`traceparent`, `tracestate`) appended. For one call:
//!   [`wrap_payload`] and [`carrier_fields`] under the current context.
//! - **Pub/sub consumer**: [`TracedPubSub`] over redis-rs's async `PubSub`; each [`Message`]
//!   gives the original payload back and runs its handler under a CONSUMER `process` span.
//! - **Streams consumer**: `XREAD` / `XREADGROUP` through a `TracedConnection` with propagation
//!   on return entries without the carrier fields, under a `receive` span linked to every
//!   entry's producer; an empty poll records no span.
//!
//! The propagator is the globally configured `TextMapPropagator`, W3C trace context when none
//! is configured.
//
// Layout: `command` (what a messaging command is on a span and a metric), `send` (the context
// a send carries), `receive` (a stream read's entries and its receive span), `lag` (an
// entry's lag from its id), `process` (the consumer's process span and the context it
// continues, `MessageParent`), `measure` (the messaging metrics), `carrier` and `envelope` (the
// wire formats), `pubsub` (the consumer wrapper, on top of `process`). The traced connection
// drives the first four; nothing here knows the connection.

mod carrier;
mod command;
pub mod envelope;
mod lag;
mod measure;
mod process;
mod pubsub;
mod receive;
mod remembered;
mod send;

use opentelemetry::trace::SpanContext;
use opentelemetry::Context;

pub use self::process::MessageParent;
pub use self::pubsub::{Message, TracedBlockingPubSub, TracedPubSub};

/// `payload` in an envelope carrying the current trace context (unchanged when there is none):
/// publish it with any client, a [`TracedPubSub`] consumer gets `payload` back.
pub fn wrap_payload(payload: &[u8]) -> Vec<u8> {
    let fields = carrier::inject(&Context::current());
    envelope::wrap(&fields, payload).unwrap_or_else(|| payload.to_vec())
}

/// The original payload of `message` and the trace context its envelope carried, if any.
pub fn unwrap_payload(message: &[u8]) -> (&[u8], Option<SpanContext>) {
    envelope::unwrap(message)
}

/// The fields (`traceparent`, `tracestate` with W3C) that carry the current trace context, to
/// add to an `XADD` entry; empty when there is no current span.
pub fn carrier_fields() -> Vec<(String, String)> {
    carrier::inject(&Context::current())
}

pub(crate) use self::command::{describe, MessagingSpec};
pub(crate) use self::lag::lag_of;
pub(crate) use self::measure::MessageMetrics;
pub(crate) use self::receive::{receive_span, received, Received};
pub(crate) use self::remembered::Producers;
pub(crate) use self::send::{message_id, sending_context, with_context};

/// A messaging command a traced connection sends with propagation on when nothing is recorded
/// (no span, no metric): what the user gets is still what an untraced reader gets. A send
/// carries the current context if there is a valid one (another instrumentation's); a stream
/// read's entries come back without the carrier fields a traced producer added. No context is
/// read and no producer remembered.
pub(crate) async fn unrecorded<C: redis::aio::ConnectionLike>(
    inner: &mut C,
    role: redis_trace_commands::MessagingRole,
    cmd: &redis::Cmd,
) -> redis::RedisResult<redis::Value> {
    use redis_trace_commands::MessagingRole;
    let carrying = match role {
        MessagingRole::Publish | MessagingRole::Append => {
            with_context(cmd, role, &Context::current())
        }
        MessagingRole::Read | MessagingRole::Acknowledge => None,
    };
    let mut result = inner
        .req_packed_command(carrying.as_ref().unwrap_or(cmd))
        .await;
    if let (MessagingRole::Read, Ok(reply)) = (role, result.as_mut()) {
        if !matches!(reply, redis::Value::ServerError(_)) {
            receive::strip_carriers(reply);
        }
    }
    result
}

/// Runs `handle` under a CONSUMER span `process {stream}` for the stream entry `id` whose
/// producer's context is `producer` (see `TracedConnection::producer_of`): the current context
/// while it runs, linked to the producer (and its child with `MessageParent::Producer`, the
/// default here).
pub async fn process_entry<F: std::future::Future>(
    stream: &str,
    id: &str,
    producer: Option<SpanContext>,
    handle: F,
) -> F::Output {
    let delivery = process::Delivery {
        destination: stream.as_bytes().to_vec(),
        template: None,
        id: Some(id.to_owned()),
        body_size: None,
        producer: process::Producer::Known(producer),
        parent: MessageParent::Producer,
        endpoint: None,
        rendered: std::sync::OnceLock::new(),
    };
    delivery.process(handle).await
}
