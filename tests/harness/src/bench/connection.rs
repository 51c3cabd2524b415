//! What the `TracedConnection` benchmarks compare: a connection that answers at once (no I/O:
//! the instrumentation is what is measured), the best hand-written equivalent of a traced
//! connection, and the workloads (one `GET`, a pipeline of ten `GET`s, a `PUBLISH`, an `XADD`
//! and an `XREADGROUP` of a consumer group).

use std::future::ready;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use opentelemetry::metrics::{Histogram, MeterProvider as _, ObservableCounter};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, Key, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Answers every command with a value, at once: an `XADD` with the id of the entry
/// ([`ENTRY_ID`]), an `XREADGROUP` with one entry of [`STREAM`] as Redis returns it (RESP2),
/// carrying the fields a traced `XADD` with propagation writes ([`ENTRY_FIELDS`] then
/// `traceparent`), anything else with one bulk string.
#[derive(Clone, Copy, Debug, Default)]
pub struct Answering;

/// The stream of the `XADD` + `XREADGROUP` workload, its consumer group and consumer.
pub const STREAM: &str = "orders";
pub const GROUP: &str = "billing";
pub const CONSUMER: &str = "worker-1";
/// The id [`Answering`] gives the added entry and returns for the read one: time-based (a
/// millisecond time, then a sequence number), so its lag is read from it.
pub const ENTRY_ID: &str = "1764500000000-0";
/// The entry's own fields, as the workload's `XADD` writes them.
pub const ENTRY_FIELDS: [(&str, &str); 2] = [("item", "apple"), ("qty", "3")];
/// The trace context a traced producer appended to the entry (W3C `traceparent`).
pub const ENTRY_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// `XREADGROUP`'s reply: `[[stream, [[id, [field, value, ...]]]]]`.
fn stream_reply() -> Value {
    let text = |text: &str| Value::BulkString(text.as_bytes().to_vec());
    let mut fields = Vec::with_capacity(2 * ENTRY_FIELDS.len() + 2);
    for (name, value) in ENTRY_FIELDS {
        fields.extend([text(name), text(value)]);
    }
    fields.extend([text("traceparent"), text(ENTRY_TRACEPARENT)]);
    let entry = Value::Array(vec![text(ENTRY_ID), Value::Array(fields)]);
    Value::Array(vec![Value::Array(vec![
        text(STREAM),
        Value::Array(vec![entry]),
    ])])
}

impl redis::aio::ConnectionLike for Answering {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        // The `GET` and `PUBLISH` workloads (up to three arguments) are answered from the
        // argument count alone, without reading the command: their figures stay as they were.
        if cmd.args_iter().len() <= 3 {
            return Box::pin(ready(Ok(Value::BulkString(b"ada".to_vec()))));
        }
        let reply = match cmd.args_iter().next() {
            Some(redis::Arg::Simple(b"XREADGROUP")) => stream_reply(),
            Some(redis::Arg::Simple(b"XADD")) => Value::BulkString(ENTRY_ID.as_bytes().to_vec()),
            _ => Value::BulkString(b"ada".to_vec()),
        };
        Box::pin(ready(Ok(reply)))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        _: &'a Pipeline,
        _offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(ready(Ok(vec![Value::BulkString(b"ada".to_vec()); count])))
    }

    fn get_db(&self) -> i64 {
        0
    }
}

/// The workloads' commands, built once.
pub struct Workload {
    pub get: Cmd,
    pub pipeline: Pipeline,
    pub publish: Cmd,
    /// `XADD orders * item apple qty 3`.
    pub xadd: Cmd,
    /// `XREADGROUP GROUP billing worker-1 COUNT 10 STREAMS orders >`.
    pub xreadgroup: Cmd,
}

impl Default for Workload {
    fn default() -> Self {
        let mut pipeline = redis::pipe();
        for id in 0..10 {
            pipeline.get(format!("user:{id}"));
        }
        Self {
            get: redis::cmd("GET").arg("user:42").clone(),
            pipeline,
            publish: redis::cmd("PUBLISH").arg("orders").arg("order 42").clone(),
            xadd: redis::cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg(&ENTRY_FIELDS[..])
                .clone(),
            // As redis-rs's `xread_options` writes it for `group(..).count(10)`.
            xreadgroup: redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(CONSUMER)
                .arg("COUNT")
                .arg(10)
                .arg("STREAMS")
                .arg(STREAM)
                .arg(">")
                .clone(),
        }
    }
}

/// The address every benchmark connection is said to serve.
pub const HOST: &str = "127.0.0.1";
pub const PORT: u16 = 6379;

