//! The best hand-written equivalent of `#[redis_traced]`: the same span and metrics, written
//! directly against the SDK with everything that can be prepared prepared once: a cached
//! tracer, static attribute keys and values, the span made current around the body, the
//! duration histogram and the hit counter recorded with prebuilt attribute slices.

use std::cell::RefCell;
use std::future::Future;
use std::time::Instant;

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, Key, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// What the hand-written instrumentation prepares once.
pub struct HandWritten {
    tracer: SdkTracer,
    duration: Histogram<f64>,
    requests: Counter<u64>,
    metric_attributes: [KeyValue; 3],
    hit: [KeyValue; 4],
    miss: [KeyValue; 4],
}

thread_local! {
    static HAND: RefCell<Option<std::sync::Arc<HandWritten>>> = const { RefCell::new(None) };
}

/// Prepares the hand-written instrumentation on this thread.
pub fn install(tracer_provider: &SdkTracerProvider, meter_provider: &SdkMeterProvider) {
    let meter = meter_provider.meter("hand-written");
    let metric_attributes = [
        KeyValue::new(Key::from_static_str("db.system.name"), "redis"),
        KeyValue::new(Key::from_static_str("db.operation.name"), "GET"),
        KeyValue::new(Key::from_static_str("db.query.summary"), "get user"),
    ];
    let with_hit = |hit: bool| {
        let [a, b, c] = metric_attributes.clone();
        [
            a,
            b,
            c,
            KeyValue::new(Key::from_static_str("cache.hit"), hit),
        ]
    };
    let hand = HandWritten {
        tracer: tracer_provider.tracer("hand-written"),
        duration: meter
            .f64_histogram("db.client.operation.duration")
            .with_unit("s")
            .with_boundaries(vec![
                0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
            ])
            .build(),
        requests: meter.u64_counter("redis_trace.cache.requests").build(),
        hit: with_hit(true),
        miss: with_hit(false),
        metric_attributes,
    };
    HAND.with(|slot| *slot.borrow_mut() = Some(std::sync::Arc::new(hand)));
}

/// Forgets the hand-written instrumentation on this thread.
pub fn uninstall() {
    HAND.with(|slot| *slot.borrow_mut() = None);
}

/// `call` traced by hand: a CLIENT span with the attributes `#[redis_traced]` records, current
/// while `call` runs, `cache.hit` and the status from the result; the duration and the hit or
/// miss recorded.
pub async fn traced<T, E: std::fmt::Display, F: Future<Output = Result<Option<T>, E>>>(
    call: F,
) -> Result<Option<T>, E> {
    let hand = HAND
        .with(|slot| slot.borrow().clone())
        .expect("hand-written instrumentation installed");
    let started = Instant::now();
    let span = hand
        .tracer
        .span_builder("get user")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new(Key::from_static_str("db.system.name"), "redis"),
            KeyValue::new(Key::from_static_str("db.operation.name"), "GET"),
            KeyValue::new(Key::from_static_str("db.query.summary"), "get user"),
            KeyValue::new(
                Key::from_static_str("code.function.name"),
                "bench::get_user",
            ),
            KeyValue::new(Key::from_static_str("code.file.path"), "benches/bench.rs"),
            KeyValue::new(Key::from_static_str("code.line.number"), 1_i64),
            KeyValue::new(Key::from_static_str("redis.key"), "user:?"),
        ])
        .start(&hand.tracer);
    let cx = Context::current_with_span(span);
    let result = opentelemetry::context::FutureExt::with_context(call, cx.clone()).await;
    let span = cx.span();
    match &result {
        Ok(value) => {
            span.set_attribute(KeyValue::new(
                Key::from_static_str("cache.hit"),
                value.is_some(),
            ));
            let attributes = if value.is_some() {
                &hand.hit
            } else {
                &hand.miss
            };
            hand.requests.add(1, attributes);
        }
        Err(error) => span.set_status(Status::error(error.to_string())),
    }
    span.end();
    hand.duration
        .record(started.elapsed().as_secs_f64(), &hand.metric_attributes);
    result
}
