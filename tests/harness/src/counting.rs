//! Span processors and exporters that count, block or fail, for the reliability tests.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::trace::SpanId;
use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Counts spans started and ended, and spans ended more than once.
#[derive(Debug, Default, Clone)]
pub struct CountingProcessor(Arc<Counts>);

/// What a [`CountingProcessor`] saw.
#[derive(Debug, Default)]
pub struct Counts {
    /// Spans started.
    pub started: AtomicU64,
    /// Spans ended.
    pub ended: AtomicU64,
    /// Ends of a span id already ended.
    pub ended_twice: AtomicU64,
    /// Ended spans with `error.type`.
    pub errors: AtomicU64,
    ids: Mutex<HashSet<SpanId>>,
}

impl CountingProcessor {
    /// What it counted.
    pub fn counts(&self) -> &Counts {
        &self.0
    }
}

impl SpanProcessor for CountingProcessor {
    fn on_start(&self, _: &mut Span, _: &Context) {
        self.0.started.fetch_add(1, Ordering::Relaxed);
    }

    fn on_end(&self, span: SpanData) {
        self.0.ended.fetch_add(1, Ordering::Relaxed);
        if span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "error.type")
        {
            self.0.errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut ids = self.0.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if !ids.insert(span.span_context.span_id()) {
            self.0.ended_twice.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// An exporter that counts what it is given, optionally blocks until released, and fails
/// every export when told to.
#[derive(Debug, Clone, Default)]
pub struct TestExporter {
    exported: Arc<AtomicU64>,
    gate: Arc<(Mutex<bool>, Condvar)>,
    fail: bool,
}

impl TestExporter {
    /// Exports that wait until [`TestExporter::release`], then fail.
    pub fn blocked_and_failing() -> Self {
        Self {
            gate: Arc::new((Mutex::new(true), Condvar::new())),
            fail: true,
            ..Self::default()
        }
    }

    /// Lets blocked exports go on.
    pub fn release(&self) {
        let (closed, wake) = &*self.gate;
        *closed.lock().unwrap_or_else(PoisonError::into_inner) = false;
        wake.notify_all();
    }

    /// Spans handed to `export` so far.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }
}

impl SpanExporter for TestExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let (closed, wake) = &*self.gate;
        let mut blocked = closed.lock().unwrap_or_else(PoisonError::into_inner);
        while *blocked {
            blocked = wake.wait(blocked).unwrap_or_else(PoisonError::into_inner);
        }
        drop(blocked);
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        if self.fail {
            Err(OTelSdkError::InternalFailure(
                "the test exporter fails".into(),
            ))
        } else {
            Ok(())
        }
    }
}