/// What the hand-written instrumentation prepares once: the tracer, the instruments, the
/// attribute lists of the metrics.
struct Prepared {
    tracer: SdkTracer,
    duration: Histogram<f64>,
    /// Lookups that hit and missed, counted with one atomic add each and reported by
    /// `redis_trace.cache.requests`, an observable counter, when metrics are collected (as
    /// redis-trace counts them: a synchronous counter costs about 2,300 instructions a call).
    lookups: Arc<[AtomicU64; 2]>,
    _requests: ObservableCounter<u64>,
    /// `db.system.name`, `db.operation.name` (GET), `server.address`, `server.port`,
    /// `db.namespace`.
    get: [KeyValue; 5],
    pipeline: [KeyValue; 5],
    set: [KeyValue; 5],
    multi: [KeyValue; 5],
    /// The span names of [`HandMixed`] (`GET 127.0.0.1:{port}`, ...), made once.
    names: Names,
}

struct Names {
    get: &'static str,
    set: &'static str,
    pipeline: &'static str,
    multi: &'static str,
}

static PREPARED: Mutex<Option<Arc<Prepared>>> = Mutex::new(None);

/// Prepares the hand-written connection instrumentation for connections said to serve
/// [`HOST`]:[`PORT`].
pub fn install(tracer_provider: &SdkTracerProvider, meter_provider: &SdkMeterProvider) {
    install_at(tracer_provider, meter_provider, PORT);
}

/// Prepares the hand-written connection instrumentation for connections to [`HOST`]:`port`.
pub fn install_at(
    tracer_provider: &SdkTracerProvider,
    meter_provider: &SdkMeterProvider,
    port: u16,
) {
    let meter = meter_provider.meter("hand-written");
    let metric = |operation: &'static str| {
        [
            KeyValue::new(Key::from_static_str("db.system.name"), "redis"),
            KeyValue::new(Key::from_static_str("db.operation.name"), operation),
            KeyValue::new(Key::from_static_str("server.address"), HOST),
            KeyValue::new(Key::from_static_str("server.port"), i64::from(port)),
            KeyValue::new(Key::from_static_str("db.namespace"), "0"),
        ]
    };
    let with_hit = |hit: bool| {
        let [a, b, c, d, e] = metric("GET");
        [a, b, c, d, e, KeyValue::new("cache.hit", hit)]
    };
    let lookups: Arc<[AtomicU64; 2]> = Arc::default();
    let reported = [with_hit(true), with_hit(false)];
    let name = |operation: &str| -> &'static str {
        Box::leak(format!("{operation} {HOST}:{port}").into_boxed_str())
    };
    *PREPARED.lock().unwrap() = Some(Arc::new(Prepared {
        tracer: tracer_provider.tracer("hand-written"),
        duration: meter
            .f64_histogram("db.client.operation.duration")
            .with_unit("s")
            .with_boundaries(super::DURATION_BOUNDARIES.to_vec())
            .build(),
        lookups: Arc::clone(&lookups),
        _requests: meter
            .u64_observable_counter("redis_trace.cache.requests")
            .with_unit("{request}")
            .with_callback(move |observer| {
                for (count, attributes) in lookups.iter().zip(&reported) {
                    let count = count.load(Ordering::Relaxed);
                    if count > 0 {
                        observer.observe(count, attributes);
                    }
                }
            })
            .build(),
        get: metric("GET"),
        pipeline: metric("PIPELINE GET"),
        set: metric("SET"),
        multi: metric("MULTI"),
        names: Names {
            get: name("GET"),
            set: name("SET"),
            pipeline: name("PIPELINE GET"),
            multi: name("MULTI"),
        },
    }));
}

/// A connection traced by hand: the span a `TracedConnection` records (name, kind, the same
/// attributes, the sanitized statement, `cache.hit`, the status), current while the inner
/// call runs, and the same duration and lookup metrics, with everything that can be prepared
/// prepared once. Handles what the workloads send (`GET`s).
pub struct HandTraced<C> {
    inner: C,
    prepared: Arc<Prepared>,
}

impl<C> HandTraced<C> {
    /// Wraps `inner` (after [`install`]).
    pub fn new(inner: C) -> Self {
        let prepared = PREPARED.lock().unwrap().clone().expect("installed");
        Self { inner, prepared }
    }
}

/// The prepared hand-written instrumentation, to wrap connections with it without looking it
/// up each time (a pool lending hand-traced connections).
#[derive(Clone)]
pub struct HandConnections(Arc<Prepared>);

impl HandConnections {
    /// The instrumentation [`install`] prepared.
    pub fn installed() -> Self {
        Self(PREPARED.lock().unwrap().clone().expect("installed"))
    }

    /// `inner` traced by hand: an `Arc` cloned.
    pub fn wrap<C>(&self, inner: C) -> HandTraced<C> {
        HandTraced {
            inner,
            prepared: Arc::clone(&self.0),
        }
    }
}

