//! The best hand-written equivalents of redis-trace's messaging paths, for
//! `benches/connection.rs`: a `PUBLISH` that carries the trace context in the same envelope as
//! a traced connection with propagation (PRODUCER span, the same attributes, the command and
//! messaging metrics), and a consumer that reads it back and handles the message under a
//! CONSUMER span (parent and link, the process and consumed metrics); and a stream producer and
//! consumer group reader (`HandStreams`): an `XADD` carrying the trace context in the entry's
//! fields as a traced connection with propagation writes them (PRODUCER span with the entry id,
//! the command and messaging metrics), an `XREADGROUP` whose entries are read back with their
//! carrier fields removed, under a `receive` span linked to each entry's producer (the command,
//! messaging, lag and consumed metrics). Everything that can be prepared is prepared once; the
//! W3C propagator is the SDK's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, Key, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use redis::{Cmd, RedisFuture, Value};

use super::connection::{GROUP, HOST, PORT, STREAM};

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
    send: [KeyValue; 6],
    process_attributes: [KeyValue; 5],
    receive: [KeyValue; 3],
    streams: Streams,
}

/// What the stream commands prepare once: the lag histogram, the span attributes given at
/// creation and the metric attributes of `XADD` and `XREADGROUP`.
struct Streams {
    lag: Histogram<f64>,
    /// `XADD`'s span attributes, `db.query.text` included (one command, one statement).
    add_span: [KeyValue; 10],
    add_command: [KeyValue; 5],
    add_messaging: [KeyValue; 6],
    /// `XREADGROUP`'s receive span attributes but the message count and the lag.
    read_span: [KeyValue; 10],
    read_command: [KeyValue; 5],
    read_messaging: [KeyValue; 7],
}

static PREPARED: Mutex<Option<Arc<Prepared>>> = Mutex::new(None);

const CHANNEL: &str = "orders";

/// Prepares the hand-written messaging instrumentation (one channel, `orders`) for
/// connections said to serve [`HOST`]:[`PORT`].
pub fn install(tracer_provider: &SdkTracerProvider, meter_provider: &SdkMeterProvider) {
    install_at(tracer_provider, meter_provider, PORT);
}

/// Prepares the hand-written messaging instrumentation for connections to [`HOST`]:`port`.
pub fn install_at(
    tracer_provider: &SdkTracerProvider,
    meter_provider: &SdkMeterProvider,
    port: u16,
) {
    let meter = meter_provider.meter("hand-written");
    let histogram = |name: &'static str| {
        meter
            .f64_histogram(name)
            .with_unit("s")
            .with_boundaries(super::DURATION_BOUNDARIES.to_vec())
            .build()
    };
    // As redis-trace records them: a send's with its operation type and the server, a
    // delivery's process histogram with the server, its consumed counter without.
    let messaging = |operation: &'static str| {
        [
            KeyValue::new(Key::from_static_str("messaging.system"), "redis"),
            KeyValue::new(Key::from_static_str("messaging.destination.name"), CHANNEL),
            KeyValue::new(Key::from_static_str("messaging.operation.name"), operation),
            KeyValue::new(Key::from_static_str("server.address"), HOST),
            KeyValue::new(Key::from_static_str("server.port"), i64::from(port)),
        ]
    };
    let [system, destination, name, address, server_port] = messaging("PUBLISH");
    let send = [
        system,
        destination,
        name,
        KeyValue::new(Key::from_static_str("messaging.operation.type"), "send"),
        address,
        server_port,
    ];
    let [system, destination, name, _, _] = messaging("receive");
    let receive = [system, destination, name];
    *PREPARED.lock().unwrap() = Some(Arc::new(Prepared {
        tracer: tracer_provider.tracer("hand-written"),
        propagator: TraceContextPropagator::new(),
        db_duration: histogram("db.client.operation.duration"),
        operation_duration: histogram("messaging.client.operation.duration"),
        sent: meter
            .u64_counter("messaging.client.sent.messages")
            .with_unit("{message}")
            .build(),
        process: histogram("messaging.process.duration"),
        consumed: meter
            .u64_counter("messaging.client.consumed.messages")
            .with_unit("{message}")
            .build(),
        command: [
            KeyValue::new(Key::from_static_str("db.system.name"), "redis"),
            KeyValue::new(Key::from_static_str("db.operation.name"), "PUBLISH"),
            KeyValue::new(Key::from_static_str("server.address"), HOST),
            KeyValue::new(Key::from_static_str("server.port"), i64::from(port)),
            KeyValue::new(Key::from_static_str("db.namespace"), "0"),
        ],
        send,
        process_attributes: messaging("process"),
        receive,
        streams: prepare_streams(&meter, port),
    }));
}

