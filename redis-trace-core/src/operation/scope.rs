//! What a traced body runs under: its span as the current context, the marker that keeps the
//! commands it sends from counting twice, and the flag that tells a panic from a cancellation.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::{Context, ContextGuard};

use super::{Operation, Target};

thread_local! {
    /// How many `#[redis_traced]` bodies are running on this thread: commands sent from inside
    /// one do not record metrics, so a call is counted once.
    static FUNCTION_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether a `#[redis_traced]` body is running on this thread.
pub(super) fn in_traced_function() -> bool {
    FUNCTION_DEPTH.with(Cell::get) > 0
}

/// Counts a running `#[redis_traced]` body for as long as it lives.
struct FunctionScope;

impl FunctionScope {
    fn enter() -> Self {
        FUNCTION_DEPTH.with(|depth| depth.set(depth.get() + 1));
        Self
    }
}

impl Drop for FunctionScope {
    fn drop(&mut self) {
        FUNCTION_DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// In effect while a traced body runs: for a function, the marker that keeps the commands it
/// sends from counting again; the span as the current context; the panic flag.
#[derive(Default)]
pub(super) struct Entered<'a> {
    _function: Option<FunctionScope>,
    _current: Option<ContextGuard>,
    _panic: Option<PanicFlag<'a>>,
}

impl Operation {
    /// Puts in effect what a traced body runs under, until the returned value is dropped.
    pub(super) fn enter(&mut self) -> Entered<'_> {
        let Some(active) = self.active.as_mut() else {
            return Entered::default();
        };
        Entered {
            _function: matches!(active.target, Target::Function(..)).then(FunctionScope::enter),
            _current: active.span.as_ref().map(|cx| cx.clone().attach()),
            _panic: Some(PanicFlag(&mut active.panicked)),
        }
    }
}

/// Marks the operation as panicked when dropped during unwinding: the runtime may drop the
/// future later, outside the panic, when `std::thread::panicking()` is false again.
struct PanicFlag<'a>(&'a mut bool);

impl Drop for PanicFlag<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            *self.0 = true;
        }
    }
}

pin_project_lite::pin_project! {
    /// A future run with an [`Operation`]'s span as the current context; see
    /// [`Operation::instrument`].
    pub struct Instrumented<'a, F> {
        pub(super) operation: &'a mut Operation,
        #[pin]
        pub(super) inner: F,
    }
}

impl<F: Future> Future for Instrumented<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if this.operation.active.is_none() {
            // Nothing recorded: the body alone, not even an empty guard to drop.
            return this.inner.poll(task);
        }
        let _entered = this.operation.enter();
        this.inner.poll(task)
    }
}

/// The current OpenTelemetry context; with the `tracing` feature, the current `tracing` span's
/// context when no OpenTelemetry span is current (tracing-opentelemetry without context
/// activation).
pub(super) fn parent_context() -> Context {
    let current = Context::current();
    #[cfg(feature = "tracing")]
    {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        // No `tracing` subscriber was ever set: no `tracing` span can carry a context (the
        // check tracing's own macros make before doing anything).
        if current.has_active_span() || !tracing::dispatcher::has_been_set() {
            return current;
        }
        let span = tracing::Span::current();
        if !span.is_none() {
            let from_tracing = span.context();
            if from_tracing.span().span_context().is_valid() {
                return from_tracing;
            }
        }
    }
    current
}