/// A batch's statement, as the conventions ask: each command's joined by `; `, or the one
/// statement when every command's is the same.
fn batch_statement(out: &mut String, pipeline: &Pipeline, write: impl Fn(&mut String, &Cmd)) {
    let mut first_len = 0;
    let mut all_same = true;
    for (index, cmd) in pipeline.cmd_iter().enumerate() {
        if index > 0 {
            out.push_str("; ");
        }
        let start = out.len();
        write(out, cmd);
        if index == 0 {
            first_len = out.len();
        } else {
            all_same = all_same && out[start..] == out[..first_len];
        }
    }
    if all_same {
        out.truncate(first_len);
    }
}

/// `GET user:?`: the name, then each key's digit runs as `?`.
fn statement(out: &mut String, args: &[&[u8]]) {
    out.push_str("GET");
    for key in &args[1..] {
        out.push(' ');
        let mut in_digits = false;
        for &byte in *key {
            if byte.is_ascii_digit() {
                if !in_digits {
                    out.push('?');
                }
                in_digits = true;
            } else {
                out.push(char::from(byte));
                in_digits = false;
            }
        }
    }
}

fn args(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .map(|arg| match arg {
            redis::Arg::Simple(bytes) => bytes,
            _ => &b"0"[..],
        })
        .collect()
}

impl Prepared {
    /// The span, started and made current, for `name` and the statement `render` writes
    /// (at creation, where the conventions ask for `db.query.text`: samplers may read it).
    fn start(
        &self,
        name: &'static str,
        batch: Option<usize>,
        render: impl FnOnce(&mut String),
    ) -> (Context, SystemTime) {
        let started = SystemTime::now();
        let hand = self;
        let span_name = match name {
            "GET" => "GET 127.0.0.1:6379",
            _ => "PIPELINE GET 127.0.0.1:6379",
        };
        let mut text = String::with_capacity(64);
        render(&mut text);
        // Room for the ending attributes: the list is allocated once.
        let mut attributes = Vec::with_capacity(9);
        attributes.push(hand.get[0].clone());
        attributes.push(KeyValue::new(
            Key::from_static_str("db.operation.name"),
            name,
        ));
        attributes.extend(hand.get[2..].iter().cloned());
        attributes.push(KeyValue::new(Key::from_static_str("db.query.text"), text));
        if let Some(size) = batch {
            attributes.push(KeyValue::new(
                Key::from_static_str("db.operation.batch.size"),
                i64::try_from(size).unwrap_or(i64::MAX),
            ));
        }
        let span = hand
            .tracer
            .span_builder(span_name)
            .with_kind(SpanKind::Client)
            .with_start_time(started)
            .with_attributes(attributes)
            .start(&hand.tracer);
        (Context::current_with_span(span), started)
    }