fn prepare_streams(meter: &opentelemetry::metrics::Meter, port: u16) -> Streams {
    let kv =
        |key: &'static str, value: &'static str| KeyValue::new(Key::from_static_str(key), value);
    let server = || {
        [
            kv("server.address", HOST),
            KeyValue::new(Key::from_static_str("server.port"), i64::from(port)),
        ]
    };
    let command = |operation: &'static str| {
        let [address, port] = server();
        [
            kv("db.system.name", "redis"),
            kv("db.operation.name", operation),
            address,
            port,
            kv("db.namespace", "0"),
        ]
    };
    let messaging = |operation: &'static str, kind: &'static str| {
        [
            kv("messaging.system", "redis"),
            kv("messaging.operation.type", kind),
            kv("messaging.operation.name", operation),
            kv("messaging.destination.name", STREAM),
        ]
    };
    let [s0, s1, s2, s3] = messaging("XADD", "send");
    let [c0, c1, c2, c3, c4] = command("XADD");
    let [a, p] = server();
    let add_messaging = [s0.clone(), s1.clone(), s2.clone(), s3.clone(), a, p];
    let add_span = [
        c0.clone(),
        c1.clone(),
        c2.clone(),
        c3.clone(),
        c4.clone(),
        s0,
        s1,
        s2,
        s3,
        kv("db.query.text", "XADD orders * ? ? ? ?"),
    ];
    let [r0, r1, r2, r3] = messaging("XREADGROUP", "receive");
    let group = kv("messaging.consumer.group.name", GROUP);
    let [a, p] = server();
    let read_messaging = [
        r0.clone(),
        r1.clone(),
        r2.clone(),
        r3.clone(),
        group.clone(),
        a,
        p,
    ];
    let [d0, d1, d2, d3, d4] = command("XREADGROUP");
    let read_span = [
        d0.clone(),
        d1.clone(),
        r0,
        r1,
        r2,
        r3,
        group,
        d2.clone(),
        d3.clone(),
        d4.clone(),
    ];
    Streams {
        lag: meter
            .f64_histogram("redis.client.stream.lag")
            .with_unit("s")
            .with_boundaries(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0, 3600.0,
            ])
            .build(),
        add_span,
        add_command: [c0, c1, c2, c3, c4],
        add_messaging,
        read_span,
        read_command: [d0, d1, d2, d3, d4],
        read_messaging,
    }
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
            KeyValue::new(Key::from_static_str("db.query.text"), "PUBLISH ? ?"),
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

/// A connection whose `XADD`s carry the trace context in the entry's fields and whose
/// `XREADGROUP`s read it back, traced by hand (one stream, `orders`, one group, `billing`);
/// every other command passes through.
pub struct HandStreams<C> {
    inner: C,
    prepared: Arc<Prepared>,
}

impl<C> HandStreams<C> {
    /// Wraps `inner` (after [`install`]).
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            prepared: prepared(),
        }
    }
}

/// Appends the propagator's non-empty fields to the command being built.
struct Appending<'a>(&'a mut Cmd);

impl opentelemetry::propagation::Injector for Appending<'_> {
    fn set(&mut self, key: &str, value: String) {
        if !value.is_empty() {
            self.0.arg(key).arg(value);
        }
    }
}

/// The W3C fields of one entry, borrowed from the reply.
#[derive(Default)]
struct EntryCarrier<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl opentelemetry::propagation::Extractor for EntryCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// An entry read back: its id and its producer's context.
struct Entry {
    id: String,
    producer: Option<opentelemetry::trace::SpanContext>,
}

/// The entries of an `XREADGROUP` reply (RESP2), their carrier fields removed.
fn entries(reply: &mut Value, propagator: &TraceContextPropagator) -> Vec<Entry> {
    let mut found = Vec::new();
    let Value::Array(streams) = reply else {
        return found;
    };
    for stream in streams {
        let Value::Array(pair) = stream else { continue };
        let Some(Value::Array(entries)) = pair.get_mut(1) else {
            continue;
        };
        for entry in entries {
            let Value::Array(parts) = entry else { continue };
            let [Value::BulkString(id), Value::Array(fields)] = parts.as_mut_slice() else {
                continue;
            };
            let mut carrier = EntryCarrier::default();
            let mut carried = 0;
            for pair in fields.chunks(2) {
                if let [Value::BulkString(name), Value::BulkString(value)] = pair {
                    let value = std::str::from_utf8(value).ok();
                    if name.eq_ignore_ascii_case(b"traceparent") {
                        carrier.traceparent = value;
                        carried += 1;
                    } else if name.eq_ignore_ascii_case(b"tracestate") {
                        carrier.tracestate = value;
                        carried += 1;
                    }
                }
            }
            let producer = (carried > 0).then(|| {
                let cx = propagator.extract(&carrier);
                cx.span().span_context().clone()
            });
            if carried > 0 {
                let mut kept = Vec::with_capacity(fields.len() - 2 * carried);
                let mut pairs = std::mem::take(fields).into_iter();
                while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
                    let carrier_field = matches!(&name, Value::BulkString(n)
                        if n.eq_ignore_ascii_case(b"traceparent")
                            || n.eq_ignore_ascii_case(b"tracestate"));
                    if !carrier_field {
                        kept.extend([name, value]);
                    }
                }
                *fields = kept;
            }
            found.push(Entry {
                id: String::from_utf8_lossy(id).into_owned(),
                producer: producer.filter(|producer| producer.is_valid()),
            });
        }
    }
    found
}

