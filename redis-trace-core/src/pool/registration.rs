//! What the bb8 and r2d2 wrappers share: the registration of their pool (read through a cell
//! filled once the pool is built, so the connections it opens while building are timed too),
//! the managers' link to that telemetry, and the count of callers waiting in `get()`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use crate::metrics::{PoolSnapshot, PoolTelemetry};

/// A manager's link to its pool's telemetry (for `create_time`), set when the pool registers.
#[derive(Debug, Clone, Default)]
pub(super) struct TelemetryCell(Arc<Mutex<Weak<PoolTelemetry>>>);

impl TelemetryCell {
    pub(super) fn get(&self) -> Option<Arc<PoolTelemetry>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade()
    }

    fn set(&self, telemetry: &Arc<PoolTelemetry>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(telemetry);
    }
}

/// One pool's registration for the metric callbacks.
pub(super) struct Registration<P> {
    built: Arc<OnceLock<P>>,
    waiting: Arc<AtomicU64>,
    cell: TelemetryCell,
    /// What the pool says about itself, but the callers waiting (counted here).
    read: fn(&P) -> PoolSnapshot,
}

impl<P> Clone for Registration<P> {
    fn clone(&self) -> Self {
        Self {
            built: Arc::clone(&self.built),
            waiting: Arc::clone(&self.waiting),
            cell: self.cell.clone(),
            read: self.read,
        }
    }
}

impl<P: Send + Sync + 'static> Registration<P> {
    pub(super) fn new(cell: &TelemetryCell, read: fn(&P) -> PoolSnapshot) -> Self {
        Self {
            built: Arc::default(),
            waiting: Arc::default(),
            cell: cell.clone(),
            read,
        }
    }

    /// Registers the pool under `name` (again, after a rename), and links the manager to it.
    pub(super) fn register(&self, name: String) -> Arc<PoolTelemetry> {
        let (built, waiting, read) = (
            Arc::clone(&self.built),
            Arc::clone(&self.waiting),
            self.read,
        );
        let telemetry = PoolTelemetry::register(name, move || match built.get() {
            Some(pool) => PoolSnapshot {
                pending: waiting.load(Ordering::Relaxed),
                ..read(pool)
            },
            None => PoolSnapshot::default(),
        });
        self.cell.set(&telemetry);
        telemetry
    }

    /// The pool, once built.
    pub(super) fn built(&self, pool: P) {
        let _ = self.built.set(pool);
    }

    /// Counts a caller waiting in `get()` until the guard drops (also when the wait is
    /// cancelled).
    pub(super) fn waiting(&self) -> Waiting {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(Arc::clone(&self.waiting))
    }
}

/// A caller waiting for a connection.
pub(super) struct Waiting(Arc<AtomicU64>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
