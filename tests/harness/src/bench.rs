//! What the benchmarks share: the telemetry set-ups being compared, installed in one process.

pub mod connection;
pub mod hand;
pub mod messaging;
pub mod micro;

use std::cell::RefCell;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanExporter};

/// The duration histograms' buckets, as redis-trace's (seconds): the hand-written references
/// record into the same ones.
pub const DURATION_BOUNDARIES: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

/// The variants, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The function without any instrumentation.
    Raw,
    /// `#[redis_traced]`, no tracer or meter provider installed.
    NoProvider,
    /// `#[redis_traced]`, SDK tracer with the AlwaysOff sampler, no meter provider.
    AlwaysOff,
    /// `#[redis_traced]`, SDK AlwaysOn, batch processor with a no-op exporter, SDK metrics.
    Full,
    /// `Full` with redis-trace's metrics switched off: the span alone.
    SpanOnly,
    /// The seed documents' hand-written span on the same SDK set-up.
    Seed,
    /// `#[tracing::instrument]` through tracing-opentelemetry on the same SDK set-up.
    TracingInstrument,
    /// The best hand-written equivalent (`bench::hand`): the same span and metrics against the
    /// SDK with a cached tracer, static keys and prebuilt metric attributes.
    HandWritten,
    /// `Full` under a 1 % `ParentBased(TraceIdRatioBased(0.01))` sampler.
    FullSampled,
    /// `HandWritten` under the same 1 % sampler.
    HandWrittenSampled,
    /// What the SDK alone costs for one span: an `SdkTracer` span with the three attributes
    /// the conventions require, started and ended, no context, no metrics. No instrumentation
    /// through this SDK pipeline can cost less.
    SdkFloor,
    /// What the SDK alone costs for a span its sampler drops, made current around the body as
    /// every instrumentation must (children follow the decision): an `SdkTracer` span with the
    /// three required attributes under `AlwaysOff`, no metrics.
    SdkFloorDropped,
}

impl Variant {
    pub const ALL: [Self; 12] = [
        Self::Raw,
        Self::NoProvider,
        Self::AlwaysOff,
        Self::Full,
        Self::SpanOnly,
        Self::HandWritten,
        Self::FullSampled,
        Self::HandWrittenSampled,
        Self::Seed,
        Self::TracingInstrument,
        Self::SdkFloor,
        Self::SdkFloorDropped,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::NoProvider => "redis_traced, no provider",
            Self::AlwaysOff => "redis_traced, AlwaysOff",
            Self::Full => "redis_traced, full (span+metrics)",
            Self::SpanOnly => "redis_traced, span only",
            Self::HandWritten => "best hand-written (span+metrics)",
            Self::FullSampled => "redis_traced, full, 1% sampled",
            Self::HandWrittenSampled => "best hand-written, 1% sampled",
            Self::Seed => "seed hand-written span",
            Self::TracingInstrument => "tracing::instrument + otel",
            Self::SdkFloor => "SDK span alone (floor)",
            Self::SdkFloorDropped => "SDK dropped span, current (floor)",
        }
    }
}

/// Discards spans: measures the pipeline, not an exporter.
#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

/// The installed set-up; dropping it keeps nothing alive but the providers.
pub struct Installed {
    pub tracer_provider: Option<SdkTracerProvider>,
    pub meter_provider: Option<SdkMeterProvider>,
    _subscriber: Option<tracing::subscriber::DefaultGuard>,
}

