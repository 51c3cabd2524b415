//! A pool's `get()` against its best hand-written equivalent: one `get()` of a warm
//! deadpool-redis pool and the connection dropped back into it, against a private redis-server
//! (deadpool-redis checks a reused connection with `UNWATCH` + `PING`: one round trip per
//! `get()`, the same for every variant). `cargo bench --bench pool --features deadpool`:
//! - instructions per `get()` + drop, counted by callgrind (every thread of this process, not
//!   redis-server), each variant in its own process, a short and a long run subtracted;
//! - nanoseconds per `get()` + drop, the minimum over interleaved rounds in one process.
//!
//! Variants: the raw `deadpool_redis::Pool`; `redis_trace::pool::deadpool::TracedPool` with no
//! provider, with the full SDK set-up and at 1 %; the best hand-written equivalent (`HandPool`
//! below), which records what `TracedPool` records for a borrow (`db.client.connection.wait_time`
//! on `get()`, `db.client.connection.use_time` when the connection goes back, both with
//! `db.client.connection.pool.name`, `db.client.connection.timeouts` on a timed-out wait, and
//! the pool's `count`, `max` and `pending_requests` read when metrics are collected) and lends
//! a connection traced by hand (`bench::connection::HandTraced`), with everything prepared once.
//!
//! `POOL_VARIANTS=traced,hand` selects variants by label; `POOL_TIMED=0` skips the timed rounds,
//! `POOL_INSTRUCTIONS=0` the callgrind runs; `POOL_DUMP=1` prints the metric points one
//! `get()` records through `TracedPool` and by hand, and whether they agree.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _, ObservableUpDownCounter};
use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use redis_trace::pool::deadpool::TracedPool;
use redis_trace_harness::bench::connection::{self, HandConnections, HandTraced};
use redis_trace_harness::bench::{callgrind_instructions, install, Installed, Variant};
use redis_trace_harness::RedisServer;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    Raw,
    NoProvider,
    Traced,
    Hand,
    TracedSampled,
    HandSampled,
}

const SUBJECTS: [Subject; 6] = [
    Subject::Raw,
    Subject::NoProvider,
    Subject::Traced,
    Subject::Hand,
    Subject::TracedSampled,
    Subject::HandSampled,
];

impl Subject {
    fn label(self) -> &'static str {
        match self {
            Self::Raw => "raw deadpool-redis pool",
            Self::NoProvider => "TracedPool, no provider",
            Self::Traced => "TracedPool, full",
            Self::Hand => "best hand-written, full",
            Self::TracedSampled => "TracedPool, 1% sampled",
            Self::HandSampled => "best hand-written, 1% sampled",
        }
    }

    fn variant(self) -> Variant {
        match self {
            Self::Raw => Variant::Raw,
            Self::NoProvider => Variant::NoProvider,
            Self::Traced => Variant::Full,
            Self::Hand => Variant::HandWritten,
            Self::TracedSampled => Variant::FullSampled,
            Self::HandSampled => Variant::HandWrittenSampled,
        }
    }
}

/// `TIME_BOUNDARIES` of redis-trace's pool histograms (seconds, from 10 µs).
const TIME_BOUNDARIES: [f64; 14] = [
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0,
];

