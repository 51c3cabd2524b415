//! The best hand-written equivalents of redis-trace's messaging paths, for
//! `benches/connection.rs`: a `PUBLISH` that carries the trace context in the same envelope as
//! a traced connection with propagation (PRODUCER span, the same attributes, the command and
//! messaging metrics), and a consumer that reads it back and handles the message under a
//! CONSUMER span (parent and link, the process and consumed metrics). Everything that can be
//! prepared is prepared once; the W3C propagator is the SDK's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, Key, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use redis::{Cmd, RedisFuture, Value};

use super::connection::{HOST, PORT};

const MARKER: &[u8] = b"\x1eotel1\x1e";
const SEPARATOR: u8 = 0x1e;

struct Prepared {
    tracer: SdkTracer,
    propagator: TraceContextPropagator,
    db_duration: Histogram<f64>,
    operation_duration: Histogram<f64>,
    sent: Counter<u64>,
    process: Histogram<f64>,
    consumed: Counter<u64>,
    /// The command's metric attributes.
    command: [KeyValue; 5],
    /// The messaging metrics' attributes: system, destination, operation name, server.
    send: [KeyValue; 5],
    process_attributes: [KeyValue; 5],
    receive: [KeyValue; 5],
}

static PREPARED: Mutex<Option<Arc<Prepared>>> = Mutex::new(None);

const CHANNEL: &str = "orders";

/// Prepares the hand-written messaging instrumentation (one channel, `orders`).
pub fn install(tracer_provider: &SdkTracerProvider, meter_provider: &SdkMeterProvider) {
    let meter = meter_provider.meter("hand-written");
    let histogram = |name: &'static str| {
        meter
            .f64_histogram(name)
            .with_unit("s")
            .with_boundaries(super::DURATION_BOUNDARIES.to_vec())
            .build()
    };
    let messaging = |operation: &'static str| {
        [
            KeyValue::new(Key::from_static_str("messaging.system"), "redis"),
            KeyValue::new(Key::from_static_str("messaging.destination.name"), CHANNEL),
            KeyValue::new(Key::from_static_str("messaging.operation.name"), operation),
            KeyValue::new(Key::from_static_str("server.address"), HOST),
            KeyValue::new(Key::from_static_str("server.port"), i64::from(PORT)),
        ]
    };
    *PREPARED.lock().unwrap() = Some(Arc::new(Prepared {
        tracer: tracer_provider.tracer("hand-written"),
        propagator: TraceContextPropagator::new(),
        db_duration: histogram("db.client.operation.duration"),
        operation_duration: histogram("messaging.client.operation.duration"),
        sent: meter.u64_counter("messaging.client.sent.messages").build(),
        process: histogram("messaging.process.duration"),
        consumed: meter
            .u64_counter("messaging.client.consumed.messages")
            .build(),
        command: [
            KeyValue::new(Key::from_static_str("db.system.name"), "redis"),
            KeyValue::new(Key::from_static_str("db.operation.name"), "PUBLISH"),
            KeyValue::new(Key::from_static_str("server.address"), HOST),
            KeyValue::new(Key::from_static_str("server.port"), i64::from(PORT)),
            KeyValue::new(Key::from_static_str("db.namespace"), "0"),
        ],
        send: messaging("PUBLISH"),
        process_attributes: messaging("process"),
        receive: messaging("receive"),
    }));
}

fn prepared() -> Arc<Prepared> {
    PREPARED.lock().unwrap().clone().expect("installed")
}

/// A connection whose `PUBLISH`es carry the trace context, traced by hand.
pub struct HandPublisher<C> {
    inner: C,
    prepared: Arc<Prepared>,
}

impl<C> HandPublisher<C> {
    /// Wraps `inner` (after [`install`]).
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            prepared: prepared(),
        }
    }
}

/// The carrier fields' `name=value&...` for `cx`.
struct Carrier(HashMap<String, String>);