/// Installs the globals `variant` runs with (on this thread, for the `tracing` subscriber).
pub fn install(variant: Variant) -> Installed {
    let sdk = |sampler: Sampler| {
        SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_batch_exporter(NoopExporter)
            .build()
    };
    let (tracer_provider, meter_provider) = match variant {
        Variant::Raw | Variant::NoProvider => (None, None),
        Variant::AlwaysOff | Variant::SdkFloorDropped => (Some(sdk(Sampler::AlwaysOff)), None),
        Variant::Full
        | Variant::SpanOnly
        | Variant::HandWritten
        | Variant::FullSampled
        | Variant::HandWrittenSampled
        | Variant::Seed
        | Variant::TracingInstrument
        | Variant::SdkFloor => {
            // An hour-long interval: the SDK aggregates every point, nothing is exported.
            let reader = PeriodicReader::builder(InMemoryMetricExporter::default())
                .with_interval(std::time::Duration::from_secs(3600))
                .build();
            let meters = SdkMeterProvider::builder().with_reader(reader).build();
            let sampler = match variant {
                Variant::FullSampled | Variant::HandWrittenSampled => {
                    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.01)))
                }
                _ => Sampler::AlwaysOn,
            };
            (Some(sdk(sampler)), Some(meters))
        }
    };
    match &tracer_provider {
        Some(provider) => opentelemetry::global::set_tracer_provider(provider.clone()),
        None => opentelemetry::global::set_tracer_provider(
            opentelemetry::trace::noop::NoopTracerProvider::new(),
        ),
    }
    match &meter_provider {
        Some(provider) => opentelemetry::global::set_meter_provider(provider.clone()),
        None => opentelemetry::global::set_meter_provider(
            opentelemetry::metrics::noop::NoopMeterProvider::new(),
        ),
    }
    // The documented fast path: the SDK provider handed to redis-trace directly (its own
    // tracer, no boxed tracer); without one, the global no-op provider.
    match &tracer_provider {
        Some(provider) => redis_trace::use_tracer_provider(provider),
        None => redis_trace::reload_global_tracer(),
    }
    redis_trace::reload_global_meter();
    redis_trace::Config::builder()
        .with_metrics(variant != Variant::SpanOnly)
        .install();
    let subscriber = (variant == Variant::TracingInstrument).then(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let tracer = tracer_provider
            .as_ref()
            .expect("SDK provider")
            .tracer("bench");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::set_default(subscriber)
    });
    FLOOR_TRACER.with(|floor| {
        *floor.borrow_mut() = tracer_provider
            .as_ref()
            .map(|provider| provider.tracer("floor"));
    });
    match (&tracer_provider, &meter_provider) {
        (Some(tracer_provider), Some(meter_provider))
            if matches!(variant, Variant::HandWritten | Variant::HandWrittenSampled) =>
        {
            hand::install(tracer_provider, meter_provider);
        }
        _ => hand::uninstall(),
    }
    Installed {
        tracer_provider,
        meter_provider,
        _subscriber: subscriber,
    }
}

thread_local! {
    /// The SDK tracer of [`Variant::SdkFloor`], set by [`install`] on the benchmark's thread.
    static FLOOR_TRACER: RefCell<Option<SdkTracer>> = const { RefCell::new(None) };
}

/// One bare SDK span with the required database attributes: [`Variant::SdkFloor`].
pub fn sdk_floor_span() {
    use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
    use opentelemetry::KeyValue;
    FLOOR_TRACER.with(|floor| {
        let floor = floor.borrow();
        let tracer = floor.as_ref().expect("the SDK floor variant is installed");
        let mut span = tracer
            .span_builder("GET")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("db.system.name", "redis"),
                KeyValue::new("db.operation.name", "GET"),
                KeyValue::new("db.query.summary", "get user"),
            ])
            .start(tracer);
        span.end();
    });
}

/// CPU time of this process (user + system), in seconds.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; no other invariant.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The median of `values`.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// [`Variant::SdkFloorDropped`]: one SDK span with the required attributes, which the
/// `AlwaysOff` sampler drops, in a context to make current around the body (then end it).
pub fn sdk_floor_dropped_context() -> opentelemetry::Context {
    use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
    use opentelemetry::{Context, KeyValue};
    FLOOR_TRACER.with(|floor| {
        let floor = floor.borrow();
        let tracer = floor.as_ref().expect("the SDK floor variant is installed");
        let span = tracer
            .span_builder("GET")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("db.system.name", "redis"),
                KeyValue::new("db.operation.name", "GET"),
                KeyValue::new("db.query.summary", "get user"),
            ])
            .start(tracer);
        Context::current_with_span(span)
    })
}

/// The instructions valgrind's callgrind counts in a child process running this benchmark
/// binary again with the environment variable `child_variable` set to `child_value` (every
/// thread counted): the fewest over `CALLGRIND_REPEATS` runs (3 unless set). How often the
/// batch span processor's thread wakes, and so what its exports cost per span, follows the
/// wall clock and the machine's load (a few hundred instructions per span between two runs of
/// one binary); noise only adds, as with time.
pub fn callgrind_instructions(child_variable: &str, child_value: &str) -> u64 {
    let repeats = std::env::var("CALLGRIND_REPEATS")
        .ok()
        .and_then(|repeats| repeats.parse().ok())
        .unwrap_or(3_usize)
        .max(1);
    (0..repeats)
        .map(|_| callgrind_once(child_variable, child_value))
        .min()
        .expect("one run at least")
}

fn callgrind_once(child_variable: &str, child_value: &str) -> u64 {
    let output = std::process::Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null", "--"])
        .arg(std::env::current_exe().expect("this benchmark's path"))
        .env(child_variable, child_value)
        .output()
        .unwrap_or_else(|error| {
            panic!("running valgrind failed ({error}); install it (apt-get install valgrind)")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "callgrind run failed:\n{stderr}");
    stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `Collected :` line in callgrind's output:\n{stderr}"))
}
