//! The best hand-written equivalent of `#[redis_traced]`: the same span and metrics, written
//! directly against the SDK with everything that can be prepared prepared once: a cached
//! tracer, static attribute keys and values in a list allocated once, the span made current
//! around the body, one clock read at each end for both the span and the histogram, the
//! duration histogram and the hit counter recorded with prebuilt attribute slices.
//!
//! Prepared once per installation and read through a per-thread copy (one counter compared per
//! call), so it serves every thread of a multi-threaded runtime at no shared cost.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use opentelemetry::metrics::{Histogram, MeterProvider as _, ObservableCounter};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, Key, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// One traced operation of the benchmarks: its command and summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `GET`, "get user": a lookup, hit or miss.
    GetUser,
    /// `SET`, "save user".
    SaveUser,
    /// `SET`, "save session": a pipeline of `SET` and `EXPIRE`.
    SaveSession,
}

impl Operation {
    const ALL: [Self; 3] = [Self::GetUser, Self::SaveUser, Self::SaveSession];

    fn command(self) -> &'static str {
        match self {
            Self::GetUser => "GET",
            Self::SaveUser | Self::SaveSession => "SET",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Self::GetUser => "get user",
            Self::SaveUser => "save user",
            Self::SaveSession => "save session",
        }
    }
}

/// What the hand-written instrumentation prepares once per operation.
struct Prepared {
    metric_attributes: [KeyValue; 3],
    hit: [KeyValue; 4],
    miss: [KeyValue; 4],
}

/// What the hand-written instrumentation prepares once.
pub struct HandWritten {
    generation: u64,
    tracer: SdkTracer,
    duration: Histogram<f64>,
    /// Hits and misses per operation, read by the lookup counter's callback (redis-trace
    /// counts lookups so: an atomic add per call, not a synchronous counter add).
    lookups: Arc<[[AtomicU64; 2]; 3]>,
    _requests: ObservableCounter<u64>,
    prepared: [Prepared; 3],
}

static INSTALLED: Mutex<Option<Arc<HandWritten>>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static LOCAL: RefCell<Option<Arc<HandWritten>>> = const { RefCell::new(None) };
}

/// Prepares the hand-written instrumentation for every thread.
pub fn install(tracer_provider: &SdkTracerProvider, meter_provider: &SdkMeterProvider) {
    let meter = meter_provider.meter("hand-written");
    let prepare = |operation: Operation| {
        let metric_attributes = [
            KeyValue::new(Key::from_static_str("db.system.name"), "redis"),
            KeyValue::new(
                Key::from_static_str("db.operation.name"),
                operation.command(),
            ),
            KeyValue::new(
                Key::from_static_str("db.query.summary"),
                operation.summary(),
            ),
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
        Prepared {
            hit: with_hit(true),
            miss: with_hit(false),
            metric_attributes,
        }
    };
    let generation = GENERATION.load(Ordering::Relaxed) + 1;
    let prepared = Operation::ALL.map(prepare);
    let reported: Vec<[Vec<KeyValue>; 2]> = (prepared.iter())
        .map(|prepared| [prepared.hit.to_vec(), prepared.miss.to_vec()])
        .collect();
    let lookups: Arc<[[AtomicU64; 2]; 3]> = Arc::default();
    let hand = HandWritten {
        generation,
        tracer: tracer_provider.tracer("hand-written"),
        duration: meter
            .f64_histogram("db.client.operation.duration")
            .with_unit("s")
            .with_boundaries(super::DURATION_BOUNDARIES.to_vec())
            .build(),
        lookups: Arc::clone(&lookups),
        _requests: meter
            .u64_observable_counter("redis_trace.cache.requests")
            .with_callback(move |observer| {
                for (counts, reported) in lookups.iter().zip(&reported) {
                    for (count, attributes) in counts.iter().zip(reported) {
                        let count = count.load(Ordering::Relaxed);
                        if count > 0 {
                            observer.observe(count, attributes);
                        }
                    }
                }
            })
            .build(),
        prepared,
    };
    *INSTALLED.lock().unwrap() = Some(Arc::new(hand));
    GENERATION.store(generation, Ordering::Release);
}

/// Forgets the hand-written instrumentation.
pub fn uninstall() {
    *INSTALLED.lock().unwrap() = None;
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Runs `read` with the installed instrumentation: this thread's copy unless it changed
/// since, borrowed (no shared reference count touched per call).
fn with_installed<R>(read: impl FnOnce(&HandWritten) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    LOCAL.with(|local| {
        let stale = !matches!(&*local.borrow(), Some(hand) if hand.generation == generation);
        if stale {
            let hand = INSTALLED.lock().unwrap().clone();
            *local.borrow_mut() = hand;
        }
        read(
            local
                .borrow()
                .as_deref()
                .expect("hand-written instrumentation installed"),
        )
    })
}

/// A `GET` lookup traced by hand: [`traced_operation`] for [`Operation::GetUser`].
pub async fn traced<T, E: std::fmt::Display, F: Future<Output = Result<Option<T>, E>>>(
    call: F,
) -> Result<Option<T>, E> {
    traced_operation(Operation::GetUser, call, |value| Some(value.is_some())).await
}

/// `call` traced by hand: a CLIENT span with the attributes `#[redis_traced]` records, current
/// while `call` runs, `cache.hit` (when `hit` says) and the status from the result; the
/// duration and the hit or miss recorded.
pub async fn traced_operation<T, E, F>(
    operation: Operation,
    call: F,
    hit: impl FnOnce(&T) -> Option<bool>,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    // One clock for the span and the histogram: two reads, the SDK reads none.
    let started = SystemTime::now();
    let cx = with_installed(|hand| {
        // Room for `cache.hit`: the list is allocated once.
        let mut attributes = Vec::with_capacity(8);
        attributes.extend([
            KeyValue::new(Key::from_static_str("db.system.name"), "redis"),
            KeyValue::new(
                Key::from_static_str("db.operation.name"),
                operation.command(),
            ),
            KeyValue::new(
                Key::from_static_str("db.query.summary"),
                operation.summary(),
            ),
            KeyValue::new(
                Key::from_static_str("code.function.name"),
                "bench::get_user",
            ),
            KeyValue::new(Key::from_static_str("code.file.path"), "benches/bench.rs"),
            KeyValue::new(Key::from_static_str("code.line.number"), 1_i64),
            KeyValue::new(Key::from_static_str("redis.key"), "user:?"),
        ]);
        let span = hand
            .tracer
            .span_builder(operation.summary())
            .with_kind(SpanKind::Client)
            .with_start_time(started)
            .with_attributes(attributes)
            .start(&hand.tracer);
        Context::current_with_span(span)
    });
    let result = opentelemetry::context::FutureExt::with_context(call, cx.clone()).await;
    let span = cx.span();
    with_installed(|hand| {
        let prepared = &hand.prepared[operation as usize];
        match &result {
            Ok(value) => {
                if let Some(hit) = hit(value) {
                    span.set_attribute(KeyValue::new(Key::from_static_str("cache.hit"), hit));
                    let counts = &hand.lookups[operation as usize];
                    counts[usize::from(!hit)].fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) => span.set_status(Status::error(error.to_string())),
        }
        let ended = SystemTime::now();
        span.end_with_timestamp(ended);
        let seconds = ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        hand.duration.record(seconds, &prepared.metric_attributes);
    });
    result
}