impl opentelemetry::propagation::Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl opentelemetry::propagation::Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for HandPublisher<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Self { inner, prepared } = self;
        let payload = match cmd.args_iter().nth(2) {
            Some(redis::Arg::Simple(payload)) => payload,
            _ => b"".as_slice(),
        };
        let started = SystemTime::now();
        let mut attributes = Vec::with_capacity(12);
        attributes.extend(prepared.command.iter().cloned());
        attributes.extend([
            KeyValue::new(Key::from_static_str("db.query.text"), "PUBLISH orders ?"),
            KeyValue::new(Key::from_static_str("messaging.system"), "redis"),
            KeyValue::new(Key::from_static_str("messaging.operation.type"), "send"),
            KeyValue::new(Key::from_static_str("messaging.operation.name"), "PUBLISH"),
            KeyValue::new(Key::from_static_str("messaging.destination.name"), CHANNEL),
            KeyValue::new(
                Key::from_static_str("messaging.message.body.size"),
                i64::try_from(payload.len()).unwrap_or(i64::MAX),
            ),
        ]);
        let span = prepared
            .tracer
            .span_builder("PUBLISH orders")
            .with_kind(SpanKind::Producer)
            .with_start_time(started)
            .with_attributes(attributes)
            .start(&prepared.tracer);
        let cx = Context::current_with_span(span);
        let mut carrier = Carrier(HashMap::with_capacity(2));
        prepared.propagator.inject_context(&cx, &mut carrier);
        let mut wrapped = Vec::with_capacity(MARKER.len() + 64 + payload.len());
        wrapped.extend_from_slice(MARKER);
        for (index, (name, value)) in carrier.0.iter().filter(|(_, v)| !v.is_empty()).enumerate() {
            if index > 0 {
                wrapped.push(b'&');
            }
            wrapped.extend_from_slice(name.as_bytes());
            wrapped.push(b'=');
            wrapped.extend_from_slice(value.as_bytes());
        }
        wrapped.push(SEPARATOR);
        wrapped.extend_from_slice(payload);
        let carrying = redis::cmd("PUBLISH").arg(CHANNEL).arg(wrapped).clone();
        let prepared = &*prepared;
        Box::pin(async move {
            let reply = inner.req_packed_command(&carrying);
            let result = opentelemetry::context::FutureExt::with_context(reply, cx.clone()).await;
            let ended = SystemTime::now();
            cx.span().end_with_timestamp(ended);
            let seconds = ended
                .duration_since(started)
                .unwrap_or_default()
                .as_secs_f64();
            prepared.db_duration.record(seconds, &prepared.command);
            prepared.operation_duration.record(seconds, &prepared.send);
            if result.is_ok() {
                prepared.sent.add(1, &prepared.send);
            }
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// A pub/sub consumer traced by hand.
pub struct HandConsumer(Arc<Prepared>);

impl Default for HandConsumer {
    /// The consumer (after [`install`]).
    fn default() -> Self {
        Self(prepared())
    }
}

impl HandConsumer {
    /// A delivered pub/sub message handled by hand: the envelope read back, a CONSUMER span
    /// `process orders` (the producer's child, linked to it) current around `handle`, the
    /// consumed counter and the process histogram recorded.
    pub fn process<R>(&self, message: &[u8], handle: impl FnOnce(&[u8]) -> R) -> R {
        process(&self.0, message, handle)
    }
}

fn process<R>(prepared: &Prepared, message: &[u8], handle: impl FnOnce(&[u8]) -> R) -> R {
    prepared.consumed.add(1, &prepared.receive);
    let (payload, producer) = match message.strip_prefix(MARKER) {
        Some(rest) => match rest.iter().position(|&byte| byte == SEPARATOR) {
            Some(end) => {
                let fields = std::str::from_utf8(&rest[..end]).unwrap_or("");
                let carrier = Carrier(
                    (fields.split('&'))
                        .filter_map(|pair| pair.split_once('='))
                        .map(|(name, value)| (name.to_owned(), value.to_owned()))
                        .collect(),
                );
                let cx = prepared.propagator.extract(&carrier);
                let producer = cx.span().span_context().clone();
                (&rest[end + 1..], producer.is_valid().then_some(producer))
            }
            None => (message, None),
        },
        None => (message, None),
    };
    let started = SystemTime::now();
    let parent = match &producer {
        Some(producer) => Context::new().with_remote_span_context(producer.clone()),
        None => Context::current(),
    };
    let mut attributes = Vec::with_capacity(8);
    attributes.extend(prepared.process_attributes.iter().cloned());
    attributes.push(KeyValue::new(
        Key::from_static_str("messaging.operation.type"),
        "process",
    ));
    attributes.push(KeyValue::new(
        Key::from_static_str("messaging.message.body.size"),
        i64::try_from(payload.len()).unwrap_or(i64::MAX),
    ));
    let links = producer.into_iter().map(Link::with_context).collect();
    let span = prepared
        .tracer
        .span_builder("process orders")
        .with_kind(SpanKind::Consumer)
        .with_start_time(started)
        .with_attributes(attributes)
        .with_links(links)
        .start_with_context(&prepared.tracer, &parent);
    let cx = parent.with_span(span);
    let output = {
        let _current = cx.clone().attach();
        handle(payload)
    };
    let ended = SystemTime::now();
    cx.span().end_with_timestamp(ended);
    let seconds = ended
        .duration_since(started)
        .unwrap_or_default()
        .as_secs_f64();
    prepared
        .process
        .record(seconds, &prepared.process_attributes);
    output
}
