//! `TracedConnection` against its best hand-written equivalent (`bench::connection`,
//! `bench::messaging`): one `GET`, a pipeline of ten `GET`s and a `PUBLISH` carrying the trace
//! context on a connection that answers at once (only the instrumentation is measured), and a
//! delivered pub/sub message handled under its CONSUMER span. `cargo bench --bench connection`:
//! - instructions per call, counted by callgrind (every thread, the batch processor's export
//!   included), each variant in its own process, a short and a long run subtracted;
//! - nanoseconds per call, the minimum over interleaved rounds in one process (noise on a
//!   shared machine only adds).
//!
//! `CONNECTION_VARIANTS=traced,hand` selects variants by label; `CONNECTION_TIMED=0` skips the
//! timed rounds, `CONNECTION_INSTRUCTIONS=0` the callgrind runs; `CONNECTION_SHAPES=XADD`
//! selects shapes by name. `CONNECTION_DUMP=1` prints, for each shape, the spans and metric
//! points one call records through `TracedConnection` and through the hand-written equivalent,
//! and whether they agree (names, kinds, attributes, links, parents; metric names, attributes,
//! counts, units), into in-memory exporters.

use std::hint::black_box;
use std::time::Instant;

use redis::Value;
use redis_trace::messaging::{Message, MessageParent};
use redis_trace::{Endpoint, TracedConnection};
use redis_trace_harness::bench::connection::{self, Answering, HandTraced, Workload};
use redis_trace_harness::bench::messaging::{HandConsumer, HandPublisher, HandStreams};
use redis_trace_harness::bench::{callgrind_instructions, install, Installed, Variant};
use redis_trace_harness::block_on;

/// What is measured, with the redis-trace or hand-written set-up it runs under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    Raw,
    NoProvider,
    Traced,
    Hand,
    TracedSampled,
    HandSampled,
    /// With the opt-in query summaries (`with_query_summaries`): what they cost.
    TracedSummaries,
    TracedSummariesSampled,
}

const SUBJECTS: [Subject; 8] = [
    Subject::Raw,
    Subject::NoProvider,
    Subject::Traced,
    Subject::Hand,
    Subject::TracedSampled,
    Subject::HandSampled,
    Subject::TracedSummaries,
    Subject::TracedSummariesSampled,
];

