//! What the user installs, process-wide: the configuration with the default endpoint, the
//! tracer and the metric instruments made from the installed providers, and the flag that lets
//! a call skip all work; calls read them through one per-thread snapshot.
//!
//! Every write goes through [`publish`], which recomputes the flag after it, so the pieces
//! never disagree. Other modules only read, through the functions here: the operation, the
//! connection (describing, connecting, reconnecting, messaging), messaging's receive, process
//! and metrics, and the pools; `testing` installs its providers through the public setters.
//! Nothing here imports them.
//!
//! It is not the only process-wide state: what belongs to one concept keeps its own beside it.
//! - Registries: the live pools (`metrics::pool`), the watched client-side caches
//!   (`metrics::client_cache`), the source of instrument generations (`metrics`).
//! - Made once and shared: the pipeline operation names (`connection::describe`).
//! - Per-thread caches: rendered keys (`intern`), command tallies (`metrics::command`), plain
//!   commands' plans (`operation::plan`), descriptions' spare blocks (`operation::spare`),
//!   destinations' messaging metric attributes (`messaging::measure`), the traced-body depth
//!   (`operation::scope`), the key positions' buffer (`statement`).
//! - The `testing` feature's in-memory pipeline and the lock its tests share (`testing`).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{SpanContext, TracerProvider};

use crate::config::{Config, ConfigBuilder};
use crate::endpoint::{Endpoint, ToEndpoint};
use crate::metrics::MetricsSlot;
use crate::tracer::TracerSlot;

/// What every call reads together: the configuration and the endpoint it falls back to.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) default_endpoint: Option<Endpoint>,
}

static SETTINGS: ArcSwapOption<Settings> = ArcSwapOption::const_empty();
static TRACER: ArcSwapOption<TracerSlot> = ArcSwapOption::const_empty();
static METRICS: ArcSwapOption<MetricsSlot> = ArcSwapOption::const_empty();
/// Whether calls can skip all telemetry work: no tracer records spans and no meter records
/// metrics (or metrics are off). Checking the three slots to learn that costs more than a call.
static NOTHING_TO_RECORD: AtomicBool = AtomicBool::new(false);
/// Bumped after every write: a thread's [`Snapshot`] of an older generation is read again.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The settings, tracer and instruments as of one generation: what one call reads.
pub(crate) struct Snapshot {
    generation: u64,
    pub(crate) settings: Arc<Settings>,
    pub(crate) tracer: Arc<TracerSlot>,
    pub(crate) metrics: Arc<MetricsSlot>,
}

thread_local! {
    /// The snapshot this thread read last. A call then reads one counter, where loading the
    /// three shared `Arc`s would write to reference counts every thread shares.
    static SNAPSHOT: RefCell<Option<Rc<Snapshot>>> = const { RefCell::new(None) };
}

/// What is in effect now, as this thread last read it unless something was written since.
pub(crate) fn snapshot() -> Rc<Snapshot> {
    let generation = GENERATION.load(Ordering::Acquire);
    let cached = SNAPSHOT.try_with(|cell| {
        let mut cached = cell.try_borrow_mut().ok()?;
        match &*cached {
            Some(snapshot) if snapshot.generation == generation => Some(Rc::clone(snapshot)),
            _ => {
                let fresh = Rc::new(Snapshot::read(generation));
                *cached = Some(Rc::clone(&fresh));
                Some(fresh)
            }
        }
    });
    // During thread exit (the thread-local is gone) or re-entered: read without keeping.
    cached
        .ok()
        .flatten()
        .unwrap_or_else(|| Rc::new(Snapshot::read(generation)))
}

impl Snapshot {
    /// The generation it was read at: what it holds is the same as any other snapshot's of
    /// that generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The same settings, tracer and instruments, said to be of `generation` (for tests of
    /// what is kept by generation).
    #[cfg(test)]
    pub(crate) fn for_generation(&self, generation: u64) -> Self {
        Self {
            generation,
            settings: Arc::clone(&self.settings),
            tracer: Arc::clone(&self.tracer),
            metrics: Arc::clone(&self.metrics),
        }
    }

    fn read(generation: u64) -> Self {
        Self {
            generation,
            settings: settings(),
            tracer: tracer(),
            metrics: metrics(),
        }
    }
}

/// The settings in effect: the installed ones, else the environment's, read once.
pub(crate) fn settings() -> Arc<Settings> {
    load_or_init(&SETTINGS, || Settings {
        config: Config::from_env(),
        default_endpoint: None,
    })
}

/// The tracer to use, resolved from the global provider on first use.
pub(crate) fn tracer() -> Arc<TracerSlot> {
    load_or_init(&TRACER, TracerSlot::from_global)
}

/// The instruments to record into, created from the global meter provider on first use.
pub(crate) fn metrics() -> Arc<MetricsSlot> {
    load_or_init(&METRICS, MetricsSlot::from_global)
}

/// Runs `record` with the instruments, unless no metrics are recorded (no meter provider, or
/// metrics switched off): for what records outside an operation (pools, connections,
/// messaging).
pub(crate) fn with_instruments(record: impl FnOnce(&crate::metrics::Instruments)) {
    with_settings_and_instruments(|_, instruments| record(instruments));
}

/// [`with_instruments`], with the settings it read. Read through this thread's snapshot: one
/// counter, where the shared slots cost two reference-count writes each (a pool lease records
/// twice).
pub(crate) fn with_settings_and_instruments(
    record: impl FnOnce(&Settings, &crate::metrics::Instruments),
) {
    if nothing_to_record() {
        return;
    }
    let now = snapshot();
    if !now.settings.config.records_metrics() {
        return;
    }
    if let Some(instruments) = now.metrics.instruments() {
        record(&now.settings, instruments);
    }
}