/// What one observable instrument reads from the pool's status: values, each with its
/// `db.client.connection.state` if it has one.
type Reading = fn(&deadpool_redis::Status) -> Vec<(usize, Option<&'static str>)>;

/// What the hand-written pool instrumentation prepares once.
struct PoolPrepared {
    wait_time: Histogram<f64>,
    use_time: Histogram<f64>,
    timeouts: Counter<u64>,
    /// `db.client.connection.pool.name`.
    attributes: [KeyValue; 1],
    /// `count` (by state), `max`, `pending_requests`: read when metrics are collected.
    _observed: [ObservableUpDownCounter<i64>; 3],
}

/// A deadpool-redis pool instrumented by hand.
struct HandPool {
    pool: deadpool_redis::Pool,
    prepared: Arc<PoolPrepared>,
    connections: HandConnections,
}

impl HandPool {
    /// After `bench::connection::install` (the lent connections' instrumentation).
    fn new(pool: deadpool_redis::Pool, name: String, meter_provider: &SdkMeterProvider) -> Self {
        let meter = meter_provider.meter("hand-written");
        let histogram = |name: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_boundaries(TIME_BOUNDARIES.to_vec())
                .build()
        };
        let name = KeyValue::new(Key::from_static_str("db.client.connection.pool.name"), name);
        let observed = |metric: &'static str, unit: &'static str, read: Reading| {
            let (pool, name) = (pool.clone(), name.clone());
            let with_state =
                [("used", name.clone()), ("idle", name.clone())].map(|(state, name)| {
                    [
                        name,
                        KeyValue::new(Key::from_static_str("db.client.connection.state"), state),
                    ]
                });
            meter
                .i64_observable_up_down_counter(metric)
                .with_unit(unit)
                .with_callback(move |observer| {
                    for (value, state) in read(&pool.status()) {
                        let value = i64::try_from(value).unwrap_or(i64::MAX);
                        match state {
                            Some("used") => observer.observe(value, &with_state[0]),
                            Some(_) => observer.observe(value, &with_state[1]),
                            None => observer.observe(value, std::slice::from_ref(&name)),
                        }
                    }
                })
                .build()
        };
        let prepared = PoolPrepared {
            wait_time: histogram("db.client.connection.wait_time"),
            use_time: histogram("db.client.connection.use_time"),
            timeouts: meter
                .u64_counter("db.client.connection.timeouts")
                .with_unit("{timeout}")
                .build(),
            _observed: [
                observed("db.client.connection.count", "{connection}", |status| {
                    vec![
                        (status.size.saturating_sub(status.available), Some("used")),
                        (status.available, Some("idle")),
                    ]
                }),
                observed("db.client.connection.max", "{connection}", |status| {
                    vec![(status.max_size, None)]
                }),
                observed(
                    "db.client.connection.pending_requests",
                    "{request}",
                    |status| vec![(status.waiting, None)],
                ),
            ],
            attributes: [name],
        };
        Self {
            pool,
            prepared: Arc::new(prepared),
            connections: HandConnections::installed(),
        }
    }

    /// A connection from the pool, traced by hand; its wait recorded.
    async fn get(&self) -> Result<HandLease, deadpool_redis::PoolError> {
        let started = Instant::now();
        match self.pool.get().await {
            Ok(connection) => {
                let waited = started.elapsed().as_secs_f64();
                let prepared = &self.prepared;
                prepared.wait_time.record(waited, &prepared.attributes);
                Ok(HandLease {
                    _connection: self.connections.wrap(connection),
                    borrowed_at: Instant::now(),
                    prepared: Arc::clone(prepared),
                })
            }
            Err(error) => {
                if matches!(error, deadpool_redis::PoolError::Timeout(_)) {
                    let prepared = &self.prepared;
                    prepared.timeouts.add(1, &prepared.attributes);
                }
                Err(error)
            }
        }
    }
}

/// A connection borrowed from a [`HandPool`]: its use time recorded when it goes back.
struct HandLease {
    _connection: HandTraced<deadpool_redis::Connection>,
    borrowed_at: Instant,
    prepared: Arc<PoolPrepared>,
}

impl Drop for HandLease {
    fn drop(&mut self) {
        let used = self.borrowed_at.elapsed().as_secs_f64();
        let prepared = &self.prepared;
        prepared.use_time.record(used, &prepared.attributes);
    }
}

/// The pool under test.
enum Subjected {
    Raw(deadpool_redis::Pool),
    Traced(TracedPool),
    Hand(HandPool),
}

fn deadpool(server: &RedisServer) -> deadpool_redis::Pool {
    deadpool_redis::Config::from_url(server.url(0))
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .expect("a deadpool-redis pool")
}

/// The name `TracedPool` gives the pool: `address:port/db`.
fn pool_name(server: &RedisServer) -> String {
    format!("127.0.0.1:{}/0", server.port())
}

fn subjected(subject: Subject, server: &RedisServer, installed: &Installed) -> Subjected {
    let pool = deadpool(server);
    match subject {
        Subject::Raw => Subjected::Raw(pool),
        Subject::NoProvider | Subject::Traced | Subject::TracedSampled => {
            Subjected::Traced(TracedPool::new(pool, server.client()))
        }
        Subject::Hand | Subject::HandSampled => {
            let (Some(tracer), Some(meter)) =
                (&installed.tracer_provider, &installed.meter_provider)
            else {
                unreachable!("the hand-written variants install both providers")
            };
            connection::install(tracer, meter);
            Subjected::Hand(HandPool::new(pool, pool_name(server), meter))
        }
    }
}

