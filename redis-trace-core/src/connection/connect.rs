//! A traced connection set-up: one CLIENT span over connect and handshake (AUTH / HELLO /
//! SELECT, which redis-rs sends while connecting), and the pool's `create_time`.

use std::future::Future;
use std::time::Instant;

use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use redis::RedisResult;

use crate::endpoint::Endpoint;
use crate::failure::Failure;
use crate::pooling::PoolTelemetry;
use crate::{globals, semconv};

/// Runs `connect`, traced as `connect {address}:{port}`; on failure the span carries
/// `error.type` (`WRONGPASS`, `NOAUTH`, `io`, `timeout`, ...) and `db.response.status_code` for
/// a server's refusal. What it records never holds credentials: only the endpoint (address,
/// port, database) and the error's class and code, never the URL.
pub(crate) async fn traced<T>(
    endpoint: Option<&Endpoint>,
    pool: Option<&PoolTelemetry>,
    connect: impl Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    let started = Instant::now();
    let mut span = start(endpoint);
    let result = connect.await;
    if let (Some(pool), Ok(_)) = (pool, &result) {
        record_create(pool, started);
    }
    if let Some(span) = span.as_mut() {
        end(span, result.as_ref().err());
    }
    result
}

/// The blocking form of [`traced`].
pub(crate) fn traced_blocking<T>(
    endpoint: Option<&Endpoint>,
    pool: Option<&PoolTelemetry>,
    connect: impl FnOnce() -> RedisResult<T>,
) -> RedisResult<T> {
    let started = Instant::now();
    let mut span = start(endpoint);
    let result = connect();
    if let (Some(pool), Ok(_)) = (pool, &result) {
        record_create(pool, started);
    }
    if let Some(span) = span.as_mut() {
        end(span, result.as_ref().err());
    }
    result
}

type BoxedSpan = crate::any_tracer::AnySpan;

/// `db.client.connection.create_time` of `pool`.
fn record_create(pool: &PoolTelemetry, started: Instant) {
    if globals::nothing_to_record() || !globals::settings().config.metrics() {
        return;
    }
    if let Some(instruments) = globals::metrics().instruments() {
        let took = started.elapsed().as_secs_f64();
        instruments
            .pool()
            .create_time
            .record(took, pool.attributes());
    }
}

fn start(endpoint: Option<&Endpoint>) -> Option<BoxedSpan> {
    if globals::nothing_to_record() {
        return None;
    }
    let slot = globals::tracer();
    let tracer = slot.tracer()?;
    let parent = Context::current();
    if globals::settings().config.require_parent() && !parent.has_active_span() {
        return None;
    }
    let mut attributes = vec![KeyValue::new(semconv::DB_SYSTEM_NAME, semconv::REDIS)];
    let name = match endpoint.and_then(|e| e.address().map(|a| (a.to_owned(), e.port()))) {
        Some((address, port)) => {
            attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, address.clone()));
            if let Some(port) = port {
                attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
            }
            match port {
                Some(port) => format!("connect {address}:{port}"),
                None => format!("connect {address}"),
            }
        }
        None => "connect".to_owned(),
    };
    if let Some(namespace) = endpoint.and_then(Endpoint::namespace_value) {
        attributes.push(KeyValue::new(semconv::DB_NAMESPACE, namespace));
    }
    let builder = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_attributes(attributes);
    Some(tracer.build_with_context(builder, &parent))
}

fn end(span: &mut BoxedSpan, error: Option<&redis::RedisError>) {
    if let Some(error) = error {
        let failure = Failure::error::<redis::RedisError>(error).attributes();
        if let Some(code) = failure.status_code {
            span.set_attribute(KeyValue::new(semconv::DB_RESPONSE_STATUS_CODE, code));
        }
        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, failure.error_type));
        span.set_status(Status::error(failure.message));
    }
    span.end();
}
