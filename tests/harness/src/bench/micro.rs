//! The micro-benchmark bodies: the same trivial async fn under each variant, no I/O.

use opentelemetry::trace::{Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use redis_trace::redis_traced;

use super::Variant;
use crate::block_on;

fn body(id: &str) -> redis::RedisResult<Option<usize>> {
    Ok(id.len().is_multiple_of(2).then_some(id.len()))
}

async fn raw(id: &str) -> redis::RedisResult<Option<usize>> {
    body(id)
}

#[redis_traced(op = "GET", key = "user:{id}", name = "get user")]
async fn traced(id: &str) -> redis::RedisResult<Option<usize>> {
    body(id)
}

/// The seed documents' style: a tracer per call, a Vec of attributes, the context attached
/// around the call, attributes set after.
async fn seed(id: &str) -> redis::RedisResult<Option<usize>> {
    let tracer = opentelemetry::global::tracer("redis");
    let span = tracer.start("redis.get");
    let cx = Context::current_with_span(span);
    let result = {
        let _guard = cx.clone().attach();
        body(id)
    };
    let span = cx.span();
    let attributes = vec![
        KeyValue::new("db.system", "redis"),
        KeyValue::new("db.operation", "GET"),
        KeyValue::new("db.statement", format!("GET user:{id}")),
    ];
    span.set_attributes(attributes);
    match &result {
        Ok(value) => span.set_attribute(KeyValue::new("cache.hit", value.is_some())),
        Err(error) => span.set_status(Status::error(error.to_string())),
    }
    span.end();
    result
}

#[tracing::instrument(fields(otel.kind = "client", db.system.name = "redis", db.operation.name = "GET"))]
async fn instrumented(id: &str) -> redis::RedisResult<Option<usize>> {
    body(id)
}

/// One call of the body under `variant` (installed beforehand with [`super::install`]).
pub fn call(variant: Variant, id: &str) -> redis::RedisResult<Option<usize>> {
    match variant {
        Variant::Raw => block_on(raw(id)),
        Variant::NoProvider
        | Variant::AlwaysOff
        | Variant::Full
        | Variant::SpanOnly
        | Variant::FullSampled => block_on(traced(id)),
        Variant::HandWritten | Variant::HandWrittenSampled => {
            block_on(super::hand::traced(async { body(id) }))
        }
        Variant::Seed => block_on(seed(id)),
        Variant::TracingInstrument => block_on(instrumented(id)),
        Variant::SdkFloorDropped => {
            let cx = super::sdk_floor_dropped_context();
            let result = {
                let _current = cx.clone().attach();
                block_on(raw(id))
            };
            cx.span().end();
            result
        }
        Variant::SdkFloor => {
            let result = block_on(raw(id));
            super::sdk_floor_span();
            result
        }
    }
}