impl Subject {
    fn label(self) -> &'static str {
        match self {
            Self::Raw => "raw connection",
            Self::NoProvider => "TracedConnection, no provider",
            Self::Traced => "TracedConnection, full",
            Self::Hand => "best hand-written, full",
            Self::TracedSampled => "TracedConnection, 1% sampled",
            Self::HandSampled => "best hand-written, 1% sampled",
            Self::TracedSummaries => "TracedConnection, full, summaries",
            Self::TracedSummariesSampled => "TracedConnection, 1%, summaries",
        }
    }

    fn variant(self) -> Variant {
        match self {
            Self::Raw => Variant::Raw,
            Self::NoProvider => Variant::NoProvider,
            Self::Traced | Self::TracedSummaries => Variant::Full,
            Self::Hand => Variant::HandWritten,
            Self::TracedSampled | Self::TracedSummariesSampled => Variant::FullSampled,
            Self::HandSampled => Variant::HandWrittenSampled,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Get,
    Pipeline,
    Publish,
    Process,
    /// `XADD` then `XREADGROUP`, the trace context carried in the entry.
    Stream,
}

const SHAPES: [(Shape, &str); 5] = [
    (Shape::Get, "GET"),
    (Shape::Pipeline, "pipeline of 10"),
    (Shape::Publish, "PUBLISH, context"),
    (Shape::Process, "process message"),
    (Shape::Stream, "XADD+XREADGROUP"),
];

/// A delivered message: the envelope a traced publisher writes, then the payload.
const DELIVERED: &[u8] =
    b"\x1eotel1\x1etraceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\x1eorder 42";

/// The connection under test.
enum Subjected {
    Raw(Answering),
    Traced(TracedConnection<Answering>),
    Hand(
        HandTraced<Answering>,
        HandPublisher<Answering>,
        HandConsumer,
        HandStreams<Answering>,
    ),
}

fn set_up(subject: Subject) -> (Installed, Subjected) {
    let installed = install(subject.variant());
    let summaries = matches!(
        subject,
        Subject::TracedSummaries | Subject::TracedSummariesSampled
    );
    redis_trace::Config::builder()
        .with_query_summaries(summaries)
        .install();
    let connection = match subject {
        Subject::Raw => Subjected::Raw(Answering),
        Subject::NoProvider
        | Subject::Traced
        | Subject::TracedSampled
        | Subject::TracedSummaries
        | Subject::TracedSummariesSampled => Subjected::traced(),
        Subject::Hand | Subject::HandSampled => {
            let (Some(tracer), Some(meter)) =
                (&installed.tracer_provider, &installed.meter_provider)
            else {
                unreachable!("the hand-written variants install both providers")
            };
            Subjected::hand(tracer, meter)
        }
    };
    (installed, connection)
}

impl Subjected {
    fn traced() -> Self {
        Self::Traced(
            TracedConnection::new(Answering)
                .with_endpoint(Endpoint::tcp(connection::HOST, connection::PORT).with_database(0))
                .with_propagation(true),
        )
    }

    fn hand(
        tracer: &opentelemetry_sdk::trace::SdkTracerProvider,
        meter: &opentelemetry_sdk::metrics::SdkMeterProvider,
    ) -> Self {
        connection::install(tracer, meter);
        redis_trace_harness::bench::messaging::install(tracer, meter);
        Self::Hand(
            HandTraced::new(Answering),
            HandPublisher::new(Answering),
            HandConsumer::default(),
            HandStreams::new(Answering),
        )
    }
}

/// One call of `shape` on `connection`.
fn call(connection: &mut Subjected, workload: &Workload, shape: Shape) {
    fn on<C: redis::aio::ConnectionLike>(conn: &mut C, workload: &Workload, shape: Shape) {
        let reply = match shape {
            Shape::Get => block_on(conn.req_packed_command(&workload.get)).map(|_| ()),
            Shape::Pipeline => {
                block_on(conn.req_packed_commands(&workload.pipeline, 0, 10)).map(|_| ())
            }
            Shape::Publish => block_on(conn.req_packed_command(&workload.publish)).map(|_| ()),
            Shape::Stream => block_on(async {
                conn.req_packed_command(&workload.xadd).await?;
                conn.req_packed_command(&workload.xreadgroup).await
            })
            .map(|_| ()),
            Shape::Process => unreachable!("not a command"),
        };
        black_box(reply).ok();
    }
    match (connection, shape) {
        // Each starts from the push redis-rs delivers; without tracing, a consumer reads it
        // as a `Msg` (whose payload would still hold the envelope: the raw floor).
        (Subjected::Raw(_), Shape::Process) => {
            let msg = redis::Msg::from_push_info(delivered()).expect("a message");
            black_box(handle(msg.get_payload_bytes()));
        }
        (Subjected::Traced(_), Shape::Process) => {
            let message = Message::from_push(delivered(), MessageParent::Producer)
                .expect("a message")
                .with_endpoint(server().clone());
            black_box(block_on(
                message.process(async { handle(message.payload()) }),
            ));
        }
        (Subjected::Hand(_, _, consumer, _), Shape::Process) => {
            let msg = redis::Msg::from_push_info(delivered()).expect("a message");
            black_box(consumer.process(msg.get_payload_bytes(), handle));
        }
        (Subjected::Raw(conn), shape) => on(conn, workload, shape),
        (Subjected::Traced(conn), shape) => on(conn, workload, shape),
        (Subjected::Hand(_, publisher, _, _), Shape::Publish) => {
            on(publisher, workload, Shape::Publish);
        }
        (Subjected::Hand(_, _, _, streams), Shape::Stream) => {
            on(streams, workload, Shape::Stream);
        }
        (Subjected::Hand(conn, _, _, _), shape) => on(conn, workload, shape),
    }
}

/// The server a consumer's messages come from, known once (as a consumer knows its
/// connection's), not built per message.
fn server() -> &'static Endpoint {
    static SERVER: std::sync::OnceLock<Endpoint> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| Endpoint::tcp(connection::HOST, connection::PORT))
}