/// Whether calls can skip all telemetry work.
#[inline]
pub fn nothing_to_record() -> bool {
    NOTHING_TO_RECORD.load(Ordering::Relaxed)
}

/// Records what a span built by `slot` showed: if it is the first and shows the no-op tracer,
/// calls stop building spans.
#[inline]
pub(crate) fn observe_span(
    slot: &Arc<TracerSlot>,
    parent: &SpanContext,
    span: &SpanContext,
    telemetry_suppressed: bool,
) {
    if slot.first_span_shows_noop(parent, span, telemetry_suppressed) {
        stop_building_spans(slot);
    }
}

#[cold]
fn stop_building_spans(slot: &Arc<TracerSlot>) {
    // Only if `slot` is still the one in use: a provider set meanwhile wins.
    TRACER.compare_and_swap(slot, Some(Arc::new(TracerSlot::Noop)));
    refresh();
}

fn load_or_init<T>(slot: &ArcSwapOption<T>, init: impl FnOnce() -> T) -> Arc<T> {
    if let Some(value) = slot.load_full() {
        return value;
    }
    let fresh = Arc::new(init());
    // Another thread may have resolved it meanwhile; its answer wins.
    let previous = slot.compare_and_swap(&None::<Arc<T>>, Some(Arc::clone(&fresh)));
    if let Some(existing) = &*previous {
        return Arc::clone(existing);
    }
    refresh();
    fresh
}

/// Replaces one slot's value (`None`: resolve again on next use) and keeps the flag in step.
fn publish<T>(slot: &ArcSwapOption<T>, value: Option<T>) {
    slot.store(value.map(Arc::new));
    refresh();
}

/// Updates the settings from the ones in effect, atomically with respect to other updates.
fn update_settings(update: impl Fn(&Settings) -> Settings) {
    let current = settings();
    SETTINGS.rcu(|installed| {
        let base = installed.as_deref().unwrap_or(&current);
        Some(Arc::new(update(base)))
    });
    refresh();
}

fn refresh() {
    let tracer_noop = matches!(TRACER.load().as_deref(), Some(TracerSlot::Noop));
    let metrics_noop = matches!(METRICS.load().as_deref(), Some(MetricsSlot::Noop));
    // Settings not read yet may turn metrics on: until then, assume they are.
    let metrics_off = SETTINGS
        .load()
        .as_deref()
        .is_some_and(|settings| !settings.config.records_metrics());
    NOTHING_TO_RECORD.store(
        tracer_noop && (metrics_noop || metrics_off),
        Ordering::Relaxed,
    );
    // After the slots are written: a thread that sees the new generation reads them anew.
    GENERATION.fetch_add(1, Ordering::Release);
}

impl Config {
    /// The configuration in effect: the one installed last, else the environment's.
    #[must_use]
    pub fn current() -> Config {
        settings().config.clone()
    }
}

impl ConfigBuilder {
    /// Makes this the process-wide configuration, replacing the previous one. The default
    /// endpoint is kept unless [`ConfigBuilder::with_default_endpoint`] names a new one.
    pub fn install(self) {
        let Self {
            config,
            default_endpoint,
        } = self;
        update_settings(|current| Settings {
            config: config.clone(),
            default_endpoint: default_endpoint
                .clone()
                .or_else(|| current.default_endpoint.clone()),
        });
    }
}

/// Sets the endpoint recorded by every `#[redis_traced]` fn that has no `endpoint = ...` and
/// every [`TracedConnection`](crate::TracedConnection) without one of its own.
///
/// Call it once at start-up, e.g. with the `redis::Client` the application uses. Without it
/// (and without `endpoint = ...`), `server.address`, `server.port` and `db.namespace` are absent.
/// Installing a configuration later keeps it.
pub fn set_default_endpoint(endpoint: impl ToEndpoint) {
    let endpoint = endpoint.to_endpoint();
    update_settings(|current| Settings {
        config: current.config.clone(),
        default_endpoint: Some(endpoint.clone()),
    });
}

/// Forgets the endpoint set by [`set_default_endpoint`].
pub fn clear_default_endpoint() {
    update_settings(|current| Settings {
        config: current.config.clone(),
        default_endpoint: None,
    });
}

/// The endpoint set by [`set_default_endpoint`], if any.
#[must_use]
pub fn default_endpoint() -> Option<Endpoint> {
    settings().default_endpoint.clone()
}

/// Makes redis-trace use `provider` instead of the global tracer provider.
///
/// Without it, the global provider (`opentelemetry::global::set_tracer_provider`) is read once,
/// at the first traced call: install it before that call, or call [`reload_global_tracer`]
/// after changing it.
pub fn use_tracer_provider<P>(provider: &P)
where
    P: TracerProvider + 'static,
    P::Tracer: Send + Sync + 'static,
    <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
{
    publish(&TRACER, Some(TracerSlot::from_provider(provider)));
}

/// Forgets the cached tracer; the next traced call reads the global tracer provider again.
pub fn reload_global_tracer() {
    publish(&TRACER, None);
}

/// Makes redis-trace record its metrics through `provider` instead of the global meter
/// provider (which is otherwise read once, at the first traced call).
pub fn use_meter_provider<P: MeterProvider>(provider: &P) {
    publish(&METRICS, Some(MetricsSlot::from_provider(provider)));
}

/// Forgets the instruments; the next traced call reads the global meter provider again.
pub fn reload_global_meter() {
    publish(&METRICS, None);
}