/// One `get()` and the connection dropped back into the pool.
async fn call(pool: &Subjected) {
    match pool {
        Subjected::Raw(pool) => drop(black_box(pool.get().await.expect("a connection"))),
        Subjected::Traced(pool) => drop(black_box(pool.get().await.expect("a connection"))),
        Subjected::Hand(pool) => drop(black_box(pool.get().await.expect("a connection"))),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

const SHORT: u64 = 1_000;
const LONG: u64 = 4_000;
const WARM_UP: u64 = 200;
const CHILD: &str = "REDIS_TRACE_POOL_CHILD";
const ROUNDS: usize = 7;
const TIMED_CALLS: u32 = 5_000;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    if let Ok(child) = std::env::var(CHILD) {
        let (subject, calls) = child.split_once(' ').expect("`{subject} {calls}`");
        let subject = SUBJECTS[subject.parse::<usize>().expect("a subject")];
        let calls: u64 = calls.parse().expect("calls");
        let server = RedisServer::start();
        let runtime = runtime();
        let installed = install(subject.variant());
        let pool = subjected(subject, &server, &installed);
        runtime.block_on(async {
            for _ in 0..WARM_UP + calls {
                call(&pool).await;
            }
        });
        if let Some(provider) = &installed.tracer_provider {
            provider.force_flush().ok();
        }
        return;
    }
    if std::env::var_os("POOL_DUMP").is_some() {
        dump();
        return;
    }
    let selected = std::env::var("POOL_VARIANTS").ok();
    let wanted: Vec<(usize, Subject)> = (SUBJECTS.into_iter().enumerate())
        .filter(|(_, subject)| {
            selected.as_deref().is_none_or(|list| {
                list.split(',')
                    .any(|name| subject.label().contains(name.trim()))
            })
        })
        .collect();
    let enabled = |name: &str| std::env::var(name).map_or(true, |value| value != "0");
    let mut instructions = vec![f64::NAN; wanted.len()];
    if enabled("POOL_INSTRUCTIONS") {
        for (row, &(index, _)) in wanted.iter().enumerate() {
            let count =
                |calls: u64| callgrind_instructions(CHILD, &format!("{index} {calls}")) as f64;
            instructions[row] = (count(LONG) - count(SHORT)) / (LONG - SHORT) as f64;
        }
    }
    let mut nanos = vec![f64::NAN; wanted.len()];
    if enabled("POOL_TIMED") {
        let server = RedisServer::start();
        let runtime = runtime();
        nanos.fill(f64::MAX);
        for _ in 0..ROUNDS {
            for (row, &(_, subject)) in wanted.iter().enumerate() {
                let installed = install(subject.variant());
                let pool = subjected(subject, &server, &installed);
                let elapsed = runtime.block_on(async {
                    for _ in 0..WARM_UP {
                        call(&pool).await;
                    }
                    let started = Instant::now();
                    for _ in 0..TIMED_CALLS {
                        call(&pool).await;
                    }
                    started.elapsed()
                });
                let per_call = elapsed.as_nanos() as f64 / f64::from(TIMED_CALLS);
                nanos[row] = nanos[row].min(per_call);
                if let Some(provider) = &installed.tracer_provider {
                    provider.force_flush().ok();
                }
            }
        }
    }
    println!(
        "one get() + drop of a warm deadpool-redis pool, private redis-server; instructions by \
         callgrind ({SHORT} vs {LONG} calls, this process), ns as the minimum of {ROUNDS} \
         interleaved rounds of {TIMED_CALLS}"
    );
    println!(
        "{:<32} {:>14} {:>10} {:>10} {:>10} {:>10}",
        "variant", "instructions", "added", "ns", "added", "× hand"
    );
    let raw = wanted
        .iter()
        .position(|(_, subject)| *subject == Subject::Raw);
    for (row, &(_, subject)) in wanted.iter().enumerate() {
        let added =
            |figures: &[f64], row: usize| raw.map_or(f64::NAN, |raw| figures[row] - figures[raw]);
        let reference = match subject {
            Subject::Traced => Some(Subject::Hand),
            Subject::TracedSampled => Some(Subject::HandSampled),
            _ => None,
        };
        let ratio = reference
            .and_then(|reference| wanted.iter().position(|(_, s)| *s == reference))
            .map_or(String::new(), |hand| {
                format!(
                    "{:.2}",
                    added(&instructions, row) / added(&instructions, hand)
                )
            });
        println!(
            "{:<32} {:>14.0} {:>10.0} {:>10.0} {:>10.0} {:>10}",
            subject.label(),
            instructions[row],
            added(&instructions, row),
            nanos[row],
            added(&nanos, row),
            ratio
        );
    }
}

/// The metrics a pool records.
const METRICS: [&str; 6] = [
    "db.client.connection.wait_time",
    "db.client.connection.use_time",
    "db.client.connection.timeouts",
    "db.client.connection.count",
    "db.client.connection.max",
    "db.client.connection.pending_requests",
];

/// `POOL_DUMP`: the metric points one `get()` + drop records, through `TracedPool` and by hand.
fn dump() {
    let telemetry = redis_trace::testing::Telemetry::install();
    let server = RedisServer::start();
    let runtime = runtime();
    let mut sides = Vec::new();
    for side in ["TracedPool", "hand-written"] {
        let pool = match side {
            "TracedPool" => Subjected::Traced(TracedPool::new(deadpool(&server), server.client())),
            _ => {
                connection::install(telemetry.tracer_provider(), telemetry.meter_provider());
                let pool = HandPool::new(
                    deadpool(&server),
                    pool_name(&server),
                    telemetry.meter_provider(),
                );
                Subjected::Hand(pool)
            }
        };
        runtime.block_on(call(&pool));
        telemetry.clear();
        runtime.block_on(call(&pool));
        let mut lines = Vec::new();
        for metric in METRICS {
            for point in telemetry.metric_points(metric) {
                lines.push(format!(
                    "metric {metric} [{}] count={} bounds={:?}\n    attributes {:?}",
                    point.unit, point.value, point.bounds, point.attributes
                ));
            }
        }
        lines.extend(
            telemetry
                .spans()
                .iter()
                .map(|span| format!("span {:?}", span.name)),
        );
        println!("== {side}");
        for line in &lines {
            println!("  {line}");
        }
        sides.push(lines);
        drop(pool);
    }
    let verdict = if sides[0] == sides[1] {
        "the same"
    } else {
        "DIFFERENT"
    };
    println!("== {verdict}");
}