/// The push of one delivered message on `orders`.
fn delivered() -> redis::PushInfo {
    redis::PushInfo {
        kind: redis::PushKind::Message,
        data: vec![
            Value::BulkString(b"orders".to_vec()),
            Value::BulkString(DELIVERED.to_vec()),
        ],
    }
}

/// What a consumer does with a message: nothing worth measuring.
fn handle(payload: &[u8]) -> usize {
    payload.len()
}

const SHORT: u64 = 2_048;
const LONG: u64 = 12_288;
const WARM_UP: u64 = 1_024;
const CHILD: &str = "REDIS_TRACE_CONNECTION_CHILD";
const ROUNDS: usize = 7;
const TIMED_CALLS: u32 = 20_000;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    if let Ok(child) = std::env::var(CHILD) {
        let mut fields = child
            .split(' ')
            .map(|n| n.parse::<usize>().expect("a number"));
        let (subject, shape, calls) = (
            SUBJECTS[fields.next().unwrap()],
            SHAPES[fields.next().unwrap()].0,
            fields.next().unwrap() as u64,
        );
        let workload = Workload::default();
        let (installed, mut connection) = set_up(subject);
        for _ in 0..WARM_UP + calls {
            call(&mut connection, &workload, shape);
        }
        if let Some(provider) = &installed.tracer_provider {
            provider.force_flush().ok();
        }
        return;
    }
    if std::env::var_os("CONNECTION_DUMP").is_some() {
        dump();
        return;
    }
    let selected = std::env::var("CONNECTION_VARIANTS").ok();
    let wanted: Vec<(usize, Subject)> = (SUBJECTS.into_iter().enumerate())
        .filter(|(_, subject)| {
            selected.as_deref().is_none_or(|list| {
                list.split(',')
                    .any(|name| subject.label().contains(name.trim()))
            })
        })
        .collect();
    let shapes = wanted_shapes();
    let enabled = |name: &str| std::env::var(name).map_or(true, |value| value != "0");
    if enabled("CONNECTION_INSTRUCTIONS") {
        println!("instructions per call, callgrind, every thread ({SHORT} vs {LONG} calls)");
        print_header(&shapes);
        for &(index, subject) in &wanted {
            let per_call: Vec<f64> = (shapes.iter())
                .map(|&shape| {
                    let count = |calls: u64| {
                        callgrind_instructions(CHILD, &format!("{index} {shape} {calls}")) as f64
                    };
                    (count(LONG) - count(SHORT)) / (LONG - SHORT) as f64
                })
                .collect();
            print_row(subject.label(), &per_call);
        }
    }
    if enabled("CONNECTION_TIMED") {
        let workload = Workload::default();
        let mut best = vec![vec![f64::MAX; shapes.len()]; wanted.len()];
        for _ in 0..ROUNDS {
            for (row, &(_, subject)) in wanted.iter().enumerate() {
                let (installed, mut connection) = set_up(subject);
                for (column, &shape) in shapes.iter().enumerate() {
                    let shape = SHAPES[shape].0;
                    for _ in 0..WARM_UP {
                        call(&mut connection, &workload, shape);
                    }
                    let started = Instant::now();
                    for _ in 0..TIMED_CALLS {
                        call(&mut connection, &workload, shape);
                    }
                    let nanos = started.elapsed().as_nanos() as f64 / f64::from(TIMED_CALLS);
                    best[row][column] = best[row][column].min(nanos);
                }
                if let Some(provider) = &installed.tracer_provider {
                    provider.force_flush().ok();
                }
            }
        }
        println!("ns per call, minimum over {ROUNDS} interleaved rounds of {TIMED_CALLS} calls");
        print_header(&shapes);
        for (row, &(_, subject)) in wanted.iter().enumerate() {
            print_row(subject.label(), &best[row]);
        }
    }
}

