//! Connection pools: for each supported pool (deadpool-redis, bb8, r2d2; each behind its
//! feature) one way in that hands out traced connections and reports the standard
//! `db.client.connection.*` metrics (`crate::metrics` holds the registry and instruments):
//! `count` by state, `max`, `idle.min` where the pool knows it and `pending_requests` when
//! metrics are collected; `wait_time`, `timeouts` and `use_time` per borrow; `create_time` and a
//! set-up span for connections redis-trace opens itself (`connection/connect.rs`).

mod lease;
#[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
mod lend;
mod pooled;
#[cfg(any(feature = "bb8", feature = "r2d2"))]
mod registration;

use crate::globals;
use crate::metrics::{PoolInstruments, PoolTelemetry};

pub use self::lease::Lease;
#[cfg(any(feature = "bb8", feature = "deadpool", feature = "r2d2"))]
use self::lend::{default_name, lend};
pub use self::pooled::Pooled;

/// Records with `pool`'s instruments, when metrics are recorded.
pub(crate) fn record(pool: &PoolTelemetry, measure: impl FnOnce(&PoolInstruments, &PoolTelemetry)) {
    globals::with_instruments(|instruments| measure(instruments.pool(), pool));
}

#[cfg(feature = "bb8")]
pub mod bb8;
#[cfg(feature = "deadpool")]
pub mod deadpool;
#[cfg(feature = "r2d2")]
pub mod r2d2;
