//! A traced connection set-up: one CLIENT span over connect and handshake (AUTH / HELLO /
//! SELECT, which redis-rs sends while connecting), and the pool's `create_time`.

use std::future::Future;
use std::time::Instant;

use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use redis::RedisResult;

use crate::endpoint::Endpoint;
use crate::failure::Failure;
use crate::metrics::PoolTelemetry;
use crate::{globals, semconv};

/// Runs `connect`, traced as `connect {address}:{port}`; on failure the span carries
/// `error.type` (`io`, `timeout`, `authentication_failed` for a refused password: redis-rs
/// drops the server's `WRONGPASS`) and `db.response.status_code` when a server's error code
/// reached redis-trace. What it records never holds credentials: only the endpoint (address,
/// port, database) and the error's class and code, never the URL.
pub(crate) async fn traced<T>(
    endpoint: Option<&Endpoint>,
    pool: Option<&PoolTelemetry>,
    connect: impl Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    let set_up = SetUp::begin(endpoint);
    let result = connect.await;
    set_up.end(pool, &result);
    result
}

/// The blocking form of [`traced`].
pub(crate) fn traced_blocking<T>(
    endpoint: Option<&Endpoint>,
    pool: Option<&PoolTelemetry>,
    connect: impl FnOnce() -> RedisResult<T>,
) -> RedisResult<T> {
    let set_up = SetUp::begin(endpoint);
    let result = connect();
    set_up.end(pool, &result);
    result
}

/// One connection set-up under way: when it started, and its span.
struct SetUp {
    started: Instant,
    span: Option<BoxedSpan>,
}

impl SetUp {
    fn begin(endpoint: Option<&Endpoint>) -> Self {
        Self {
            started: Instant::now(),
            span: start(endpoint),
        }
    }

    /// Ends the span; a connection opened for `pool` counts in its `create_time`.
    fn end<T>(self, pool: Option<&PoolTelemetry>, result: &RedisResult<T>) {
        if let (Some(pool), Ok(_)) = (pool, result) {
            record_create(pool, self.started);
        }
        if let Some(mut span) = self.span {
            end(&mut span, result.as_ref().err());
        }
    }
}

type BoxedSpan = crate::tracer::AnySpan;

/// `db.client.connection.create_time` of `pool`.
fn record_create(pool: &PoolTelemetry, started: Instant) {
    let took = started.elapsed().as_secs_f64();
    globals::with_instruments(|i| i.pool().create_time.record(took, pool.attributes()));
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