/// The indices of the shapes `CONNECTION_SHAPES` names (all without it).
fn wanted_shapes() -> Vec<usize> {
    let selected = std::env::var("CONNECTION_SHAPES").ok();
    (0..SHAPES.len())
        .filter(|&index| {
            selected.as_deref().is_none_or(|list| {
                list.split(',')
                    .any(|name| SHAPES[index].1.contains(name.trim()))
            })
        })
        .collect()
}

/// The metrics redis-trace's connection and messaging paths record.
const METRICS: [&str; 7] = [
    "db.client.operation.duration",
    "redis_trace.cache.requests",
    "messaging.client.operation.duration",
    "messaging.client.sent.messages",
    "messaging.client.consumed.messages",
    "messaging.process.duration",
    "redis.client.stream.lag",
];

/// What one call recorded, comparable between the two sides: each span's name, kind,
/// attributes, links (their attributes) and whether it has a parent; each metric point's
/// metric, attributes, count and unit.
fn recorded(telemetry: &redis_trace::testing::Telemetry) -> Vec<String> {
    let mut lines = Vec::new();
    for span in telemetry.spans() {
        let mut attributes = redis_trace::testing::attributes(&span);
        // A time: compared by presence.
        if let Some(lag) = attributes.get_mut("redis.stream.max_lag") {
            *lag = opentelemetry::Value::from("(a lag)");
        }
        let links: Vec<_> = (span.links.iter())
            .map(|link| {
                let attributes: std::collections::BTreeMap<_, _> = (link.attributes.iter())
                    .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                    .collect();
                (link.span_context.is_valid(), attributes)
            })
            .collect();
        lines.push(format!(
            "span {:?} {:?} parent={} status={:?}\n    attributes {:?}\n    links {:?}",
            span.name,
            span.span_kind,
            span.parent_span_id != opentelemetry::trace::SpanId::INVALID,
            span.status,
            attributes,
            links
        ));
    }
    for metric in METRICS {
        for point in telemetry.metric_points(metric) {
            lines.push(format!(
                "metric {metric} [{}] count={} bounds={}\n    attributes {:?}",
                point.unit,
                point.value,
                point.bounds.len(),
                point.attributes
            ));
        }
    }
    lines.sort();
    lines
}

/// `CONNECTION_DUMP`: what one call of each shape records, traced and by hand, compared.
fn dump() {
    let telemetry = redis_trace::testing::Telemetry::install();
    let workload = Workload::default();
    for index in wanted_shapes() {
        let (shape, name) = SHAPES[index];
        let mut sides = Vec::new();
        for side in ["TracedConnection", "hand-written"] {
            let mut connection = match side {
                "TracedConnection" => Subjected::traced(),
                _ => Subjected::hand(telemetry.tracer_provider(), telemetry.meter_provider()),
            };
            telemetry.clear();
            call(&mut connection, &workload, shape);
            telemetry.tracer_provider().force_flush().ok();
            let lines = recorded(&telemetry);
            println!("== {name}: {side}");
            for line in &lines {
                println!("  {line}");
            }
            sides.push(lines);
        }
        let verdict = if sides[0] == sides[1] {
            "the same"
        } else {
            "DIFFERENT"
        };
        println!("== {name}: {verdict}\n");
    }
}

fn print_header(shapes: &[usize]) {
    print!("{:<32}", "variant");
    for &shape in shapes {
        print!(" {:>18}", SHAPES[shape].1);
    }
    println!();
}

fn print_row(label: &str, figures: &[f64]) {
    print!("{label:<32}");
    for figure in figures {
        print!(" {figure:>18.0}");
    }
    println!();
}
