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
///
/// Each variant runs in a function of its own that is never inlined here, so that a change to
/// one variant's code does not change how another is compiled (seen: a change to the
/// hand-written reference moved the no-provider variant by 40 instructions).
pub fn call(variant: Variant, id: &str) -> redis::RedisResult<Option<usize>> {
    match variant {
        Variant::Raw => call_raw(id),
        Variant::NoProvider
        | Variant::AlwaysOff
        | Variant::Full
        | Variant::SpanOnly
        | Variant::FullSampled => call_traced(id),
        Variant::HandWritten | Variant::HandWrittenSampled => call_hand_written(id),
        Variant::Seed => call_seed(id),
        Variant::TracingInstrument => call_instrumented(id),
        Variant::SdkFloorDropped => call_sdk_floor_dropped(id),
        Variant::SdkFloor => call_sdk_floor(id),
    }
}

#[inline(never)]
fn call_raw(id: &str) -> redis::RedisResult<Option<usize>> {
    block_on(raw(id))
}

#[inline(never)]
fn call_traced(id: &str) -> redis::RedisResult<Option<usize>> {
    block_on(traced(id))
}

#[inline(never)]
fn call_hand_written(id: &str) -> redis::RedisResult<Option<usize>> {
    block_on(super::hand::traced(async { body(id) }))
}

#[inline(never)]
fn call_seed(id: &str) -> redis::RedisResult<Option<usize>> {
    block_on(seed(id))
}

#[inline(never)]
fn call_instrumented(id: &str) -> redis::RedisResult<Option<usize>> {
    block_on(instrumented(id))
}

#[inline(never)]
fn call_sdk_floor_dropped(id: &str) -> redis::RedisResult<Option<usize>> {
    let cx = super::sdk_floor_dropped_context();
    let result = {
        let _current = cx.clone().attach();
        block_on(raw(id))
    };
    cx.span().end();
    result
}

#[inline(never)]
fn call_sdk_floor(id: &str) -> redis::RedisResult<Option<usize>> {
    let result = block_on(raw(id));
    super::sdk_floor_span();
    result
}