    fn end(
        &self,
        cx: &Context,
        started: SystemTime,
        error: Option<&redis::RedisError>,
        hit: Option<bool>,
        pipeline: bool,
    ) {
        let hand = self;
        let span = cx.span();
        if let Some(hit) = hit {
            if span.is_recording() {
                span.set_attribute(KeyValue::new(Key::from_static_str("cache.hit"), hit));
            }
            hand.lookups[usize::from(!hit)].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(error) = error {
            span.set_status(Status::error(error.to_string()));
        }
        let ended = SystemTime::now();
        span.end_with_timestamp(ended);
        let seconds = ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        let attributes = if pipeline { &hand.pipeline } else { &hand.get };
        hand.duration.record(seconds, attributes);
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for HandTraced<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Self { inner, prepared } = self;
        let (cx, started) = prepared.start("GET", None, |out| statement(out, &args(cmd)));
        let reply = inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = opentelemetry::context::FutureExt::with_context(reply, cx.clone()).await;
            let hit = result.as_ref().ok().map(|value| *value != Value::Nil);
            prepared.end(&cx, started, result.as_ref().err(), hit, false);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let Self { inner, prepared } = self;
        let (cx, started) = prepared.start("PIPELINE GET", Some(count), |out| {
            batch_statement(out, pipeline, |out, cmd| statement(out, &args(cmd)));
        });
        let replies = inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = opentelemetry::context::FutureExt::with_context(replies, cx.clone()).await;
            prepared.end(&cx, started, result.as_ref().err(), None, true);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// A connection traced by hand for the service-shaped mix (`benches/service.rs`): `GET`,
/// `SET`, a pipeline of `GET`s and a `MULTI` transaction of `SET` + `EXPIRE`, each with the
/// span and metrics a `TracedConnection` records for it (the statement written by a writer
/// that knows these commands: the name, the key with its digit runs as `?`, `?` for each
/// other argument), everything prepared once. Any other command passes through untraced.
pub struct HandMixed<C> {
    inner: C,
    prepared: Arc<Prepared>,
}

impl<C> HandMixed<C> {
    /// Wraps `inner` (after [`install_at`]).
    pub fn new(inner: C) -> Self {
        let prepared = PREPARED.lock().unwrap().clone().expect("installed");
        Self { inner, prepared }
    }
}

/// `SET user:? ?`: the name, the key's digit runs as `?`, `?` for every other argument.
fn mixed_statement(
    out: &mut String,
    name: &str,
    args: &mut dyn Iterator<Item = redis::Arg<&[u8]>>,
) {
    out.push_str(name);
    args.next();
    if let Some(redis::Arg::Simple(key)) = args.next() {
        out.push(' ');
        let mut in_digits = false;
        for &byte in key {
            if byte.is_ascii_digit() {
                if !in_digits {
                    out.push('?');
                }
                in_digits = true;
            } else {
                out.push(char::from(byte));
                in_digits = false;
            }
        }
    }
    for _ in args {
        out.push_str(" ?");
    }
}

impl Prepared {
    /// A span named `name`, kind CLIENT, with the attributes given at creation, current while
    /// the call runs.
    fn start_mixed(
        &self,
        name: &'static str,
        metric: &[KeyValue; 5],
        batch: Option<usize>,
        render: impl FnOnce(&mut String),
    ) -> (Context, SystemTime) {
        let started = SystemTime::now();
        let mut text = String::with_capacity(64);
        render(&mut text);
        let mut attributes = Vec::with_capacity(9);
        attributes.extend(metric.iter().cloned());
        attributes.push(KeyValue::new(Key::from_static_str("db.query.text"), text));
        if let Some(size) = batch {
            attributes.push(KeyValue::new(
                Key::from_static_str("db.operation.batch.size"),
                i64::try_from(size).unwrap_or(i64::MAX),
            ));
        }
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(started)
            .with_attributes(attributes)
            .start(&self.tracer);
        (Context::current_with_span(span), started)
    }

    fn end_mixed(
        &self,
        cx: &Context,
        started: SystemTime,
        error: Option<&redis::RedisError>,
        hit: Option<bool>,
        metric: &[KeyValue],
    ) {
        let span = cx.span();
        if let Some(hit) = hit {
            if span.is_recording() {
                span.set_attribute(KeyValue::new(Key::from_static_str("cache.hit"), hit));
            }
            self.lookups[usize::from(!hit)].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(error) = error {
            span.set_status(Status::error(error.to_string()));
        }
        let ended = SystemTime::now();
        span.end_with_timestamp(ended);
        let seconds = ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        self.duration.record(seconds, metric);
    }
}

impl<C: redis::aio::ConnectionLike + Send> redis::aio::ConnectionLike for HandMixed<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Self { inner, prepared } = self;
        let prepared: &Prepared = prepared;
        let (command, name, metric) = match cmd.args_iter().next() {
            Some(redis::Arg::Simple(b"GET")) => ("GET", prepared.names.get, &prepared.get),
            Some(redis::Arg::Simple(b"SET")) => ("SET", prepared.names.set, &prepared.set),
            _ => return inner.req_packed_command(cmd),
        };
        let lookup = command == "GET";
        let (cx, started) = prepared.start_mixed(name, metric, None, |out| {
            mixed_statement(out, command, &mut cmd.args_iter())
        });
        let reply = inner.req_packed_command(cmd);
        Box::pin(async move {
            let result = opentelemetry::context::FutureExt::with_context(reply, cx.clone()).await;
            let hit = (result.as_ref().ok())
                .filter(|_| lookup)
                .map(|value| *value != Value::Nil);
            prepared.end_mixed(&cx, started, result.as_ref().err(), hit, metric);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let Self { inner, prepared } = self;
        let prepared: &Prepared = prepared;
        let (name, metric) = if pipeline.is_transaction() {
            (prepared.names.multi, &prepared.multi)
        } else {
            (prepared.names.pipeline, &prepared.pipeline)
        };
        let size = pipeline.cmd_iter().count();
        let (cx, started) = prepared.start_mixed(name, metric, Some(size), |out| {
            batch_statement(out, pipeline, |out, cmd| {
                let command = match cmd.args_iter().next() {
                    Some(redis::Arg::Simple(b"GET")) => "GET",
                    Some(redis::Arg::Simple(b"SET")) => "SET",
                    _ => "EXPIRE",
                };
                mixed_statement(out, command, &mut cmd.args_iter());
            });
        });
        let replies = inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let result = opentelemetry::context::FutureExt::with_context(replies, cx.clone()).await;
            prepared.end_mixed(&cx, started, result.as_ref().err(), None, metric);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