/// The lag, in seconds, of a time-based entry id received at `now`.
fn lag(id: &str, now: SystemTime) -> Option<f64> {
    let millis: u64 = id
        .split_once('-')
        .map_or(id, |(millis, _)| millis)
        .parse()
        .ok()?;
    let now = u64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    (millis <= now).then(|| (now - millis) as f64 / 1000.0)
}

impl<C: redis::aio::ConnectionLike + Send> HandStreams<C> {
    async fn add(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        let Self { inner, prepared } = self;
        let streams = &prepared.streams;
        let started = SystemTime::now();
        let mut attributes = Vec::with_capacity(12);
        attributes.extend(streams.add_span.iter().cloned());
        let span = prepared
            .tracer
            .span_builder("XADD orders")
            .with_kind(SpanKind::Producer)
            .with_start_time(started)
            .with_attributes(attributes)
            .start(&prepared.tracer);
        let cx = Context::current_with_span(span);
        let mut carrying = cmd.clone();
        prepared
            .propagator
            .inject_context(&cx, &mut Appending(&mut carrying));
        let reply = inner.req_packed_command(&carrying);
        let result = opentelemetry::context::FutureExt::with_context(reply, cx.clone()).await;
        let ended = SystemTime::now();
        let span = cx.span();
        if let (Ok(Value::BulkString(id)), true) = (&result, span.is_recording()) {
            span.set_attribute(KeyValue::new(
                Key::from_static_str("messaging.message.id"),
                String::from_utf8_lossy(id).into_owned(),
            ));
        }
        span.end_with_timestamp(ended);
        let seconds = ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        prepared.db_duration.record(seconds, &streams.add_command);
        prepared
            .operation_duration
            .record(seconds, &streams.add_messaging);
        if result.is_ok() {
            prepared.sent.add(1, &streams.add_messaging);
        }
        result
    }

    async fn read(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        let Self { inner, prepared } = self;
        let streams = &prepared.streams;
        let started = SystemTime::now();
        let mut result = inner.req_packed_command(cmd).await;
        let ended = SystemTime::now();
        let seconds = ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        prepared.db_duration.record(seconds, &streams.read_command);
        prepared
            .operation_duration
            .record(seconds, &streams.read_messaging);
        let Ok(reply) = result.as_mut() else {
            return result;
        };
        let entries = entries(reply, &prepared.propagator);
        if entries.is_empty() {
            return result; // an empty poll: no span
        }
        let mut max_lag: Option<f64> = None;
        for entry in &entries {
            if let Some(lag) = lag(&entry.id, ended) {
                streams.lag.record(lag, &streams.read_messaging);
                max_lag = Some(max_lag.map_or(lag, |max| max.max(lag)));
            }
        }
        let mut attributes = Vec::with_capacity(12);
        attributes.extend(streams.read_span.iter().cloned());
        attributes.push(KeyValue::new(
            Key::from_static_str("messaging.batch.message_count"),
            i64::try_from(entries.len()).unwrap_or(i64::MAX),
        ));
        if let Some(lag) = max_lag {
            attributes.push(KeyValue::new(
                Key::from_static_str("redis.stream.max_lag"),
                lag,
            ));
        }
        let count = u64::try_from(entries.len()).unwrap_or(u64::MAX);
        let links = (entries.into_iter())
            .filter_map(|entry| {
                let id = KeyValue::new(Key::from_static_str("messaging.message.id"), entry.id);
                Some(Link::new(entry.producer?, vec![id], 0))
            })
            .collect();
        let mut span = prepared
            .tracer
            .span_builder("XREADGROUP orders")
            .with_kind(SpanKind::Client)
            .with_start_time(started)
            .with_attributes(attributes)
            .with_links(links)
            .start(&prepared.tracer);
        opentelemetry::trace::Span::end_with_timestamp(&mut span, ended);
        prepared.consumed.add(count, &streams.read_messaging);
        result
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for HandStreams<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match cmd.args_iter().next() {
            Some(redis::Arg::Simple(b"XADD")) => Box::pin(self.add(cmd)),
            Some(redis::Arg::Simple(b"XREADGROUP")) => Box::pin(self.read(cmd)),
            _ => self.inner.req_packed_command(cmd),
        }
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
